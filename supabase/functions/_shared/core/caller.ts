/**
 * One transaction per request as the caller, for the management functions (docs/tenants.md).
 *
 * The same mechanism as the exchange's (`tenancy.ts`), run the way PostgREST runs a request: `begin`, then
 * `set_config('role', 'authenticated', true)` with the verified claims in `request.jwt.claims` (and the
 * legacy `request.jwt.claim*` settings emptied: auth.uid() prefers them, and behind a transaction pooler a
 * connection may carry another client's values), the statement timeout, Auth's session limits (which
 * `tenancy_private.live_caller()` enforces) and `tenancy.email_trusted` (whether the project confirms
 * addresses by mail; never from the request); with `requireAal2` (`REQUIRE_AAL2`), `tenancy.require_aal2()`
 * as the exchange runs it; then the work, then `commit`. A failure anywhere rolls it
 * all back, and is mapped to the contract by `mapDatabaseError` (TNFND → 404, TNFBD → 403, TNCFL → 409,
 * TNLIM → 429 with Retry-After, TNAUT → 401, outages → 503).
 *
 * Unlike the exchange, a request is not retried on a connection that died while idle: a change may not be
 * idempotent. That request answers 503 `database_unavailable`, and the next one gets a fresh connection.
 *
 * A transaction Postgres rolled back for a concurrent one's sake (40P01 deadlock detected, 40001
 * serialization failure) is run once more, from `begin`, within the same deadline: nothing of it was
 * committed, and Postgres cannot retry inside the aborted transaction. A second one answers 409 `conflict`
 * ("try again"): the request collided with concurrent changes to the same thing, which is the caller's
 * state, not an outage (503 is for a database that cannot serve). The functions take their locks in one
 * order (supabase/migrations/*_tenancy_invitation_lock_order.sql), so this is a safety net.
 *
 * @module
 */
import type postgres from "postgres";
import type { SessionLimits } from "./config.ts";
import { ExchangeError } from "./errors.ts";
import { withDeadline } from "./deadline.ts";
import { type DatabasePool, isTransactionConflict, mapDatabaseError } from "./db.ts";

/** Runs `work` in one transaction as the caller whose verified claims are given. */
export type RunAsCaller = <T>(
  claims: Record<string, unknown>,
  work: (tx: postgres.TransactionSql) => Promise<T>,
) => Promise<T>;

/** Options for {@linkcode createCallerTransactions}. */
export interface CallerTransactionOptions {
  /** The pool the transactions run on. */
  pool: DatabasePool;
  /** Time allowed for one transaction, connecting included. */
  timeoutMs: number;
  /** Auth's session limits, which `live_caller()` enforces (default: none). */
  sessions?: SessionLimits;
  /** Whether the project's confirmed addresses are proven by mail; absent, they never are. */
  emailTrusted?: () => Promise<boolean>;
  /** `REQUIRE_AAL2`: refuse an aal1 session of a user with a verified MFA factor (401), as the exchange does. */
  requireAal2?: boolean;
}

/**
 * Builds the runner of caller transactions.
 *
 * @param options The pool, the timeout, Auth's session limits and the email trust reader.
 * @returns The runner.
 * @throws {ExchangeError} (from the runner) `database_unavailable` on an outage or past the timeout,
 *   `conflict` when Postgres rolled the transaction back for a concurrent one twice (deadlock,
 *   serialization failure), and whatever the SQLSTATE of a failed statement maps to.
 * @example
 * ```ts ignore
 * const run = createCallerTransactions({ pool, timeoutMs: 5000 });
 * const tenants = await run(claims, (tx) => tx`select * from tenancy.list_tenants()`);
 * ```
 */
export function createCallerTransactions(options: CallerTransactionOptions): RunAsCaller {
  const statementTimeout = String(options.timeoutMs);
  const timebox = String(options.sessions?.timeboxSeconds ?? "");
  const inactivityTimeout = String(options.sessions?.inactivityTimeoutSeconds ?? "");
  const singlePerUser = options.sessions?.singlePerUser ? "on" : "";
  return <T>(claims: Record<string, unknown>, work: (tx: postgres.TransactionSql) => Promise<T>) => {
    const claimsJson = JSON.stringify(claims);
    const deadline = Date.now() + options.timeoutMs;
    const once = (trusted: boolean) =>
      // postgres.js types begin()'s result as the work's, with promises in arrays unwrapped: there are none.
      options.pool.sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true),
                        set_config('request.jwt.claims', ${claimsJson}, true),
                        set_config('request.jwt.claim', '', true),
                        set_config('request.jwt.claim.sub', '', true),
                        set_config('request.jwt.claim.role', '', true),
                        set_config('request.jwt.claim.email', '', true),
                        set_config('statement_timeout', ${statementTimeout}, true),
                        set_config('exchange.session_timebox', ${timebox}, true),
                        set_config('exchange.session_inactivity_timeout', ${inactivityTimeout}, true),
                        set_config('exchange.session_single_per_user', ${singlePerUser}, true),
                        set_config('tenancy.email_trusted', ${trusted ? "on" : "off"}, true)`;
        if (options.requireAal2) await tx`select tenancy.require_aal2()`;
        return await work(tx);
      }) as Promise<T>;
    const transaction = (async () => {
      const trusted = options.emailTrusted ? await options.emailTrusted() : false;
      try {
        try {
          return await once(trusted);
        } catch (err) {
          // Rolled back whole for a concurrent transaction's sake: once more, unless the answer is sent.
          if (!isTransactionConflict(err) || Date.now() >= deadline) throw err;
          return await once(trusted);
        }
      } catch (err) {
        if (isTransactionConflict(err)) {
          throw new ExchangeError(
            "conflict",
            "This collided with concurrent changes to the same thing; try again",
            { cause: err },
          );
        }
        throw mapDatabaseError(err);
      }
    })();
    return withDeadline(
      transaction,
      options.timeoutMs,
      () =>
        new ExchangeError("database_unavailable", "The database did not answer in time; try again shortly"),
    );
  };
}
