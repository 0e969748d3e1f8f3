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

async function invite(
  db: TestDatabase,
  tenantId: string,
  email: string,
  options: { expired?: boolean } = {},
) {
  await db.sql`insert into tenancy.invitations (tenant_id, email, role, expires_at)
               values (${tenantId}, ${email}, 'editor',
                       ${
    options.expired ? db.sql`now() - interval '1 minute'` : db.sql`now() + interval '1 day'`
  })`;
}

Deno.test("tenancy.resolve_tenant()", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor", "staff");
  try {
    await t.step("a returning member gets their default tenant, with external_id as the claim", async () => {
      const user = await createUser(sql);
      const tenant = await createTenant(sql, "Acme", "acme-42");
      await sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                values (${tenant}, ${user.id}, 'admin', true)`;
      assert.deepEqual({ ...(await resolveAs(sql, user)) }, {
        tenant_id: "acme-42",
        tenant_uuid: tenant,
        role: "admin",
        provisioned: false,
        email: user.email,
      });
    });

    await t.step("the claim is the tenant uuid when no external_id is set", async () => {
      const user = await createUser(sql);
      const tenant = await createTenant(sql, "No external id");
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.id})`;
      const row = await resolveAs(sql, user);
      assert.equal(row.tenant_id, tenant);
      assert.equal(row.role, "user");
    });

    await t.step("a requested tenant of the caller's is returned, by id or by external_id", async () => {
      const user = await createUser(sql);
      const first = await createTenant(sql, "First", "first");
      const second = await createTenant(sql, "Second", "second");
      await sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values
                (${first}, ${user.id}, true), (${second}, ${user.id}, false)`;
      assert.equal((await resolveAs(sql, user)).tenant_id, "first");
      assert.equal((await resolveAs(sql, user, "second")).tenant_uuid, second);
      assert.equal((await resolveAs(sql, user, second)).tenant_id, "second");
    });

    await t.step("a tenant the caller is not a member of is refused with TNMEM", async () => {
      const user = await createUser(sql);
      const mine = await createTenant(sql, "Mine");
      const theirs = await createTenant(sql, "Theirs", "theirs");
      await sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${mine}, ${user.id}, true)`;
      await assertSqlState(resolveAs(sql, user, "theirs"), "TNMEM");
      await assertSqlState(resolveAs(sql, user, theirs), "TNMEM");
      await assertSqlState(resolveAs(sql, user, "does-not-exist"), "TNMEM");
    });

    await t.step("without any strategy that applies, a new user gets TNNOT", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      await assertSqlState(resolveAs(sql, await createUser(sql)), "TNNOT");
    });

    await t.step("a pending invitation for a confirmed email is accepted, once", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "personal" }]);
      const tenant = await createTenant(sql, "Inviting", "inviting");
      const user = await createUser(sql, { email: "invited@example.org" });
      await invite(db, tenant, "invited@example.org");
      assert.deepEqual({ ...(await resolveAs(sql, user)) }, {
        tenant_id: "inviting",
        tenant_uuid: tenant,
        role: "editor",
        provisioned: true,
        email: "invited@example.org",
      });
      const [invitation] = await sql`select accepted_at, accepted_by from tenancy.invitations
                                      where tenant_id = ${tenant}`;
      assert.equal(invitation.accepted_by, user.id);
      assert.ok(invitation.accepted_at instanceof Date);
      // The second exchange is a returning member's, and the invitation is not used again.
      assert.equal((await resolveAs(sql, user)).provisioned, false);
      const [{ count }] =
        await sql`select count(*)::int from tenancy.memberships where tenant_id = ${tenant}`;
      assert.equal(count, 1);
    });

    await t.step("an invitation matches the email case-insensitively", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }]);
      const tenant = await createTenant(sql, "Case");
      const user = await createUser(sql, { email: "Mixed.Case@Example.org" });
      await invite(db, tenant, "mixed.case@example.org");
      assert.equal((await resolveAs(sql, user)).tenant_uuid, tenant);
    });

    await t.step("an unconfirmed email never matches an invitation or a domain claim", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      const tenant = await createTenant(sql, "Guarded");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('guarded.example', ${tenant})`;
      await invite(db, tenant, "eve@guarded.example");
      const eve = await createUser(sql, { email: "eve@guarded.example", confirmed: false });
      await assertSqlState(resolveAs(sql, eve), "TNNOT");
      const [invitation] =
        await sql`select accepted_at from tenancy.invitations where email = 'eve@guarded.example'`;
      assert.equal(invitation.accepted_at, null);
    });

    await t.step("an expired invitation never matches", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }]);
      const tenant = await createTenant(sql, "Expired");
      await invite(db, tenant, "late@example.net", { expired: true });
      await assertSqlState(resolveAs(sql, await createUser(sql, { email: "late@example.net" })), "TNNOT");
    });

    await t.step("an accepted invitation does not match again for another account", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }]);
      const tenant = await createTenant(sql, "Once");
      await invite(db, tenant, "once@example.net");
      const first = await createUser(sql, { email: "once@example.net" });
      assert.equal((await resolveAs(sql, first)).tenant_uuid, tenant);
      // The same address on a new account (the first one deleted) finds nothing left to accept.
      await sql`delete from auth.users where id = ${first.id}`;
      await assertSqlState(resolveAs(sql, await createUser(sql, { email: "once@example.net" })), "TNNOT");
    });

    await t.step("a member invited to another tenant joins it by requesting it", async () => {
      await setPolicy(sql, [{ strategy: "personal" }]);
      const user = await createUser(sql, { email: "multi@example.net" });
      const personal = await resolveAs(sql, user);
      const other = await createTenant(sql, "Other", "other");
      await invite(db, other, "multi@example.net");
      const joined = await resolveAs(sql, user, "other");
      assert.deepEqual([joined.tenant_uuid, joined.role, joined.provisioned], [other, "editor", true]);
      // The default stays the first tenant.
      assert.equal((await resolveAs(sql, user)).tenant_uuid, personal.tenant_uuid);
    });

    await t.step(
      "a domain claim matches the exact domain of a confirmed email, not a subdomain",
      async () => {
        await setPolicy(sql, [{ strategy: "domain" }]);
        const tenant = await createTenant(sql, "Corp", "corp");
        await sql`insert into tenancy.domain_claims (domain, tenant_id, role) values ('corp.example', ${tenant}, 'staff')`;
        const row = await resolveAs(sql, await createUser(sql, { email: "Ann@Corp.Example" }));
        assert.deepEqual([row.tenant_id, row.role, row.provisioned], ["corp", "staff", true]);
        await assertSqlState(
          resolveAs(sql, await createUser(sql, { email: "bob@eu.corp.example" })),
          "TNNOT",
        );
        await assertSqlState(
          resolveAs(sql, await createUser(sql, { email: "mal@evilcorp.example" })),
          "TNNOT",
        );
      },
    );

    await t.step("personal creates a tenant of the user's own, with the policy's role", async () => {
      await setPolicy(sql, [{ strategy: "personal", role: "owner" }]);
      const user = await createUser(sql);
      const row = await resolveAs(sql, user);
      assert.deepEqual([row.role, row.provisioned, row.tenant_id], ["owner", true, row.tenant_uuid]);
      const [{ count }] =
        await sql`select count(*)::int from tenancy.memberships where tenant_id = ${row.tenant_uuid}`;
      assert.equal(count, 1);
    });

    await t.step("the email comes from auth.users, and only once it is proven", async () => {
      await setPolicy(sql, [{ strategy: "personal" }]);
      const unconfirmed = await createUser(sql, { email: "new@example.net", confirmed: false });
      assert.equal((await resolveAs(sql, unconfirmed)).email, null);
      await sql`update auth.users set email_confirmed_at = now() where id = ${unconfirmed.id}`;
      assert.equal((await resolveAs(sql, unconfirmed)).email, null, "confirmed, but no identity verified it");
      await sql`update auth.identities set identity_data = identity_data || '{"email_verified": true}'
                 where user_id = ${unconfirmed.id}`;
      assert.equal((await resolveAs(sql, unconfirmed)).email, "new@example.net");
      // A claim in the token does not count; the row does.
      const spoofed = { ...unconfirmed, claims: { ...unconfirmed.claims, email: "ceo@example.net" } };
      assert.equal((await resolveAs(sql, spoofed)).email, "new@example.net");
    });

    await t.step("an anonymous user never gets a personal tenant", async () => {
      await setPolicy(sql, [{ strategy: "personal" }]);
      await assertSqlState(resolveAs(sql, await createUser(sql, { anonymous: true })), "TNNOT");
    });

    await t.step("default joins the configured tenant", async () => {
      const shared = await createTenant(sql, "Everyone", "everyone");
      await setPolicy(sql, [{ strategy: "default", default_tenant_id: shared }]);
      const row = await resolveAs(sql, await createUser(sql));
      assert.deepEqual([row.tenant_id, row.role, row.provisioned], ["everyone", "user", true]);
    });

    await t.step("strategies are tried in the policy's order", async () => {
      const shared = await createTenant(sql, "Fallback", "fallback");
      const corp = await createTenant(sql, "Ordered", "ordered");
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('ordered.example', ${corp})`;
      const invited = await createTenant(sql, "Invited first", "invited-first");
      await invite(db, invited, "pat@ordered.example");

      await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }, {
        strategy: "default",
        default_tenant_id: shared,
      }]);
      assert.equal(
        (await resolveAs(sql, await createUser(sql, { email: "pat@ordered.example" }))).tenant_id,
        "invited-first",
      );
      assert.equal(
        (await resolveAs(sql, await createUser(sql, { email: "sam@ordered.example" }))).tenant_id,
        "ordered",
      );
      assert.equal(
        (await resolveAs(sql, await createUser(sql, { email: "kim@else.example" }))).tenant_id,
        "fallback",
      );

      await setPolicy(sql, [{ strategy: "default", default_tenant_id: shared }, { strategy: "domain" }]);
      assert.equal(
        (await resolveAs(sql, await createUser(sql, { email: "lee@ordered.example" }))).tenant_id,
        "fallback",
      );
    });

    await t.step("a requested tenant that provisioning did not give is TNMEM", async () => {
      const shared = await createTenant(sql, "Shared", "shared");
      await createTenant(sql, "Private", "private");
      await setPolicy(sql, [{ strategy: "default", default_tenant_id: shared }]);
      await assertSqlState(resolveAs(sql, await createUser(sql), "private"), "TNMEM");
    });
  } finally {
    await db.close();
  }
});

