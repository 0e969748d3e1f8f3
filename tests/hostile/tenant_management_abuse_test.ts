/**
 * Hostile replay of "Safe to deploy, round 2", findings 2, 3, 4, 5 and 7, as written and from outside:
 * supabase-js and plain HTTP through the local stack's gateway (confirmations on, anonymous sign-ins on,
 * self-service on), the operator's SQL as `postgres`, mail read from the stack's mailbox.
 *
 * Before: an anonymous session created a tenant and mailed invitations to anyone (2); one user created 1,025
 * tenants in 4.6 s (3); an admin gave themself `billing_admin` and the next backend token carried it (4); a
 * manager who invited, let accept and removed a new user denied them a personal tenant for good (5); claims on
 * hey.com, tutanota.com and mailbox.org were accepted (7). Finding 6 is replayed in accept_revoke_race_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { startStack } from "../../dev/stack.ts";
import { mailsTo, signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";
import { invoke } from "./_gateway.ts";

Deno.test("findings 2, 3, 4, 5 and 7 replayed: managing tenants is bounded", async (t) => {
  const stack = await startStack({ authConfig: { enableAnonymousSignIns: true } });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
  const newUser = (name: string) =>
    signUpByMail(mailed, `${name}-${crypto.randomUUID().slice(0, 6)}@corp.test`, PASSWORD);
  try {
    await sql`update tenancy.management_settings set self_service_tenants = true`;

    await t.step(
      "2: an anonymous session creates no tenant, invites nobody, and manages nothing it owns",
      async () => {
        const anon = createClient(stack.apiUrl, stack.publishableKey, {
          auth: { persistSession: false, autoRefreshToken: false },
        });
        const { data, error } = await anon.auth.signInAnonymously();
        assert.equal(error, null);
        const token = data.session!.access_token;
        const created = await invoke(stack, token, "POST", "/tenants", { name: "Anon Inc" });
        assert.deepEqual([created.status, created.body.error], [403, "forbidden"]);
        assert.match(created.body.message, /anonymous/i);

        // A tenant an anonymous user already owns (made before this fix) stays, but they cannot run it.
        const [owned] = await sql`insert into tenancy.tenants (name) values ('Old anon tenant') returning id`;
        await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${owned.id}, ${
          data.user!.id
        }, 'owner')`;
        const stranger = `stranger-${crypto.randomUUID().slice(0, 6)}@elsewhere.test`;
        const invited = await invoke(stack, token, "POST", `/tenants/${owned.id}/invitations`, {
          email: stranger,
        });
        assert.deepEqual([invited.status, invited.body.error], [403, "forbidden"]);
        const renamed = await invoke(stack, token, "PATCH", `/tenants/${owned.id}`, { name: "Mine" });
        assert.equal(renamed.status, 403);
        await assert.rejects(mailsTo(stack.mailboxUrl, stranger, 1, 500), /0 of 1 mails/);
        // Reading, choosing a default and leaving stay open.
        assert.equal((await invoke(stack, token, "GET", `/tenants/${owned.id}/members`)).status, 200);
        assert.equal((await invoke(stack, token, "PUT", `/tenants/${owned.id}/default`)).status, 200);
      },
    );

    await t.step(
      "3: 50 creations at once by one user: 10 tenants, the rest refused, none a 5xx",
      async () => {
        const user = await newUser("flooder");
        const statuses = await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) => invoke(stack, user.accessToken, "POST", "/tenants", { name: `T${i}` }),
          ),
        );
        const tally: Record<number, number> = {};
        for (const { status } of statuses) {
          tally[status] = (tally[status] ?? 0) + 1;
        }
        console.log(`50 concurrent tenant creations by one user: ${JSON.stringify(tally)}`);
        assert.equal(tally[201], 10);
        assert.equal((tally[409] ?? 0) + (tally[429] ?? 0), 40);
        const [owned] =
          await sql`select count(*)::int as n from tenancy.tenants where created_by = ${user.userId}`;
        assert.equal(owned.n, 10);
      },
    );

    await t.step("3: past the hourly rate, 429 with Retry-After", async () => {
      await sql`update tenancy.management_settings set max_self_service_tenants_per_user = 100`;
      try {
        const user = await newUser("hourly");
        for (let i = 0; i < 10; i++) {
          assert.equal(
            (await invoke(stack, user.accessToken, "POST", "/tenants", { name: `H${i}` })).status,
            201,
          );
        }
        const refused = await invoke(stack, user.accessToken, "POST", "/tenants", { name: "H10" });
        assert.deepEqual([refused.status, refused.body.error], [429, "rate_limited"]);
        assert.ok(Number(refused.headers.get("retry-after")) > 3000);
      } finally {
        await sql`update tenancy.management_settings set max_self_service_tenants_per_user = 10`;
      }
    });

    await t.step("4: an admin can neither give themself a made-up role nor change their own", async () => {
      const owner = await newUser("owner");
      const admin = await newUser("admin");
      const [corp] =
        await sql`insert into tenancy.tenants (name, external_id) values ('Corp', 'corp-4') returning id`;
      await sql`insert into tenancy.memberships (tenant_id, user_id, role)
                values (${corp.id}, ${owner.userId}, 'owner'), (${corp.id}, ${admin.userId}, 'admin')`;
      const path = `/tenants/corp-4/members/${admin.userId}`;
      const madeUp = await invoke(stack, admin.accessToken, "PATCH", path, { role: "billing_admin" });
      assert.deepEqual([madeUp.status, madeUp.body.error], [400, "invalid_request"]);
      assert.match(madeUp.body.message, /admin, owner, user/);
      const own = await invoke(stack, admin.accessToken, "PATCH", path, { role: "user" });
      assert.deepEqual([own.status, own.body.error], [403, "forbidden"]);
      const exchanged = await invoke(stack, admin.accessToken, "POST", "/exchange-token", {
        tenant_id: "corp-4",
      });
      assert.equal(exchanged.body.role, "admin");
      // The owner may give a role the operator listed, and not one they did not.
      const listed = await invoke(stack, owner.accessToken, "PATCH", path, { role: "user" });
      assert.equal(listed.status, 200);
      const unlisted = await invoke(stack, owner.accessToken, "PATCH", path, { role: "billing_admin" });
      assert.equal(unlisted.status, 400);
    });

    await t.step("5: invite, accept, remove: the removed user still gets their personal tenant", async () => {
      const owner = await newUser("boss");
      const [corp] =
        await sql`insert into tenancy.tenants (name, external_id) values ('Corp', 'corp-5') returning id`;
      await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${corp.id}, ${owner.userId}, 'owner')`;
      const email = `newcomer-${crypto.randomUUID().slice(0, 6)}@elsewhere.test`;
      const newcomer = await signUpByMail(mailed, email, PASSWORD);
      const invited = await invoke(stack, owner.accessToken, "POST", "/tenants/corp-5/invitations", {
        email,
      });
      assert.equal(invited.status, 201);
      const first = await invoke(stack, newcomer.accessToken, "POST", "/exchange-token");
      assert.equal(first.body.tenant_id, "corp-5", "the first exchange accepts the invitation");
      const removed = await invoke(
        stack,
        owner.accessToken,
        "DELETE",
        `/tenants/corp-5/members/${newcomer.userId}`,
      );
      assert.equal(removed.status, 200);
      const next = await invoke(stack, newcomer.accessToken, "POST", "/exchange-token");
      assert.deepEqual([next.status, next.body.role], [200, "owner"], JSON.stringify(next.body));
      assert.notEqual(next.body.tenant_id, "corp-5");
      const back = await invoke(stack, newcomer.accessToken, "POST", "/exchange-token", {
        tenant_id: "corp-5",
      });
      assert.equal(back.status, 403, "the removal itself still sticks");
    });

    await t.step("7: claims on paid and private mail providers are refused", async () => {
      const [corp] = await sql`insert into tenancy.tenants (name) values ('Claimer') returning id`;
      for (const domain of ["hey.com", "tutanota.com", "mailbox.org"]) {
        await assert.rejects(
          sql`insert into tenancy.domain_claims (domain, tenant_id) values (${domain}, ${corp.id})`,
          (err: { code: string }) => err.code === "TNPUB",
          domain,
        );
      }
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
});
