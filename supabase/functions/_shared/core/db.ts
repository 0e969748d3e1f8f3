/**
 * The database every function talks to: one postgres.js pool per isolate ({@linkcode createDatabasePool}),
 * and what Postgres's errors mean to a caller ({@linkcode mapDatabaseError}).
 *
 * SQLSTATEs raised by the `tenancy.*` functions map to the contract: TNAUT → 401 `invalid_token`, TNAAL →
 * 401 `insufficient_user_authentication`, TNNOT → 403 `no_tenant`, TNMEM → 403 `not_a_member`, and for the
 * management functions TNFND → 404, TNFBD → 403, TNCFL → 409, TNLIM → 429 with `Retry-After`, TNBAD → 400.
 * A connection that cannot be made or breaks, a statement past its timeout, a shutdown, and a transaction
 * Postgres rolled back for a concurrent one's sake (40P01, 40001) are 503 `database_unavailable`; a broken
 * deployment (credentials, database, migrations) is 500 `server_misconfigured`; anything else is a bug.
 *
 * @module
 */
import postgres from "postgres";
import { ApiError, type ErrorCode } from "./errors.ts";

/**
 * The SQLSTATEs `tenancy.resolve_tenant()` and the management functions (docs/tenants.md) raise, and what
 * each means to the caller. Where `ownMessage` is set, the function's own message (written for people, never
 * carrying a value the caller did not send) is the answer's, as it says which rule refused the request.
 */
export const ERROR_BY_SQLSTATE: Readonly<
  Record<string, { code: ErrorCode; message: string; ownMessage?: true }>
> = Object.freeze({
  TNAUT: { code: "invalid_token", message: "The session has ended or the user no longer exists" },
  TNAAL: {
    code: "insufficient_user_authentication",
    message: "This user has multi-factor authentication: verify a factor (aal2) first",
  },
  TNNOT: { code: "no_tenant", message: "No tenant is available for this user" },
  TNMEM: { code: "not_a_member", message: "The requested tenant is not one of yours" },
  TNFND: { code: "not_found", message: "Not found" },
  TNFBD: { code: "forbidden", message: "Your role in this tenant does not allow this", ownMessage: true },
  TNCFL: { code: "conflict", message: "This conflicts with the tenant's current state", ownMessage: true },
  TNLIM: { code: "rate_limited", message: "Over a limit; try again later", ownMessage: true },
  TNBAD: { code: "invalid_request", message: "A value is not acceptable", ownMessage: true },
});

