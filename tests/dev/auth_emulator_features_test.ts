/**
 * The Auth emulator's switches (`features`: GoTrue's `GOTRUE_DISABLE_SIGNUP`, `…_EXTERNAL_EMAIL_ENABLED`,
 * `…_MFA_TOTP_*`) and its refusals of ID tokens, through supabase-js against the emulator alone: the
 * settings the stack tests do not start a stack for.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SupabaseClient } from "@supabase/supabase-js";
import { openTestDatabase } from "../_db.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";
import { authClient, refusal } from "../_auth_client.ts";

function client(auth: AuthEmulator, key = auth.anonKey): SupabaseClient {
  return authClient(auth.url, key);
}

Deno.test("the Auth emulator's switches answer with GoTrue's refusals", async (t) => {
  // One database for every step, each with an emulator of its own settings and addresses of its own.
  const db = await openTestDatabase();
  try {
    await t.step(
      "[auth.email] enable_signup = false turns the email provider off, with GoTrue's refusals",
      async () => {
        const auth = await startAuthEmulator({ databaseUrl: db.authUrl, features: { emailProvider: false } });
        try {
          const email = "ada@example.com";
          const supabase = client(auth);
          assert.deepEqual(refusal((await supabase.auth.signUp({ email, password: PASSWORD })).error), [
            400,
            "email_provider_disabled",
            "Email signups are disabled",
          ]);
          const loginsOff = (
            status: number,
          ) => [status, "email_provider_disabled", "Email logins are disabled"];
          assert.deepEqual(
            refusal((await supabase.auth.signInWithPassword({ email, password: PASSWORD })).error),
            loginsOff(422),
          );
          assert.deepEqual(refusal((await supabase.auth.signInWithOtp({ email })).error), loginsOff(422));
          assert.deepEqual(refusal((await supabase.auth.resetPasswordForEmail(email)).error), loginsOff(400));
          assert.deepEqual(
            refusal((await supabase.auth.resend({ type: "signup", email })).error),
            loginsOff(400),
          );
          const settings = await (await fetch(`${auth.url}/auth/v1/settings`)).json();
          assert.equal(settings.external.email, false);
          // The admin API is not the email provider: an invitation still creates the user.
          assert.equal(
            (await client(auth, auth.serviceRoleKey).auth.admin.inviteUserByEmail(email)).error,
            null,
          );
        } finally {
          await auth.stop();
        }
      },
    );

    await t.step(
      "with sign-ups off, known users still get magic links and new OAuth accounts are refused",
      async () => {
        const auth = await startAuthEmulator({ databaseUrl: db.authUrl, features: { signup: false } });
        try {
          const admin = client(auth, auth.serviceRoleKey).auth.admin;
          await admin.createUser({ email: "known@example.com", password: PASSWORD, email_confirm: true });
          assert.equal((await client(auth).auth.signInWithOtp({ email: "known@example.com" })).error, null);
          const oauth = await fetch(`${auth.url}/auth/v1/_emulator/oauth_sign_in`, {
            method: "POST",
            headers: { authorization: `Bearer ${auth.serviceRoleKey}`, "content-type": "application/json" },
            body: JSON.stringify({
              provider: "github",
              sub: "42",
              email: "new@example.com",
              email_verified: true,
            }),
          });
          assert.equal(oauth.status, 422);
          assert.equal((await oauth.json()).error_code, "signup_disabled");
          const [{ count }] = await db
            .sql`select count(*)::int from auth.users where email = 'new@example.com'`;
          assert.equal(count, 0);
        } finally {
          await auth.stop();
        }
      },
    );

    await t.step("[auth.mfa.totp] verify_enabled = false refuses challenges and verifications", async () => {
      // One emulator enrols (TOTP on); a second on the same database and keys has verification off.
      const keys = {
        databaseUrl: db.authUrl,
        mode: "hs256" as const,
        jwtSecret: "a-secret-of-at-least-32-characters!",
      };
      const enrolling = await startAuthEmulator(keys);
      const off = await startAuthEmulator({ ...keys, features: { totpVerify: false } });
      try {
        const supabase = client(enrolling);
        await supabase.auth.signUp({ email: "totp@example.com", password: PASSWORD });
        const { data: factor } = await supabase.auth.mfa.enroll({ factorType: "totp" });
        const { data: session } = await supabase.auth.getSession();
        const refused = client(off);
        await refused.auth.setSession(session.session!);
        const verifyOff = [422, "mfa_totp_verify_not_enabled", "MFA verification is disabled for TOTP"];
        assert.deepEqual(
          refusal((await refused.auth.mfa.challenge({ factorId: factor!.id })).error),
          verifyOff,
        );
        const verify = await refused.auth.mfa.verify({
          factorId: factor!.id,
          challengeId: crypto.randomUUID(),
          code: "123456",
        });
        assert.deepEqual(refusal(verify.error), verifyOff);
      } finally {
        await Promise.all([off.stop(), enrolling.stop()]);
      }
    });

    await t.step(
      "signInWithIdToken() is refused as GoTrue refuses a provider or issuer that is not on",
      async () => {
        const auth = await startAuthEmulator({ databaseUrl: db.authUrl });
        try {
          const supabase = client(auth);
          const signIn = (provider: string, token: string) =>
            supabase.auth.signInWithIdToken({ provider, token });
          assert.deepEqual(refusal((await signIn("apple", "not-a-jwt")).error), [
            400,
            "validation_failed",
            "Unable to detect issuer in ID token for Apple provider",
          ]);
          const appleToken = `e30.${btoa(JSON.stringify({ iss: "https://appleid.apple.com" }))}.sig`;
          assert.deepEqual(refusal((await signIn("apple", appleToken)).error), [
            400,
            "provider_disabled",
            'Provider (issuer "https://appleid.apple.com") is not enabled',
          ]);
          assert.deepEqual(refusal((await signIn("acme", "x.y.z")).error), [
            400,
            "validation_failed",
            'Custom OIDC provider "acme" not allowed',
          ]);
          assert.deepEqual(refusal((await signIn("custom:acme", "x.y.z")).error), [
            400,
            "validation_failed",
            "Custom OAuth providers are disabled",
          ]);
        } finally {
          await auth.stop();
        }
      },
    );

    await t.step("an anonymous user may not unenrol factors (GoTrue's requireNotAnonymous)", async () => {
      const auth = await startAuthEmulator({ databaseUrl: db.authUrl, anonymousSignIns: true });
      try {
        const supabase = client(auth);
        assert.equal((await supabase.auth.signInAnonymously()).error, null);
        const unenrolled = await supabase.auth.mfa.unenroll({ factorId: crypto.randomUUID() });
        assert.deepEqual(refusal(unenrolled.error), [
          403,
          "no_authorization",
          "Anonymous user not allowed to perform these actions",
        ]);
      } finally {
        await auth.stop();
      }
    });
  } finally {
    await db.close();
  }
});
