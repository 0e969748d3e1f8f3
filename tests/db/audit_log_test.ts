/**
 * The audit trail (supabase/migrations/*_tenancy_audit_log.sql) and invitations sent from the app: one row per
 * change, in the change's own transaction; readable by owners and admins only; written the same by the
 * exchange's acceptance; and the invitation rules (lower-cased, one pending per address, limits).
 */
import assert from "node:assert/strict";
import { allowRoles, asRole, createTenant, createUser, openTestDatabase, resolveAs } from "../_db.ts";
import { assertSqlState, auditActions, callAs, tenantWithRoles } from "./_management.ts";

Deno.test("audit trail and invitations from the app", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor");
  try {
    await t.step("every change writes one row with actor, target and before/after", async () => {
      const { tenant, owner, admin, user } = await tenantWithRoles(sql);
      await callAs(sql, owner, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Acme 2')`);
      const [invitation] = await callAs(
        sql,
        admin,
        (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'New@Example.com', 'editor')`,
      );
      await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.revoke_invitation(${tenant}, ${invitation.id})`,
      );
      await callAs(
        sql,
        admin,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'admin')`,
      );
      await callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${user.id})`);
      await callAs(sql, admin, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${admin.id})`);
      assert.deepEqual(await auditActions(sql, tenant), [
        "tenant.renamed",
        "invitation.created",
        "invitation.revoked",
        "member.role_changed",
        "member.removed",
        "member.left",
      ]);
      const rows = await sql`select * from tenancy.audit_log where tenant_id = ${tenant} order by id`;
      assert.deepEqual([rows[1].actor_id, rows[1].actor_email, rows[1].target_email, rows[1].invitation_id], [
        admin.id,
        admin.email,
        "new@example.com",
        invitation.id,
      ]);
      assert.deepEqual([rows[3].target_user_id, rows[3].before, rows[3].after], [
        user.id,
        { role: "user" },
        { role: "admin" },
      ]);
      assert.deepEqual([rows[4].target_email, rows[4].before, rows[4].after], [
        user.email,
        { role: "admin" },
        null,
      ]);
    });

    await t.step("a refused or rolled-back change writes no row, and no change is made", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      await assertSqlState(
        callAs(sql, owner, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${owner.id})`),
        "TNCFL",
      );
      await assertSqlState(
        callAs(sql, user, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'x')`),
        "TNFBD",
      );
      await asRole(
        sql,
        "authenticated",
        owner.claims,
        (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Rolled')`,
      );
      assert.deepEqual(await auditActions(sql, tenant), []);
      const [row] = await sql`select name from tenancy.tenants where id = ${tenant}`;
      assert.equal(row.name, "Acme");
    });

    await t.step("a change to nothing (the same name or role) is no change, and writes no row", async () => {
      const { tenant, owner, user } = await tenantWithRoles(sql);
      await callAs(sql, owner, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Acme')`);
      await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${user.id}, 'user')`,
      );
      assert.deepEqual(await auditActions(sql, tenant), []);
    });

    await t.step(
      "the trail is readable by the tenant's owners and admins only, directly or by list_audit",
      async () => {
        const { tenant, owner, admin, user, custom, outsider } = await tenantWithRoles(sql);
        await callAs(sql, owner, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, 'Seen')`);
        const direct = async (who: typeof owner) =>
          (await asRole(sql, "authenticated", who.claims, (tx) => tx`select action from tenancy.audit_log`))
            .map((r) => r.action);
        assert.deepEqual(await direct(owner), ["tenant.renamed"]);
        assert.deepEqual(await direct(admin), ["tenant.renamed"]);
        assert.deepEqual(await direct(user), []);
        assert.deepEqual(await direct(custom), []);
        assert.deepEqual(await direct(outsider), []);
        const listed = await callAs(sql, admin, (tx) => tx`select * from tenancy.list_audit(${tenant})`);
        assert.deepEqual(listed.map((r) => [r.action, r.before, r.after]), [[
          "tenant.renamed",
          { name: "Acme" },
          { name: "Seen" },
        ]]);
        await assertSqlState(
          asRole(sql, "anon", null, (tx) => tx`select * from tenancy.audit_log`),
          "42501",
        );
      },
    );

    await t.step("list_audit pages newest first", async () => {
      const { tenant, owner } = await tenantWithRoles(sql);
      for (const name of ["One", "Two", "Three"]) {
        await callAs(sql, owner, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, ${name})`);
      }
      const page = await callAs(sql, owner, (tx) => tx`select * from tenancy.list_audit(${tenant}, null, 2)`);
      assert.deepEqual(page.map((r) => r.after.name), ["Three", "Two"]);
      const next = await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.list_audit(${tenant}, ${page[1].id}, 2)`,
      );
      assert.deepEqual(next.map((r) => r.after.name), ["One"]);
      await assertSqlState(
        callAs(sql, owner, (tx) => tx`select * from tenancy.list_audit(${tenant}, null, 101)`),
        "TNBAD",
      );
    });

    await t.step(
      "the exchange's acceptance of an invitation writes the same invitation.accepted row",
      async () => {
        const { tenant, owner } = await tenantWithRoles(sql, "exchange-accepts");
        const email = `joiner-${crypto.randomUUID().slice(0, 8)}@example.com`;
        const [invitation] = await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.create_invitation(${tenant}, ${email}, 'editor')`,
        );
        const joiner = await createUser(sql, { email });
        const resolved = await resolveAs(sql, joiner);
        assert.deepEqual([resolved.tenant_id, resolved.role], ["exchange-accepts", "editor"]);
        const [row] =
          await sql`select * from tenancy.audit_log where tenant_id = ${tenant} order by id desc limit 1`;
        assert.deepEqual(
          [row.action, row.actor_id, row.target_user_id, row.target_email, row.invitation_id, row.after],
          ["invitation.accepted", joiner.id, joiner.id, email, invitation.id, { role: "editor" }],
        );
      },
    );

    await t.step(
      "an invitation is lower-cased, one pending per address and tenant, never to a member",
      async () => {
        const { tenant, owner, user } = await tenantWithRoles(sql);
        const [made] = await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.create_invitation(${tenant}, '  Mixed.Case@Example.COM ', null)`,
        );
        assert.deepEqual([made.email, made.role], ["mixed.case@example.com", "user"]);
        await assertSqlState(
          callAs(
            sql,
            owner,
            (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'mixed.case@example.com', 'admin')`,
          ),
          "TNCFL",
        );
        await assertSqlState(
          callAs(
            sql,
            owner,
            (tx) =>
              tx`select * from tenancy.create_invitation(${tenant}, ${user.email.toUpperCase()}, 'user')`,
          ),
          "TNCFL",
        );
        // An expired one is no longer pending.
        await sql`update tenancy.invitations set expires_at = now() - interval '1 second' where id = ${made.id}`;
        const [again] = await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'mixed.case@example.com', 'user')`,
        );
        assert.notEqual(again.id, made.id);
        const outsider = await createUser(sql);
        await callAs(
          sql,
          owner,
          (tx) => tx`select * from tenancy.create_invitation(${tenant}, ${outsider.email}, 'user')`,
        );
        await assertSqlState(
          callAs(
            sql,
            owner,
            (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'not-an-address', 'user')`,
          ),
          "TNBAD",
        );
      },
    );

    await t.step("invitations stop at the limits with TNLIM and the seconds to wait", async () => {
      const { tenant, owner } = await tenantWithRoles(sql);
      const other = await createTenant(sql, "Other");
      await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${other}, ${owner.id}, 'owner')`;
      await sql`update tenancy.management_settings set max_pending_invitations_per_tenant = 2,
                                                   invitation_ttl = interval '2 days'`;
      try {
        const invite = (to: string, email: string) =>
          callAs(sql, owner, (tx) => tx`select * from tenancy.create_invitation(${to}, ${email}, 'user')`);
        await invite(tenant, "a@example.com");
        await invite(tenant, "b@example.com");
        const full = await assertSqlState(invite(tenant, "c@example.com"), "TNLIM");
        assert.ok(Number(full.detail) > 2 * 86400 - 60 && Number(full.detail) <= 2 * 86400, full.detail);
        await invite(other, "c@example.com");

        await sql`update tenancy.management_settings set max_invitations_per_manager_per_hour = 3`;
        const hourly = await assertSqlState(invite(other, "d@example.com"), "TNLIM");
        assert.ok(Number(hourly.detail) > 3500 && Number(hourly.detail) <= 3600, hourly.detail);
        // Sends from over an hour ago no longer count.
        await sql`update tenancy.audit_log set at = at - interval '61 minutes' where actor_id = ${owner.id}`;
        await invite(other, "d@example.com");
      } finally {
        await sql`update tenancy.management_settings set max_pending_invitations_per_tenant = 100,
                     max_invitations_per_manager_per_hour = 20, invitation_ttl = interval '7 days'`;
      }
    });

    await t.step("a mail failure is recorded by the invitation's sender only", async () => {
      const { tenant, owner, admin } = await tenantWithRoles(sql);
      const [made] = await callAs(
        sql,
        owner,
        (tx) => tx`select * from tenancy.create_invitation(${tenant}, 'mailless@example.com', 'user')`,
      );
      await assertSqlState(
        callAs(sql, admin, (tx) => tx`select tenancy.record_invitation_mail_failure(${made.id}, 'auth_500')`),
        "TNFND",
      );
      await callAs(
        sql,
        owner,
        (tx) => tx`select tenancy.record_invitation_mail_failure(${made.id}, 'auth_500')`,
      );
      const [row] =
        await sql`select action, after from tenancy.audit_log where tenant_id = ${tenant} order by id desc limit 1`;
      assert.deepEqual([row.action, row.after], ["invitation.mail_failed", { reason: "auth_500" }]);
    });
  } finally {
    await db.close();
  }
});