// Errors postgres.js reports when the connection itself failed (no SQLSTATE).
const CONNECTION_ERRORS = new Set([
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// SQLSTATEs after which Postgres rolled the whole transaction back for a concurrent one's sake: a deadlock's
// victim, a serialization failure. Nothing was committed; the transaction may be run again from `begin`.
const TRANSACTION_CONFLICT_SQLSTATES = new Set(["40P01", "40001"]);

// SQLSTATE classes that mean "the database cannot serve now": connection exception, insufficient
// resources, operator intervention (shutdown, statement timeout), and crash recovery.
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;
// SQLSTATEs that mean this deployment is wrong: bad credentials, no such database, missing migrations.
const MISCONFIGURED_SQLSTATE = /^(28|3D|3F|42883|42P01|42501)/;

/** Options for {@linkcode createDatabasePool}. */
export interface DatabasePoolOptions {
  /** The database (`TENANCY_DB_URL` or `SUPABASE_DB_URL`); its user must be able to `set role authenticated`. */
  databaseUrl: string;
  /** Use unnamed statements only, as a transaction pooler (port 6543) requires. */
  transactionPooler?: boolean;
  /** Time allowed for one transaction, connecting included (the connect timeout is derived from it). */
  timeoutMs: number;
  /** Connections per isolate (default 3: an isolate serves few requests at once). */
  max?: number;
  /** Seconds before an idle connection is closed (default 20). */
  idleTimeoutSeconds?: number;
  /** The `application_name` Postgres shows for these connections: the function's name. */
  applicationName: string;
}

/** A postgres.js pool of one isolate, and how to close it. */
export interface DatabasePool {
  /**
   * The pool as it is now: a fresh one after a refused reservation ({@linkcode DatabasePool.reserve}) or a write
   * to a closed connection ({@linkcode isWriteAfterClose}); the old one ends after its running queries.
   */
  readonly sql: postgres.Sql;
  /**
   * Reserves a connection (`sql.reserve()`). Once a reservation is refused (the connection it had to open
   * failed), the pool is replaced by a fresh one and the old one closed after its running queries.
   */
  reserve(): Promise<postgres.ReservedSql>;
  /** Closes the pool; waits at most `timeoutSeconds` (default 5) for running queries. */
  close(timeoutSeconds?: number): Promise<void>;
}

/**
 * Builds the postgres.js pool a function's transactions run on (connections open lazily).
 *
 * @param options The database, pooler mode, timeout, pool size and application name.
 * @returns The pool and a way to close it.
 * @example
 * ```ts ignore
 * const pool = createDatabasePool({ databaseUrl, timeoutMs: 5000, applicationName: "tenants" });
 * await pool.sql`select 1`;
 * await pool.close();
 * ```
 */
export function createDatabasePool(options: DatabasePoolOptions): DatabasePool {
  let sql = _openPool(options);
  const retiring = new Set<Promise<void>>();
  // Replaces the pool by a fresh one; the old one ends once its running queries have (within the timeout).
  const retire = (old: postgres.Sql) => {
    if (sql !== old) return;
    sql = _openPool(options);
    const ending = old.end({ timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)) }).catch(() => {});
    retiring.add(ending);
    ending.finally(() => retiring.delete(ending));
  };
  // A listener of each pool's own (the same function twice would be one listener, removed by the first close).
  // The connection that wrote after its close keeps the unsent bytes and a spent timer (connection.js
  // `nextWrite()` threw before clearing them), so its next logins never flush and time out: retire the pool.
  // The write throws outside any promise (a null socket) or rejects one (a socket its peer ended).
  const onWriteAfterClose = (event: ErrorEvent | PromiseRejectionEvent) => {
    if (!isWriteAfterClose("error" in event ? event.error : event.reason)) return;
    event.preventDefault();
    retire(sql);
  };
  _ignoreTypeFetchFailures();
  globalThis.addEventListener("unhandledrejection", onWriteAfterClose);
  globalThis.addEventListener("error", onWriteAfterClose);
  return {
    get sql() {
      return sql;
    },
    async reserve() {
      const current = sql;
      try {
        return await current.reserve();
      } catch (err) {
        // postgres.js 3.4.9's reserve() both queues the reservation and hands it to the connection it opens
        // (index.js `reserve()`); when that connection is refused (53300 too many clients, a connect
        // timeout) the reservation is rejected but stays queued. Behind other entries, the next connection
        // released goes to it and is never seen again (`onopen()` resolves the settled promise): a few
        // refusals and the isolate has no connection left and answers 503 for good. A fresh pool has no
        // such entry. (First in the queue, the refused connection reconnects for it as it closes, in
        // `onclose()`, even once the old pool has ended; that connection idles out after `idle_timeout`.)
        retire(current);
        throw err;
      }
    },
    async close(timeout = 5) {
      await Promise.all([sql.end({ timeout }), ...retiring]);
      globalThis.removeEventListener("unhandledrejection", onWriteAfterClose);
      globalThis.removeEventListener("error", onWriteAfterClose);
    },
  };
}

