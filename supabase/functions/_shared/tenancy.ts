/**
 * The caller's tenant, resolved (or provisioned by policy) in Postgres by `tenancy.resolve_tenant()`.
 *
 * One postgres.js pool per isolate. Each exchange is one transaction on one reserved connection, run the
 * way PostgREST runs a request: `begin`, then `set_config('role', 'authenticated', true)` with the verified
 * claims in `request.jwt.claims` (and the legacy `request.jwt.claim*` settings emptied, and
 * `tenancy.email_trusted`, whether the project confirms addresses by mail, from `email_trust.ts`, never from
 * the request), then the function, then `commit`. The four statements are pipelined:
 * postgres.js writes them back to back without waiting, so once a connection has prepared them an
 * exchange costs one round trip to the database. Without prepared statements (the transaction pooler)
 * postgres.js describes the one statement with parameters first, which adds a round trip. If the
 * function raises, Postgres skips to the `commit`, which then rolls back.
 *
 * Supabase Auth's session limits (timebox, inactivity timeout, single session per user) live in Auth's
 * settings, not in the database: they travel in transaction-local settings of the same statement, and
 * `resolve_tenant` refuses a session past them as Auth refuses to refresh it (TNAUT).
 *
 * With `requireAal2` (`REQUIRE_AAL2`), `tenancy.require_aal2()` runs first in the same pipeline and
 * transaction: it raises TNAAL for an `aal1` session of a user with a verified MFA factor, before anything
 * is provisioned.
 *
 * SQLSTATEs raised by the functions map to the contract: TNAUT → 401 `invalid_token`, TNAAL → 401
 * `insufficient_user_authentication`, TNNOT → 403 `no_tenant`, TNMEM → 403 `not_a_member`. A connection
 * that cannot be made, breaks, or a transaction that takes longer than allowed is 503
 * `database_unavailable`. A connection that broke before anything
 * was committed (Postgres restarted since the pool opened it) is retried once on a fresh connection.
 * So is a transaction Postgres rolled back as a deadlock's victim or a serialization failure (40P01, 40001:
 * a first exchange accepts invitations, which a manager may be revoking), within the same deadline; a
 * second one is 503 `database_unavailable` (the exchange answers no 409).
 *
 * @module
 */
import postgres from "postgres";
import type { SessionLimits } from "./config.ts";
import { type ErrorCode, ExchangeError } from "./errors.ts";
import { withDeadline } from "./_deadline.ts";

/** The tenant an exchange signs for. */
export interface TenantGrant {
  /** The id the Python backend knows (`external_id` when set, else the uuid). */
  tenantId: string;
  /** The tenant's uuid in `tenancy.tenants`. */
  tenantUuid: string;
  /** The caller's role in it, from the membership row. */
  role: string;
  /** Whether this exchange created the membership (invitation, domain claim, personal or default tenant). */
  provisioned: boolean;
  /**
   * The caller's email from `auth.users`, only when proven: confirmed, verified by one of the user's
   * identities, in a project that confirms addresses by mail (never the token's unverified claim).
   */
  email: string | null;
}

/** Resolves the caller's tenant; the injected collaborator of the handler. */
export type ResolveTenant = (
  claims: Record<string, unknown>,
  requested: string | null,
) => Promise<TenantGrant>;

/** Options for {@linkcode createTenancyResolver}. */
export interface TenancyResolverOptions {
  /** The database (`TENANCY_DB_URL` or `SUPABASE_DB_URL`); its user must be able to `set role authenticated`. */
  databaseUrl: string;
  /** Use unnamed statements only, as a transaction pooler (port 6543) requires. */
  transactionPooler?: boolean;
  /** Time allowed for one exchange's transaction, connecting included (reading `emailTrusted` too). */
  timeoutMs: number;
  /** Whether the project's confirmed addresses are proven by mail (`createEmailTrust`); never rejects. */
  emailTrusted: () => Promise<boolean>;
  /** Connections per isolate (default 3: an isolate serves few requests at once). */
  max?: number;
  /** Seconds before an idle connection is closed (default 20). */
  idleTimeoutSeconds?: number;
  /** Refuse an `aal1` session of a user who has a verified MFA factor (`REQUIRE_AAL2`; default false). */
  requireAal2?: boolean;
  /** Auth's session limits, which `resolve_tenant` enforces (default: none). */
  sessions?: SessionLimits;
}

/** A resolver and the pool behind it. */
export interface TenancyResolver {
  resolveTenant: ResolveTenant;
  /** Closes the pool (tests, shutdown); waits at most `timeoutSeconds` for running queries. */
  close(timeoutSeconds?: number): Promise<void>;
}

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

