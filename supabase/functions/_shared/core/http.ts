/**
 * HTTP plumbing every function shares: CORS headers, JSON answers, a request body read within a size limit
 * and a deadline, a JSON object body, and the bearer token of `Authorization`.
 *
 * Everything here is about bytes and headers; nothing knows about tokens' meaning, tenants or one function's
 * request format (the exchange's is `../exchange/request.ts`). Failures are thrown as
 * {@linkcode ApiError}s (`invalid_request`, `payload_too_large`, `request_timeout`,
 * `unsupported_media_type`, `invalid_token` for a missing or malformed bearer) for the handler to render.
 *
 * (Over 300 lines: most of it is the bounded body reader and its documentation, which belong together.)
 *
 * @module
 */
import { ApiError, bearerChallenge } from "./errors.ts";

/** The request headers supabase-js sends to a function (its own `corsHeaders` list, plus `x-region`). */
export const CORS_ALLOW_HEADERS =
  "authorization, x-client-info, apikey, content-type, x-retry-count, x-region, traceparent, tracestate, baggage";

/** Response headers a browser script may read on an error: when to retry, and why a token was refused. */
export const CORS_EXPOSE_HEADERS = "Retry-After, WWW-Authenticate";

/** Longest bearer token accepted. Supabase access tokens are a few KiB even with large metadata. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * The CORS headers for a response to `req`. With a list of origins, a listed `Origin` is echoed (with
 * `Vary: Origin`); any other origin gets no `Access-Control-Allow-Origin`, so its browser refuses to read
 * the response.
 *
 * @param req The request (its `Origin` header).
 * @param allowedOrigins `"*"` or the exact origins allowed.
 * @param methods The methods a preflight allows: the function's.
 * @returns Headers to add to every response, errors and preflights included.
 * @example
 * ```ts
 * const req = new Request("http://localhost/", { headers: { origin: "https://app.example.com" } });
 * corsHeaders(req, ["https://app.example.com"], "POST, OPTIONS"); // Access-Control-Allow-Origin: https://app.example.com, ...
 * ```
 */
