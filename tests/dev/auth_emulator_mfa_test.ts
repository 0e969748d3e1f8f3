/**
 * TOTP factors in the Auth emulator, through supabase-js `auth.mfa` as an app calls them: enroll,
 * challenge, verify. Verifying raises the session to `aal2` (with `totp` in `amr`), keeps aal2 across
 * refreshes, ends the user's aal1 sessions, and a signed-in user with a verified factor starts at aal1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { openTestDatabase } from "../_db.ts";
import { type AuthEmulator, startAuthEmulator, totpCode } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

function client(auth: AuthEmulator): SupabaseClient {
  return createClient(auth.url, auth.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
}

Deno.test("a verified TOTP factor raises the session to aal2, and the next sign-in starts at aal1", async () => {
  const db = await openTestDatabase();
  const auth = await startAuthEmulator({ databaseUrl: db.authUrl });
  try {
    const email = `mfa-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const supabase = client(auth);
    assert.equal((await supabase.auth.signUp({ email, password: PASSWORD })).error, null);
    const other = client(auth);
    const { data: otherSession } = await other.auth.signInWithPassword({ email, password: PASSWORD });

    const { data: enrolled, error } = await supabase.auth.mfa.enroll({ factorType: "totp" });
    assert.equal(error, null);
    assert.match(enrolled!.totp.secret, /^[A-Z2-7]{32}$/);
    assert.match(enrolled!.totp.uri, /^otpauth:\/\/totp\/127\.0\.0\.1%3A3000:mfa-/);
    const [factor] = await db.sql`select status, factor_type from auth.mfa_factors where id = ${
      enrolled!.id
    }`;
    assert.deepEqual({ ...factor }, { status: "unverified", factor_type: "totp" });

    const { data: challenge } = await supabase.auth.mfa.challenge({ factorId: enrolled!.id });
    const wrong = await supabase.auth.mfa.verify({
      factorId: enrolled!.id,
      challengeId: challenge!.id,
      code: totpCode(enrolled!.totp.secret, new Date(Date.now() - 3_600_000)),
    });
    assert.equal(wrong.error?.code, "mfa_verification_failed");
    const { data: verified, error: verifyError } = await supabase.auth.mfa.verify({
      factorId: enrolled!.id,
      challengeId: challenge!.id,
      code: totpCode(enrolled!.totp.secret),
    });
    assert.equal(verifyError, null);
    const claims = decodeJwt(verified!.access_token);
    assert.equal(claims.aal, "aal2");
    assert.deepEqual((claims.amr as { method: string }[]).map((entry) => entry.method), ["totp", "password"]);
    const reused = await supabase.auth.mfa.verify({
      factorId: enrolled!.id,
      challengeId: challenge!.id,
      code: totpCode(enrolled!.totp.secret),
    });
    assert.equal(reused.error?.code, "mfa_factor_not_found", "a challenge is verified once");

    // The refreshed token stays aal2; the user's other, aal1 session is gone (InvalidateSessionsWithAALLessThan).
    const { data: refreshed } = await client(auth).auth.refreshSession({
      refresh_token: verified!.refresh_token,
    });
    assert.equal(decodeJwt(refreshed.session!.access_token).aal, "aal2");
    const otherId = decodeJwt(otherSession.session!.access_token).session_id as string;
    assert.equal((await db.sql`select id from auth.sessions where id = ${otherId}`).length, 0);
    const otherRefresh = await client(auth).auth.refreshSession({
      refresh_token: otherSession.session!.refresh_token,
    });
    assert.ok(otherRefresh.error, "the aal1 session was ended");

    // A new password sign-in of a user with a verified factor is aal1 until a factor is verified in it.
    const again = client(auth);
    const { data: signedIn } = await again.auth.signInWithPassword({ email, password: PASSWORD });
    assert.equal(decodeJwt(signedIn.session!.access_token).aal, "aal1");
    const another = await again.auth.mfa.enroll({ factorType: "totp", friendlyName: "second" });
    assert.equal(another.error?.code, "insufficient_aal", "adding a factor needs aal2 once one is verified");
  } finally {
    await auth.stop();
    await db.close();
  }
});
