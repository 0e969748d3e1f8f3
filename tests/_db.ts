/**
 * Test support: a fresh, fully migrated database per suite on real Postgres, and helpers to act as a
 * Supabase user inside it.
 *
 * The server is embedded Postgres (major from `PG_MAJOR`, default 17) started for the suite, or the one in
 * `DATABASE_URL` when that is set. Each suite gets its own database with the Supabase stand-in and our
 * migrations applied through `supabase db push`.
 *
 * @module
 */
import postgres from "postgres";
import { type PostgresServer, startPostgres } from "../dev/postgres.ts";
import { prepareDatabase } from "../dev/database.ts";
import { createUser, type UserWithSession } from "../dev/users.ts";

// Tests create users the way the benchmark does, with the one helper in dev/.
export { createUser };

/** A migrated database of its own for one test suite. */
export interface TestDatabase {
  /** Superuser URL of the suite's database. */
  url: string;
  /** A superuser client (bypasses RLS: use it to arrange data, not to test policies). */
  sql: postgres.Sql;
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
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await prepareDatabase(url.href, options);
  const sql = postgres(url.href, { max: 10, onnotice: () => {} });
  return {
    url: url.href,
    sql,
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

/** `tenancy.resolve_tenant(requested)` as the given user, committed (as an exchange does). */
export async function resolveAs(
  sql: postgres.Sql,
  user: UserWithSession,
  requested: string | null = null,
): Promise<ResolvedTenant> {
  return await asRole(sql, "authenticated", user.claims, async (tx) => {
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

/** Inserts a tenant and returns its uuid. */
export async function createTenant(sql: postgres.Sql, name = "Acme", externalId: string | null = null) {
  const [row] = await sql`insert into tenancy.tenants (name, external_id) values (${name}, ${externalId})
                          returning id`;
  return row.id as string;
}