/** Options for {@linkcode createTenancyPool}. */
export type TenancyPoolOptions =
  & Pick<
    TenancyResolverOptions,
    "databaseUrl" | "transactionPooler" | "timeoutMs" | "max" | "idleTimeoutSeconds"
  >
  & {
    /** The `application_name` Postgres shows for these connections (default `exchange-token`). */
    applicationName?: string;
  };

/** A postgres.js pool of one isolate, and how to close it. */
export interface TenancyPool {
  sql: postgres.Sql;
  /** Closes the pool; waits at most `timeoutSeconds` (default 5) for running queries. */
  close(timeoutSeconds?: number): Promise<void>;
}

/**
 * Builds the postgres.js pool a function's tenancy transactions run on (connections open lazily).
 *
 * @param options The database, pooler mode, timeout, pool size and application name.
 * @returns The pool and a way to close it.
 * @example
 * ```ts ignore
 * const pool = createTenancyPool({ databaseUrl, timeoutMs: 5000, applicationName: "tenants" });
 * await pool.sql`select 1`;
 * await pool.close();
 * ```
 */
export function createTenancyPool(options: TenancyPoolOptions): TenancyPool {
  const timeoutSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const sql = postgres(options.databaseUrl, {
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
    connection: { application_name: options.applicationName ?? "exchange-token" },
    onnotice: () => {},
    // Keep postgres.js's default `fetch_types: true`: with it off, `reserve()` on a connection that has
    // to be opened first never resolves (postgres.js 3.4.9 skips `onopen` for a reserving first query).
    fetch_types: true,
  });
  // One listener per pool (the same function twice would be one listener, removed by the first close).
  const ignoreTypeFetchFailure = (event: PromiseRejectionEvent) => _ignoreTypeFetchFailure(event);
  globalThis.addEventListener("unhandledrejection", ignoreTypeFetchFailure);
  return {
    sql,
    async close(timeout = 5) {
      await sql.end({ timeout });
      globalThis.removeEventListener("unhandledrejection", ignoreTypeFetchFailure);
    },
  };
}

/**
 * Builds the resolver and its pool (connections open lazily, on the first exchange).
 *
 * @param options The database, pooler mode, timeout, pool size and Auth's session limits.
 * @returns The resolver and a way to close its pool.
 * @example
 * ```ts ignore
 * const tenancy = createTenancyResolver({ databaseUrl, timeoutMs: 5000, emailTrusted: () => Promise.resolve(true) });
 * const grant = await tenancy.resolveTenant(claims, null);
 * await tenancy.close();
 * ```
 */
