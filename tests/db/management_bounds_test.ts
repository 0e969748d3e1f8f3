/**
 * The bounds of managing tenants from the app (issue "Safe to deploy, round 2", findings 2–4), in the
 * database: anonymous users manage nothing, self-service creation is capped and rate-limited, roles come
 * from tenancy.roles, and an admin cannot change their own role.
 */
import assert from "node:assert/strict";
import { createUser, openTestDatabase, resolveAs, setPolicy } from "../_db.ts";
import { addMember, assertSqlState, callAs, roleOf, tenantWithRoles } from "./_management.ts";

Deno.test("management bounds", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await sql`update tenancy.management_settings set self_service_tenants = true`;
  try {
    await t.step("an anonymous owner manages nothing, but reads, leaves and picks a default", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      const anon = await createUser(sql, { anonymous: true });
      await addMember(sql, tenant, anon, "owner");
      const refusals: Array<[string, () => Promise<unknown>]> = [
        ["create", () => callAs(sql, anon, (tx) => tx`select * from tenancy.create_tenant('Mine')`)],
        [
          "rename",
          () => callAs(sql, anon, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Mine')`),
        ],
        [
          "invite",
          () =>
            callAs(
              sql,
              anon,
              (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'x@corp.test', 'user')`,
            ),
        ],
        [
          "set a role",
          () =>
            callAs(
              sql,
              anon,
              (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'admin')`,
            ),
        ],
        [
          "remove",
          () => callAs(sql, anon, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${user.id})`),
        ],
        [
          "invitations",
          () => callAs(sql, anon, (tx) => tx`select * from tenancy.list_invitations(${tenant})`),
        ],
        ["audit", () => callAs(sql, anon, (tx) => tx`select * from tenancy.list_audit(${tenant})`)],
      ];
      for (const [what, call] of refusals) {
        const err = await assertSqlState(call(), "TNFBD");
        assert.match(String(err), /anonymous users (manage|create)/, what);
      }
      assert.equal(await roleOf(sql, tenant, user.id), "user", "nothing changed");
      const members = await callAs(sql, anon, (tx) => tx`select * from tenancy.list_members(${tenant})`);
      assert.equal(members.length, 5);
      await callAs(sql, anon, (tx) => tx`select * from tenancy.set_default_tenant(${tenant})`);
      await callAs(sql, anon, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${anon.id})`);
      assert.equal(await roleOf(sql, tenant, anon.id), undefined);
      // The account decides, not the token: once the flag is gone (a proven address added), they manage.
      await addMember(sql, tenant, anon, "owner");
      await sql`update auth.users set is_anonymous = false, email = 'upgraded@corp.test' where id = ${anon.id}`;
      await callAs(sql, anon, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Renamed')`);
      await callAs(sql, owner, (tx) => tx`select * from tenancy.list_audit(${tenant})`);
    });

    await t.step("a non-member anonymous caller still gets TNFND, as anyone", async () => {
      const { tenant } = await tenantWithRoles(sql);
      const anon = await createUser(sql, { anonymous: true });
      await assertSqlState(
        callAs(sql, anon, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'x')`),
        "TNFND",
      );
    });

    await t.step(
      "self-service: at most the cap created and still belonged to, the personal tenant aside (TNCFL)",
      async () => {
        await sql`update tenancy.management_settings set max_self_service_tenants_per_user = 2`;
        try {
          await setPolicy(sql, [{ strategy: "personal", role: "owner" }]);
          const user = await createUser(sql);
          const personal = await resolveAs(sql, user);
          assert.equal(personal.role, "owner");
          const create = (name: string) =>
            callAs(sql, user, (tx) => tx`select * from tenancy.create_tenant(${name})`);
          const [first] = await create("One");
          await create("Two");
          const err = await assertSqlState(create("Three"), "TNCFL");
          assert.match(String(err), /already belong to 2 tenants/);
          // Stepping down to admin under a second owner frees nothing; leaving does.
          const heir = await createUser(sql);
          await addMember(sql, first.tenant_uuid, heir, "owner");
          await callAs(
            sql,
            user,
            (tx) => tx`select * from tenancy.set_member_role(${first.tenant_uuid}, ${user.id}, 'admin')`,
          );
          await assertSqlState(create("Three"), "TNCFL");
          await callAs(
            sql,
            user,
            (tx) => tx`select * from tenancy.remove_member(${first.tenant_uuid}, ${user.id})`,
          );
          await create("Three");
        } finally {
          await sql`update tenancy.management_settings set max_self_service_tenants_per_user = 10`;
          await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
        }
      },
    );

    await t.step(
      "self-service: at most the hourly rate created (TNLIM with the seconds to wait)",
      async () => {
        await sql`update tenancy.management_settings set max_tenants_created_per_user_per_hour = 3`;
        try {
          const user = await createUser(sql);
          for (const n of [1, 2, 3]) {
            await callAs(sql, user, (tx) => tx`select * from tenancy.create_tenant(${`T${n}`})`);
          }
          const err = await assertSqlState(
            callAs(sql, user, (tx) => tx`select * from tenancy.create_tenant('T4')`),
            "TNLIM",
          );
          const wait = Number(err.detail);
          assert.ok(wait > 3500 && wait <= 3600, err.detail);
          // Another user is not held back by the first one's creations.
          await callAs(sql, await createUser(sql), (tx) => tx`select * from tenancy.create_tenant('Other')`);
        } finally {
          await sql`update tenancy.management_settings set max_tenants_created_per_user_per_hour = 10`;
        }
      },
    );

    await t.step("the defaults: 10 owned, 10 an hour", async () => {
      const [settings] = await sql`select max_self_service_tenants_per_user as cap,
                                          max_tenants_created_per_user_per_hour as rate
                                     from tenancy.management_settings`;
      assert.deepEqual([settings.cap, settings.rate], [10, 10]);
    });

    await t.step("a role outside tenancy.roles is TNBAD naming the allowed ones, everywhere", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      const err = await assertSqlState(
        callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'billing_admin')`,
        ),
        "TNBAD",
      );
      assert.match(String(err), /role must be one of: admin, billing, owner, user/);
      await assertSqlState(
        callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'b@corp.test', 'root')`,
        ),
        "TNBAD",
      );
      // The operator's SQL is refused too, by the foreign keys.
      const stranger = await createUser(sql);
      for (
        const insert of [
          () =>
            sql`insert into tenancy.memberships (tenant_id, user_id, role)
              values (${tenant}, ${stranger.id}, 'superuser')`,
          () =>
            sql`insert into tenancy.invitations (tenant_id, email, role) values (${tenant}, 'c@corp.test', 'superuser')`,
          () =>
            sql`insert into tenancy.domain_claims (domain, tenant_id, role) values ('corp.test', ${tenant}, 'superuser')`,
        ]
      ) {
        await assertSqlState(insert(), "23503");
      }
    });

    await t.step(
      "an operator adds a custom role with one statement, and managers may then give it",
      async () => {
        const { tenant, owner, user } = await tenantWithRoles(sql);
        await sql`insert into tenancy.roles (role, description) values ('auditor', 'Reads the books')`;
        await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'auditor')`,
        );
        assert.equal(await roleOf(sql, tenant, user.id), "auditor");
        // A role in use cannot be dropped from the list.
        await assertSqlState(sql`delete from tenancy.roles where role = 'auditor'`, "23503");
      },
    );

    await t.step(
      "an admin cannot change their own role; an owner still may while another owner remains",
      async () => {
        const { tenant, owner, admin } = await tenantWithRoles(sql);
        for (const role of ["user", "admin", "billing"]) {
          const err = await assertSqlState(
            callAs(
              sql,
              admin,
              (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${admin.id}, ${role})`,
            ),
            "TNFBD",
          );
          assert.match(String(err), /cannot change their own role/);
        }
        assert.equal(await roleOf(sql, tenant, admin.id), "admin");
        await sql`update tenancy.memberships set role = 'owner' where tenant_id = ${tenant} and user_id = ${admin.id}`;
        await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${owner.id}, 'admin')`,
        );
        assert.equal(await roleOf(sql, tenant, owner.id), "admin");
      },
    );
  } finally {
    await db.close();
  }
});
