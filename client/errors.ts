/**
 * The one error class of the browser client, {@linkcode BackendSessionError}, and its codes.
 *
 * A code is either one of the `exchange-token` contract's error codes (docs/contract.md §2), passed on
 * unchanged from the function's JSON body, or one of a few codes for failures that happen before or
 * around the HTTP call (no session, network, relay, a response that is not the contract's).
 *
 * @module
 */

/**
 * Error codes the `exchange-token` function answers with (docs/contract.md §2), in one list: the
 * {@linkcode ExchangeErrorCode} type and {@linkcode isExchangeErrorCode} both come from it.
 *
 * @example Listing them
 * ```ts
 * import { EXCHANGE_ERROR_CODES } from "./errors.ts";
 *
 * console.log(EXCHANGE_ERROR_CODES.join(", "));
 * ```
 */
export const EXCHANGE_ERROR_CODES = [
  "invalid_request",
  "invalid_token",
  "insufficient_user_authentication",
  "no_tenant",
  "not_a_member",
  "forbidden",
  "not_found",
  "method_not_allowed",
  "request_timeout",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "server_misconfigured",
  "auth_unavailable",
  "database_unavailable",
  "internal_error",
] as const;

/**
 * An error code the `exchange-token` function answers with (docs/contract.md §2).
 *
 * @example
 * ```ts
 * import type { ExchangeErrorCode } from "./errors.ts";
 *
 * const code: ExchangeErrorCode = "not_a_member"; // 403
 * ```
 */
export type ExchangeErrorCode = typeof EXCHANGE_ERROR_CODES[number];

/**
 * Error codes the client raises itself.
 *
 * - `not_signed_in`: supabase-js has no session, so there is nothing to exchange.
 * - `network_error`: the request to the function failed (supabase-js `FunctionsFetchError`).
 * - `relay_error`: the function could not be run: the Supabase relay could not reach it
 *   (`FunctionsRelayError`), or the Edge runtime answered for it (503 `BOOT_ERROR`, 500 `WORKER_ERROR`, 546
 *   `WORKER_LIMIT`). Passing: the next request gets a fresh worker, and the session retries on its own.
 * - `unexpected_response`: an answer that is not the contract's (a gateway page, a body without
 *   `backend_token`, an unknown error code).
 * - `session_changed`: the user kept changing while the exchange ran, so no token could be trusted.
 * - `disposed`: the session was disposed.
 *
 * @example
 * ```ts
 * const code: ClientErrorCode = "not_signed_in"; // status 0: no HTTP call was made
 * ```
 */
export type ClientErrorCode =
  | "not_signed_in"
  | "network_error"
  | "relay_error"
  | "unexpected_response"
  | "session_changed"
  | "disposed";

/**
 * Every code a {@linkcode BackendSessionError} can carry; a `switch` on it narrows.
 *
 * @example Deciding whether a retry can help
 * ```ts
 * function isPassing(code: BackendSessionErrorCode): boolean {
 *   return ["network_error", "relay_error", "auth_unavailable", "database_unavailable"].includes(code);
 * }
 * ```
 */
export type BackendSessionErrorCode = ExchangeErrorCode | ClientErrorCode;

const _EXCHANGE_ERROR_CODE_SET: ReadonlySet<string> = new Set(EXCHANGE_ERROR_CODES);

/**
 * Tells whether a string is one of the contract's error codes.
 *
 * @param code The `error` field of an error body.
 * @returns `true` for a code of {@linkcode EXCHANGE_ERROR_CODES}.
 *
 * @example Narrowing a body's code
 * ```ts
 * import { isExchangeErrorCode } from "./errors.ts";
 *
 * isExchangeErrorCode("not_a_member"); // true
 * isExchangeErrorCode("Invalid JWT"); // false
 * ```
 */
export function isExchangeErrorCode(code: unknown): code is ExchangeErrorCode {
  return typeof code === "string" && _EXCHANGE_ERROR_CODE_SET.has(code);
}

/**
 * Extra details of a {@linkcode BackendSessionError}.
 *
 * @example
 * ```ts
 * new BackendSessionError("database_unavailable", "Try again", { status: 503, retryAfter: 5 });
 * ```
 */
export interface BackendSessionErrorOptions {
  /** HTTP status of the function's answer; `0` when there was none. */
  status?: number;
  /** Seconds from the answer's `Retry-After` header, when present (the function's 503s send one). */
  retryAfter?: number;
  /** The underlying error (a supabase-js `FunctionsError`, an `AuthError`, ...). */
  cause?: unknown;
}

/**
 * A failure to obtain a backend token, with a stable `code` and the HTTP `status`.
 *
 * Assert on `code`, not on the message: the message is the function's human sentence when it sent
 * one, and may change.
 *
 * @example Telling "pick another tenant" apart from "sign in again"
 * ```ts ignore
 * import { BackendSessionError } from "./errors.ts";
 *
 * try {
 *   await session.getToken();
 * } catch (err) {
 *   if (err instanceof BackendSessionError) {
 *     switch (err.code) {
 *       case "not_a_member":
 *         session.selectTenant(null);
 *         break;
 *       case "invalid_token":
 *       case "not_signed_in":
 *         showSignIn();
 *         break;
 *       case "insufficient_user_authentication":
 *         showMfaChallenge(); // supabase.auth.mfa.challengeAndVerify(), then getToken() again
 *         break;
 *     }
 *   }
 * }
 * ```
 */
export class BackendSessionError extends Error {
  /** The contract's error code, or one of the client's own ({@linkcode ClientErrorCode}). */
  readonly code: BackendSessionErrorCode;
  /** HTTP status of the function's answer; `0` when no HTTP answer was involved. */
  readonly status: number;
  /** Seconds to wait before retrying, from the answer's `Retry-After`, when sent. */
  readonly retryAfter?: number;

  /**
   * Creates the error.
   *
   * @param code The stable error code.
   * @param message A human sentence (the function's `message` when it sent one).
   * @param options `status`, `retryAfter` and `cause`.
   * @example Raising one
   * ```ts
   * throw new BackendSessionError("not_a_member", "Tenant is not one of yours", { status: 403 });
   * ```
   */
  constructor(code: BackendSessionErrorCode, message: string, options: BackendSessionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BackendSessionError";
    this.code = code;
    this.status = options.status ?? 0;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}
