/**
 * The exchange's request: a POST whose body is nothing, a JSON object with an optional `tenant_id`, or an
 * RFC 8693 token-exchange form, and whose Supabase access token is the bearer token (or the form's
 * `subject_token`). Parsed here into an {@linkcode ExchangeRequest}; failures are thrown as
 * {@linkcode ApiError}s, in the format {@linkcode requestFormat} says the answer is written in.
 *
 * @module
 */
import { ApiError, type ErrorFormat, OAuthRequestError } from "../core/errors.ts";
import {
  bearerToken,
  checkTokenShape,
  isJson,
  mediaType,
  parseJsonObject,
  readBodyLimited,
  utf8,
} from "../core/http.ts";
import { parseTenantId } from "../core/tenant_id.ts";
import { EXCHANGE_FUNCTION } from "./config.ts";

/** The RFC 8693 grant type. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 8693 token types: what we accept as the subject token, and what we issue. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";

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
  return mediaType(req) === "application/x-www-form-urlencoded" ? "oauth" : "json";
}

/**
 * Reads and checks an exchange request: the body (at most `maxBodyBytes`, in by `bodyTimeoutMs`, JSON
 * object or RFC 8693 form), and the Supabase access token (the bearer token, or the form's `subject_token`).
 *
 * @param req The request (POST).
 * @param options `maxBodyBytes`: the body limit; `bodyTimeoutMs`: how long the body may take to arrive.
 * @returns The token, the requested tenant and the format to answer in.
 * @throws {ApiError} `payload_too_large`, `request_timeout`, `unsupported_media_type`,
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
  const type = mediaType(req);
  const bytes = await readBodyLimited(req, {
    maxBytes: options.maxBodyBytes,
    timeoutMs: options.bodyTimeoutMs,
  });

  if (format === "oauth") return { format, ..._parseTokenExchangeForm(utf8(bytes)) };

  if (bytes.byteLength > 0 && !isJson(type)) {
    throw new ApiError(
      "unsupported_media_type",
      "Send the body as application/json, or as an application/x-www-form-urlencoded token exchange",
    );
  }
  const tenantId = bytes.byteLength === 0 ? null : _parseJsonBody(utf8(bytes));
  return { format, token: bearerToken(req.headers.get("authorization"), EXCHANGE_FUNCTION), tenantId };
}

function _parseJsonBody(text: string): string | null {
  if (text.trim() === "") return null;
  return parseTenantId(parseJsonObject(text).tenant_id);
}

// RFC 8693 §2.1, with RFC 6749 §3.2's rule that no parameter may appear twice.
function _parseTokenExchangeForm(text: string): { token: string; tenantId: string | null } {
  const params = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const [name] of params) {
    if (seen.has(name)) throw new ApiError("invalid_request", `The parameter ${name} is repeated`);
    seen.add(name);
  }
  const get = (name: string) => {
    const value = params.get(name);
    return value === null || value === "" ? null : value;
  };
  const grantType = get("grant_type");
  if (grantType === null) throw new ApiError("invalid_request", "grant_type is required");
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new OAuthRequestError("unsupported_grant_type", `Only ${TOKEN_EXCHANGE_GRANT} is supported`);
  }
  // A missing subject_token is a missing parameter of a token request (RFC 6749 §5.2: 400
  // invalid_request), not a request without credentials: RFC 6750's challenge is for resource requests.
  const subjectToken = get("subject_token");
  if (subjectToken === null) throw new ApiError("invalid_request", "subject_token is required");
  const subjectTokenType = get("subject_token_type");
  if (subjectTokenType === null) throw new ApiError("invalid_request", "subject_token_type is required");
  if (subjectTokenType !== ACCESS_TOKEN_TYPE && subjectTokenType !== JWT_TOKEN_TYPE) {
    throw new ApiError("invalid_request", `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  const requested = get("requested_token_type");
  if (requested !== null && requested !== JWT_TOKEN_TYPE) {
    throw new ApiError("invalid_request", `Only ${JWT_TOKEN_TYPE} can be issued`);
  }
  if (get("actor_token") !== null || get("actor_token_type") !== null) {
    throw new ApiError("invalid_request", "Delegation (actor_token) is not supported");
  }
  const audience = parseTenantId(get("audience"));
  const resource = parseTenantId(get("resource"));
  if (audience !== null && resource !== null && audience !== resource) {
    throw new ApiError("invalid_request", "audience and resource name different tenants");
  }
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(subjectToken)) {
    throw new ApiError("invalid_token", "subject_token is not a well-formed token");
  }
  return { token: checkTokenShape(subjectToken), tenantId: audience ?? resource };
}