export function createTenancyResolver(options: TenancyResolverOptions): TenancyResolver {
  const pool = createTenancyPool(options);
  const sql = pool.sql;
  const statementTimeout = String(options.timeoutMs);
  const timebox = String(options.sessions?.timeboxSeconds ?? "");
  const inactivityTimeout = String(options.sessions?.inactivityTimeoutSeconds ?? "");
  const singlePerUser = options.sessions?.singlePerUser ? "on" : "";

  const attempt = async (
    claims: string,
    requested: string | null,
    trusted: boolean,
  ): Promise<TenantGrant> => {
    const reserving = sql.reserve();
    let connection: postgres.ReservedSql;
    try {
      connection = await reserving;
    } catch (err) {
      throw mapDatabaseError(err);
    }
    // Sent back to back; results come back in order. Only the second statement has parameters (the
    // requested tenant travels in a transaction-local setting), because postgres.js must describe an
    // unprepared statement with parameters before binding it, which stops the pipeline for a round trip.
    // The legacy per-claim settings are emptied with the claims: auth.jwt() and auth.uid() prefer them to
    // request.jwt.claims, and behind a transaction pooler this connection may carry another client's
    // session-level values.
    const queries = [
      connection`begin`,
      connection`select set_config('role', 'authenticated', true),
                         set_config('request.jwt.claims', ${claims}, true),
                         set_config('request.jwt.claim', '', true),
                         set_config('request.jwt.claim.sub', '', true),
                         set_config('request.jwt.claim.role', '', true),
                         set_config('request.jwt.claim.email', '', true),
                         set_config('exchange.requested_tenant', ${requested ?? ""}, true),
                         set_config('tenancy.email_trusted', ${trusted ? "on" : "off"}, true),
                         set_config('statement_timeout', ${statementTimeout}, true),
                         set_config('exchange.session_timebox', ${timebox}, true),
                         set_config('exchange.session_inactivity_timeout', ${inactivityTimeout}, true),
                         set_config('exchange.session_single_per_user', ${singlePerUser}, true)`,
      // No parameters, so it does not stop the pipeline; raising, it leaves resolve_tenant unrun.
      ...(options.requireAal2 ? [connection`select tenancy.require_aal2()`] : []),
      connection`select tenant_id, tenant_uuid::text as tenant_uuid, role, provisioned, email
                    from tenancy.resolve_tenant(nullif(current_setting('exchange.requested_tenant', true), ''))`,
      connection`commit`,
    ];
    const settled = await Promise.allSettled(queries);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) =>
      s.reason
    );
    // After a connection-level failure, or a FATAL error after which the server or a pooler hangs up,
    // postgres.js has already taken the connection back (and may have handed it to a waiting query):
    // releasing it again would put a dead or busy connection in the pool.
    if (!failures.some(_endsConnection)) connection.release();
    if (failures.length > 0) {
      throw mapDatabaseError(failures.find((f) => !_isAbortedTransaction(f)) ?? failures[0]);
    }
    const [row] =
      (settled[queries.length - 2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value;
    if (!row) throw new ExchangeError("no_tenant", ERROR_BY_SQLSTATE.TNNOT.message);
    return {
      tenantId: String(row.tenant_id),
      tenantUuid: String(row.tenant_uuid),
      role: String(row.role),
      provisioned: row.provisioned === true,
      email: typeof row.email === "string" ? row.email : null,
    };
  };

  const resolveTenant: ResolveTenant = (claims, requested) => {
    const claimsJson = JSON.stringify(claims);
    const deadline = Date.now() + options.timeoutMs;
    const work = (async () => {
      const trusted = await options.emailTrusted();
      try {
        return await attempt(claimsJson, requested, trusted);
      } catch (err) {
        // A pooled connection that died while idle (Postgres restarted), or that a pooler ended (it lost
        // its server): nothing was committed, and resolve_tenant is idempotent anyway, so one more try on
        // a fresh connection is safe. So is one more try after Postgres rolled the transaction back as a
        // deadlock's victim or a serialization failure, unless the deadline has passed (its answer is sent).
        if (
          err instanceof ExchangeError && err.code === "database_unavailable" &&
          (_endsConnection(err.cause) || (isTransactionConflict(err.cause) && Date.now() < deadline))
        ) {
          return await attempt(claimsJson, requested, trusted);
        }
        throw err;
      }
    })();
    return withDeadline(
      work,
      options.timeoutMs,
      () =>
        new ExchangeError("database_unavailable", "The database did not answer in time; try again shortly"),
    );
  };

  return {
    resolveTenant,
    close: (timeoutSeconds) => pool.close(timeoutSeconds),
  };
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
export function mapDatabaseError(err: unknown): ExchangeError {
  if (err instanceof ExchangeError) return err;
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
    return new ExchangeError(known.code, message, { cause: err, headers });
  }
  if (_isConnectionFailure(err) || (code !== undefined && UNAVAILABLE_SQLSTATE.test(code))) {
    return new ExchangeError("database_unavailable", "The database is unavailable; try again shortly", {
      cause: err,
    });
  }
  if (isTransactionConflict(err)) {
    // Transient, and nothing was committed: the exchange's callers retry a 503. The management functions
    // answer a second one 409 `conflict` instead (caller_transaction.ts).
    return new ExchangeError(
      "database_unavailable",
      "The database could not complete this now, because of concurrent requests; try again shortly",
      { cause: err },
    );
  }
  if (code !== undefined && MISCONFIGURED_SQLSTATE.test(code)) {
    return new ExchangeError("server_misconfigured", "The token exchange is not configured correctly", {
      cause: err,
    });
  }
  return new ExchangeError("internal_error", "The exchange failed unexpectedly", { cause: err });
}

// postgres.js 3.4.9 reads the array types on each new connection (`fetch_types`, kept on: see above) and
// does not catch that query's failure (connection.js, `fetchArrayTypes()` from `ReadyForQuery`). A pooler
// logs clients in itself, before it reaches Postgres: with Postgres down, that query fails on a connection
// that is already "open", and the unhandled rejection would end the isolate. The exchange that wanted the
// connection answers 503 by its own deadline; this failure is dropped, and only this one.
function _ignoreTypeFetchFailure(event: PromiseRejectionEvent) {
  const query = (event.reason as { query?: unknown } | null)?.query;
  if (typeof query === "string" && query.includes("from pg_catalog.pg_type a")) event.preventDefault();
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

// The connection is gone: a socket failure, or a FATAL error (e.g. 57P01 on a Postgres shutdown, or
// PgBouncer's 08P01 when it lost its server), after which the other side hangs up.
function _endsConnection(err: unknown): boolean {
  const severity = (err as { severity?: unknown } | null)?.severity;
  return _isConnectionFailure(err) || severity === "FATAL" || severity === "PANIC";
}

// 25P02: "current transaction is aborted", the echo of an earlier failure in the same pipeline.
function _isAbortedTransaction(err: unknown): boolean {
  return _code(err) === "25P02";
}
