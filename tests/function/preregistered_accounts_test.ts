/**
 * No pre-registered account gets an invitation (issue "Safe to deploy, round 2", finding 1), through the
 * `tenants` function's real handler, the Auth emulator and Postgres: an unconfirmed sign-up holding the
 * address is deleted before Auth's invite, and a sign-up racing in between the delete and the invite is
 * caught afterwards, its user deleted with the mailed link. `tests/hostile/account_prehijack_test.ts` replays
 * the attack through the local stack.
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { createTenant } from "../_db.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { call, openManagementHarness, provenUser, send } from "./_management_setup.ts";

// Not the shared PASSWORD: the attacker's sign-in must fail once the invitation replaced the squatted account.
const ATTACKER_PASSWORD = "the attacker's own password";

Deno.test("invitations to pre-registered addresses", async (t) => {
  const h = await openManagementHarness();
  const client = () =>
    createClient(h.auth.url, h.auth.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const usersAt = async (email: string) =>
    await h.db
      .sql`select id, encrypted_password <> '' as has_password from auth.users where email = ${email}`;
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "acme");
    const owner = await provenUser(h.auth);
    await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${acme}, ${owner.userId}, 'owner')`;

    await t.step(
      "the stranger's unconfirmed account is deleted, and the invite makes a fresh one",
      async () => {
        const email = "new.hire@corp.test";
        const attacker = client();
        const signedUp = await attacker.auth.signUp({ email, password: ATTACKER_PASSWORD });
        assert.equal(signedUp.error, null);
        const [squatted] = await usersAt(email);
        const invited = await send(
          h.tenants,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email, role: "admin" }),
        );
        assert.deepEqual([invited.status, invited.body.email_sent], [201, true]);
        const [fresh] = await usersAt(email);
        assert.notEqual(fresh.id, squatted.id);
        assert.equal(fresh.has_password, false);

        const [invite] = (await mailsTo(h.mailbox.url, email, 2)).filter((m) =>
          m.subject === "You've been invited"
        );
        const { fragment } = await followLink(invite.link);
        assert.ok(fragment.access_token, "the address's owner is signed in by the invite");
        const refused = await client().auth.signInWithPassword({ email, password: ATTACKER_PASSWORD });
        assert.equal(refused.error?.code, "invalid_credentials");
      },
    );

    await t.step(
      "a sign-up racing the invite is caught: no mail counts as sent, and its link is dead",
      async () => {
        const email = "racing.hire@corp.test";
        await client().auth.signUp({ email, password: ATTACKER_PASSWORD });
        // Auth answers the function's delete, then the attacker signs up again before the invite goes out.
        let raced = false;
        const racing: typeof fetch = async (input, init) => {
          const res = await fetch(input, init);
          if (!raced && init?.method === "DELETE" && String(input).includes("/admin/users/")) {
            raced = true;
            const again = await client().auth.signUp({ email, password: ATTACKER_PASSWORD });
            assert.equal(again.error, null);
          }
          return res;
        };
        const tenants = h.appWith("tenants", {}, { fetch: racing });
        const invited = await send(
          tenants,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email, role: "admin" }),
        );
        assert.ok(raced, "the race ran");
        assert.deepEqual([invited.status, invited.body.email_sent], [201, false]);
        const [failure] = await sql`select after from tenancy.audit_log
                                   where tenant_id = ${acme} and action = 'invitation.mail_failed'
                                   order by id desc limit 1`;
        assert.deepEqual(failure.after, { reason: "preregistered_account" });
        assert.equal((await usersAt(email)).length, 0, "the raced account is gone");
        const [invite] = (await mailsTo(h.mailbox.url, email, 3)).filter((m) =>
          m.subject === "You've been invited"
        );
        const dead = await followLink(invite.link);
        assert.equal(dead.fragment.access_token, undefined, "the mailed link signs nobody in");
        const refused = await client().auth.signInWithPassword({ email, password: ATTACKER_PASSWORD });
        assert.equal(refused.error?.code, "invalid_credentials");

        // The manager sends it again (revoke, invite): the owner of the address gets a working invitation.
        const id = (invited.body.invitation as Record<string, unknown>).id;
        await send(h.tenants, call(owner.accessToken, "DELETE", `/tenants/acme/invitations/${id}`));
        const again = await send(
          h.tenants,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email, role: "admin" }),
        );
        assert.equal(again.body.email_sent, true);
        const invites = (await mailsTo(h.mailbox.url, email, 4)).filter((m) =>
          m.subject === "You've been invited"
        );
        const { fragment } = await followLink(invites[0].link);
        assert.ok(fragment.access_token);
      },
    );

    await t.step("an unconfirmed account someone signed in to is neither deleted nor invited", async () => {
      const email = "oauth.user@corp.test";
      await client().auth.signUp({ email, password: ATTACKER_PASSWORD });
      await sql`update auth.users set last_sign_in_at = now() where email = ${email}`;
      const [before] = await usersAt(email);
      const invited = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email, role: "user" }),
      );
      assert.deepEqual([invited.status, invited.body.email_sent], [201, false]);
      assert.deepEqual((await usersAt(email)).map((u) => u.id), [before.id]);
      const mails = await mailsTo(h.mailbox.url, email);
      assert.ok(mails.every((m) => m.subject !== "You've been invited"));
    });
  } finally {
    await h.close();
  }
});
