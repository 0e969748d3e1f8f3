/**
 * Roles and their powers in the management functions (docs/tenants.md "Roles and their powers"): owner
 * everything, admin members and invitations but never owners, every other role read-only; the last owner
 * stays; tenants without an owner stay the operator's; non-members get TNFND as for a tenant that does not
 * exist; deleting a user still cascades.
 */
import assert from "node:assert/strict";
import { allowRoles, createTenant, createUser, openTestDatabase, resolveAs, setPolicy } from "../_db.ts";
import {
  addMember,
  assertSqlState,
  auditActions,
  callAs,
  roleOf,
  tenantWithRoles,
  type Tx,
} from "./_management.ts";

Deno.test("tenant roles", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor", "viewer");
  try {
    await t.step("an owner changes any role, owners' included, and makes owners", async () => {
      const { tenant, owner, admin, user } = await tenantWithRoles(sql);
      await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'owner')`,
      );
      assert.equal(await roleOf(sql, tenant, user.id), "owner");
      await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'editor')`,
      );
      assert.equal(await roleOf(sql, tenant, user.id), "editor");
      const [member] = await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${admin.id}, 'user')`,
      );
      assert.deepEqual({ user_id: member.user_id, email: member.email, role: member.role }, {
        user_id: admin.id,
        email: admin.email,
        role: "user",
      });
      await callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${user.id})`);
      assert.equal(await roleOf(sql, tenant, user.id), undefined);
    });

    await t.step("an owner removes another owner", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      await addMember(sql, tenant, await createUser(sql), "user");
      await sql`update tenancy.memberships set role = 'owner' where tenant_id = ${tenant} and user_id = ${user.id}`;
      await callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${user.id})`);
      assert.equal(await roleOf(sql, tenant, user.id), undefined);
    });

    await t.step("an admin manages non-owners up to admin, and never an owner", async () => {
      const { tenant, owner, admin, user, custom } = await tenantWithRoles(sql);
      await callAs(
        sql,
        admin,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'admin')`,
      );
      assert.equal(await roleOf(sql, tenant, user.id), "admin");
      await callAs(
        sql,
        admin,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'viewer')`,
      );
      assert.equal(await roleOf(sql, tenant, user.id), "viewer");
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'owner')`),
        "TNFBD",
      );
      await assertSqlState(
        callAs(
          sql,
          admin,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${admin.id}, 'owner')`,
        ),
        "TNFBD",
      );
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${owner.id}, 'user')`),
        "TNFBD",
      );
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${owner.id})`),
        "TNFBD",
      );
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Mine now')`),
        "TNFBD",
      );
      await callAs(sql, admin, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${custom.id})`);
      assert.equal(await roleOf(sql, tenant, custom.id), undefined);
      assert.equal(await roleOf(sql, tenant, owner.id), "owner");
    });

    await t.step("every other role, user and custom ones, is read-only", async () => {
      const { tenant, owner, admin, user, custom } = await tenantWithRoles(sql, "ro-acme");
      for (const reader of [user, custom]) {
        const members = await callAs(sql, reader, (tx) => tx`select * from tenancy.list_members('ro-acme')`);
        assert.equal(members.length, 4);
        const [mine] = await callAs(
          sql,
          reader,
          (tx) => tx`select * from tenancy.set_default_tenant('ro-acme')`,
        );
        assert.equal(mine.is_default, true);
        const refused = [
          (tx: Tx) => tx`select * from tenancy.set_member_role(${tenant}, ${admin.id}, 'user')`,
          (tx: Tx) => tx`select * from tenancy.remove_member(${tenant}, ${owner.id})`,
          (tx: Tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'x')`,
          (tx: Tx) => tx`select * from tenancy.list_invitations(${tenant})`,
          (tx: Tx) => tx`select * from tenancy.create_invitation(${tenant}, 'new@example.com', 'user')`,
          (tx: Tx) => tx`select * from tenancy.list_audit(${tenant})`,
        ];
        for (const query of refused) await assertSqlState(callAs(sql, reader, query), "TNFBD");
      }
      assert.deepEqual(await auditActions(sql, tenant), []);
    });

    await t.step("only an owner renames a tenant", async () => {
      const { tenant, owner } = await tenantWithRoles(sql);
      const [renamed] = await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.rename_tenant(${tenant}, '  Acme Ltd ')`,
      );
      assert.equal(renamed.name, "Acme Ltd");
      assert.equal(renamed.role, "owner");
      await assertSqlState(
        callAs(sql, owner, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, '   ')`),
        "TNBAD",
      );
    });

    await t.step("the last owner can neither leave nor be demoted, a second owner can", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      await assertSqlState(
        callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${owner.id})`),
        "TNCFL",
      );
      await assertSqlState(
        callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${owner.id}, 'admin')`,
        ),
        "TNCFL",
      );
      assert.equal(await roleOf(sql, tenant, owner.id), "owner");
      await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'owner')`,
      );
      await callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${owner.id})`);
      assert.equal(await roleOf(sql, tenant, owner.id), undefined);
      await assertSqlState(
        callAs(sql, user, (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'admin')`),
        "TNCFL",
      );
    });

    await t.step("two owners demoting each other at once leave one owner", async () => {
      const tenant = await createTenant(sql, "Duel");
      const [a, b] = [await createUser(sql), await createUser(sql)];
      await addMember(sql, tenant, a, "owner");
      await addMember(sql, tenant, b, "owner");
      const results = await Promise.allSettled([
        callAs(sql, a, async (tx) => {
          const rows = await tx`select * from tenancy.set_member_role(${tenant}, ${b.id}, 'user')`;
          await tx`select pg_sleep(0.3)`;
          return rows;
        }),
        (async () => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          return await callAs(
            sql,
            b,
            (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${a.id}, 'user')`,
          );
        })(),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
      const [owners] = await sql`select count(*)::int as n from tenancy.memberships
                                  where tenant_id = ${tenant} and role = 'owner'`;
      assert.equal(owners.n, 1);
    });

    await t.step("deleting a user in Auth still cascades, the last owner included", async () => {
      const { tenant, owner } = await tenantWithRoles(sql);
      await sql`delete from auth.users where id = ${owner.id}`;
      assert.equal(await roleOf(sql, tenant, owner.id), undefined);
    });

    await t.step("a tenant made without an owner stays the operator's", async () => {
      const demo = await createTenant(sql, "Demo", "demo-no-owner");
      const [admin, user] = [await createUser(sql), await createUser(sql)];
      await addMember(sql, demo, admin, "admin");
      await addMember(sql, demo, user, "user");
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.set_member_role(${demo}, ${admin.id}, 'owner')`),
        "TNFBD",
      );
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select * from tenancy.rename_tenant(${demo}, 'x')`),
        "TNFBD",
      );
      // Nobody is an owner, so no one is the last one: members leave freely.
      await callAs(sql, user, (tx) => tx`select * from tenancy.remove_member(${demo}, ${user.id})`);
      await callAs(sql, admin, (tx) => tx`select * from tenancy.remove_member(${demo}, ${admin.id})`);
    });

    await t.step("a tenant the caller is not a member of is TNFND, as one that does not exist", async () => {
      const { tenant, owner, outsider } = await tenantWithRoles(sql, "hidden-acme");
      const someone = owner.id;
      const inv = crypto.randomUUID();
      for (const name of [tenant, "hidden-acme", crypto.randomUUID(), "nope"]) {
        const attempts = [
          (tx: Tx) => tx`select * from tenancy.list_members(${name})`,
          (tx: Tx) => tx`select * from tenancy.rename_tenant(${name}, 'x')`,
          (tx: Tx) => tx`select * from tenancy.set_default_tenant(${name})`,
          (tx: Tx) => tx`select * from tenancy.set_member_role(${name}, ${someone}, 'user')`,
          (tx: Tx) => tx`select * from tenancy.remove_member(${name}, ${someone})`,
          (tx: Tx) => tx`select * from tenancy.remove_member(${name}, ${outsider.id})`,
          (tx: Tx) => tx`select * from tenancy.list_invitations(${name})`,
          (tx: Tx) => tx`select * from tenancy.create_invitation(${name}, 'x@example.com', 'user')`,
          (tx: Tx) => tx`select * from tenancy.revoke_invitation(${name}, ${inv})`,
          (tx: Tx) => tx`select * from tenancy.list_audit(${name})`,
        ];
        for (const attempt of attempts) await assertSqlState(callAs(sql, outsider, attempt), "TNFND");
      }
      assert.deepEqual(await callAs(sql, outsider, (tx) => tx`select * from tenancy.list_tenants()`), []);
    });

    await t.step("a member, or an invitation, that is not there is TNFND", async () => {
      const { tenant, owner, outsider } = await tenantWithRoles(sql);
      await assertSqlState(
        callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${outsider.id}, 'user')`,
        ),
        "TNFND",
      );
      await assertSqlState(
        callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${outsider.id})`),
        "TNFND",
      );
      await assertSqlState(
        callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.revoke_invitation(${tenant}, ${crypto.randomUUID()})`,
        ),
        "TNFND",
      );
    });

    await t.step("anyone leaves, and the removal sticks", async () => {
      const acme = await createTenant(sql, "Acme", "leave-acme");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('leave.example', ${acme})`;
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      const mal = await createUser(sql, { email: "mal@leave.example" });
      assert.equal((await resolveAs(sql, mal)).tenant_id, "leave-acme");
      const [left] = await callAs(
        sql,
        mal,
        (tx) => tx`select * from tenancy.remove_member('leave-acme', ${mal.id})`,
      );
      assert.equal(left.user_id, mal.id);
      assert.deepEqual(await auditActions(sql, acme), ["member.left"]);
      await assertSqlState(resolveAs(sql, mal), "TNNOT");
    });

    await t.step("the caller's tenants list their role and default, default first", async () => {
      const user = await createUser(sql);
      const [a, b] = [await createTenant(sql, "Beta"), await createTenant(sql, "Alpha", "alpha-list")];
      await addMember(sql, a, user, "admin");
      await sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                values (${b}, ${user.id}, 'user', true)`;
      const tenants = await callAs(sql, user, (tx) => tx`select * from tenancy.list_tenants()`);
      assert.deepEqual(tenants.map((r) => [r.tenant_id, r.name, r.role, r.is_default]), [
        ["alpha-list", "Alpha", "user", true],
        [a, "Beta", "admin", false],
      ]);
      await callAs(sql, user, (tx) => tx`select * from tenancy.set_default_tenant(${a})`);
      const again = await callAs(sql, user, (tx) => tx`select * from tenancy.list_tenants()`);
      assert.deepEqual(again.map((r) => [r.name, r.is_default]), [["Beta", true], ["Alpha", false]]);
      assert.equal((await resolveAs(sql, user)).tenant_uuid, a);
    });

    await t.step("self-service creation is off by default, and on by the setting", async () => {
      const user = await createUser(sql);
      await assertSqlState(
        callAs(sql, user, (tx) => tx`select * from tenancy.create_tenant('Mine')`),
        "TNFBD",
      );
      await sql`update tenancy.management_settings set self_service_tenants = true`;
      try {
        const [created] = await callAs(sql, user, (tx) => tx`select * from tenancy.create_tenant(' Mine ')`);
        assert.deepEqual([created.name, created.role, created.is_default], ["Mine", "owner", true]);
        assert.equal(created.tenant_id, created.tenant_uuid);
        assert.deepEqual(await auditActions(sql, created.tenant_uuid), ["tenant.created"]);
      } finally {
        await sql`update tenancy.management_settings set self_service_tenants = false`;
      }
    });
  } finally {
    await db.close();
  }
});
