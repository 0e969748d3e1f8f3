/**
 * Private helpers: turn the answer of `supabase.functions.invoke('exchange-token')` into a
 * {@linkcode BackendToken} or a {@linkcode BackendSessionError}.
 *
 * supabase-js (functions-js 2.x) never throws from `invoke`; it returns `{ data, error }` where `error`
 * is a `FunctionsHttpError` (non-2xx; `context` is the unread `Response`), a `FunctionsRelayError`
 * (`x-relay-error: true`; `context` is the `Response`) or a `FunctionsFetchError` (the request itself
 * failed or was aborted; `context` is the cause). Errors are recognised by `name`, not `instanceof`, so
 * this module needs no supabase-js import and works with two copies of it in a bundle.
 *
 * @module
 */
import { BackendSessionError, isExchangeErrorCode } from "./errors.ts";
import type { BackendToken } from "./types.ts";

/**
 * Reads a success body of the contract (docs/contract.md §2).
 *
 * @param data The parsed body (`data` of `invoke`).
 * @param sentAt `now()` when the exchange was sent; the expiry counts `expires_in` from it.
 * @returns The token and its claims.
 * @throws {BackendSessionError} `unexpected_response` when a field is missing or of the wrong type.
 * @example Reading a body
 * ```ts ignore
 * const token = toBackendToken(data, Date.now());
 * ```
 */
export function toBackendToken(data: unknown, sentAt: number): BackendToken {
  const body = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const { backend_token, user_id, tenant_id, role, email, expires_in, expires_at } = body;
  if (
    !isNonEmptyString(backend_token) || !isNonEmptyString(user_id) || !isNonEmptyString(tenant_id) ||
    typeof role !== "string" || (email != null && typeof email !== "string")
  ) {
    throw new BackendSessionError(
      "unexpected_response",
      "exchange-token answered 200 without the contract's fields",
      { status: 200 },
    );
  }
  let expiresAt: number;
  if (typeof expires_in === "number" && Number.isFinite(expires_in) && expires_in > 0) {
    expiresAt = sentAt + expires_in * 1000;
  } else if (typeof expires_at === "string" && Number.isFinite(Date.parse(expires_at))) {
    expiresAt = Date.parse(expires_at);
  } else {
    throw new BackendSessionError(
      "unexpected_response",
      "exchange-token answered 200 without a usable expires_in or expires_at",
      { status: 200 },
    );
  }
  return {
    token: backend_token,
    userId: user_id,
    tenantId: tenant_id,
    role,
    email: email ?? null,
    expiresAt,
  };
}

/**
 * Turns the `error` of `invoke` into a typed error, reading the function's JSON error body.
 *
 * @param error `error` from `invoke` (a supabase-js `FunctionsError`, or anything else).
 * @param functionName The function called, for the messages.
 * @returns The error to surface: the contract's `code` and the HTTP `status` for a `FunctionsHttpError`;
 *   `relay_error` for the Edge runtime's own answers (`BOOT_ERROR`, `WORKER_ERROR`, `WORKER_LIMIT`) and for a
 *   `FunctionsRelayError`.
 * @example Mapping an error
 * ```ts ignore
 * const { data, error } = await supabase.functions.invoke("exchange-token", { body: {} });
 * if (error) throw await toSessionError(error);
 * ```
 */
export async function toSessionError(
  error: unknown,
  functionName = "exchange-token",
): Promise<BackendSessionError> {
  const name = typeof error === "object" && error !== null ? (error as { name?: unknown }).name : undefined;
  const context = typeof error === "object" && error !== null
    ? (error as { context?: unknown }).context
    : undefined;
  const response = isResponseLike(context) ? context : undefined;

  if (name === "FunctionsHttpError" && response) {
    const body = await readJson(response);
    const status = response.status;
    const code = isRuntimeError(body?.code)
      ? "relay_error"
      : isExchangeErrorCode(body?.error)
      ? body.error
      : status === 401
      ? "invalid_token"
      : "unexpected_response";
    const message = typeof body?.message === "string" && body.message !== ""
      ? body.message
      : `${functionName} answered ${status}`;
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    return new BackendSessionError(code, message, { status, retryAfter, cause: error });
  }
  if (name === "FunctionsRelayError") {
    return new BackendSessionError("relay_error", `The Supabase relay could not reach ${functionName}`, {
      status: response?.status ?? 0,
      retryAfter: parseRetryAfter(response?.headers.get("retry-after") ?? null),
      cause: error,
    });
  }
  if (name === "FunctionsFetchError") {
    return new BackendSessionError("network_error", `The request to ${functionName} failed`, {
      cause: error,
    });
  }
  return new BackendSessionError("unexpected_response", `${functionName} could not be called`, {
    cause: error,
  });
}

/**
 * The Edge runtime's own answers for a function it could not run (`{ code, message }`, no `error`): 503
 * `BOOT_ERROR` (the worker failed to boot), 500 `WORKER_ERROR` (it exited during the request), 546
 * `WORKER_LIMIT` (it went over its memory, CPU or wall-clock limit). The next request gets a new worker.
 */
const RUNTIME_ERROR_CODES: ReadonlySet<unknown> = new Set(["BOOT_ERROR", "WORKER_ERROR", "WORKER_LIMIT"]);

function isRuntimeError(code: unknown): boolean {
  return RUNTIME_ERROR_CODES.has(code);
}

interface ResponseLike {
  status: number;
  headers: Headers;
  bodyUsed: boolean;
  text(): Promise<string>;
}

function isResponseLike(value: unknown): value is ResponseLike {
  return typeof value === "object" && value !== null &&
    typeof (value as ResponseLike).status === "number" &&
    typeof (value as ResponseLike).text === "function" &&
    typeof (value as ResponseLike).headers?.get === "function";
}

async function readJson(response: ResponseLike): Promise<Record<string, unknown> | undefined> {
  if (response.bodyUsed) return undefined;
  try {
    const parsed: unknown = JSON.parse(await response.text());
    return typeof parsed === "object" && parsed !== null ? parsed as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
