/**
 * Hostile replay of "Safe to deploy, round 2", finding 1 (High), account pre-hijacking through the
 * invitation mail, as written and from outside: supabase-js and plain HTTP through the local stack's gateway
 * (confirmations on, as production), the operator's SQL as `postgres`, mail read from the stack's mailbox.
 *
 * Before: the attacker signed up first with the victim's address and a password of their own; Auth's invite
 * re-used that unconfirmed user, the victim's click confirmed it, and the attacker signed in with their
 * password, accepted the invitation and exchanged as admin. A variant needed no real invitation: the
 * attacker invited the victim from their own personal tenant, revoked it after the click, and the company's
 * domain claim admitted them. Now the function deletes the unconfirmed account before the invite: the
 * attacker's password is gone, and the victim's account is theirs alone.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { followLink, mailsTo, signUpByMail } from "../_mail.ts";
import { client, invoke } from "./_gateway.ts";

// Not the shared PASSWORD: a sign-in must tell the attacker's password from the victim's.
const ATTACKER_PASSWORD = "the attacker's own password";
const VICTIM_PASSWORD = "the victim's own password";

/** The victim follows the newest invitation mail to their address, as they expected to. */
async function victimFollowsInvite(stack: LocalStack, email: string, mails: number): Promise<string> {
  const [invite] = (await mailsTo(stack.mailboxUrl, email, mails)).filter((m) =>
    m.subject === "You've been invited"
  );
  const { fragment } = await followLink(invite.link);
  assert.ok(fragment.access_token, "the invite signs its recipient in");
  return fragment.access_token;
}

/** The victim, signed in by the invite, sets a password of their own, as the app then asks. */
async function victimSetsPassword(stack: LocalStack, token: string): Promise<void> {
  const set = await fetch(`${stack.apiUrl}/auth/v1/user`, {
    method: "PUT",
    headers: {
      authorization: `Bearer ${token}`,
      apikey: stack.publishableKey,
      "content-type": "application/json",
    },
    body: JSON.stringify({ password: VICTIM_PASSWORD }),
  });
  assert.equal(set.status, 200);
  await set.body?.cancel();
}

Deno.test("finding 1 replayed: no pre-registered account gets an invitation", async (t) => {
  const stack = await startStack();
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
  try {
    await sql`insert into tenancy.tenants (name, external_id) values ('Corp', 'corp')`;
    await sql`insert into tenancy.domain_claims (domain, tenant_id, role)
              select 'corp.test', id, 'user' from tenancy.tenants where external_id = 'corp'`;
    const manager = await signUpByMail(mailed, "manager@corp.test", "the manager's password");
    assert.equal(
      (await invoke(stack, manager.accessToken, "POST", "/exchange-token")).body.tenant_id,
      "corp",
    );
    await sql`update tenancy.memberships set role = 'owner' where user_id = ${manager.userId}`;

    await t.step(
      "the attacker's sign-up is reset by the invitation, and their password no longer works",
      async () => {
        const email = "new.hire@corp.test";
        const attacker = client(stack);
        const early = await attacker.auth.signUp({ email, password: ATTACKER_PASSWORD });
        assert.equal(early.error, null);
        assert.equal(early.data.session, null, "unconfirmed: no session");

        const invited = await invoke(stack, manager.accessToken, "POST", "/tenants/corp/invitations", {
          email,
          role: "admin",
        });
        assert.deepEqual([invited.status, invited.body.email_sent], [201, true]);
        // The mails so far: the attacker's sign-up confirmation, and the invitation.
        const victimToken = await victimFollowsInvite(stack, email, 2);

        const signIn = await attacker.auth.signInWithPassword({ email, password: ATTACKER_PASSWORD });
        assert.equal(signIn.error?.code, "invalid_credentials", "the attacker's password is gone");
        await victimSetsPassword(stack, victimToken);

        // The victim's own account works: their password, the invitation, the admin role.
        const victim = client(stack);
        const own = await victim.auth.signInWithPassword({ email, password: VICTIM_PASSWORD });
        assert.equal(own.error, null);
        const [invitation] = (await invoke(stack, victimToken, "GET", "/invitations")).body.invitations;
        assert.equal(
          (await invoke(stack, victimToken, "POST", `/invitations/${invitation.id}/accept`)).status,
          200,
        );
        const exchanged = await invoke(stack, own.data.session!.access_token, "POST", "/exchange-token", {
          tenant_id: "corp",
        });
        assert.deepEqual([exchanged.status, exchanged.body.role, exchanged.body.email], [
          200,
          "admin",
          email,
        ]);
      },
    );

    await t.step(
      "the variant through the attacker's own tenant: the domain claim admits only the victim",
      async () => {
        const attackerOwn = await signUpByMail(mailed, "mallory@evil.test", ATTACKER_PASSWORD);
        const personal = await invoke(stack, attackerOwn.accessToken, "POST", "/exchange-token");
        assert.equal(personal.body.role, "owner", "a personal tenant of their own");

        const email = "victim@corp.test";
        const squatter = client(stack);
        await squatter.auth.signUp({ email, password: ATTACKER_PASSWORD });
        const invited = await invoke(
          stack,
          attackerOwn.accessToken,
          "POST",
          `/tenants/${personal.body.tenant_id}/invitations`,
          { email },
        );
        assert.deepEqual([invited.status, invited.body.email_sent], [201, true]);
        const victimToken = await victimFollowsInvite(stack, email, 2);
        const revoked = await invoke(
          stack,
          attackerOwn.accessToken,
          "DELETE",
          `/tenants/${personal.body.tenant_id}/invitations/${invited.body.invitation.id}`,
        );
        assert.equal(revoked.status, 200);

        const signIn = await squatter.auth.signInWithPassword({ email, password: ATTACKER_PASSWORD });
        assert.equal(signIn.error?.code, "invalid_credentials");
        const members = await sql`select count(*)::int as n from tenancy.memberships m
                                  join tenancy.tenants t on t.id = m.tenant_id
                                 where t.external_id = 'corp'
                                   and m.user_id in (select id from auth.users where email = ${email})`;
        assert.equal(members[0].n, 0, "nobody holding that address is in Corp yet");
        const own = await invoke(stack, victimToken, "POST", "/exchange-token");
        assert.deepEqual([own.status, own.body.tenant_id, own.body.email], [200, "corp", email]);
      },
    );
  } finally {
    await sql.end();
    await stack.stop();
  }
});
