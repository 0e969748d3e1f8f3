/**
 * The HTTP edge of the exchange: reading a request (bounded body, JSON or the RFC 8693 form, the bearer
 * token) and writing JSON replies with CORS headers.
 *
 * Everything here is about bytes and headers; nothing knows about tokens' meaning or tenants. Parsing
 * failures are thrown as {@linkcode ExchangeError}s (`invalid_request`, `payload_too_large`,
 * `request_timeout`, `unsupported_media_type`, `invalid_token` for a missing or malformed bearer) for the handler to render.
 *
 * @module
 */
import { BEARER_CHALLENGE, type ErrorFormat, ExchangeError, OAuthRequestError } from "./errors.ts";

/** The request headers supabase-js sends to a function (its own `corsHeaders` list, plus `x-region`). */
export const CORS_ALLOW_HEADERS =
  "authorization, x-client-info, apikey, content-type, x-retry-count, x-region, traceparent, tracestate, baggage";

/** Response headers a browser script may read on an error: when to retry, and why a token was refused. */
export const CORS_EXPOSE_HEADERS = "Retry-After, WWW-Authenticate";

/** The RFC 8693 grant type. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 8693 token types: what we accept as the subject token, and what we issue. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

/** Longest bearer token accepted. Supabase access tokens are a few KiB even with large metadata. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** Longest tenant id accepted (the database's `external_id` limit). */
export const MAX_TENANT_ID_LENGTH = 255;

/** What an exchange request asks for, once parsed. */
export interface ExchangeRequest {
  /** `json` for the JSON API, `oauth` for the RFC 8693 form; it decides the error format too. */
  format: ErrorFormat;
  /** The Supabase access token: the bearer token, or the form's `subject_token`. */
  token: string;
  /** The tenant the caller picked, or null for their default one. */
  tenantId: string | null;
}

/**
 * The CORS headers for a response to `req`. With a list of origins, a listed `Origin` is echoed (with
 * `Vary: Origin`); any other origin gets no `Access-Control-Allow-Origin`, so its browser refuses to read
 * the response.
 *
 * @param req The request (its `Origin` header).
 * @param allowedOrigins `"*"` or the exact origins allowed.
 * @param methods The methods a preflight allows (the exchange's by default).
 * @returns Headers to add to every response, errors and preflights included.
 * @example
 * ```ts
 * const req = new Request("http://localhost/", { headers: { origin: "https://app.example.com" } });
 * corsHeaders(req, ["https://app.example.com"]); // Access-Control-Allow-Origin: https://app.example.com, ...
 * ```
 */
export function corsHeaders(
  req: Request,
  allowedOrigins: "*" | readonly string[],
  methods = "POST, OPTIONS",
): Record<string, string> {
  const headers: Record<string, string> = {
    "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
    "Access-Control-Allow-Methods": methods,
    "Access-Control-Expose-Headers": CORS_EXPOSE_HEADERS,
    "Access-Control-Max-Age": "86400",
  };
  if (allowedOrigins === "*") {
    headers["Access-Control-Allow-Origin"] = "*";
  } else {
    headers["Vary"] = "Origin";
    const origin = req.headers.get("origin");
    if (origin !== null && allowedOrigins.includes(origin)) headers["Access-Control-Allow-Origin"] = origin;
  }
  return headers;
}

/**
 * A JSON response that no cache keeps (RFC 6749 §5.1: token responses are `no-store`).
 *
 * @param status The HTTP status.
 * @param body The JSON body.
 * @param headers Extra headers (CORS, `WWW-Authenticate`, ...).
 * @returns The response.
 * @example
 * ```ts
 * jsonResponse(403, { error: "no_tenant", message: "No tenant" }, { "Access-Control-Allow-Origin": "*" });
 * ```
 */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...headers,
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/**
 * The format a request's errors are written in, from its `Content-Type` alone (so that even a 413 for
 * the RFC 8693 form is an RFC 6749 error).
 *
 * @param req The request.
 * @returns `oauth` for `application/x-www-form-urlencoded`, else `json`.
 * @example
 * ```ts
 * requestFormat(new Request("http://x", { method: "POST", body: new URLSearchParams() })); // "oauth"
 * ```
 */
