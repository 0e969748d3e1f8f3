/**
 * The invitee's side of invitations (supabase/migrations/*_tenancy_accept_invitations.sql): their pending
 * invitations by their proven address only, accepting and declining one with its audit row, and removals
 * sticking against invitations older than them.
 */
import assert from "node:assert/strict";
import { allowRoles, asRole, createTenant, createUser, openTestDatabase } from "../_db.ts";
import { addMember, assertSqlState, auditActions, callAs, roleOf } from "./_management.ts";

Deno.test("the invitee's side", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor");
  const invite = async (tenant: string, email: string, role = "editor") => {
    const [row] =
      await sql`insert into tenancy.invitations (tenant_id, email, role) values (${tenant}, ${email}, ${role})
                            returning id`;
    return row.id as string;
  };
  try {
    await t.step("a user sees the invitations to their proven address, and only then", async () => {
      const acme = await createTenant(sql, "Acme", "inv-acme");
      const inviter = await createUser(sql);
      await addMember(sql, acme, inviter, "owner");
      const ada = await createUser(sql);
      const id = await invite(acme, ada.email);
      await sql`update tenancy.invitations set invited_by = ${inviter.id} where id = ${id}`;
      const listed = await callAs(sql, ada, (tx) => tx`select * from tenancy.my_invitations()`);
      assert.deepEqual(listed.map((r) => [r.id, r.tenant_id, r.tenant_name, r.role, r.invited_by_email]), [
        [id, "inv-acme", "Acme", "editor", inviter.email],
      ]);

      const unproven = await createUser(sql, { emailVerified: false });
      await invite(acme, unproven.email);
      assert.deepEqual(await callAs(sql, unproven, (tx) => tx`select * from tenancy.my_invitations()`), []);
      const unconfirmed = await createUser(sql, { confirmed: false });
      await invite(acme, unconfirmed.email);
      assert.deepEqual(
        await callAs(sql, unconfirmed, (tx) => tx`select * from tenancy.my_invitations()`),
        [],
      );
      // A project that autoconfirms proves nothing: the transaction says so.
      const untrusted = await asRole(sql, "authenticated", ada.claims, async (tx) => {
        await tx`select set_config('tenancy.email_trusted', 'off', true)`;
        return await tx`select * from tenancy.my_invitations()`;
      });
      assert.deepEqual([...untrusted], []);
    });

    await t.step(
      "accepting gives the membership with the invitation's role, once, with its audit row",
      async () => {
        const acme = await createTenant(sql, "Acme");
        const bob = await createUser(sql);
        const id = await invite(acme, bob.email);
        const [tenant] = await callAs(sql, bob, (tx) => tx`select * from tenancy.accept_invitation(${id})`);
        assert.deepEqual([tenant.tenant_uuid, tenant.role, tenant.is_default], [acme, "editor", true]);
        assert.equal(await roleOf(sql, acme, bob.id), "editor");
        assert.deepEqual(await auditActions(sql, acme), ["invitation.accepted"]);
        await assertSqlState(
          callAs(sql, bob, (tx) => tx`select * from tenancy.accept_invitation(${id})`),
          "TNFND",
        );
        assert.deepEqual(await callAs(sql, bob, (tx) => tx`select * from tenancy.my_invitations()`), []);
      },
    );

    await t.step("nobody accepts or declines someone else's invitation", async () => {
      const acme = await createTenant(sql, "Acme");
      const [owner, thief] = [await createUser(sql), await createUser(sql)];
      const id = await invite(acme, owner.email);
      await assertSqlState(
        callAs(sql, thief, (tx) => tx`select * from tenancy.accept_invitation(${id})`),
        "TNFND",
      );
      await assertSqlState(
        callAs(sql, thief, (tx) => tx`select * from tenancy.decline_invitation(${id})`),
        "TNFND",
      );
      await assertSqlState(
        callAs(sql, thief, (tx) => tx`select * from tenancy.accept_invitation(${crypto.randomUUID()})`),
        "TNFND",
      );
      assert.equal(await roleOf(sql, acme, thief.id), undefined);
    });

    await t.step("an expired invitation is neither listed nor accepted", async () => {
      const acme = await createTenant(sql, "Acme");
      const late = await createUser(sql);
      const id = await invite(acme, late.email);
      await sql`update tenancy.invitations set expires_at = now() - interval '1 second' where id = ${id}`;
      assert.deepEqual(await callAs(sql, late, (tx) => tx`select * from tenancy.my_invitations()`), []);
      await assertSqlState(
        callAs(sql, late, (tx) => tx`select * from tenancy.accept_invitation(${id})`),
        "TNFND",
      );
    });

    await t.step("declining deletes the invitation, with its audit row", async () => {
      const acme = await createTenant(sql, "Acme");
      const carol = await createUser(sql);
      const id = await invite(acme, carol.email);
      const [declined] = await callAs(
        sql,
        carol,
        (tx) => tx`select * from tenancy.decline_invitation(${id})`,
      );
      assert.deepEqual([declined.id, declined.role], [id, "editor"]);
      const [{ count }] = await sql`select count(*)::int from tenancy.invitations where id = ${id}`;
      assert.equal(count, 0);
      assert.deepEqual(await auditActions(sql, acme), ["invitation.declined"]);
      assert.equal(await roleOf(sql, acme, carol.id), undefined);
    });

    await t.step("a member who accepts another invitation to the tenant keeps their role", async () => {
      const acme = await createTenant(sql, "Acme");
      const dan = await createUser(sql);
      await addMember(sql, acme, dan, "admin");
      const id = await invite(acme, dan.email, "user");
      await callAs(sql, dan, (tx) => tx`select * from tenancy.accept_invitation(${id})`);
      assert.equal(await roleOf(sql, acme, dan.id), "admin");
    });

    await t.step(
      "an invitation from before a removal is not the removed user's; one made since is",
      async () => {
        const acme = await createTenant(sql, "Acme");
        const eve = await createUser(sql);
        const before = await invite(acme, eve.email);
        await addMember(sql, acme, eve, "user");
        await sql`delete from tenancy.memberships where tenant_id = ${acme} and user_id = ${eve.id}`;
        assert.deepEqual(await callAs(sql, eve, (tx) => tx`select * from tenancy.my_invitations()`), []);
        await assertSqlState(
          callAs(sql, eve, (tx) => tx`select * from tenancy.accept_invitation(${before})`),
          "TNFND",
        );
        await sql`delete from tenancy.invitations where id = ${before}`;
        const since = await invite(acme, eve.email);
        const listed = await callAs(sql, eve, (tx) => tx`select * from tenancy.my_invitations()`);
        assert.deepEqual(listed.map((r) => r.id), [since]);
        await callAs(sql, eve, (tx) => tx`select * from tenancy.accept_invitation(${since})`);
        assert.equal(await roleOf(sql, acme, eve.id), "editor");
      },
    );
  } finally {
    await db.close();
  }
});
