/**
 * The exchange's request handler: method and CORS, then verify → resolve → sign, then one JSON reply and
 * one structured log line, whatever happened.
 *
 * Its collaborators are injected ({@linkcode createExchangeHandler}), so tests drive it with fakes and a
 * fixed clock, and `app.ts` wires the real ones. Every failure is rendered here, in one place, by
 * `toErrorResponse`, and every response, errors and preflights included, carries the CORS headers.
 *
 * @module
 */
import type { Config, ConfigError } from "./config.ts";
import { type ErrorCode, type ErrorFormat, ExchangeError, toErrorResponse } from "./errors.ts";
import { corsHeaders, jsonResponse, JWT_TOKEN_TYPE, readExchangeRequest, requestFormat } from "./http.ts";
import type { VerifyToken } from "./verify.ts";
import type { ResolveTenant } from "./tenancy.ts";
import type { SignToken } from "./sign.ts";
import { isJwksRequest, jwksResponse } from "./jwks_route.ts";
import type { PublicJwks } from "./signing_keys.ts";

/** One structured log line per request. Never a token, a secret or an email address. */
export interface ExchangeLogEntry {
  level: "info" | "warn" | "error";
  msg: "exchange";
  /** `ok`, `preflight`, or the error code. */
  outcome: "ok" | "preflight" | ErrorCode;
  status: number;
  method: string;
  format: ErrorFormat;
  latency_ms: number;
  user_id: string | null;
  tenant_id: string | null;
  provisioned: boolean | null;
  /** For failures: the underlying error's class and code (`TNMEM`, `ECONNREFUSED`, ...). */
  cause?: { name: string; code?: string; message?: string };
}

/** Writes a log entry. */
export type Log = (entry: ExchangeLogEntry) => void;

/** The collaborators of {@linkcode createExchangeHandler}. */
export interface ExchangeHandlerDeps {
  /** CORS origins and the body limit. */
  config: Pick<Config, "allowedOrigins" | "maxBodyBytes">;
  verifyToken: VerifyToken;
  resolveTenant: ResolveTenant;
  signToken: SignToken;
  /** The clock the backend JWT is issued by (default: the system clock). */
  now?: () => Date;
  /** Where the request's log line goes (default: one JSON line on stdout). */
  log?: Log;
  /** The public keys served at `/.well-known/jwks.json`; absent for HMAC tokens (404 there). */
  jwks?: PublicJwks;
}

/** The success body of the JSON API (DESIGN.md §2). */
export interface ExchangeSuccess {
  backend_token: string;
  user_id: string;
  tenant_id: string;
  role: string;
  email: string | null;
  token_type: "Bearer";
  expires_in: number;
  expires_at: string;
}

/** The default log: one JSON line on stdout (stderr for server-side failures). */
export const jsonLineLog: Log = (entry) => {
  const line = JSON.stringify(entry);
  if (entry.level === "error") console.error(line);
  else console.log(line);
};

/**
 * Builds the handler of `POST /functions/v1/exchange-token`.
 *
 * @param deps The configuration and the collaborators.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts
 * Deno.serve(createExchangeHandler({ config, verifyToken, resolveTenant, signToken }));
 * ```
 */
export function createExchangeHandler(deps: ExchangeHandlerDeps): (req: Request) => Promise<Response> {
  const now = deps.now ?? (() => new Date());
  return _handler(deps.config.allowedOrigins, deps.log ?? jsonLineLog, async (req, entry) => {
    const request = await readExchangeRequest(req, deps.config);
    const caller = await deps.verifyToken(request.token);
    entry.user_id = caller.userId;
    const grant = await deps.resolveTenant(caller.claims, request.tenantId);
    entry.tenant_id = grant.tenantId;
    entry.provisioned = grant.provisioned;
    const signed = await deps.signToken(
      { userId: caller.userId, tenantId: grant.tenantId, role: grant.role, email: grant.email },
      now(),
    );
    const body: ExchangeSuccess = {
      backend_token: signed.token,
      user_id: caller.userId,
      tenant_id: grant.tenantId,
      role: grant.role,
      email: grant.email,
      token_type: "Bearer",
      expires_in: signed.expiresIn,
      expires_at: signed.expiresAt.toISOString(),
    };
    if (request.format === "oauth") {
      return { ...body, access_token: signed.token, issued_token_type: JWT_TOKEN_TYPE };
    }
    return body;
  }, () => deps.jwks);
}

