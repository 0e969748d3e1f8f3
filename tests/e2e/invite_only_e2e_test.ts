/**
 * An invite-only project (`[auth] enable_signup = false`, the usual B2B set-up) end to end through the
 * local stack, confirmations on: sign-ups are refused with GoTrue's `signup_disabled`, yet the `tenants`
 * function's invitation still creates the invitee through Auth's admin invite, the invitee sets a password
 * from the mail, and the exchange gives them the invited role. The same stack has `[auth.mfa.totp]` off and
 * `[auth.email] secure_password_change` on, to replay those settings through supabase-js.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";
import { authClient, refusal } from "../_auth_client.ts";
import { DB_POOLER } from "../_pooler.ts";

function client(stack: LocalStack, key = stack.publishableKey): SupabaseClient {
  return authClient(stack.apiUrl, key);
}

Deno.test("invite-only: sign-up is refused, a tenant's invitation still brings the invitee in", async (t) => {
  const stack = await startStack({
    authConfig: {
      enableSignup: false,
      totp: { enrollEnabled: false, verifyEnabled: false },
      securePasswordChange: true,
    },
    // Run again through the transaction pooler by `deno task test`, as the other end-to-end tests are.
    dbPooler: DB_POOLER,
  });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const admin = client(stack, stack.secretKey).auth.admin;
  try {
    await t.step("sign-up, a magic link's sign-up and /settings say the project is closed", async () => {
      const closed = [422, "signup_disabled", "Signups not allowed for this instance"];
      const signUp = await client(stack).auth.signUp({ email: "walk-in@example.com", password: PASSWORD });
      assert.deepEqual(refusal(signUp.error), closed);
      const otp = await client(stack).auth.signInWithOtp({ email: "walk-in@example.com" });
      assert.deepEqual(refusal(otp.error), closed);
      const settings = await fetch(`${stack.apiUrl}/auth/v1/settings`, {
        headers: { apikey: stack.publishableKey },
      });
      assert.equal((await settings.json()).disable_signup, true);
      const [{ count }] = await sql`select count(*)::int from auth.users where email = 'walk-in@example.com'`;
      assert.equal(count, 0);
    });

    await t.step("the tenants function invites; the invitee sets a password and gets the role", async () => {
      const made = await admin.createUser({
        email: "owner@acme.example",
        password: PASSWORD,
        email_confirm: true,
      });
      assert.equal(made.error, null);
      await sql`insert into tenancy.tenants (name, external_id) values ('Acme', 'acme')`;
      await sql`insert into tenancy.memberships (tenant_id, user_id, role)
                select id, ${made.data.user!.id}, 'owner' from tenancy.tenants where external_id = 'acme'`;
      const owner = client(stack);
      await owner.auth.signInWithPassword({ email: "owner@acme.example", password: PASSWORD });
      const invited = await owner.functions.invoke("tenants/acme/invitations", {
        method: "POST",
        body: { email: "bea@acme.example", role: "admin" },
      });
      assert.equal(invited.error, null);
      assert.equal(invited.data.email_sent, true, "Auth's admin invite works with sign-ups off");

      const [mail] = await mailsTo(stack.mailboxUrl, "bea@acme.example");
      assert.equal(mail.subject, "You've been invited");
      const { fragment } = await followLink(mail.link);
      const bea = client(stack);
      await bea.auth.setSession({
        access_token: fragment.access_token,
        refresh_token: fragment.refresh_token,
      });
      assert.equal((await bea.auth.updateUser({ password: PASSWORD })).error, null, "a fresh session");

      const signedIn = client(stack);
      const { error } = await signedIn.auth.signInWithPassword({
        email: "bea@acme.example",
        password: PASSWORD,
      });
      assert.equal(error, null);
      const exchanged = await signedIn.functions.invoke("exchange-token", { body: { tenant_id: "acme" } });
      assert.equal(exchanged.error, null);
      assert.deepEqual([exchanged.data.tenant_id, exchanged.data.role], ["acme", "admin"]);
    });

    await t.step("with TOTP off, enrolment is refused", async () => {
      const bea = client(stack);
      await bea.auth.signInWithPassword({ email: "bea@acme.example", password: PASSWORD });
      const enrolled = await bea.auth.mfa.enroll({ factorType: "totp" });
      assert.deepEqual(refusal(enrolled.error), [
        422,
        "mfa_totp_enroll_not_enabled",
        "MFA enroll is disabled for TOTP",
      ]);
    });

    await t.step("secure_password_change: a day-old session needs the mailed code", async () => {
      const bea = client(stack);
      const { data } = await bea.auth.signInWithPassword({ email: "bea@acme.example", password: PASSWORD });
      await sql`update auth.sessions set created_at = now() - interval '25 hours'
                 where id = ${JSON.parse(atob(data.session!.access_token.split(".")[1])).session_id}`;
      const needed = await bea.auth.updateUser({ password: `${PASSWORD}!` });
      assert.deepEqual(refusal(needed.error), [
        400,
        "reauthentication_needed",
        "Password update requires reauthentication",
      ]);
      assert.equal((await bea.auth.reauthenticate()).error, null);
      const [mail] = await mailsTo(stack.mailboxUrl, "bea@acme.example", 2);
      const code = /^(\d{6}) is your verification code$/.exec(mail.subject)![1];
      const wrong = await bea.auth.updateUser({
        password: `${PASSWORD}!`,
        nonce: code === "000000" ? "111111" : "000000",
      });
      assert.deepEqual(refusal(wrong.error), [
        422,
        "reauthentication_not_valid",
        "Nonce has expired or is invalid",
      ]);
      assert.equal((await bea.auth.updateUser({ password: `${PASSWORD}!`, nonce: code })).error, null);
      const reused = await bea.auth.updateUser({ password: `${PASSWORD}?`, nonce: code });
      assert.deepEqual(
        refusal(reused.error).slice(0, 2),
        [422, "reauthentication_not_valid"],
        "a code is spent once",
      );
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
});