export function requestFormat(req: Request): ErrorFormat {
  return _mediaType(req) === "application/x-www-form-urlencoded" ? "oauth" : "json";
}

/**
 * Reads and checks an exchange request: the body (at most `maxBodyBytes`, in by `bodyTimeoutMs`, JSON
 * object or RFC 8693 form), and the Supabase access token (the bearer token, or the form's `subject_token`).
 *
 * @param req The request (POST).
 * @param options `maxBodyBytes`: the body limit; `bodyTimeoutMs`: how long the body may take to arrive.
 * @returns The token, the requested tenant and the format to answer in.
 * @throws {ExchangeError} `payload_too_large`, `request_timeout`, `unsupported_media_type`,
 *   `invalid_request`, or `invalid_token` for a missing or malformed bearer token.
 * @example
 * ```ts
 * const req = new Request("http://localhost/", {
 *   method: "POST",
 *   headers: { authorization: "Bearer eyJhbGciOi.eyJzdWIi.c2ln", "content-type": "application/json" },
 *   body: JSON.stringify({ tenant_id: "acme" }),
 * });
 * const { token, tenantId } = await readExchangeRequest(req, { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 });
 * ```
 */
export async function readExchangeRequest(
  req: Request,
  options: { maxBodyBytes: number; bodyTimeoutMs: number },
): Promise<ExchangeRequest> {
  const format = requestFormat(req);
  const mediaType = _mediaType(req);
  const bytes = await readBodyLimited(req, {
    maxBytes: options.maxBodyBytes,
    timeoutMs: options.bodyTimeoutMs,
  });

  if (format === "oauth") return { format, ..._parseTokenExchangeForm(_utf8(bytes)) };

  if (bytes.byteLength > 0 && !_isJson(mediaType)) {
    throw new ExchangeError(
      "unsupported_media_type",
      "Send the body as application/json, or as an application/x-www-form-urlencoded token exchange",
    );
  }
  const tenantId = bytes.byteLength === 0 ? null : _parseJsonBody(_utf8(bytes));
  return { format, token: bearerToken(req.headers.get("authorization")), tenantId };
}

/**
 * Reads a JSON request body that must be an object, or nothing (at most `maxBodyBytes`, in by
 * `bodyTimeoutMs`), for the management functions.
 *
 * @param req The request.
 * @param options `maxBodyBytes`: the body limit; `bodyTimeoutMs`: how long the body may take to arrive.
 * @returns The object, or null for an empty body.
 * @throws {ExchangeError} `payload_too_large`, `request_timeout`, `unsupported_media_type` (a body that is
 *   not JSON), `invalid_request` (not UTF-8, not JSON, not an object).
 * @example
 * ```ts
 * const req = new Request("http://localhost/tenants", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ name: "Acme" }),
 * });
 * const body = await readJsonObject(req, { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 }); // { name: "Acme" }
 * ```
 */
export async function readJsonObject(
  req: Request,
  options: { maxBodyBytes: number; bodyTimeoutMs: number },
): Promise<Record<string, unknown> | null> {
  const bytes = await readBodyLimited(req, {
    maxBytes: options.maxBodyBytes,
    timeoutMs: options.bodyTimeoutMs,
  });
  if (bytes.byteLength === 0) return null;
  if (!_isJson(_mediaType(req))) {
    throw new ExchangeError("unsupported_media_type", "Send the body as application/json");
  }
  const text = _utf8(bytes);
  return text.trim() === "" ? null : _parseJsonObject(text);
}

/** What {@linkcode readBodyLimited} holds after a chunk arrives (for measurement: see its `observe`). */
export interface BodyReadState {
  /** Bytes of body received so far. */
  received: number;
  /** Chunks (network reads) received so far; none of them is kept. */
  chunks: number;
  /** Size of the one buffer the body is copied into: never more than the limit. */
  capacity: number;
}

