/**
 * Removals stick (supabase/migrations/*_tenancy_removals_stick.sql): a membership deleted by any path is not
 * given back by the domain, personal or default strategies; only an invitation made since brings it back.
 */
import assert from "node:assert/strict";
import {
  allowRoles,
  createTenant,
  createUser,
  openTestDatabase,
  resolveAs,
  setPolicy,
  type TestDatabase,
} from "../_db.ts";

/** Asserts that `promise` fails with a Postgres error of the given SQLSTATE. */
async function assertSqlState(promise: Promise<unknown>, code: string) {
  await assert.rejects(promise, (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

async function memberships(db: TestDatabase, userId: string): Promise<string[]> {
  const rows = await db.sql`select tenant_id from tenancy.memberships where user_id = ${userId} order by 1`;
  return rows.map((r) => r.tenant_id);
}

async function tombstones(db: TestDatabase, userId: string): Promise<string[]> {
  const rows = await db.sql`select tenant_id from tenancy.removed_memberships where user_id = ${userId}`;
  return rows.map((r) => r.tenant_id);
}

async function invite(db: TestDatabase, tenantId: string, email: string) {
  await db
    .sql`insert into tenancy.invitations (tenant_id, email, role) values (${tenantId}, ${email}, 'editor')`;
}

Deno.test("removals stick", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor");
  try {
    await t.step("a member removed by SQL is not given the domain's tenant again", async () => {
      const acme = await createTenant(sql, "Acme", "acme-removed");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('removed.example', ${acme})`;
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      const mal = await createUser(sql, { email: "mal@removed.example" });
      assert.equal((await resolveAs(sql, mal)).tenant_id, "acme-removed");

      await sql`delete from tenancy.memberships where user_id = ${mal.id} and tenant_id = ${acme}`;
      assert.deepEqual(await tombstones(db, mal.id), [acme]);
      await assertSqlState(resolveAs(sql, mal), "TNNOT");
      assert.deepEqual(await memberships(db, mal.id), []);
      // Others at the domain still join.
      assert.equal(
        (await resolveAs(sql, await createUser(sql, { email: "ok@removed.example" }))).tenant_id,
        "acme-removed",
      );
    });

    await t.step("a member removed from the default tenant is not put back in it", async () => {
      const everyone = await createTenant(sql, "Everyone", "everyone-removed");
      await setPolicy(sql, [{ strategy: "default", default_tenant_id: everyone }]);
      const user = await createUser(sql);
      assert.equal((await resolveAs(sql, user)).tenant_id, "everyone-removed");
      await sql`delete from tenancy.memberships where user_id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNNOT");
    });

    await t.step("a user removed from the domain tenant falls through to a later strategy", async () => {
      const corp = await createTenant(sql, "Corp", "corp-fallthrough");
      const fallback = await createTenant(sql, "Fallback", "fallback-fallthrough");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('fallthrough.example', ${corp})`;
      await setPolicy(sql, [{ strategy: "domain" }, { strategy: "default", default_tenant_id: fallback }]);
      const user = await createUser(sql, { email: "lee@fallthrough.example" });
      assert.equal((await resolveAs(sql, user)).tenant_id, "corp-fallthrough");
      await sql`delete from tenancy.memberships where user_id = ${user.id}`;
      assert.equal((await resolveAs(sql, user)).tenant_id, "fallback-fallthrough");
    });

    await t.step("a personal tenant whose every member was removed is not recreated for them", async () => {
      await setPolicy(sql, [{ strategy: "personal", role: "owner" }]);
      const user = await createUser(sql);
      const first = await resolveAs(sql, user);
      await sql`delete from tenancy.memberships where tenant_id = ${first.tenant_uuid}`;
      await assertSqlState(resolveAs(sql, user), "TNNOT");
      // Deleting the tenant itself (after the removal, or instead of it) changes nothing.
      const other = await createUser(sql);
      const personal = await resolveAs(sql, other);
      await sql`delete from tenancy.tenants where id = ${personal.tenant_uuid}`;
      assert.deepEqual(await tombstones(db, other.id), [personal.tenant_uuid]);
      await assertSqlState(resolveAs(sql, other), "TNNOT");
      const [{ count }] =
        await sql`select count(*)::int from tenancy.memberships where user_id in (${user.id}, ${other.id})`;
      assert.equal(count, 0);
    });

    await t.step("an invitation pending from before the removal does not bring the user back", async () => {
      const acme = await createTenant(sql, "Acme", "acme-stale");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('stale.example', ${acme})`;
      await setPolicy(sql, [{ strategy: "domain" }, { strategy: "invitation" }]);
      const user = await createUser(sql, { email: "ivy@stale.example" });
      await invite(db, acme, "ivy@stale.example");
      assert.equal((await resolveAs(sql, user)).role, "user"); // joined by domain; the invitation is unused
      await sql`update tenancy.invitations set created_at = now() - interval '1 minute' where email = 'ivy@stale.example'`;
      await sql`delete from tenancy.memberships where user_id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNNOT");
      const [invitation] =
        await sql`select accepted_at from tenancy.invitations where email = 'ivy@stale.example'`;
      assert.equal(invitation.accepted_at, null);
    });

    await t.step("a new invitation brings the user back and clears the tombstone", async () => {
      const acme = await createTenant(sql, "Acme", "acme-back");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('back.example', ${acme})`;
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      const user = await createUser(sql, { email: "kay@back.example" });
      await resolveAs(sql, user);
      await sql`delete from tenancy.memberships where user_id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNNOT");
      await invite(db, acme, "kay@back.example");
      const back = await resolveAs(sql, user);
      assert.deepEqual([back.tenant_id, back.role, back.provisioned], ["acme-back", "editor", true]);
      assert.deepEqual(await tombstones(db, user.id), []);
    });

    await t.step(
      "a removed member who requests the tenant gets it only through a new invitation",
      async () => {
        const home = await createTenant(sql, "Home", "home-req");
        const other = await createTenant(sql, "Other", "other-req");
        const user = await createUser(sql, { email: "req@req.example" });
        await sql`insert into tenancy.memberships (tenant_id, user_id, is_default)
                values (${home}, ${user.id}, true), (${other}, ${user.id}, false)`;
        await invite(db, other, "req@req.example");
        await sql`update tenancy.invitations set created_at = now() - interval '1 minute' where email = 'req@req.example'`;
        await sql`delete from tenancy.memberships where user_id = ${user.id} and tenant_id = ${other}`;
        await assertSqlState(resolveAs(sql, user, "other-req"), "TNMEM");
        await invite(db, other, "req@req.example");
        assert.equal((await resolveAs(sql, user, "other-req")).tenant_uuid, other);
      },
    );

    await t.step("an operator adding the membership back clears the tombstone", async () => {
      const tenant = await createTenant(sql, "Readd", "readd");
      const user = await createUser(sql);
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.id})`;
      await sql`delete from tenancy.memberships where user_id = ${user.id}`;
      assert.deepEqual(await tombstones(db, user.id), [tenant]);
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.id})`;
      assert.deepEqual(await tombstones(db, user.id), []);
    });

    await t.step("deleting a user still cascades cleanly, and leaves no tombstone", async () => {
      const tenant = await createTenant(sql, "Cascade", "cascade");
      const removedFrom = await createTenant(sql, "Earlier", "earlier");
      const user = await createUser(sql);
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.id}), (${removedFrom}, ${user.id})`;
      await sql`delete from tenancy.memberships where user_id = ${user.id} and tenant_id = ${removedFrom}`;
      assert.deepEqual(await tombstones(db, user.id), [removedFrom]);
      await db.sql`delete from auth.users where id = ${user.id}`;
      assert.deepEqual(await memberships(db, user.id), []);
      assert.deepEqual(await tombstones(db, user.id), []);
    });
  } finally {
    await db.close();
  }
});
