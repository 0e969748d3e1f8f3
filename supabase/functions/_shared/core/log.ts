/**
 * The functions' log: one structured entry per request, written as one JSON line, with nothing in it that
 * could identify a caller to someone reading the logs (no token, secret or email address).
 *
 * The request skeleton fills a {@linkcode RequestLogEntry} (which each function extends) as the request
 * goes, asks {@linkcode logLevel} how loud a failure is, and describes its cause with
 * {@linkcode describeCause}, which {@linkcode redact}s whatever message it keeps.
 *
 * @module
 */
import { ApiError, type ErrorCode } from "./errors.ts";

/**
 * What every request's log line holds, one JSON line per request; each function adds its own fields. Never
 * a token, a secret or an email address.
 */
export interface RequestLogEntry {
  level: LogLevel;
  /** The function's (`exchange`, `tenants`, `invitations`). */
  msg: string;
  /** `ok`, `preflight`, or the error code. */
  outcome: "ok" | "preflight" | ErrorCode;
  status: number;
  method: string;
  latency_ms: number;
  /** For failures: the underlying error's class and code (`TNMEM`, `ECONNREFUSED`, ...). */
  cause?: LogCause;
}

/**
 * The line an isolate writes about trusting confirmed addresses (`email_trust.ts`): once per read of Auth's
 * settings that finds autoconfirm on, or fails. Never an address.
 */
export interface EmailTrustLogEntry {
  level: "warn";
  msg: "email_trust";
  /** Whether the isolate trusts proven addresses from now on (false under autoconfirm, or before any read). */
  trusted: boolean;
  /** `mailer_autoconfirm`: the project confirms addresses without mail; `settings_unavailable`: unread. */
  reason: "mailer_autoconfirm" | "settings_unavailable";
  /** What the exchange does meanwhile. */
  effect: string;
  /** For `settings_unavailable`: why the read failed. */
  cause?: LogCause;
}

/** How loud a log line is. */
export type LogLevel = "info" | "warn" | "error";

/** What a log line says about an error: its class, its code, and (for a bug) its redacted message. */
export interface LogCause {
  name: string;
  code?: string;
  message?: string;
}

/**
 * The default log: one JSON line on stdout (stderr for server-side failures).
 *
 * @param entry The request's log entry, or another line of the function's (an {@linkcode EmailTrustLogEntry}).
 * @example
 * ```ts
 * jsonLineLog({
 *   level: "info",
 *   msg: "exchange",
 *   outcome: "preflight",
 *   status: 204,
 *   method: "OPTIONS",
 *   latency_ms: 0.1,
 * });
 * ```
 */
export const jsonLineLog = (entry: RequestLogEntry | EmailTrustLogEntry): void => {
  const line = JSON.stringify(entry);
  if (entry.level === "error") console.error(line);
  else console.log(line);
};

/**
 * The level of a request's log line. An outage of Auth or Postgres is `warn`: the function did its job
 * and answered 503, and the alert belongs to the service that is down. Any other 5xx is ours to fix, so
 * `error`. Everything else, refusals included, is `info`.
 *
 * @param status The response's status.
 * @param outcome `ok`, `preflight` or the error code.
 * @returns The level.
 * @example
 * ```ts
 * logLevel(503, "database_unavailable"); // "warn"
 * logLevel(500, "internal_error"); // "error"
 * logLevel(403, "not_a_member"); // "info"
 * ```
 */
export function logLevel(status: number, outcome: RequestLogEntry["outcome"]): LogLevel {
  if (status < 500) return "info";
  return outcome === "auth_unavailable" || outcome === "database_unavailable" ? "warn" : "error";
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
export function describeCause(err: unknown): LogCause {
  if (err === null || typeof err !== "object") return { name: typeof err };
  const name = String((err as { name?: unknown }).name ?? err.constructor?.name ?? "Error");
  const code = (err as { code?: unknown }).code;
  const cause: LogCause = { name };
  if (typeof code === "string" || typeof code === "number") cause.code = String(code);
  // Our own errors and postgres.js/supabase-js errors are described by class and code; the message of
  // anything else is kept (redacted) because it is the only clue to a bug.
  if (!(err instanceof ApiError) && cause.code === undefined) {
    const message = String((err as { message?: unknown }).message ?? "");
    cause.message = redact(message).slice(0, 300);
  }
  return cause;
}

/**
 * Removes JWT-like strings, email addresses and Supabase API keys from a text.
 *
 * @param text Any text.
 * @returns The text with `[token]`, `[email]` and `[key]` in their place.
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
