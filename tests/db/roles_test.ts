import assert from "node:assert/strict";
import { openTestDatabase } from "../_db.ts";

// The roles of a hosted Supabase project (supabase/postgres migrations/db/, supabase/auth migrations/), which
// the stand-in reproduces so that nothing here passes on powers production does not grant.
Deno.test("the roles are hosted Supabase's: postgres is no superuser and cannot create in auth", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    await t.step(
      "the tests connect as postgres: NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS",
      async () => {
        const [role] = await sql`
        select current_user as name, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls
          from pg_roles where rolname = current_user`;
        assert.deepEqual({ ...role }, {
          name: "postgres",
          rolsuper: false,
          rolcreatedb: true,
          rolcreaterole: true,
          rolreplication: true,
          rolbypassrls: true,
        });
      },
    );

    await t.step("supabase_admin is the only superuser", async () => {
      const rows = await sql`select rolname from pg_roles where rolsuper order by 1`;
      assert.deepEqual(rows.map((r) => r.rolname), ["supabase_admin"]);
    });

    await t.step("postgres cannot create, alter or take over objects in auth", async () => {
      for (
        const statement of [
          "create table auth.mine (id int)",
          "create function auth.mine() returns int language sql as 'select 1'",
          "alter table auth.users add column mine int",
          "set role supabase_auth_admin",
        ]
      ) {
        await assert.rejects(sql.begin((tx) => tx.unsafe(statement)), { code: "42501" }, statement);
      }
      const [privileges] = await sql`
        select has_schema_privilege('auth', 'create') as create_in_auth,
               pg_has_role('supabase_auth_admin', 'member') as auth_admin_member`;
      assert.deepEqual({ ...privileges }, { create_in_auth: false, auth_admin_member: false });
    });

    await t.step(
      "postgres holds ALL on the auth tables, which supabase_auth_admin owns with RLS on",
      async () => {
        const tables = await sql`
        select c.relname, pg_get_userbyid(c.relowner) as owner, c.relrowsecurity,
               has_table_privilege(c.oid, 'select, insert, update, delete, references, trigger') as all_granted
          from pg_class c where c.relnamespace = 'auth'::regnamespace and c.relkind = 'r' order by 1`;
        assert.deepEqual(
          tables.map((r) => ({ ...r })),
          [
            "flow_state",
            "identities",
            "mfa_amr_claims",
            "mfa_challenges",
            "mfa_factors",
            "one_time_tokens",
            "refresh_tokens",
            "sessions",
            "users",
          ].map((relname) => ({
            relname,
            owner: "supabase_auth_admin",
            relrowsecurity: true,
            all_granted: true,
          })),
        );
      },
    );

    await t.step("the migrations ran as postgres: it owns what they created", async () => {
      const owners = await sql`
        select distinct pg_get_userbyid(nspowner) as owner from pg_namespace
         where nspname in ('tenancy', 'tenancy_private', 'supabase_migrations')
        union
        select distinct pg_get_userbyid(p.proowner) from pg_proc p
         where p.pronamespace in ('tenancy'::regnamespace, 'tenancy_private'::regnamespace)`;
      assert.deepEqual(owners.map((r) => r.owner), ["postgres"]);
    });

    await t.step("authenticator is NOINHERIT and may become each API role; those inherit", async () => {
      const roles = await sql`
        select rolname, rolinherit, rolbypassrls, pg_has_role('authenticator', oid, 'member') as via_authenticator
          from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator') order by 1`;
      assert.deepEqual(roles.map((r) => ({ ...r })), [
        { rolname: "anon", rolinherit: true, rolbypassrls: false, via_authenticator: true },
        { rolname: "authenticated", rolinherit: true, rolbypassrls: false, via_authenticator: true },
        { rolname: "authenticator", rolinherit: false, rolbypassrls: false, via_authenticator: true },
        { rolname: "service_role", rolinherit: true, rolbypassrls: true, via_authenticator: true },
      ]);
    });

    await t.step("what postgres creates in public is granted to the API roles by default", async () => {
      await sql.begin(async (tx) => {
        await tx`create table public.roles_test_probe (id int)`;
        const [grants] = await tx`
          select has_table_privilege('anon', 'public.roles_test_probe', 'select') as anon,
                 has_table_privilege('authenticated', 'public.roles_test_probe', 'insert') as authenticated,
                 has_table_privilege('service_role', 'public.roles_test_probe', 'delete') as service_role`;
        assert.deepEqual({ ...grants }, { anon: true, authenticated: true, service_role: true });
        await tx`drop table public.roles_test_probe`;
      });
    });
  } finally {
    await db.close();
  }
});
