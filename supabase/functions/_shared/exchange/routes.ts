/**
 * The exchange's request handler: method and CORS, then verify → resolve → sign, then one JSON reply and
 * one structured log line, whatever happened.
 *
 * Its collaborators are injected ({@linkcode createExchangeHandler}), so tests drive it with fakes and a
 * fixed clock, and `app.ts` wires the real ones. Every failure is rendered here, in one place, by
 * `toErrorResponse`, and every response, errors and preflights included, carries the CORS headers. What
 * the log line holds, and how loud it is, is `log.ts`'s business.
 *
 * @module
 */
import type { ConfigError, ServiceConfig } from "../core/config.ts";
import { type ErrorCode, type ErrorFormat, ExchangeError, toErrorResponse } from "../core/errors.ts";
import { describeCause, jsonLineLog, type LogCause, type LogLevel, logLevel } from "../core/log.ts";
import { corsHeaders, jsonResponse } from "../core/http.ts";
import { JWT_TOKEN_TYPE, readExchangeRequest, requestFormat } from "./request.ts";
import type { VerifyToken } from "../core/verify.ts";
import type { ResolveTenant } from "./resolver.ts";
import type { SignToken } from "./sign.ts";
import { isJwksRequest, jwksResponse } from "./jwks_route.ts";
import type { PublicJwks } from "./signing_keys.ts";

/** One structured log line per request. Never a token, a secret or an email address. */
export interface ExchangeLogEntry {
  level: LogLevel;
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
  cause?: LogCause;
}

/** Writes a log entry. */
export type Log = (entry: ExchangeLogEntry) => void;

/** The collaborators of {@linkcode createExchangeHandler}. */
export interface ExchangeHandlerDeps {
  /** CORS origins, the body limit and how long the body may take. */
  config: Pick<ServiceConfig, "allowedOrigins" | "maxBodyBytes" | "bodyTimeoutMs">;
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

/** The success body of the JSON API (docs/contract.md §2). */
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

/**
 * Builds the handler of `POST /functions/v1/exchange-token`.
 *
 * @param deps The configuration and the collaborators.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts ignore
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
 * import { ConfigError } from "../core/config.ts";
 *
 * const err = new ConfigError("BACKEND_JWT_SECRET", "is not set");
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
      entry.level = logLevel(rendered.status, entry.outcome);
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
