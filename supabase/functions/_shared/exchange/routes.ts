/**
 * The exchange's routes on the request skeleton (`../core/serve.ts`): a POST, at any path under the
 * function's, trades the caller's Supabase access token for a backend JWT (read the request → verify →
 * resolve the tenant → sign); a GET of `/.well-known/jwks.json` serves the backend tokens' public keys. Every
 * other method is the contract's 405 (`Allow: POST, OPTIONS`).
 *
 * The collaborators are injected ({@linkcode createExchangeHandler}), so tests drive the handler with fakes
 * and a fixed clock, and `app.ts` wires the real ones. A POST's errors are answered in its format: RFC 6749
 * for the RFC 8693 form, even a 413 (`requestFormat`).
 *
 * The JWKS is public and the same for everyone: any origin may read it, and caches may keep it for
 * {@linkcode JWKS_MAX_AGE_SECONDS} (so a key must be published at least that long before it signs; see the
 * rotation recipe). A function that signs with a shared secret has no public key: it answers 404
 * `not_found` there.
 *
 * @module
 */
import type { ConfigError, ServiceConfig } from "../core/config.ts";
import { ApiError, type ErrorFormat } from "../core/errors.ts";
import type { RequestLogEntry } from "../core/log.ts";
import { createFunctionHandler } from "../core/serve.ts";
import type { VerifyToken } from "../core/verify.ts";
import { EXCHANGE_FUNCTION } from "./config.ts";
import { JWT_TOKEN_TYPE, readExchangeRequest, requestFormat } from "./request.ts";
import type { ResolveTenant } from "./resolver.ts";
import type { SignToken } from "./sign.ts";
import type { PublicJwks } from "./signing_keys.ts";

/** One structured log line per request. Never a token, a secret or an email address. */
export interface ExchangeLogEntry extends RequestLogEntry {
  msg: "exchange";
  /** The request's format (`oauth` for the RFC 8693 form), which its errors are answered in. */
  format: ErrorFormat;
  user_id: string | null;
  tenant_id: string | null;
  provisioned: boolean | null;
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

/** How long browsers, proxies and verifiers may cache the JWKS, in seconds. */
export const JWKS_MAX_AGE_SECONDS = 300;

// `/.well-known/jwks.json` under the function's own path (`/exchange-token/...`, as the Edge runtime
// sees it) or at the root (a function served on its own).
const JWKS_PATH = /^(?:\/[^/]+)?\/\.well-known\/jwks\.json$/;
// The exchange answers a POST whatever the rest of the path (docs/contract.md §1).
const ANY_PATH = /^/;

/**
 * Builds the handler of `POST /functions/v1/exchange-token` (and of its JWKS).
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
  return _handler(deps.config.allowedOrigins, deps.log, async (req, entry) => {
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
 * Builds the handler a misconfigured exchange serves: preflights still succeed (so the browser shows the
 * real error), every exchange and the JWKS are 500 `server_misconfigured` (a form's in RFC 6749's format),
 * and other methods keep their 405.
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
  return _handler(options.allowedOrigins, options.log, () => Promise.reject(error), () => {
    throw error;
  });
}

/**
 * The JWKS response: cacheable, readable from any origin.
 *
 * @param jwks The public keys, or undefined when tokens are signed with a shared secret.
 * @returns The 200 response.
 * @throws {ApiError} `not_found` when there are no public keys.
 * @example
 * ```ts ignore
 * const res = jwksResponse(toPublicJwks(config.backendJwt.keys, "ES256"));
 * ```
 */
export function jwksResponse(jwks: PublicJwks | undefined): Response {
  if (!jwks) {
    throw new ApiError("not_found", "Backend tokens are signed with a shared secret: there is no JWKS");
  }
  return new Response(JSON.stringify(jwks), {
    status: 200,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      "Access-Control-Allow-Origin": "*",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/** The exchange's two routes on the skeleton, with the work of each. */
function _handler(
  allowedOrigins: "*" | readonly string[],
  log: Log | undefined,
  exchange: (req: Request, entry: ExchangeLogEntry) => Promise<object>,
  jwks: () => PublicJwks | undefined,
): (req: Request) => Promise<Response> {
  return createFunctionHandler<ExchangeLogEntry>({
    name: EXCHANGE_FUNCTION,
    allowedOrigins,
    methods: "POST, OPTIONS",
    entry: (req) => ({
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
    }),
    log,
    methodNotAllowed: () => new ApiError("method_not_allowed", "Use POST (or OPTIONS for a CORS preflight)"),
    routes: [
      { method: "GET", path: JWKS_PATH, handle: () => Promise.resolve(jwksResponse(jwks())) },
      {
        method: "POST",
        path: ANY_PATH,
        errorFormat: requestFormat,
        handle: async ({ req, entry, format }) => {
          entry.format = format;
          return { body: await exchange(req, entry) };
        },
      },
    ],
  });
}