export function corsHeaders(
  req: Request,
  allowedOrigins: "*" | readonly string[],
  methods: string,
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
 * Reads a JSON request body that must be an object, or nothing (at most `maxBodyBytes`, in by
 * `bodyTimeoutMs`), for the management functions.
 *
 * @param req The request.
 * @param options `maxBodyBytes`: the body limit; `bodyTimeoutMs`: how long the body may take to arrive.
 * @returns The object, or null for an empty body.
 * @throws {ApiError} `payload_too_large`, `request_timeout`, `unsupported_media_type` (a body that is
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
  if (!isJson(mediaType(req))) {
    throw new ApiError("unsupported_media_type", "Send the body as application/json");
  }
  const text = utf8(bytes);
  return text.trim() === "" ? null : parseJsonObject(text);
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
 * @throws {ApiError} `payload_too_large`; `request_timeout` when the body is not in by the deadline;
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
    new ApiError("payload_too_large", `The request body is larger than ${maxBytes} bytes`);
  const declaredText = req.headers.get("content-length")?.trim();
  const declared = declaredText !== undefined && /^[0-9]+$/.test(declaredText) ? Number(declaredText) : null;
  if (declared !== null && declared > maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  // Typed plainly: `Uint8Array<ArrayBuffer>` (TypeScript 5.7) does not compile on the Edge Runtime's Deno 2.1.4.
  let buffer: Uint8Array = new Uint8Array(declared ?? Math.min(INITIAL_BODY_BUFFER, maxBytes));
  let length = 0;
  let chunks = 0;
  let timedOut = false;
  // Cancelling the reader ends a pending read, so a body that stops arriving cannot hold the request open.
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const timeout = () =>
    new ApiError("request_timeout", `The request body did not arrive within ${timeoutMs / 1000} s`);
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
    // Released on failure only, so that the skeleton can still cancel what is left of the body. A body read
    // to its end needs no release, which costs Deno a TypeError with its stack (a fiftieth of an exchange).
    reader.releaseLock();
    if (err instanceof ApiError) throw err;
    if (timedOut) throw timeout();
    throw new ApiError("invalid_request", "The request body could not be read", { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return buffer.subarray(0, length);
}

/** A larger buffer holding `buffer`'s first `length` bytes: doubled, at least `needed`, at most `max`. */
function _grow(buffer: Uint8Array, length: number, needed: number, max: number): Uint8Array {
  const grown = new Uint8Array(Math.min(max, Math.max(needed, buffer.byteLength * 2)));
  grown.set(buffer.subarray(0, length));
  return grown;
}

/**
 * Extracts the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
 *
 * A request without bearer credentials (no header, a blank one, or another scheme such as `Basic`) is
 * refused with the function's bare challenge ({@linkcode bearerChallenge}), with no error code, as RFC 6750 §3.1 asks: the
 * client may simply not know it has to authenticate. A Bearer header whose token is empty or malformed
 * is refused with `error="invalid_token"`, like any token the verifier refuses later.
 *
 * @param header The `Authorization` header's value, or null.
 * @param realm The function's name, for the challenge.
 * @returns The token.
 * @throws {ApiError} `invalid_token` when the header is missing, empty, not Bearer or malformed.
 * @example
 * ```ts
 * bearerToken("Bearer eyJhbGciOi.eyJzdWIi.c2ln", "tenants"); // "eyJhbGciOi.eyJzdWIi.c2ln"
 * ```
 */
export function bearerToken(header: string | null, realm: string): string {
  const value = header ?? "";
  const scheme = value.trim().split(/\s/, 1)[0];
  if (scheme.toLowerCase() !== "bearer") {
    throw new ApiError(
      "invalid_token",
      "Send the Supabase access token as Authorization: Bearer <token>",
      { headers: { "WWW-Authenticate": bearerChallenge(realm) } },
    );
  }
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(value);
  if (!match) {
    throw new ApiError("invalid_token", "The Authorization header's bearer token is malformed");
  }
  return checkTokenShape(match[1]);
}

/**
 * Refuses a token longer than {@linkcode MAX_TOKEN_LENGTH}.
 *
 * @param token The token.
 * @returns The token.
 * @throws {ApiError} `invalid_token` when it is too long.
 * @example
 * ```ts
 * checkTokenShape("eyJhbGciOi.eyJzdWIi.c2ln"); // "eyJhbGciOi.eyJzdWIi.c2ln"
 * ```
 */
export function checkTokenShape(token: string): string {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new ApiError("invalid_token", "The access token is too long");
  }
  return token;
}

/**
 * The media type of a request's body, lower-cased, without parameters.
 *
 * @param req The request.
 * @returns E.g. `application/json`, or `""` when there is no `Content-Type`.
 * @example
 * ```ts
 * mediaType(new Request("http://x", { method: "POST", body: "{}", headers: { "content-type": "Application/JSON; charset=utf-8" } })); // "application/json"
 * ```
 */
export function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Whether a media type is JSON (`application/json` or `application/…+json`).
 *
 * @param type A media type from {@linkcode mediaType}.
 * @returns True for JSON.
 * @example
 * ```ts
 * isJson("application/merge-patch+json"); // true
 * ```
 */
export function isJson(type: string): boolean {
  return type === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Decodes a body as UTF-8, strictly.
 *
 * @param bytes The body.
 * @returns The text.
 * @throws {ApiError} `invalid_request` when it is not valid UTF-8.
 * @example
 * ```ts
 * utf8(new TextEncoder().encode("{}")); // "{}"
 * ```
 */
export function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ApiError("invalid_request", "The request body is not valid UTF-8", { cause: err });
  }
}

/**
 * Parses a body that must be one JSON object.
 *
 * @param text The body.
 * @returns The object.
 * @throws {ApiError} `invalid_request` when it is not JSON, or not an object.
 * @example
 * ```ts
 * parseJsonObject('{"tenant_id":"acme"}'); // { tenant_id: "acme" }
 * ```
 */
export function parseJsonObject(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError("invalid_request", "The request body is not valid JSON", { cause: err });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError("invalid_request", "The request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}
