/**
 * The README's import recipe, `docs/recipes/import_user_mapping.sql`, run as the README says
 * (`supabase db query -f`) on a migrated database with a `supabase_user_mapping` table of uuid and
 * non-uuid backend tenant ids.
 */
import assert from "node:assert/strict";
import { createUser, openTestDatabase, resolveAs, type TestDatabase } from "../_db.ts";
import { supabaseCli } from "../../dev/database.ts";

const RECIPE = new URL("../../docs/recipes/import_user_mapping.sql", import.meta.url).pathname;
const UUID_TENANT = "0b5c7f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f";
const UPPER_UUID_TENANT = "5B1F0C3E-1D2B-4C5A-9E8F-0A1B2C3D4E5F";

/** Runs the recipe file through the pinned Supabase CLI, as the README shows. */
async function runRecipe(db: TestDatabase): Promise<string> {
  const url = new URL(db.url);
  url.searchParams.set("sslmode", "disable");
  return await supabaseCli(["db", "query", "--db-url", url.href, "-f", RECIPE]);
}

/** The tenants by name (the recipe names each after its backend id). */
async function tenantsByName(
  db: TestDatabase,
): Promise<Record<string, { id: string; external_id: string | null }>> {
  const rows = await db.sql`select id::text, external_id, name from tenancy.tenants order by name`;
  return Object.fromEntries(rows.map((r) => [r.name, { id: r.id, external_id: r.external_id }]));
}

Deno.test("docs/recipes/import_user_mapping.sql imports a user → tenant mapping", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    // Accounts that exist already; Ann's is the oldest, so she owns acme-42.
    const ann = await createUser(sql, { email: "ann@acme.test" });
    const ben = await createUser(sql, { email: "ben@acme.test" });
    const uma = await createUser(sql, { email: "uma@upper.test" });
    await sql`update auth.users set created_at = now() - interval '2 days' where id = ${ann.id}`;
    await sql`update auth.users set created_at = now() - interval '1 day' where id = ${ben.id}`;
    // People the backend knows who have no Supabase account (yet, or any more).
    const eve = crypto.randomUUID();
    const fay = crypto.randomUUID();
    await sql`create table public.supabase_user_mapping (supabase_user_id uuid, tenant_id text, email text)`;
    await sql`insert into public.supabase_user_mapping values
      (${ann.id}, 'acme-42', 'ann@acme.test'),
      (${ben.id}, 'acme-42', 'ben@acme.test'),
      (${ben.id}, ${UUID_TENANT}, 'ben@acme.test'),
      (null, 'acme-42', ' Cat@Acme.test '),
      (${uma.id}, ${UPPER_UUID_TENANT}, 'uma@upper.test'),
      (${fay}, 'globex', 'fay@globex.test'),
      (${eve}, 'globex', 'eve@globex.test')`;

    const output = await runRecipe(db);

    await t.step(
      "a uuid tenant id becomes tenants.id (and external_id unless lower-case); any other id, external_id",
      async () => {
        assert.match(output, /\bDO\b/);
        const tenants = await tenantsByName(db);
        assert.deepEqual(
          Object.keys(tenants).sort(),
          ["acme-42", UUID_TENANT, UPPER_UUID_TENANT, "globex"].sort(),
        );
        assert.deepEqual(tenants[UUID_TENANT], { id: UUID_TENANT, external_id: null });
        assert.deepEqual(tenants[UPPER_UUID_TENANT], {
          id: UPPER_UUID_TENANT.toLowerCase(),
          external_id: UPPER_UUID_TENANT,
        });
        for (const name of ["acme-42", "globex"]) {
          assert.equal(tenants[name].external_id, name);
          assert.notEqual(tenants[name].id, name);
        }
      },
    );

    await t.step("users with an account are members; the oldest account owns the tenant", async () => {
      const rows = await sql`
        select coalesce(t.external_id, t.id::text) as tenant, u.email, m.role, m.is_default
          from tenancy.memberships m join tenancy.tenants t on t.id = m.tenant_id join auth.users u on u.id = m.user_id
         order by 1, 2`;
      assert.deepEqual(rows.map((r) => ({ ...r })), [
        { tenant: UUID_TENANT, email: "ben@acme.test", role: "owner", is_default: true },
        { tenant: UPPER_UUID_TENANT, email: "uma@upper.test", role: "owner", is_default: true },
        { tenant: "acme-42", email: "ann@acme.test", role: "owner", is_default: true },
        { tenant: "acme-42", email: "ben@acme.test", role: "user", is_default: false },
      ]);
    });

    await t.step(
      "users without an account are invited by email for 90 days; the first email owns",
      async () => {
        const rows = await sql`
        select coalesce(t.external_id, t.id::text) as tenant, i.email, i.role,
               i.expires_at between now() + interval '89 days' and now() + interval '91 days' as ninety_days
          from tenancy.invitations i join tenancy.tenants t on t.id = i.tenant_id order by 1, 2`;
        assert.deepEqual(rows.map((r) => ({ ...r })), [
          { tenant: "acme-42", email: "cat@acme.test", role: "user", ninety_days: true },
          { tenant: "globex", email: "eve@globex.test", role: "owner", ninety_days: true },
          { tenant: "globex", email: "fay@globex.test", role: "user", ninety_days: true },
        ]);
      },
    );

    await t.step("resolve_tenant gives every imported user the backend's tenant_id", async () => {
      assert.deepEqual(
        [(await resolveAs(sql, ann)).tenant_id, (await resolveAs(sql, ann)).role],
        ["acme-42", "owner"],
      );
      assert.equal((await resolveAs(sql, ben)).tenant_id, UUID_TENANT);
      assert.equal((await resolveAs(sql, ben, "acme-42")).role, "user");
      assert.equal((await resolveAs(sql, uma)).tenant_id, UPPER_UUID_TENANT);
      // An invitee signs up and confirms their email: the first exchange accepts the invitation.
      const catAccount = await createUser(sql, { email: "cat@acme.test" });
      const catRow = await resolveAs(sql, catAccount);
      assert.deepEqual([catRow.tenant_id, catRow.role, catRow.provisioned], ["acme-42", "user", true]);
      const eveRow = await resolveAs(sql, await createUser(sql, { email: "eve@globex.test" }));
      assert.deepEqual([eveRow.tenant_id, eveRow.role], ["globex", "owner"]);
    });

    await t.step("running it again adds nothing", async () => {
      const count = async () =>
        (await sql`select (select count(*) from tenancy.tenants) as t, (select count(*) from tenancy.memberships) as m,
                          (select count(*) from tenancy.invitations) as i`)[0];
      const before = { ...(await count()) };
      await runRecipe(db);
      assert.deepEqual({ ...(await count()) }, before);
    });

    await t.step(
      "a row with no tenant, or with neither an account nor an email, stops it before any write",
      async () => {
        await sql`insert into public.supabase_user_mapping values (${crypto.randomUUID()}, 'initech', null)`;
        await assert.rejects(runRecipe(db), /cannot be imported.*initech/s);
        assert.equal(
          (await sql`select count(*)::int as n from tenancy.tenants where external_id = 'initech'`)[0].n,
          0,
        );
      },
    );
  } finally {
    await db.close();
  }
});
