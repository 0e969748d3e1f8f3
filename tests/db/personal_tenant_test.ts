/**
 * Personal tenants are known as such (tenants.personal_of), and only a removal from one's own personal tenant
 * stops the personal strategy from making one (issue "Safe to deploy, round 2", finding 5). Before, any
 * manager could deny a new user their personal tenant for good: invite, let them accept, remove.
 */
import assert from "node:assert/strict";
import { createTenant, createUser, openTestDatabase, resolveAs, setPolicy } from "../_db.ts";
import { callAs } from "./_management.ts";

Deno.test("personal tenants", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "personal", role: "owner" }]);
  try {
    await t.step("the personal strategy marks the tenant it makes, one per user", async () => {
      const user = await createUser(sql);
      const got = await resolveAs(sql, user);
      const [tenant] =
        await sql`select personal_of, created_by from tenancy.tenants where id = ${got.tenant_uuid}`;
      assert.deepEqual([tenant.personal_of, tenant.created_by], [user.id, null]);
    });

    await t.step(
      "a personal tenant is named for its owner's proven address, never their metadata",
      async () => {
        const nameOf = async (user: Awaited<ReturnType<typeof createUser>>) => {
          const got = await resolveAs(sql, user);
          return (await sql`select name from tenancy.tenants where id = ${got.tenant_uuid}`)[0].name;
        };
        const ada = await createUser(sql, {
          email: `ada.lovelace+work-${crypto.randomUUID().slice(0, 4)}@acme.test`,
        });
        // The caller writes user_metadata at will (supabase.auth.updateUser({ data })): it names nothing.
        await sql`update auth.users set raw_user_meta_data = '{"full_name":"The CEO","name":"Admin"}'
                 where id = ${ada.id}`;
        assert.equal(await nameOf(ada), "Ada Lovelace's workspace");
        // An address nobody proved (not confirmed, or no identity vouching for it) names nothing either.
        const unproven = await createUser(sql, { email: "grace_hopper@acme.test", emailVerified: false });
        assert.equal(await nameOf(unproven), "Personal workspace");
        const names = await sql`select tenancy_private.personal_tenant_name(e) as name
                                  from unnest(${["o-neil@x.test", "@x.test", "+tag@x.test"]}::text[]) e`;
        assert.deepEqual(names.map((r) => r.name), [
          "O Neil's workspace",
          "Personal workspace",
          "Personal workspace",
        ]);
      },
    );

    await t.step("invite, accept, remove: the user still gets a personal tenant of their own", async () => {
      const manager = await createUser(sql);
      const acme = await createTenant(sql, "Acme");
      await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${acme}, ${manager.id}, 'owner')`;
      const newcomer = await createUser(sql);
      await callAs(
        sql,
        manager,
        (tx) => tx`select * from tenancy.create_invitation(${acme}, ${newcomer.email}, 'user')`,
      );
      const first = await resolveAs(sql, newcomer);
      assert.deepEqual(
        [first.tenant_uuid, first.provisioned],
        [acme, true],
        "the invitation, not a personal tenant",
      );
      await callAs(sql, manager, (tx) => tx`select * from tenancy.remove_member(${acme}, ${newcomer.id})`);
      const next = await resolveAs(sql, newcomer);
      assert.notEqual(next.tenant_uuid, acme);
      assert.deepEqual([next.role, next.provisioned], ["owner", true]);
      const [tenant] = await sql`select personal_of from tenancy.tenants where id = ${next.tenant_uuid}`;
      assert.equal(tenant.personal_of, newcomer.id);
      const [tombstone] = await sql`select personal from tenancy.removed_memberships
                                     where user_id = ${newcomer.id} and tenant_id = ${acme}`;
      assert.equal(tombstone.personal, false);
    });

    await t.step("removed from their own personal tenant, a user gets no other", async () => {
      const user = await createUser(sql);
      const personal = await resolveAs(sql, user);
      await sql`delete from tenancy.memberships where tenant_id = ${personal.tenant_uuid} and user_id = ${user.id}`;
      const [tombstone] = await sql`select personal from tenancy.removed_memberships
                                     where user_id = ${user.id} and tenant_id = ${personal.tenant_uuid}`;
      assert.equal(tombstone.personal, true);
      await assert.rejects(resolveAs(sql, user), (err: { code: string }) => err.code === "TNNOT");
    });

    await t.step("a personal tenant deleted outright counts as a removal from it", async () => {
      const user = await createUser(sql);
      const personal = await resolveAs(sql, user);
      await sql`delete from tenancy.tenants where id = ${personal.tenant_uuid}`;
      const [tombstone] = await sql`select personal from tenancy.removed_memberships
                                     where user_id = ${user.id} and tenant_id = ${personal.tenant_uuid}`;
      assert.equal(tombstone.personal, true);
      await assert.rejects(resolveAs(sql, user), (err: { code: string }) => err.code === "TNNOT");
    });

    await t.step("deleting the user keeps the tenant, unmarked, and leaves no tombstone", async () => {
      const user = await createUser(sql);
      const personal = await resolveAs(sql, user);
      await sql`delete from auth.users where id = ${user.id}`;
      const [tenant] = await sql`select personal_of from tenancy.tenants where id = ${personal.tenant_uuid}`;
      assert.equal(tenant.personal_of, null);
      const tombstones = await sql`select 1 from tenancy.removed_memberships where user_id = ${user.id}`;
      assert.equal(tombstones.length, 0);
    });
  } finally {
    await db.close();
  }
});