function _openPool(options: DatabasePoolOptions): postgres.Sql {
  const timeoutSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  return postgres(options.databaseUrl, {
    // Explored with `deno task bench`'s load (wrk, 16 and 64 connections, 2 cores): 1 connection gave
    // ~1,350-1,390 exchanges/s, 2-3 gave ~1,460-1,530, 5-10 no more (~1,330-1,460) with a worse p99. An
    // exchange holds its connection for one round trip, so a few suffice; more only add Postgres backends.
    max: options.max ?? 3,
    idle_timeout: options.idleTimeoutSeconds ?? 20,
    connect_timeout: timeoutSeconds,
    max_lifetime: 30 * 60,
    prepare: !options.transactionPooler,
    // Reconnect quickly once Postgres is back instead of backing off for up to 20 s: each exchange has
    // its own deadline anyway.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    connection: { application_name: options.applicationName },
    onnotice: () => {},
    // Keep postgres.js's default `fetch_types: true`: with it off, `reserve()` on a connection that has
    // to be opened first never resolves (postgres.js 3.4.9 skips `onopen` for a reserving first query).
    fetch_types: true,
  });
}

/**
 * Whether Postgres rolled the transaction back for a concurrent one's sake (40P01 deadlock detected, 40001
 * serialization failure): nothing was committed, and running the whole transaction again may succeed.
 * Postgres cannot retry inside the aborted transaction; the caller runs it again from `begin`.
 *
 * @param err What postgres.js threw.
 * @returns Whether it is one of those.
 * @example
 * ```ts
 * isTransactionConflict(Object.assign(new Error("deadlock detected"), { code: "40P01" })); // true
 * ```
 */
export function isTransactionConflict(err: unknown): boolean {
  const code = _code(err);
  return code !== undefined && TRANSACTION_CONFLICT_SQLSTATES.has(code);
}

/**
 * Maps an error from postgres.js to the contract: the resolve function's own SQLSTATEs to 401/403,
 * connection failures, timeouts and a transaction rolled back for a concurrent one (40P01, 40001) to 503,
 * a broken deployment to 500 `server_misconfigured`.
 *
 * @param err What postgres.js threw.
 * @returns The error to throw.
 * @example
 * ```ts
 * mapDatabaseError(Object.assign(new Error("x"), { code: "TNMEM" })).code; // "not_a_member"
 * ```
 */
export function mapDatabaseError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const code = _code(err);
  const known = code === undefined ? undefined : ERROR_BY_SQLSTATE[code];
  if (known) {
    const own = (err as { message?: unknown }).message;
    const message = known.ownMessage && typeof own === "string" && own !== ""
      ? own[0].toUpperCase() + own.slice(1)
      : known.message;
    // TNLIM's DETAIL is the seconds to wait.
    const detail = (err as { detail?: unknown }).detail;
    const headers = code === "TNLIM" && typeof detail === "string" && /^[0-9]{1,10}$/.test(detail)
      ? { "Retry-After": detail }
      : undefined;
    return new ApiError(known.code, message, { cause: err, headers });
  }
  if (_isConnectionFailure(err) || (code !== undefined && UNAVAILABLE_SQLSTATE.test(code))) {
    return new ApiError("database_unavailable", "The database is unavailable; try again shortly", {
      cause: err,
    });
  }
  if (isTransactionConflict(err)) {
    // Transient, and nothing was committed: the exchange's callers retry a 503. The management functions
    // answer a second one 409 `conflict` instead (caller.ts).
    return new ApiError(
      "database_unavailable",
      "The database could not complete this now, because of concurrent requests; try again shortly",
      { cause: err },
    );
  }
  if (code !== undefined && MISCONFIGURED_SQLSTATE.test(code)) {
    return new ApiError("server_misconfigured", "The token exchange is not configured correctly", {
      cause: err,
    });
  }
  return new ApiError("internal_error", "The exchange failed unexpectedly", { cause: err });
}

let _typeFetchFailuresIgnored = false;

