/**
 * The one error type of every function, and its one table of HTTP statuses.
 *
 * Every failure a function can answer is an {@linkcode ApiError} whose `code` is one of the codes of
 * docs/contract.md §2 and docs/tenants.md. The domain modules (verify, the database, sign) throw it and never
 * build a `Response`; the request skeleton (`serve.ts`) turns it into one through {@linkcode toErrorResponse},
 * in one place. Anything that is not an `ApiError` is a bug: it is answered with a bare 500
 * `internal_error` and its message never reaches the caller. A `cause` goes to the logs only.
 *
 * @module
 */

/**
 * The error codes of the HTTP contract (docs/contract.md §2), plus `internal_error` for bugs and `not_found` for
 * the JWKS of a function that signs with a shared secret (it has no public keys). The management functions
 * (docs/tenants.md) also answer `not_found` (a route, or a tenant the caller is not a member of),
 * `forbidden`, `conflict` and `rate_limited`.
 */
export type ErrorCode =
  | "invalid_request"
  | "invalid_token"
  | "insufficient_user_authentication"
  | "no_tenant"
  | "not_a_member"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "request_timeout"
  | "conflict"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "server_misconfigured"
  | "auth_unavailable"
  | "database_unavailable"
  | "internal_error";

/** The HTTP status of every error code: the single source of truth for the contract's table. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_request: 400,
  invalid_token: 401,
  insufficient_user_authentication: 401,
  no_tenant: 403,
  not_a_member: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  server_misconfigured: 500,
  auth_unavailable: 503,
  database_unavailable: 503,
  internal_error: 500,
});

/**
 * The `WWW-Authenticate` challenge of a 401: the function's name is its realm. A request that sent no
 * bearer token at all gets the realm alone (RFC 6750 §3.1: no error code then); a token that was sent and
 * refused gets `error="invalid_token"` (or `insufficient_user_authentication`) added, which
 * {@linkcode toErrorResponse} does by default.
 *
 * @param realm The function's name, e.g. `exchange-token`.
 * @param code The error code to name, if any.
 * @returns The header's value.
 * @example
 * ```ts
 * bearerChallenge("tenants"); // 'Bearer realm="tenants"'
 * bearerChallenge("tenants", "invalid_token"); // 'Bearer realm="tenants", error="invalid_token"'
 * ```
 */
export function bearerChallenge(realm: string, code?: ErrorCode): string {
  return code === undefined ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${code}"`;
}

/** Seconds a client should wait before retrying a 503 (the `Retry-After` header). */
export const RETRY_AFTER_SECONDS = 5;

/** Options for {@linkcode ApiError}. */
export interface ApiErrorOptions {
  /** What went wrong underneath; logged (by name and code), never sent to the caller. */
  cause?: unknown;
  /** Extra response headers, e.g. `Allow` or `Retry-After`. */
  headers?: Record<string, string>;
}

/**
 * A failure a function answers, with a stable code from the contract.
 *
 * @example Refuse a tenant
 * ```ts
 * throw new ApiError("not_a_member", "Tenant is not one of yours");
 * ```
 */
export class ApiError extends Error {
  override name = "ApiError";
  /** The contract's error code. */
  readonly code: ErrorCode;
  /** Extra headers for the response. */
  readonly headers: Record<string, string>;

  /**
   * @param code The contract's error code.
   * @param message A human sentence for the caller: no SQL, secret, token or stack.
   * @param options `cause` (logs only) and extra `headers`.
   */
  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.headers = options.headers ?? {};
  }

  /** The HTTP status of this error's code. */
  get status(): number {
    return STATUS_BY_CODE[this.code];
  }
}

/** The request style an error answers: the JSON API or the RFC 8693 token-exchange form. */
export type ErrorFormat = "json" | "oauth";

/** The RFC 6749 §5.2 / RFC 8693 §2.2.2 rendering of an error: its status, `error` and description. */
interface OAuthRendering {
  status: number;
  error: string;
}

