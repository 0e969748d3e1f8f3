/**
 * The supabase-js 2.119 calls of issue 20 through the local stack's gateway, as an app makes them: on the
 * stack as `deno task dev` starts it (config.toml: confirmations on) and with confirmations off, each
 * answering with GoTrue v2.196.0's status, `error_code` and message; the mails read from the stack's
 * mailbox and their links followed as a browser would. (Here rather than in tests/e2e/: Auth does not go
 * through the pooler, so the pooler run of the end-to-end suite would only repeat it.)
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { totpCode } from "../../dev/auth_emulator/mod.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";
import { authClient, refusal } from "../_auth_client.ts";

function client(stack: LocalStack, key = stack.publishableKey): SupabaseClient {
  return authClient(stack.apiUrl, key);
}

/** Waits out config.toml's `[auth.email] max_frequency` ("1s") between two mails of a kind. */
function waitOutMaxFrequency(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1_100));
}

/** A confirmed user, made by the admin API, signed in with a password. */
async function signedInUser(stack: LocalStack, email: string): Promise<SupabaseClient> {
  const made = await client(stack, stack.secretKey).auth.admin.createUser({
    email,
    password: PASSWORD,
    email_confirm: true,
  });
  assert.equal(made.error, null);
  const supabase = client(stack);
  assert.equal((await supabase.auth.signInWithPassword({ email, password: PASSWORD })).error, null);
  return supabase;
}

