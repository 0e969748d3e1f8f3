/**
 * Errors of the Auth emulator, shaped as Supabase Auth (GoTrue) and the Supabase gateway render them.
 *
 * GoTrue has two error families: `HTTPError` (most endpoints) and `OAuthError` (a few token-grant checks).
 * An `HTTPError` is rendered per the request's `X-Supabase-Api-Version` header, as GoTrue's
 * `HandleResponseError` does: `{ code: "<error_code>", message }` for 2024-01-01 and later (the version
 * supabase-js sends, echoed back so that the client reads `code` as the error code), else the initial
 * `{ code: <status>, error_code, msg }`. An `OAuthError` is always `400 { error, error_description }`.
 * Refusals by the gateway (missing or unknown `apikey`) are Kong's `{ message, hint }`.
 *
 * @module
 */

/** The header supabase-js sends to ask for the 2024-01-01 error format. */
export const API_VERSION_HEADER = "X-Supabase-Api-Version";
const API_VERSION_2024_01_01 = "2024-01-01";

/** A GoTrue `HTTPError`: an HTTP status, a stable `error_code` and a message for people. */
export class HttpError extends Error {
  /**
   * @param status HTTP status.
   * @param code GoTrue's error code (e.g. `invalid_credentials`).
   * @param message GoTrue's message, verbatim where GoTrue has one.
   * @param extra Extra top-level fields (e.g. `weak_password`).
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A GoTrue `OAuthError`: always 400, `{ error, error_description }` (RFC 6749 §5.2). */
export class OAuthError extends Error {
  /**
   * @param error The OAuth error (e.g. `invalid_request`).
   * @param description The description.
   */
  constructor(readonly error: string, description: string) {
    super(description);
    this.name = "OAuthError";
  }
}

/** A refusal by the API gateway in front of Auth (Kong's key-auth), before Auth sees the request. */
export class GatewayError extends Error {
  /**
   * @param status HTTP status.
   * @param message Kong's message.
   * @param hint The hint Supabase's gateway adds.
   */
  constructor(readonly status: number, message: string, readonly hint: string) {
    super(message);
    this.name = "GatewayError";
  }
}

/**
 * Renders an error as GoTrue would; anything unknown becomes GoTrue's generic 500 and is logged, so no
 * message, SQL or stack trace of an unexpected failure reaches the client.
 *
 * @param err What the handler threw.
 * @param req The request (its API version header picks the format).
 * @returns The JSON error response, without CORS headers.
 * @example
 * ```ts ignore
 * return toErrorResponse(new HttpError(400, "validation_failed", "missing email or phone"), req);
 * ```
 */
export function toErrorResponse(err: unknown, req: Request): Response {
  if (err instanceof OAuthError) {
    return Response.json({ error: err.error, error_description: err.message }, { status: 400 });
  }
  if (err instanceof GatewayError) {
    return Response.json({ message: err.message, hint: err.hint }, { status: err.status });
  }
  const httpError = err instanceof HttpError ? err : unexpected(err);
  const headers = new Headers();
  const requested = req.headers.get(API_VERSION_HEADER);
  // API versions are dates, so string order is date order.
  if (requested !== null && /^\d{4}-\d{2}-\d{2}$/.test(requested) && requested >= API_VERSION_2024_01_01) {
    headers.set(API_VERSION_HEADER, API_VERSION_2024_01_01);
    return Response.json({ code: httpError.code, message: httpError.message, ...httpError.extra }, {
      status: httpError.status,
      headers,
    });
  }
  return Response.json(
    { code: httpError.status, error_code: httpError.code, msg: httpError.message, ...httpError.extra },
    { status: httpError.status, headers },
  );
}

function unexpected(err: unknown): HttpError {
  console.error("Auth emulator: unexpected failure", err);
  return new HttpError(
    500,
    "unexpected_failure",
    "Unexpected failure, please check server logs for more information",
  );
}