/** Options for {@linkcode readBodyLimited}. */
export interface ReadBodyOptions {
  /** The body limit in bytes (413 above it). */
  maxBytes: number;
  /** How long the whole body may take to arrive, in milliseconds (408 after it). */
  timeoutMs: number;
  /** Called after every chunk with what the reader holds; a seam for tests and benchmarks. */
  observe?: (state: BodyReadState) => void;
}

// A body without Content-Length starts in a buffer this large (the limit if smaller), doubled as it grows.
const INITIAL_BODY_BUFFER = 1024;

/**
 * Reads a request body into one buffer no larger than `maxBytes`, refusing it as soon as it passes the
 * limit (a declared `Content-Length` over it is refused without reading anything) or once `timeoutMs` has
 * passed. Each chunk is copied and dropped: a body dripped a byte per TCP segment costs its bytes, not a
 * network buffer per byte.
 *
 * @param req The request.
 * @param options The limit, the deadline, and an optional observer.
 * @returns The body's bytes (empty when there is none).
 * @throws {ExchangeError} `payload_too_large`; `request_timeout` when the body is not in by the deadline;
 *   `invalid_request` when the body cannot be read.
 * @example
 * ```ts
 * const req = new Request("http://localhost/", { method: "POST", body: "{}" });
 * const bytes = await readBodyLimited(req, { maxBytes: 16 * 1024, timeoutMs: 10_000 }); // 2 bytes
 * ```
 */
export async function readBodyLimited(req: Request, options: ReadBodyOptions): Promise<Uint8Array> {
  const { maxBytes, timeoutMs } = options;
  const tooLarge = () =>
    new ExchangeError("payload_too_large", `The request body is larger than ${maxBytes} bytes`);
  const declaredText = req.headers.get("content-length")?.trim();
  const declared = declaredText !== undefined && /^[0-9]+$/.test(declaredText) ? Number(declaredText) : null;
  if (declared !== null && declared > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  let buffer = new Uint8Array(declared ?? Math.min(INITIAL_BODY_BUFFER, maxBytes));
  let length = 0;
  let chunks = 0;
  let timedOut = false;
  // Cancelling the reader ends a pending read, so a body that stops arriving cannot hold the request open.
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const timeout = () =>
    new ExchangeError("request_timeout", `The request body did not arrive within ${timeoutMs / 1000} s`);
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (timedOut) throw timeout();
      if (done) break;
      const needed = length + value.byteLength;
      if (needed > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      if (needed > buffer.byteLength) buffer = _grow(buffer, length, needed, maxBytes);
      buffer.set(value, length);
      length = needed;
      chunks += 1;
      options.observe?.({ received: length, chunks, capacity: buffer.byteLength });
    }
  } catch (err) {
    if (err instanceof ExchangeError) throw err;
    if (timedOut) throw timeout();
    throw new ExchangeError("invalid_request", "The request body could not be read", { cause: err });
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return buffer.subarray(0, length);
}

/** A larger buffer holding `buffer`'s first `length` bytes: doubled, at least `needed`, at most `max`. */
function _grow(
  buffer: Uint8Array<ArrayBuffer>,
  length: number,
  needed: number,
  max: number,
): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(Math.min(max, Math.max(needed, buffer.byteLength * 2)));
  grown.set(buffer.subarray(0, length));
  return grown;
}

/**
 * Extracts the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
 *
 * A request without bearer credentials (no header, a blank one, or another scheme such as `Basic`) is
 * refused with the bare {@linkcode BEARER_CHALLENGE}, with no error code, as RFC 6750 §3.1 asks: the
 * client may simply not know it has to authenticate. A Bearer header whose token is empty or malformed
 * is refused with `error="invalid_token"`, like any token the verifier refuses later.
 *
 * @param header The `Authorization` header's value, or null.
 * @returns The token.
 * @throws {ExchangeError} `invalid_token` when the header is missing, empty, not Bearer or malformed.
 * @example
 * ```ts
 * bearerToken("Bearer eyJhbGciOi.eyJzdWIi.c2ln"); // "eyJhbGciOi.eyJzdWIi.c2ln"
 * ```
 */