/**
 * Builds the handler a misconfigured function serves: preflights still succeed (so the browser shows the
 * real error), every exchange is 500 `server_misconfigured`.
 *
 * @param error The configuration error (already logged once by whoever loaded the config).
 * @param options CORS origins (`"*"` when they cannot be read) and the log.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts
 * Deno.serve(createMisconfiguredHandler(err, { allowedOrigins: "*" }));
 * ```
 */
export function createMisconfiguredHandler(
  error: ConfigError,
  options: { allowedOrigins: "*" | readonly string[]; log?: Log },
): (req: Request) => Promise<Response> {
  return _handler(options.allowedOrigins, options.log ?? jsonLineLog, async (req) => {
    await req.body?.cancel().catch(() => {});
    throw error;
  }, () => {
    throw error;
  });
}

/** The parts every response shares: method check (and the JWKS route), CORS, error rendering, the log line. */
function _handler(
  allowedOrigins: "*" | readonly string[],
  log: Log,
  exchange: (req: Request, entry: ExchangeLogEntry) => Promise<object>,
  jwks: () => PublicJwks | undefined,
): (req: Request) => Promise<Response> {
  return async (req) => {
    const started = performance.now();
    const cors = corsHeaders(req, allowedOrigins);
    const entry: ExchangeLogEntry = {
      level: "info",
      msg: "exchange",
      outcome: "ok",
      status: 200,
      method: req.method,
      format: "json",
      latency_ms: 0,
      user_id: null,
      tenant_id: null,
      provisioned: null,
    };
    let response: Response;
    try {
      if (req.method === "OPTIONS") {
        entry.outcome = "preflight";
        response = new Response(null, { status: 204, headers: cors });
      } else if (isJwksRequest(req)) {
        response = jwksResponse(jwks());
      } else if (req.method !== "POST") {
        throw new ExchangeError("method_not_allowed", "Use POST (or OPTIONS for a CORS preflight)");
      } else {
        entry.format = requestFormat(req);
        response = jsonResponse(200, await exchange(req, entry), cors);
      }
    } catch (err) {
      const rendered = toErrorResponse(err, entry.format);
      response = jsonResponse(rendered.status, rendered.body, { ...cors, ...rendered.headers });
      entry.outcome = err instanceof ExchangeError ? err.code : "internal_error";
      entry.level = rendered.status >= 500 && entry.outcome !== "auth_unavailable" &&
          entry.outcome !== "database_unavailable"
        ? "error"
        : rendered.status >= 500
        ? "warn"
        : "info";
      entry.cause = describeCause(err instanceof ExchangeError && err.cause !== undefined ? err.cause : err);
    }
    entry.status = response.status;
    entry.latency_ms = Math.round((performance.now() - started) * 10) / 10;
    try {
      log(entry);
    } catch {
      // A broken log sink must not turn an answer into a failure.
    }
    return response;
  };
}

/**
 * What the log may say about an error: its class and code, and for an unexpected error its message with
 * anything that looks like a token or an email address removed.
 *
 * @param err The error.
 * @returns A log-safe description.
 * @example
 * ```ts
 * describeCause(new TypeError("boom")); // { name: "TypeError", message: "boom" }
 * ```
 */
export function describeCause(err: unknown): { name: string; code?: string; message?: string } {
  if (err === null || typeof err !== "object") return { name: typeof err };
  const name = String((err as { name?: unknown }).name ?? err.constructor?.name ?? "Error");
  const code = (err as { code?: unknown }).code;
  const cause: { name: string; code?: string; message?: string } = { name };
  if (typeof code === "string" || typeof code === "number") cause.code = String(code);
  // Our own errors and postgres.js/supabase-js errors are described by class and code; the message of
  // anything else is kept (redacted) because it is the only clue to a bug.
  if (!(err instanceof ExchangeError) && cause.code === undefined) {
    const message = String((err as { message?: unknown }).message ?? "");
    cause.message = redact(message).slice(0, 300);
  }
  return cause;
}

/**
 * Removes JWT-like strings and email addresses from a text.
 *
 * @param text Any text.
 * @returns The text with `[token]` and `[email]` in their place.
 * @example
 * ```ts
 * redact("bad eyJa.eyJb.sig for a@b.co"); // "bad [token] for [email]"
 * ```
 */
export function redact(text: string): string {
  return text
    .replace(/[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g, "[token]")
    .replace(/[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g, "[email]")
    .replace(/sb_(secret|publishable)_[A-Za-z0-9_-]+/g, "[key]");
}
