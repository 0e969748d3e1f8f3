/**
 * The caller's tenant, resolved (or provisioned by policy) in Postgres by `tenancy.resolve_tenant()`.
 *
 * One postgres.js pool per isolate. Each exchange is one caller transaction (`../core/caller.ts`) on one
 * reserved connection: `begin` with the statement timeout, then one statement that sets the caller's role and
 * settings (claims, email trust, session limits) transaction-locally, calls `tenancy.require_aal2()` with
 * `REQUIRE_AAL2` (TNAAL for an `aal1` session of a user with a verified MFA factor, before anything is
 * provisioned) and then the function, then `commit`. The statements are pipelined: postgres.js writes them
 * back to back without waiting, in one write as the `commit` is padded to flush it (`FLUSHING_COMMIT` in
 * `../core/caller.ts`), so once a connection has prepared them an exchange costs one round trip to the
 * database. Without prepared statements (the transaction pooler) postgres.js describes the statement
 * with parameters first, which adds a round trip. If the function raises, Postgres skips to the `commit`,
 * which then rolls back.
 *
 * Its SQLSTATEs map to the contract (`../core/db.ts`): TNAUT → 401 `invalid_token` (a session past Auth's
 * limits too), TNAAL → 401 `insufficient_user_authentication`, TNNOT → 403 `no_tenant`, TNMEM → 403
 * `not_a_member`; an outage or a transaction past its time is 503 `database_unavailable`. A connection that
 * broke before anything was committed is retried once on a fresh connection, and so is a transaction
 * Postgres rolled back as a deadlock's victim or a serialization failure (40P01, 40001: a first exchange
 * accepts invitations, which a manager may be revoking), within the same deadline; a second one is 503.
 *
 * @module
 */
import type postgres from "postgres";
import { type CallerSession, createCaller } from "../core/caller.ts";
import type { SessionLimits } from "../core/config.ts";
import {
  createDatabasePool,
  endsConnection,
  ERROR_BY_SQLSTATE,
  isAbortedTransaction,
  mapDatabaseError,
} from "../core/db.ts";
import { ApiError } from "../core/errors.ts";
import { EXCHANGE_FUNCTION } from "./config.ts";

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
  const pool = createDatabasePool({
    databaseUrl: options.databaseUrl,
    transactionPooler: options.transactionPooler,
    timeoutMs: options.timeoutMs,
    max: options.max,
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    applicationName: EXCHANGE_FUNCTION,
  });
  const caller = createCaller(options);

  const attempt = async (session: CallerSession, requested: string | null): Promise<TenantGrant> => {
    let connection: postgres.ReservedSql;
    try {
      connection = await pool.reserve();
    } catch (err) {
      throw mapDatabaseError(err);
    }
    // A FROM item, as require_aal2() is stable: in a select list the planner drops an unused stable call.
    const aal2 = options.requireAal2 ? connection`from tenancy.require_aal2()` : connection``;
    // Sent back to back; results come back in order. `begin` (with the statement timeout) has no
    // parameters; one statement then makes the transaction the caller's and resolves. Its subqueries run in
    // the order their lateral references impose (`offset 0` keeps the planner from flattening them): the
    // caller's settings, the role first, then `tenancy.require_aal2()` with `REQUIRE_AAL2` (TNAAL before
    // anything is provisioned), then `resolve_tenant`. Both are security definer, so what they read is as
    // before; only their EXECUTE is now checked as the login role, when the statement starts (Supabase's
    // `postgres` owns them; another login role inherits it from `authenticated` unless it is NOINHERIT).
    // Without prepared statements (the transaction pooler) postgres.js describes this statement first: one
    // more round trip.
    const queries = [
      caller.begin(connection),
      connection`select r.tenant_id, r.tenant_uuid::text as tenant_uuid, r.role, r.provisioned, r.email
                   from (select ${caller.settings(connection, session)}, ${requested}::text as requested
                          offset 0) s
                   cross join lateral (select s.requested ${aal2} offset 0) a
                   cross join lateral tenancy.resolve_tenant(a.requested) r`,
      caller.commit(connection),
    ];
    const settled = await Promise.allSettled(queries);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) =>
      s.reason
    );
    // After a connection-level failure, or a FATAL error after which the server or a pooler hangs up,
    // postgres.js has already taken the connection back (and may have handed it to a waiting query):
    // releasing it again would put a dead or busy connection in the pool.
    if (!failures.some(endsConnection)) connection.release();
    if (failures.length > 0) {
      throw mapDatabaseError(failures.find((f) => !isAbortedTransaction(f)) ?? failures[0]);
    }
    const [row] = (settled[1] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value;
    if (!row) throw new ApiError("no_tenant", ERROR_BY_SQLSTATE.TNNOT.message);
    return {
      tenantId: String(row.tenant_id),
      tenantUuid: String(row.tenant_uuid),
      role: String(row.role),
      provisioned: row.provisioned === true,
      email: typeof row.email === "string" ? row.email : null,
    };
  };

  // resolve_tenant is idempotent and nothing was committed: a connection that died while idle (Postgres
  // restarted, or a pooler lost its server) is retried on a fresh one, as is a transaction rolled back as a
  // deadlock's victim; a second conflict stays 503 (the exchange answers no 409).
  const resolveTenant: ResolveTenant = (claims, requested) =>
    caller.run(claims, (session) => attempt(session, requested), { lostConnection: true });

  return {
    resolveTenant,
    close: (timeoutSeconds) => pool.close(timeoutSeconds),
  };
}