export function bearerToken(header: string | null): string {
  const value = header ?? "";
  const scheme = value.trim().split(/\s/, 1)[0];
  if (scheme.toLowerCase() !== "bearer") {
    throw new ExchangeError(
      "invalid_token",
      "Send the Supabase access token as Authorization: Bearer <token>",
      { headers: { "WWW-Authenticate": BEARER_CHALLENGE } },
    );
  }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(value);
  if (!match) {
    throw new ExchangeError("invalid_token", "The Authorization header's bearer token is malformed");
  }
  return _checkTokenShape(match[1]);
}

/**
 * Checks a tenant id the caller sent: a string of 1 to 255 characters, well-formed Unicode, without
 * control characters or surrounding spaces.
 *
 * @param value The value of `tenant_id` (JSON) or `audience`/`resource` (form).
 * @returns The tenant id, or null when absent (`undefined`, `null`).
 * @throws {ExchangeError} `invalid_request` when it is of the wrong type or not well formed.
 * @example
 * ```ts
 * parseTenantId("acme"); // "acme"
 * ```
 */
export function parseTenantId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new ExchangeError("invalid_request", "tenant_id must be a string");
  if (
    value.length === 0 || value.length > MAX_TENANT_ID_LENGTH || !value.isWellFormed() ||
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(value) || value.trim() !== value
  ) {
    throw new ExchangeError("invalid_request", "tenant_id is not a well-formed tenant id");
  }
  return value;
}

function _checkTokenShape(token: string): string {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new ExchangeError("invalid_token", "The access token is too long");
  }
  return token;
}

function _mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

function _isJson(mediaType: string): boolean {
  return mediaType === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

function _utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ExchangeError("invalid_request", "The request body is not valid UTF-8", { cause: err });
  }
}

function _parseJsonBody(text: string): string | null {
  if (text.trim() === "") return null;
  return parseTenantId(_parseJsonObject(text).tenant_id);
}

function _parseJsonObject(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ExchangeError("invalid_request", "The request body is not valid JSON", { cause: err });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ExchangeError("invalid_request", "The request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

// RFC 8693 §2.1, with RFC 6749 §3.2's rule that no parameter may appear twice.
function _parseTokenExchangeForm(text: string): { token: string; tenantId: string | null } {
  const params = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const [name] of params) {
    if (seen.has(name)) throw new ExchangeError("invalid_request", `The parameter ${name} is repeated`);
    seen.add(name);
  }
  const get = (name: string) => {
    const value = params.get(name);
    return value === null || value === "" ? null : value;
  };
  const grantType = get("grant_type");
  if (grantType === null) throw new ExchangeError("invalid_request", "grant_type is required");
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new OAuthRequestError("unsupported_grant_type", `Only ${TOKEN_EXCHANGE_GRANT} is supported`);
  }
  // A missing subject_token is a missing parameter of a token request (RFC 6749 §5.2: 400
  // invalid_request), not a request without credentials: RFC 6750's challenge is for resource requests.
  const subjectToken = get("subject_token");
  if (subjectToken === null) throw new ExchangeError("invalid_request", "subject_token is required");
  const subjectTokenType = get("subject_token_type");
  if (subjectTokenType === null) throw new ExchangeError("invalid_request", "subject_token_type is required");
  if (subjectTokenType !== ACCESS_TOKEN_TYPE && subjectTokenType !== JWT_TOKEN_TYPE) {
    throw new ExchangeError("invalid_request", `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  const requested = get("requested_token_type");
  if (requested !== null && requested !== JWT_TOKEN_TYPE) {
    throw new ExchangeError("invalid_request", `Only ${JWT_TOKEN_TYPE} can be issued`);
  }
  if (get("actor_token") !== null || get("actor_token_type") !== null) {
    throw new ExchangeError("invalid_request", "Delegation (actor_token) is not supported");
  }
  const audience = parseTenantId(get("audience"));
  const resource = parseTenantId(get("resource"));
  if (audience !== null && resource !== null && audience !== resource) {
    throw new ExchangeError("invalid_request", "audience and resource name different tenants");
  }
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(subjectToken)) {
    throw new ExchangeError("invalid_token", "subject_token is not a well-formed token");
  }
  return { token: _checkTokenShape(subjectToken), tenantId: audience ?? resource };
}
