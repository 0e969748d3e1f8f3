/**
 * Test support: a fresh, fully migrated database per suite on real Postgres, and helpers to act as a
 * Supabase user inside it.
 *
 * The server is embedded Postgres (major from `PG_MAJOR`, default 17) started for the suite, or the one in
 * `DATABASE_URL` (a `supabase_admin` superuser URL) when that is set. Each suite gets its own database with
 * the Supabase stand-in and our migrations applied through `supabase db push`. Tests connect as `postgres`,
 * which is not a superuser, as on a hosted project; only bootstrapping uses `supabase_admin`.
 *
 * @module
 */
import postgres from "postgres";
import { type PostgresServer, startPostgres } from "../dev/postgres.ts";
import { prepareDatabase, urlAs } from "../dev/database.ts";
import { createUser, type UserWithSession } from "./_users.ts";

// Tests create users the way the benchmark does, with the one helper in dev/.
export { createUser };

/** A migrated database of its own for one test suite. */
export interface TestDatabase {
  /** The suite's database as `postgres`, the role migrations and the function use on Supabase. */
  url: string;
  /** The suite's database as `supabase_auth_admin`, the role the Auth emulator connects as (as GoTrue). */
  authUrl: string;
  /** A `postgres` client (BYPASSRLS: use it to arrange data, not to test policies). */
  sql: postgres.Sql;
  /** The server as its superuser (`DATABASE_URL`, or the suite's own server's URL). */
  serverUrl: string;
  /** The Postgres server, when the suite started its own (absent with `DATABASE_URL`). */
  server?: PostgresServer;
  /** Drops the database (or stops the server) and closes the client. */
  close(): Promise<void>;
}

/**
 * Creates a fresh database, applies the stand-in and the migrations, and returns a client for it.
 *
 * @param options `seed` also applies `supabase/seed.sql`.
 * @example
 * ```ts
 * const db = await openTestDatabase();
 * try { await db.sql`select 1`; } finally { await db.close(); }
 * ```
 */
export async function openTestDatabase(options: { seed?: boolean } = {}): Promise<TestDatabase> {
  const external = Deno.env.get("DATABASE_URL");
  const server = external ? undefined : await startPostgres();
  const serverUrl = external ?? server!.url;
  const name = `test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = `/${name}`;
  const url = await prepareDatabase(adminUrl.href, options);
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  await assertNotSuperuser(sql);
  return {
    url,
    authUrl: urlAs(url, "supabase_auth_admin"),
    sql,
    serverUrl,
    server,
    async close() {
      await sql.end();
      if (server) return await server.stop();
      const again = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database ${name} with (force)`);
      await again.end();
    },
  };
}

/**
 * Refuses a suite database where the tests' role has powers a hosted project's `postgres` lacks, so that
 * no suite passes on them.
 */
async function assertNotSuperuser(sql: postgres.Sql): Promise<void> {
  const [role] = await sql`
    select current_user as name, r.rolsuper as superuser, has_schema_privilege('auth', 'create') as auth_create,
           pg_has_role('supabase_auth_admin', 'member') as auth_admin
      from pg_roles r where r.rolname = current_user`;
  const expected = { name: "postgres", superuser: false, auth_create: false, auth_admin: false };
  if (JSON.stringify({ ...role }) !== JSON.stringify(expected)) {
    throw new Error(`the tests' role is not hosted Supabase's postgres: ${JSON.stringify({ ...role })}`);
  }
}

/**
 * Runs `fn` in a transaction as `role` with `claims` in request.jwt.claims, the way PostgREST (and the
 * Edge Function) do, on a single connection; the transaction is rolled back unless `commit` is set.
 */
export async function asRole<T>(
  sql: postgres.Sql,
  role: "authenticated" | "anon",
  claims: Record<string, unknown> | null,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
  options: { commit?: boolean } = {},
): Promise<T> {
  const rollback = Symbol("rollback");
  let result: T | undefined;
  try {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', ${role}, true),
                      set_config('request.jwt.claims', ${claims ? JSON.stringify(claims) : ""}, true)`;
      result = await fn(tx);
      if (!options.commit) throw rollback;
    });
  } catch (err) {
    if (err !== rollback) throw err;
  }
  return result as T;
}

/** A row of `tenancy.resolve_tenant()`. */
export interface ResolvedTenant {
  tenant_id: string;
  tenant_uuid: string;
  role: string;
  provisioned: boolean;
  email: string | null;
}

/**
 * `tenancy.resolve_tenant(requested)` as the given user, committed (as an exchange does). By default the
 * transaction says the project does not autoconfirm (`tenancy.email_trusted`), as the function sets it
 * for a project with confirmations on; `emailTrusted: false` is a project that autoconfirms.
 */
export async function resolveAs(
  sql: postgres.Sql,
  user: UserWithSession,
  requested: string | null = null,
  options: { emailTrusted?: boolean } = {},
): Promise<ResolvedTenant> {
  return await asRole(sql, "authenticated", user.claims, async (tx) => {
    await tx`select set_config('tenancy.email_trusted', ${
      options.emailTrusted === false ? "off" : "on"
    }, true)`;
    const [row] = await tx`select * from tenancy.resolve_tenant(${requested})`;
    return row as ResolvedTenant;
  }, { commit: true });
}

/** Sets the provisioning policy to `strategies`, in order. */
export async function setPolicy(
  sql: postgres.Sql,
  strategies: Array<{ strategy: string; default_tenant_id?: string; role?: string }>,
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`delete from tenancy.provisioning_policy`;
    for (const [i, s] of strategies.entries()) {
      await tx`insert into tenancy.provisioning_policy (position, strategy, default_tenant_id, role)
               values (${i + 1}, ${s.strategy}, ${s.default_tenant_id ?? null}, ${s.role ?? null})`;
    }
  });
}

/**
 * Lets tenants assign custom roles, as an operator does with one statement (docs/tenants.md "Custom roles").
 *
 * @param sql A `postgres` client.
 * @param roles The roles to add to `tenancy.roles`.
 */
export async function allowRoles(sql: postgres.Sql, ...roles: string[]) {
  await sql`insert into tenancy.roles (role) select unnest(${roles}::text[]) on conflict (role) do nothing`;
}

/** Inserts a tenant and returns its uuid. */
export async function createTenant(sql: postgres.Sql, name = "Acme", externalId: string | null = null) {
  const [row] = await sql`insert into tenancy.tenants (name, external_id) values (${name}, ${externalId})
                          returning id`;
  return row.id as string;
}
