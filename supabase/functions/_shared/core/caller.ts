/**
 * One transaction as the caller, for every function, run the way PostgREST runs a request: `begin`, then one
 * statement ({@linkcode Caller.statement}) that sets `role` to `authenticated`, the verified claims in
 * `request.jwt.claims` (emptying the legacy `request.jwt.claim*` settings: auth.uid() prefers them, and
 * behind a transaction pooler a connection may carry another client's values), the statement timeout,
 * `tenancy.email_trusted` (whether the project confirms addresses by mail, from `email_trust.ts`, never from
 * the request), and Auth's session limits, which `tenancy_private.live_caller()` enforces as Auth refuses to
 * refresh a session past them; with `requireAal2` (`REQUIRE_AAL2`), `tenancy.require_aal2()` next; then the
 * work, then `commit`. A failure anywhere rolls it all back, and is mapped to the contract by
 * `mapDatabaseError` (`db.ts`). The exchange, whose work is one function call, saves a statement: its
 * `begin` sets the statement timeout ({@linkcode Caller.begin}), and one statement sets the rest
 * ({@linkcode Caller.settings}) and resolves (`../exchange/resolver.ts`).
 *
 * The settings are `tenancy.*`, named after the schema that reads them. For one release the session limits
 * are also set under their old names (`exchange.session_timebox`, `exchange.session_inactivity_timeout`,
 * `exchange.session_single_per_user`), because `supabase db push` and `supabase functions deploy` happen
 * separately: a database whose migrations predate 20261207130100 reads only the old names, a newer one the
 * new names first.
 *
 * A transaction Postgres rolled back for a concurrent one's sake (40P01 deadlock detected, 40001
 * serialization failure) is run once more, from `begin`, within the same deadline ({@linkcode Caller.run}):
 * nothing of it was committed, and Postgres cannot retry inside the aborted transaction. What a second one
 * answers, and whether a connection that died while idle is retried too, is each function's
 * ({@linkcode RetryPolicy}).
 *
 * @module
 */
import type postgres from "postgres";
import type { SessionLimits } from "./config.ts";
import { ApiError } from "./errors.ts";
import { withDeadline } from "./deadline.ts";
import { type DatabasePool, endsConnection, isTransactionConflict, mapDatabaseError } from "./db.ts";

/** Options for {@linkcode createCaller}. */
export interface CallerOptions {
  /** Time allowed for one transaction, connecting (and reading `emailTrusted`) included. */
  timeoutMs: number;
  /** Auth's session limits, which `live_caller()` enforces (default: none). */
  sessions?: SessionLimits;
  /** `REQUIRE_AAL2`: refuse an aal1 session of a user with a verified MFA factor (401). */
  requireAal2?: boolean;
  /** Whether the project's confirmed addresses are proven by mail (never rejects); absent, they never are. */
  emailTrusted?: () => Promise<boolean>;
}

/** One attempt's caller: the verified claims as JSON, and whether confirmed addresses are proven. */
export interface CallerSession {
  claims: string;
  trusted: boolean;
}

/** What a function does when its transaction fails in a way that may pass on a second try. */
export interface RetryPolicy {
  /**
   * Run once more, on a fresh connection, when the connection was gone (Postgres restarted since the pool
   * opened it, or a pooler lost its server): only for work that is idempotent.
   */
  lostConnection?: boolean;
  /** Answer a second conflict 409 `conflict` ("try again") instead of 503 `database_unavailable`. */
  conflict?: "conflict";
}

/** A connection or a transaction of postgres.js, which the caller's statement runs on. */
export type CallerSql = postgres.ReservedSql | postgres.TransactionSql;

