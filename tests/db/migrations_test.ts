import assert from "node:assert/strict";
import { openTestDatabase } from "../_db.ts";
import { supabaseDbPush } from "../../dev/database.ts";

Deno.test("migrations apply through supabase db push, and a second push is a no-op", async (t) => {
  const db = await openTestDatabase();
  try {
    const versions = async () =>
      (await db.sql`select version from supabase_migrations.schema_migrations order by version`).map((r) =>
        r.version
      );
    const before = await versions();
    const files = [...Deno.readDirSync(new URL("../../supabase/migrations/", import.meta.url))]
      .map((e) => e.name.split("_")[0]).sort();
    assert.deepEqual(before, files);

    await t.step("a second push changes nothing", async () => {
      const output = await supabaseDbPush(db.url);
      assert.match(output, /Remote database is up to date/);
      assert.deepEqual(await versions(), before);
    });

    await t.step("row-level security is on for every table in tenancy", async () => {
      const tables = await db.sql`
        select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'tenancy' and c.relkind = 'r' order by 1`;
      assert.deepEqual(tables.map((r) => r.relname), [
        "audit_log",
        "domain_claims",
        "invitations",
        "management_settings",
        "memberships",
        "provisioning_policy",
        "public_email_domains",
        "removed_memberships",
        "roles",
        "tenants",
      ]);
      for (const table of tables) assert.equal(table.relrowsecurity, true, `${table.relname} has RLS`);
    });

    await t.step("every security definer function pins an empty search_path", async () => {
      const functions = await db.sql`
        select p.proname, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname in ('tenancy', 'tenancy_private') and p.prosecdef`;
      assert.ok(functions.length >= 5);
      for (const f of functions) assert.deepEqual(f.proconfig, ['search_path=""'], f.proname);
    });

    await t.step(
      "only authenticated may execute tenancy.resolve_tenant, and no API role the helpers",
      async () => {
        const [grants] = await db.sql`
        select has_function_privilege('authenticated', 'tenancy.resolve_tenant(text)', 'execute') as authenticated,
               has_function_privilege('anon', 'tenancy.resolve_tenant(text)', 'execute') as anon,
               has_function_privilege('authenticated', 'tenancy_private.provision(uuid, text, boolean)', 'execute')
                 as helper`;
        assert.deepEqual({ ...grants }, { authenticated: true, anon: false, helper: false });
      },
    );

    await t.step("every table, policy and function carries a comment", async () => {
      const missing = await db.sql`
        select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'tenancy' and c.relkind = 'r' and obj_description(c.oid, 'pg_class') is null
        union all
        select polname from pg_policy p join pg_class c on c.oid = p.polrelid
          join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'tenancy' and obj_description(p.oid, 'pg_policy') is null
        union all
        select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname in ('tenancy', 'tenancy_private') and obj_description(p.oid, 'pg_proc') is null`;
      assert.deepEqual(missing.map((r) => r.name), []);
    });
  } finally {
    await db.close();
  }
});