// postgres.js 3.4.9 reads the array types on each new connection (`fetch_types`, kept on: see
// createDatabasePool) and does not catch that query's failure (connection.js, `fetchArrayTypes()` from
// `ReadyForQuery`). A pooler logs clients in itself, before it reaches Postgres: with Postgres down, that
// query fails on a connection that is already "open", and the unhandled rejection would end the isolate. The
// exchange that wanted the connection answers 503 by its own deadline; this failure is dropped, and only this
// one. For the whole process, once, not per pool: a pool that has ended still opens a connection for a
// refused reservation left in its queue (see `reserve()`; index.js `onclose()` connects for it), after its
// own listeners are gone, and that connection's type query fails if Postgres goes away meanwhile.
function _ignoreTypeFetchFailures() {
  if (_typeFetchFailuresIgnored) return;
  _typeFetchFailuresIgnored = true;
  globalThis.addEventListener("unhandledrejection", (event) => {
    const query = (event.reason as { query?: unknown } | null)?.query;
    if (typeof query === "string" && query.includes("from pg_catalog.pg_type a")) event.preventDefault();
  });
}

/**
 * Whether an uncaught error is postgres.js 3.4.9 writing to a connection that has closed. Its `begin()` answers
 * a connection that closed mid-transaction (Postgres shut down, a pooler restarted) by rejecting, then sends
 * `rollback` on that closed connection; the write, deferred with setImmediate (connection.js `write()`,
 * `nextWrite()`), finds no socket and throws outside any promise, which would end the isolate (a 500 for every
 * request in it). The request already has its 503, and the rollback had nothing to undo: a process that runs
 * postgres.js drops this error, and only this one, from its `error` event (and the function's pools retire
 * the pool it came from: {@linkcode createDatabasePool}).
 *
 * @param error The uncaught error (`ErrorEvent.error`).
 * @returns Whether it is that one.
 * @example
 * ```ts
 * globalThis.addEventListener("error", (event) => {
 *   if (isWriteAfterClose(event.error)) event.preventDefault();
 * });
 * ```
 */
export function isWriteAfterClose(error: unknown): boolean {
  const closed =
    error instanceof TypeError && error.message === "Cannot read properties of null (reading 'write')" ||
    // The socket is there but its peer ended it (Deno's node:net `_writeAfterFIN`), e.g. Postgres restarted.
    error instanceof Error && error.message === "This socket has been ended by the other party";
  return closed && /\bnextWrite \(.*\/postgres\b.*\/src\/connection\.js:/.test((error as Error).stack ?? "");
}

function _code(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function _isConnectionFailure(err: unknown): boolean {
  const code = _code(err);
  // A PostgresError carries a severity; socket and postgres.js connection errors do not.
  return code !== undefined && CONNECTION_ERRORS.has(code) && !(err as { severity?: unknown }).severity;
}

/**
 * Whether the connection is gone: a socket failure, or a FATAL error (e.g. 57P01 on a Postgres shutdown, or
 * PgBouncer's 08P01 when it lost its server), after which the other side hangs up. postgres.js has then
 * taken the connection back already.
 *
 * @param err What postgres.js threw.
 * @returns Whether the connection ended with it.
 * @example
 * ```ts
 * endsConnection(Object.assign(new Error("x"), { code: "ECONNRESET" })); // true
 * ```
 */
export function endsConnection(err: unknown): boolean {
  const severity = (err as { severity?: unknown } | null)?.severity;
  return _isConnectionFailure(err) || severity === "FATAL" || severity === "PANIC";
}

/**
 * Whether an error is 25P02, "current transaction is aborted": the echo of an earlier failure in the same
 * pipeline, never the failure to report.
 *
 * @param err What postgres.js threw.
 * @returns Whether it is 25P02.
 * @example
 * ```ts
 * isAbortedTransaction(Object.assign(new Error("x"), { code: "25P02" })); // true
 * ```
 */
export function isAbortedTransaction(err: unknown): boolean {
  return _code(err) === "25P02";
}