// RFC 8693 §2.2.2: an invalid subject token is `invalid_request`, a target the server will not issue for is
// `invalid_target`, both with 400 (RFC 6749 §5.2). Failures that are not the client's fault keep their
// status and use the codes RFC 6749 §4.1.2.1 defines for them; 405, 408, 413 and 415 keep theirs too.
const OAUTH_BY_CODE: Readonly<Record<ErrorCode, OAuthRendering>> = Object.freeze({
  invalid_request: { status: 400, error: "invalid_request" },
  invalid_token: { status: 400, error: "invalid_request" },
  // RFC 9470's code, which RFC 6749 §8.5 lets a token endpoint answer too: the client must step up, not
  // fix its request.
  insufficient_user_authentication: { status: 400, error: "insufficient_user_authentication" },
  no_tenant: { status: 400, error: "invalid_target" },
  not_a_member: { status: 400, error: "invalid_target" },
  // The exchange never answers these three; the management functions speak JSON only.
  forbidden: { status: 403, error: "invalid_request" },
  conflict: { status: 409, error: "invalid_request" },
  rate_limited: { status: 429, error: "temporarily_unavailable" },
  not_found: { status: 404, error: "invalid_request" },
  method_not_allowed: { status: 405, error: "invalid_request" },
  request_timeout: { status: 408, error: "invalid_request" },
  payload_too_large: { status: 413, error: "invalid_request" },
  unsupported_media_type: { status: 415, error: "invalid_request" },
  server_misconfigured: { status: 500, error: "server_error" },
  auth_unavailable: { status: 503, error: "temporarily_unavailable" },
  database_unavailable: { status: 503, error: "temporarily_unavailable" },
  internal_error: { status: 500, error: "server_error" },
});

/** An `error` value of RFC 6749 §5.2 that is not one of our codes (`unsupported_grant_type`). */
export type OAuthOnlyError = "unsupported_grant_type";

/**
 * An {@linkcode ApiError} that the RFC 8693 form answers with its own RFC 6749 `error` value (for
 * example `unsupported_grant_type`); the JSON API sees it as its `code`.
 *
 * @example
 * ```ts
 * throw new OAuthRequestError("unsupported_grant_type", "Only token exchange is supported");
 * ```
 */
export class OAuthRequestError extends ApiError {
  override name = "OAuthRequestError";
  /** The RFC 6749 `error` value. */
  readonly oauthError: OAuthOnlyError;

  /**
   * @param oauthError The RFC 6749 `error` value.
   * @param message The `error_description`.
   */
  constructor(oauthError: OAuthOnlyError, message: string) {
    super("invalid_request", message);
    this.oauthError = oauthError;
  }
}

/** Who an error is rendered for: the function, and the request's format. */
export interface RenderOptions {
  /** The function's name: the realm of its `WWW-Authenticate` challenges. */
  realm: string;
  /** The methods the function answers (its CORS `Allow-Methods`): the `Allow` of a 405 that names none. */
  allow: string;
  /** `json` for `{ error, message }` (the default), `oauth` for RFC 6749 §5.2. */
  format?: ErrorFormat;
}

/** Headers every error carries in addition to its own (set by {@linkcode toErrorResponse}). */
function _headersFor(err: ApiError, options: RenderOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (
    (options.format ?? "json") === "json" &&
    (err.code === "invalid_token" || err.code === "insufficient_user_authentication")
  ) {
    headers["WWW-Authenticate"] = bearerChallenge(options.realm, err.code);
  }
  if (err.code === "auth_unavailable" || err.code === "database_unavailable") {
    headers["Retry-After"] = String(RETRY_AFTER_SECONDS);
  }
  if (err.code === "method_not_allowed") headers["Allow"] = options.allow;
  return { ...headers, ...err.headers };
}

/**
 * Turns any thrown value into the contract's error response (without CORS headers, which the HTTP layer
 * adds to every response). An unknown error becomes a bare 500 `internal_error`: its message is not sent.
 *
 * @param err What was thrown.
 * @param options The function's realm and methods, and the format: `json` for `{ error, message }`, `oauth`
 *   for RFC 6749 §5.2 `{ error, error_description }`.
 * @returns The status, headers and JSON body to send.
 * @example
 * ```ts
 * const { status, body } = toErrorResponse(new ApiError("no_tenant", "No tenant"), {
 *   realm: "exchange-token",
 *   allow: "POST, OPTIONS",
 * });
 * // status 403, body { error: "no_tenant", message: "No tenant" }
 * ```
 */
export function toErrorResponse(
  err: unknown,
  options: RenderOptions,
): { status: number; headers: Record<string, string>; body: Record<string, string> } {
  const known = err instanceof ApiError
    ? err
    : new ApiError("internal_error", "The exchange failed unexpectedly");
  const headers = _headersFor(known, options);
  if (options.format === "oauth") {
    const rendering = OAUTH_BY_CODE[known.code];
    const error = known instanceof OAuthRequestError ? known.oauthError : rendering.error;
    return { status: rendering.status, headers, body: { error, error_description: known.message } };
  }
  return { status: known.status, headers, body: { error: known.code, message: known.message } };
}