/** The caller's statement and the runner of its transactions. */
export interface Caller {
  /**
   * The one statement that makes the transaction the caller's (no other statement sets these settings).
   *
   * @param sql The reserved connection or the transaction.
   * @param session The caller's claims and the email trust.
   */
  statement(sql: CallerSql, session: CallerSession): postgres.PendingQuery<postgres.Row[]>;
  /**
   * The `set_config` calls of {@linkcode Caller.statement} but the statement timeout's, as a fragment of a
   * select list, for a statement that also does the caller's work (the exchange's): a timeout set there would
   * not bound the statement that set it, so {@linkcode Caller.begin} sets it first.
   *
   * @param sql The reserved connection.
   * @param session The caller's claims and the email trust.
   */
  settings(sql: CallerSql, session: CallerSession): postgres.PendingQuery<postgres.Row[]>;
  /**
   * `begin; set local statement_timeout = …` as one simple query: no parameters, so it never stops a pipeline.
   *
   * @param sql The reserved connection.
   */
  begin(sql: postgres.ReservedSql): Promise<unknown>;
  /**
   * `commit` as one simple query, padded so that postgres.js writes it at once ({@linkcode FLUSHING_COMMIT}).
   *
   * @param sql The reserved connection.
   */
  commit(sql: postgres.ReservedSql): Promise<unknown>;
  /** `select tenancy.require_aal2()` when `REQUIRE_AAL2` is on, else undefined. */
  requireAal2(sql: CallerSql): postgres.PendingQuery<postgres.Row[]> | undefined;
  /**
   * Runs an attempt (`begin` … `commit`) as the caller within the deadline, once more as the policy says.
   * The attempt throws what `mapDatabaseError` makes of its failures.
   */
  run<T>(
    claims: Record<string, unknown>,
    attempt: (session: CallerSession) => Promise<T>,
    policy: RetryPolicy,
  ): Promise<T>;
}

/**
 * Builds the caller's statement and the runner of its transactions.
 *
 * @param options The timeout, Auth's session limits, `REQUIRE_AAL2` and the email trust reader.
 * @returns The statement and the runner.
 * @example
 * ```ts ignore
 * const caller = createCaller({ timeoutMs: 5000 });
 * const rows = await caller.run(claims, (session) =>
 *   sql.begin(async (tx) => {
 *     await caller.statement(tx, session);
 *     return await tx`select * from tenancy.list_tenants()`;
 *   }).catch((err) => { throw mapDatabaseError(err); }), {});
 * ```
 */
export function createCaller(options: CallerOptions): Caller {
  const statementTimeout = String(options.timeoutMs);
  // A number from the configuration, never from a request: safe to write into the statement's text.
  const statementTimeoutLiteral = Math.max(1, Math.ceil(Number(options.timeoutMs)));
  const timebox = String(options.sessions?.timeboxSeconds ?? "");
  const inactivityTimeout = String(options.sessions?.inactivityTimeoutSeconds ?? "");
  const singlePerUser = options.sessions?.singlePerUser ? "on" : "";
  const settings = (sql: CallerSql, session: CallerSession) =>
    sql`set_config('role', 'authenticated', true),
        set_config('request.jwt.claims', ${session.claims}, true),
        set_config('request.jwt.claim', '', true),
        set_config('request.jwt.claim.sub', '', true),
        set_config('request.jwt.claim.role', '', true),
        set_config('request.jwt.claim.email', '', true),
        set_config('tenancy.email_trusted', ${session.trusted ? "on" : "off"}, true),
        set_config('tenancy.session_timebox', ${timebox}, true),
        set_config('tenancy.session_inactivity_timeout', ${inactivityTimeout}, true),
        set_config('tenancy.session_single_per_user', ${singlePerUser}, true),
        set_config('exchange.session_timebox', ${timebox}, true),
        set_config('exchange.session_inactivity_timeout', ${inactivityTimeout}, true),
        set_config('exchange.session_single_per_user', ${singlePerUser}, true)`;
  return {
    statement: (sql, session) =>
      sql`select set_config('statement_timeout', ${statementTimeout}, true), ${settings(sql, session)}`,
    settings,
    begin: (sql) => sql.unsafe(`begin; set local statement_timeout = ${statementTimeoutLiteral}`).simple(),
    commit: (sql) => sql.unsafe(FLUSHING_COMMIT).simple(),
    requireAal2: (sql) => options.requireAal2 ? sql`select tenancy.require_aal2()` : undefined,
    run: (claims, attempt, policy) => {
      const claimsJson = JSON.stringify(claims);
      const deadline = Date.now() + options.timeoutMs;
      const work = (async () => {
        const trusted = options.emailTrusted ? await options.emailTrusted() : false;
        const session = { claims: claimsJson, trusted };
        try {
          try {
            return await attempt(session);
          } catch (err) {
            if (!_runAgain(err, deadline, policy)) throw err;
            return await attempt(session);
          }
        } catch (err) {
          if (policy.conflict && err instanceof ApiError && isTransactionConflict(err.cause)) {
            throw new ApiError(
              "conflict",
              "This collided with concurrent changes to the same thing; try again",
              { cause: err.cause },
            );
          }
          throw err;
        }
      })();
      return withDeadline(
        work,
        options.timeoutMs,
        () => new ApiError("database_unavailable", "The database did not answer in time; try again shortly"),
      );
    },
  };
}