for (const confirmations of [true, false]) {
  Deno.test(
    `supabase-js calls answer as GoTrue through the stack (confirmations ${confirmations ? "on" : "off"})`,
    async (t) => {
      // Confirmations on is config.toml as `deno task dev` reads it; off is `[auth.email]
      // enable_confirmations = false`.
      const stack = await startStack(confirmations ? {} : { autoConfirm: true });
      const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
      const admin = client(stack, stack.secretKey).auth.admin;
      const mode = confirmations ? "on" : "off";
      try {
        await t.step("resend() mails the confirmation again, and tells nobody who exists", async () => {
          const email = `resend-${mode}@example.com`;
          const supabase = client(stack);
          const signUp = await supabase.auth.signUp({ email, password: PASSWORD });
          assert.equal(signUp.error, null);
          if (confirmations) {
            const early = await supabase.auth.resend({ type: "signup", email });
            assert.deepEqual(
              refusal(early.error).slice(0, 2),
              [429, "over_email_send_rate_limit"],
              "max_frequency",
            );
            await waitOutMaxFrequency();
          }
          assert.equal((await supabase.auth.resend({ type: "signup", email })).error, null);
          if (confirmations) {
            const [newest, first] = await mailsTo(stack.mailboxUrl, email, 2);
            assert.equal(newest.subject, "Confirm your email address");
            assert.equal((await followLink(first.link)).fragment.error_code, "otp_expired", "the old code");
            assert.ok((await followLink(newest.link)).fragment.access_token, "the resent link confirms");
          } else {
            const [user] = await sql`select email_confirmed_at from auth.users where email = ${email}`;
            assert.ok(user.email_confirmed_at, "confirmed at sign-up: nothing to resend");
          }
          const unknown = await supabase.auth.resend({ type: "signup", email: `nobody-${mode}@example.com` });
          assert.equal(unknown.error, null);
          const bad = await supabase.auth.resend({ type: "signup", email: "" });
          assert.deepEqual(refusal(bad.error), [
            400,
            "validation_failed",
            "Type provided requires an email address",
          ]);
        });

        await t.step("resend({ type: 'email_change' }) mails both addresses again", async () => {
          const email = `change-${mode}@example.com`;
          const supabase = await signedInUser(stack, email);
          assert.equal(
            (await supabase.auth.updateUser({ email: `changed-${mode}@example.com` })).error,
            null,
          );
          await waitOutMaxFrequency();
          assert.equal((await supabase.auth.resend({ type: "email_change", email })).error, null);
          const toNew = await mailsTo(stack.mailboxUrl, `changed-${mode}@example.com`, 2);
          assert.deepEqual(
            toNew.map((mail) => mail.subject),
            Array(2).fill("Confirm your new email address"),
          );
          assert.equal((await mailsTo(stack.mailboxUrl, email, 2)).length, 2, "and the current address");
        });

        await t.step("reauthenticate() mails a code", async () => {
          const email = `reauth-${mode}@example.com`;
          const supabase = await signedInUser(stack, email);
          assert.equal((await supabase.auth.reauthenticate()).error, null);
          const [mail] = await mailsTo(stack.mailboxUrl, email);
          const code = /^(\d{6}) is your verification code$/.exec(mail.subject)?.[1];
          assert.ok(code, mail.subject);
          assert.ok(mail.html.includes(`<p>${code}</p>`));
        });

        await t.step("mfa.unenroll() and the admin's mfa.listFactors()/deleteFactor()", async () => {
          const email = `factors-${mode}@example.com`;
          const supabase = await signedInUser(stack, email);
          const { data: user } = await supabase.auth.getUser();
          const { data: first } = await supabase.auth.mfa.enroll({ factorType: "totp", friendlyName: "one" });
          const { data: challenge } = await supabase.auth.mfa.challenge({ factorId: first!.id });
          const verified = await supabase.auth.mfa.verify({
            factorId: first!.id,
            challengeId: challenge!.id,
            code: totpCode(first!.totp.secret),
          });
          assert.equal(verified.error, null);
          const { data: second } = await supabase.auth.mfa.enroll({
            factorType: "totp",
            friendlyName: "two",
          });
          // A settings page finds the factors to remove through mfa.listFactors(), from GET /user.
          const own = await supabase.auth.mfa.listFactors();
          assert.deepEqual(own.data!.all.map((f) => [f.id, f.status]), [[first!.id, "verified"], [
            second!.id,
            "unverified",
          ]]);
          assert.deepEqual(own.data!.totp.map((f) => f.id), [first!.id]);

          const listed = await admin.mfa.listFactors({ userId: user.user!.id });
          assert.equal(listed.error, null);
          assert.deepEqual(
            listed.data!.factors.map((f) => [f.friendly_name, f.status, f.factor_type]),
            [["one", "verified", "totp"], ["two", "unverified", "totp"]],
          );
          assert.equal("secret" in listed.data!.factors[0], false, "the secret never leaves");

          const unenrolled = await supabase.auth.mfa.unenroll({ factorId: second!.id });
          assert.deepEqual([unenrolled.error, unenrolled.data?.id], [null, second!.id]);
          const again = await supabase.auth.mfa.unenroll({ factorId: second!.id });
          assert.deepEqual(refusal(again.error), [404, "mfa_factor_not_found", "Factor not found"]);

          // A new aal1 session may not remove a verified factor; the admin may.
          const aal1 = client(stack);
          await aal1.auth.signInWithPassword({ email, password: PASSWORD });
          const refused = await aal1.auth.mfa.unenroll({ factorId: first!.id });
          assert.deepEqual(refusal(refused.error), [
            422,
            "insufficient_aal",
            "AAL2 required to unenroll verified factor",
          ]);
          const deleted = await admin.mfa.deleteFactor({ userId: user.user!.id, id: first!.id });
          // supabase-js hands the route's answer, the deleted factor, on as `data.data`.
          assert.deepEqual([deleted.error, (deleted.data as unknown as { data: { id: string } }).data.id], [
            null,
            first!.id,
          ]);
          assert.deepEqual((await supabase.auth.mfa.listFactors()).data!.all, [], "none left");
          const [session] = await sql`select aal, factor_id from auth.sessions
                                       where user_id = ${user.user!.id} and aal = 'aal2'`;
          assert.equal(session, undefined, "the session the factor raised fell back to aal1");

          const nobody = await admin.mfa.listFactors({ userId: crypto.randomUUID() });
          assert.deepEqual(refusal(nobody.error), [404, "user_not_found", "User not found"]);
        });

        await t.step(
          "admin.generateLink() returns the links the mails would carry, and they work",
          async () => {
            const signup = await admin.generateLink({
              type: "signup",
              email: `link-signup-${mode}@example.com`,
              password: PASSWORD,
            });
            assert.equal(signup.error, null);
            assert.equal(signup.data.properties!.verification_type, "signup");
            assert.match(signup.data.properties!.email_otp, /^\d{6}$/);
            assert.ok((await followLink(signup.data.properties!.action_link)).fragment.access_token);

            const invite = await admin.generateLink({
              type: "invite",
              email: `link-invite-${mode}@example.com`,
            });
            const invited = await followLink(invite.data.properties!.action_link);
            assert.equal(invited.fragment.type, "invite");

            const unknown = await admin.generateLink({
              type: "magiclink",
              email: `link-new-${mode}@example.com`,
            });
            assert.equal(unknown.data.properties!.verification_type, "signup", "an unknown address signs up");
            const magic = await admin.generateLink({
              type: "magiclink",
              email: `link-signup-${mode}@example.com`,
            });
            assert.equal((await followLink(magic.data.properties!.action_link)).fragment.type, "magiclink");
            const recovery = await admin.generateLink({
              type: "recovery",
              email: `link-signup-${mode}@example.com`,
            });
            assert.equal((await followLink(recovery.data.properties!.action_link)).fragment.type, "recovery");

            // With double_confirm_changes (config.toml) both links are needed, unless Auth autoconfirms
            // (GoTrue's emailChangeVerify): then the first one switches the address.
            const from = `link-signup-${mode}@example.com`;
            const to = `link-moved-${mode}@example.com`;
            const current = await admin.generateLink({
              type: "email_change_current",
              email: from,
              newEmail: to,
            });
            const next = await admin.generateLink({ type: "email_change_new", email: from, newEmail: to });
            const halfway = await followLink(current.data.properties!.action_link);
            if (confirmations) {
              assert.match(halfway.fragment.message, /^Confirmation link accepted/);
              assert.ok((await followLink(next.data.properties!.action_link)).fragment.access_token);
            } else {
              assert.ok(halfway.fragment.access_token);
            }
            const [moved] = await sql`select email from auth.users where id = ${current.data.user!.id}`;
            assert.equal(moved.email, to);

            const missing = await admin.generateLink({
              type: "recovery",
              email: `nobody-${mode}@example.com`,
            });
            assert.deepEqual(refusal(missing.error), [
              404,
              "user_not_found",
              "User with this email not found",
            ]);
            const taken = await admin.generateLink({ type: "invite", email: to });
            assert.deepEqual(refusal(taken.error), [
              422,
              "email_exists",
              "A user with this email address has already been registered",
            ]);
          },
        );

        await t.step("switched-off features answer with GoTrue's own refusals", async () => {
          const supabase = await signedInUser(stack, `off-${mode}@example.com`);
          assert.deepEqual(refusal((await supabase.auth.signInWithSSO({ domain: "example.com" })).error), [
            404,
            "saml_provider_disabled",
            "SAML 2.0 is disabled",
          ]);
          const web3 = await supabase.auth.signInWithWeb3({
            chain: "ethereum",
            message: "m",
            signature: "0x00",
          });
          assert.deepEqual(refusal(web3.error), [422, "web3_provider_disabled", "Web3 provider is disabled"]);
          const idToken = await supabase.auth.signInWithIdToken({
            provider: "google",
            token: "header.body.sig",
          });
          assert.deepEqual(refusal(idToken.error), [
            400,
            "provider_disabled",
            'Provider (issuer "https://accounts.google.com") is not enabled',
          ]);
          assert.deepEqual(refusal((await supabase.auth.linkIdentity({ provider: "github" })).error), [
            404,
            "manual_linking_disabled",
            "Manual linking is disabled",
          ]);
          assert.deepEqual(refusal((await client(stack).auth.signInAnonymously()).error), [
            422,
            "anonymous_provider_disabled",
            "Anonymous sign-ins are disabled",
          ]);
          const phone = "+14155552671";
          assert.deepEqual(
            refusal((await client(stack).auth.signInWithPassword({ phone, password: PASSWORD })).error),
            [422, "phone_provider_disabled", "Phone logins are disabled"],
          );
          assert.deepEqual(refusal((await client(stack).auth.signInWithOtp({ phone })).error), [
            400,
            "phone_provider_disabled",
            "Unsupported phone provider",
          ]);
          const invalid = await client(stack).auth.signInWithOtp({
            phone: "not a number",
            options: { shouldCreateUser: false },
          });
          assert.deepEqual(refusal(invalid.error), [
            400,
            "validation_failed",
            "Invalid phone number format (E.164 required)",
          ]);
        });

        await t.step(
          "an SSO identity holding an address does not stop its sign-up, as in GoTrue",
          async () => {
            const email = `sso-${mode}@example.com`;
            const [sso] = await sql`
            insert into auth.users (instance_id, id, aud, role, email, is_sso_user, created_at, updated_at)
            values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated',
                    'authenticated', ${email}, true, now(), now())
            returning id`;
            await sql`insert into auth.identities (provider_id, user_id, identity_data, provider)
                    values ('saml-subject', ${sso.id}, ${sql.json({ email })},
                            ${`sso:${crypto.randomUUID()}`})`;
            const { data, error } = await client(stack).auth.signUp({ email, password: PASSWORD });
            assert.equal(error, null);
            assert.notEqual(data.user!.id, sso.id, "a user of its own");
            assert.equal(Boolean(data.session), !confirmations);
          },
        );
      } finally {
        await sql.end();
        await stack.stop();
      }
    },
  );
}
