/**
 * Only a proven address joins a tenant (issue 12, finding 1), in the database: the states GoTrue leaves in
 * `auth.users` and `auth.identities`, written by hand, and what `tenancy.resolve_tenant()` makes of them.
 * The same states reached through the Auth emulator's own flows are in
 * `tests/function/email_proof_paths_test.ts` and `tests/hostile/`.
 */
import assert from "node:assert/strict";
import { asRole, createTenant, createUser, openTestDatabase, resolveAs, setPolicy } from "../_db.ts";

async function assertNoTenant(promise: Promise<unknown>) {
  await assert.rejects(promise, (err: { code?: string }) => {
    assert.equal(err.code, "TNNOT");
    return true;
  });
}

Deno.test("tenancy.resolve_tenant() trusts an address only when proven", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  const tenant = await createTenant(sql, "Acme", "acme");
  const invite = (email: string) =>
    sql`insert into tenancy.invitations (tenant_id, email, role) values (${tenant}, ${email}, 'admin')`;
  const setIdentity = (userId: string, data: Record<string, unknown>) =>
    sql`update auth.identities set identity_data = identity_data || ${sql.json(data as never)}
         where user_id = ${userId}`;
  try {
    await t.step("a confirmed, verified, current address takes its invitation", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }]);
      await invite("ceo@acme.test");
      const row = await resolveAs(sql, await createUser(sql, { email: "ceo@acme.test" }));
      assert.deepEqual([row.tenant_id, row.role, row.email], ["acme", "admin", "ceo@acme.test"]);
    });

    await t.step("confirmed without a verified identity (autoconfirm sign-up): no invitation", async () => {
      await setPolicy(sql, [{ strategy: "invitation" }]);
      await invite("cfo@acme.test");
      const user = await createUser(sql, { email: "CFO@acme.test", emailVerified: false });
      await assertNoTenant(resolveAs(sql, user));
      const [pending] = await sql`select accepted_at from tenancy.invitations where email = 'cfo@acme.test'`;
      assert.equal(pending.accepted_at, null, "the invitation waits for its real owner");
    });

    await t.step("confirmed without a verified identity: no domain claim, and email null", async () => {
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('acme.test', ${tenant})`;
      await setPolicy(sql, [{ strategy: "domain" }, { strategy: "personal" }]);
      const row = await resolveAs(
        sql,
        await createUser(sql, { email: "intruder@acme.test", emailVerified: false }),
      );
      assert.notEqual(row.tenant_id, "acme");
      assert.equal(row.email, null);
    });

    await t.step("an identity verified for another address does not prove the current one", async () => {
      // An admin email change: auth.users.email moves, email_confirmed_at stays, and the identity now
      // holds the new address with email_verified false; a stale verified identity of the old address
      // (another provider's) proves only the old one.
      await setPolicy(sql, [{ strategy: "domain" }]);
      const user = await createUser(sql, { email: "old@elsewhere.test" });
      await sql`insert into auth.identities (provider_id, user_id, identity_data, provider)
                values ('gh-1', ${user.id}, ${
        sql.json({ sub: "gh-1", email: "old@elsewhere.test", email_verified: true } as never)
      }, 'github')`;
      await sql`update auth.users set email = 'boss@acme.test' where id = ${user.id}`;
      await sql`update auth.identities set identity_data = identity_data
                   || '{"email": "boss@acme.test", "email_verified": false}'
                 where user_id = ${user.id} and provider = 'email'`;
      await assertNoTenant(resolveAs(sql, user));
    });

    await t.step("an OAuth identity whose provider verified the current address proves it", async () => {
      await setPolicy(sql, [{ strategy: "domain" }]);
      const user = await createUser(sql, { email: "Dev@Acme.test", emailVerified: false });
      await sql`insert into auth.identities (provider_id, user_id, identity_data, provider)
                values ('gh-2', ${user.id}, ${
        sql.json({ sub: "gh-2", email: "dev@acme.test", email_verified: true } as never)
      }, 'github')`;
      const row = await resolveAs(sql, user);
      assert.deepEqual([row.tenant_id, row.email], ["acme", "dev@acme.test"]);
    });

    await t.step("email_verified counts only as the JSON boolean true, as GoTrue reads it", async () => {
      await setPolicy(sql, [{ strategy: "domain" }]);
      for (const flag of ["true", 1, "yes"]) {
        const user = await createUser(sql, { email: `s-${flag}@acme.test`, emailVerified: false });
        await setIdentity(user.id, { email_verified: flag });
        await assertNoTenant(resolveAs(sql, user));
      }
    });

    await t.step("an unconfirmed user is not proven, whatever the identity says", async () => {
      await setPolicy(sql, [{ strategy: "domain" }]);
      const user = await createUser(sql, { email: "early@acme.test", confirmed: false, emailVerified: true });
      await assertNoTenant(resolveAs(sql, user));
    });

    await t.step(
      "when the project autoconfirms, nothing is proven: no invitation, no domain, email null",
      async () => {
        await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }, { strategy: "personal" }]);
        await invite("cto@acme.test");
        const user = await createUser(sql, { email: "cto@acme.test" });
        const row = await resolveAs(sql, user, null, { emailTrusted: false });
        assert.notEqual(row.tenant_id, "acme", "a personal tenant, not the invitation's");
        assert.equal(row.email, null);
        // Once the project confirms by mail again, the same user's verified address counts.
        const again = await resolveAs(sql, user, "acme");
        assert.deepEqual([again.tenant_id, again.email], ["acme", "cto@acme.test"]);
      },
    );

    await t.step("without the exchange's setting, resolve_tenant fails closed", async () => {
      await setPolicy(sql, [{ strategy: "domain" }]);
      const user = await createUser(sql, { email: "bare@acme.test" });
      await assertNoTenant(
        asRole(sql, "authenticated", user.claims, (tx) => tx`select * from tenancy.resolve_tenant()`, {
          commit: true,
        }),
      );
      // A claim in the token does not set it either.
      const claimed = { ...user.claims, "tenancy.email_trusted": "on", email_trusted: true };
      await assertNoTenant(
        asRole(sql, "authenticated", claimed, (tx) => tx`select * from tenancy.resolve_tenant()`, {
          commit: true,
        }),
      );
    });
  } finally {
    await db.close();
  }
});