/**
 * `commit`, padded with spaces to 1 KiB. postgres.js holds a write under 1,024 bytes until a `setImmediate`
 * to coalesce it with the next, and Deno 2.1's Node compatibility (the Edge Runtime's) runs `setImmediate`
 * as a 1 ms timer: an unpadded `commit`, the last message of a pipeline, waited 1.1 ms for it
 * (bench/README.md, "Where an exchange's time goes"). From 1,024 bytes postgres.js writes at once. Postgres
 * ignores the spaces; a server that logs every statement records them.
 */
export const FLUSHING_COMMIT: string = "commit".padEnd(1024);

/** Runs `work` in one transaction as the caller whose verified claims are given. */
export type RunAsCaller = <T>(
  claims: Record<string, unknown>,
  work: (tx: postgres.TransactionSql) => Promise<T>,
) => Promise<T>;

/** Options for {@linkcode createCallerTransactions}. */
export interface CallerTransactionOptions extends CallerOptions {
  /** The pool the transactions run on. */
  pool: DatabasePool;
}

/**
 * Builds the runner of the management functions' caller transactions (docs/tenants.md). A request is not
 * retried on a connection that died while idle (a change may not be idempotent: that request answers 503,
 * the next gets a fresh connection); a second conflict answers 409 `conflict`, the request having collided
 * with concurrent changes to the same thing (the functions take their locks in one order,
 * supabase/migrations/*_tenancy_invitation_lock_order.sql, so this is a safety net).
 *
 * @param options The pool, the timeout, Auth's session limits and the email trust reader.
 * @returns The runner.
 * @throws {ApiError} (from the runner) `database_unavailable` on an outage or past the timeout,
 *   `conflict` when Postgres rolled the transaction back for a concurrent one twice (deadlock,
 *   serialization failure), and whatever the SQLSTATE of a failed statement maps to.
 * @example
 * ```ts ignore
 * const run = createCallerTransactions({ pool, timeoutMs: 5000 });
 * const tenants = await run(claims, (tx) => tx`select * from tenancy.list_tenants()`);
 * ```
 */
export function createCallerTransactions(options: CallerTransactionOptions): RunAsCaller {
  const caller = createCaller(options);
  return <T>(claims: Record<string, unknown>, work: (tx: postgres.TransactionSql) => Promise<T>) =>
    caller.run(
      claims,
      (session) =>
        // postgres.js types begin()'s result as the work's, with promises in arrays unwrapped: there are none.
        (options.pool.sql.begin(async (tx) => {
          await caller.statement(tx, session);
          await caller.requireAal2(tx);
          return await work(tx);
        }) as Promise<T>).catch((err) => {
          throw mapDatabaseError(err);
        }),
      { conflict: "conflict" },
    );
}

/** Whether a failed attempt may be run again: as the policy says, and only before the deadline. */
function _runAgain(err: unknown, deadline: number, policy: RetryPolicy): boolean {
  if (!(err instanceof ApiError) || err.code !== "database_unavailable") return false;
  return (policy.lostConnection === true && endsConnection(err.cause)) ||
    (isTransactionConflict(err.cause) && Date.now() < deadline);
}
