/**
 * No two tenants share a backend tenant_id (supabase/migrations/*_tenancy_external_id_uuid.sql): an
 * external_id that reads as a uuid must be the tenant's own id.
 */
import assert from "node:assert/strict";
import { createTenant, createUser, openTestDatabase, resolveAs } from "../_db.ts";

const REFUSED = { code: "23514", constraint_name: "tenants_external_id_uuid_is_own_id" };

Deno.test("tenancy.tenants refuses an external_id that is another tenant's uuid", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    const victim = await createTenant(sql, "Victim");
    const upper = victim.toUpperCase();

    await t.step("another tenant's uuid, in any spelling a parser takes, is refused", async () => {
      for (
        const spelling of [
          victim,
          upper,
          `{${victim}}`,
          victim.replaceAll("-", ""),
          `urn:uuid:${victim}`,
          `${victim.slice(0, 4)}-${victim.slice(4).replaceAll("-", "")}`,
        ]
      ) {
        await assert.rejects(
          sql`insert into tenancy.tenants (name, external_id) values ('Twin', ${spelling})`,
          REFUSED,
          spelling,
        );
      }
    });

    await t.step(
      "a uuid that no tenant has yet is refused too, unless it is the tenant's own id",
      async () => {
        const fresh = crypto.randomUUID();
        await assert.rejects(
          sql`insert into tenancy.tenants (name, external_id) values ('Fresh', ${fresh})`,
          REFUSED,
        );
        const [row] = await sql`insert into tenancy.tenants (id, name, external_id)
                              values (${fresh}, 'Own', ${fresh.toUpperCase()}) returning id`;
        assert.equal(row.id, fresh);
      },
    );

    await t.step("an update to another tenant's uuid is refused as well", async () => {
      const tenant = await createTenant(sql, "Renamed", "renamed");
      await assert.rejects(
        sql`update tenancy.tenants set external_id = ${upper} where id = ${tenant}`,
        REFUSED,
      );
      // Nor may a tenant whose external_id is its own uuid move to another id.
      const own = crypto.randomUUID();
      await sql`insert into tenancy.tenants (id, name, external_id) values (${own}, 'Moving', ${own.toUpperCase()})`;
      await assert.rejects(sql`update tenancy.tenants set id = gen_random_uuid() where id = ${own}`, REFUSED);
    });

    await t.step("ordinary external ids, hex or not, are accepted", async () => {
      for (const id of ["acme-42", "0b5c7f4e", "tenant:0b5c7f4e-1d2b-4c5a-9e8f", "deadbeef".repeat(3)]) {
        await createTenant(sql, id, id);
      }
    });

    await t.step("the victim's members keep a tenant_id nobody else's token carries", async () => {
      const user = await createUser(sql);
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${victim}, ${user.id})`;
      assert.equal((await resolveAs(sql, user)).tenant_id, victim);
      const [{ count }] = await sql`select count(*)::int from tenancy.tenants
                                     where coalesce(external_id, id::text) = ${victim} or external_id ilike ${victim}`;
      assert.equal(count, 1);
    });
  } finally {
    await db.close();
  }
});
