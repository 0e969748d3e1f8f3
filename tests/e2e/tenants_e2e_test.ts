/**
 * Tenants from the app end to end, as a browser app would run it against `deno task dev`: supabase-js
 * through the gateway to the `tenants` and `invitations` functions, each in its own process with the
 * environment Supabase injects (their invitation mails sent with the injected secret key, through the
 * gateway's rewrite), the mails read from the stack's mailbox, then the exchange.
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { startStack } from "../../dev/stack.ts";
import { followLink, mailsTo, signUpByMail } from "../_mail.ts";
import { DB_POOLER } from "../_pooler.ts";
import { PASSWORD } from "../_fixtures.ts";

Deno.test("an owner invites from the app, the invitee accepts, is demoted and removed, through the stack", async () => {
  const stack = await startStack({ autoConfirm: false, dbPooler: DB_POOLER, seed: false });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const client = (session?: { access_token: string; refresh_token: string }): Promise<SupabaseClient> => {
    const supabase = createClient(stack.apiUrl, stack.publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    return session
      ? supabase.auth.setSession(session).then(({ error }) => (assert.equal(error, null), supabase))
      : Promise.resolve(supabase);
  };
  const failure = async (error: unknown) =>
    error instanceof FunctionsHttpError
      ? [error.context.status, (await error.context.json()).error]
      : [0, String(error)];
  try {
    const auth = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
    const ownerSession = await signUpByMail(auth, "owner@acme.example", PASSWORD);
    await sql`insert into tenancy.tenants (name, external_id) values ('Acme', 'acme')`;
    await sql`insert into tenancy.memberships (tenant_id, user_id, role)
              select id, ${ownerSession.userId}, 'owner' from tenancy.tenants where external_id = 'acme'`;
    const owner = await client({
      access_token: ownerSession.accessToken,
      refresh_token: ownerSession.refreshToken,
    });

    const listed = await owner.functions.invoke("tenants", { method: "GET" });
    assert.equal(listed.error, null);
    assert.deepEqual(
      listed.data.tenants.map((t: { tenant_id: string; role: string }) => [t.tenant_id, t.role]),
      [
        ["acme", "owner"],
      ],
    );

    const invited = await owner.functions.invoke("tenants/acme/invitations", {
      method: "POST",
      body: { email: "Bea@Acme.example", role: "admin" },
    });
    assert.equal(invited.error, null);
    assert.equal(
      invited.data.email_sent,
      true,
      "the function mailed through the gateway with the secret key",
    );

    const [mail] = await mailsTo(stack.mailboxUrl, "bea@acme.example");
    assert.equal(mail.subject, "You've been invited");
    const { fragment } = await followLink(mail.link);
    const bea = await client({ access_token: fragment.access_token, refresh_token: fragment.refresh_token });
    assert.equal((await bea.auth.updateUser({ password: PASSWORD })).error, null);

    const pending = await bea.functions.invoke("invitations", { method: "GET" });
    assert.equal(pending.error, null);
    const [invitation] = pending.data.invitations;
    assert.deepEqual([invitation.tenant_id, invitation.role], ["acme", "admin"]);
    const accepted = await bea.functions.invoke(`invitations/${invitation.id}/accept`, { method: "POST" });
    assert.equal(accepted.error, null);
    const exchanged = await bea.functions.invoke("exchange-token", { body: { tenant_id: "acme" } });
    assert.deepEqual([exchanged.data.tenant_id, exchanged.data.role], ["acme", "admin"]);

    const beaId = (await bea.auth.getUser()).data.user!.id;
    const demoted = await owner.functions.invoke(`tenants/acme/members/${beaId}`, {
      method: "PATCH",
      body: { role: "user" },
    });
    assert.equal(demoted.error, null);
    assert.equal(
      (await bea.functions.invoke("exchange-token", { body: { tenant_id: "acme" } })).data.role,
      "user",
    );

    const removed = await owner.functions.invoke(`tenants/acme/members/${beaId}`, { method: "DELETE" });
    assert.equal(removed.error, null);
    const refused = await bea.functions.invoke("exchange-token", { body: { tenant_id: "acme" } });
    assert.deepEqual(await failure(refused.error), [403, "no_tenant"]);
    const hidden = await bea.functions.invoke("tenants/acme/members", { method: "GET" });
    assert.deepEqual(await failure(hidden.error), [404, "not_found"]);

    const trail = await owner.functions.invoke("tenants/acme/audit", { method: "GET" });
    assert.deepEqual(trail.data.entries.map((e: { action: string }) => e.action), [
      "member.removed",
      "member.role_changed",
      "invitation.accepted",
      "invitation.created",
    ]);
  } finally {
    await sql.end();
    await stack.stop();
  }
});