Deno.test("tenancy.resolve_tenant() rejects a caller Supabase Auth would reject", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  await allowRoles(sql, "editor", "staff");
  try {
    const shared = await createTenant(sql, "Everyone");
    await setPolicy(sql, [{ strategy: "default", default_tenant_id: shared }]);

    await t.step("a deleted user", async () => {
      const user = await createUser(sql);
      await sql`delete from auth.users where id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNAUT");
    });

    await t.step("a soft-deleted user", async () => {
      const user = await createUser(sql);
      await resolveAs(sql, user);
      await sql`update auth.users set deleted_at = now() where id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNAUT");
    });

    await t.step("a banned user, until the ban ends", async () => {
      const user = await createUser(sql);
      await sql`update auth.users set banned_until = now() + interval '1 hour' where id = ${user.id}`;
      await assertSqlState(resolveAs(sql, user), "TNAUT");
      await sql`update auth.users set banned_until = now() - interval '1 second' where id = ${user.id}`;
      assert.equal((await resolveAs(sql, user)).tenant_uuid, shared);
    });

    await t.step("a revoked (deleted) session, and one past not_after", async () => {
      const user = await createUser(sql);
      assert.equal((await resolveAs(sql, user)).tenant_uuid, shared);
      await sql`update auth.sessions set not_after = now() - interval '1 second' where id = ${user.sessionId}`;
      await assertSqlState(resolveAs(sql, user), "TNAUT");
      await sql`delete from auth.sessions where id = ${user.sessionId}`;
      await assertSqlState(resolveAs(sql, user), "TNAUT");
    });

    await t.step("another user's session id", async () => {
      const alice = await createUser(sql);
      const bob = await createUser(sql);
      await assertSqlState(
        resolveAs(sql, { ...alice, claims: { ...alice.claims, session_id: bob.sessionId } }),
        "TNAUT",
      );
    });

    await t.step("claims without a session, a user id or the authenticated role", async () => {
      const user = await createUser(sql);
      const { session_id: _, ...noSession } = user.claims;
      await assertSqlState(resolveAs(sql, { ...user, claims: noSession }), "TNAUT");
      await assertSqlState(
        resolveAs(sql, { ...user, claims: { ...user.claims, session_id: "not-a-uuid" } }),
        "TNAUT",
      );
      await assertSqlState(
        resolveAs(sql, { ...user, claims: { ...user.claims, sub: "not-a-uuid" } }),
        "TNAUT",
      );
      await assertSqlState(
        resolveAs(sql, { ...user, claims: { ...user.claims, role: "service_role" } }),
        "TNAUT",
      );
    });
  } finally {
    await db.close();
  }
});
