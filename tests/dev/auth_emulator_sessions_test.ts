/**
 * The Auth emulator ends sessions as GoTrue does: by timebox, inactivity timeout and single session per
 * user (refused on refresh with `session_expired` and GoTrue's messages, and on admin routes), without
 * writing `not_after`; and a refresh token reused outside the reuse interval deletes its session. Time
 * passes on the emulator's injected clock, never by waiting.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type Session } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import {
  type AuthEmulator,
  type AuthEmulatorOptions,
  startAuthEmulator,
} from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

const HOUR = 3_600_000;

/** A clock that starts at the system's time and moves only when told. */
function clock() {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms: number) => void (offset += ms) };
}

function supabaseFor(auth: AuthEmulator) {
  return createClient(auth.url, auth.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
}

async function signUp(auth: AuthEmulator): Promise<{ session: Session; email: string }> {
  const email = `user-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const { data, error } = await supabaseFor(auth).auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { session: data.session!, email };
}

/** A refresh through supabase-js that must succeed: the new session. */
async function refreshed(auth: AuthEmulator, refreshToken: string): Promise<Session> {
  const { data, error } = await supabaseFor(auth).auth.refreshSession({ refresh_token: refreshToken });
  assert.equal(error, null);
  return data.session!;
}

/** A refresh through supabase-js that must fail: GoTrue's status, code and message. */
async function refused(auth: AuthEmulator, refreshToken: string) {
  const { error } = await supabaseFor(auth).auth.refreshSession({ refresh_token: refreshToken });
  assert.ok(error, "the refresh is refused");
  return { status: error.status, code: error.code, message: error.message };
}

/** `GET /admin/users` with a service_role token naming the session of `accessToken`. */
async function adminWithSession(auth: AuthEmulator, accessToken: string) {
  const token = await auth.signAccessToken({ ...decodeJwt(accessToken), role: "service_role" });
  const res = await auth.handler(
    new Request(`${auth.url}/auth/v1/admin/users`, { headers: { Authorization: `Bearer ${token}` } }),
  );
  const body = await res.json();
  return { status: res.status, code: body.error_code as string | undefined, message: body.msg };
}

Deno.test("Auth emulator sessions", async (t) => {
  const db: TestDatabase = await openTestDatabase();
  const emulators: AuthEmulator[] = [];
  const start = async (options: Partial<AuthEmulatorOptions>) => {
    const auth = await startAuthEmulator({ databaseUrl: db.authUrl, ...options });
    emulators.push(auth);
    return auth;
  };
  const sessionRow = async (accessToken: string) => {
    const id = decodeJwt(accessToken).session_id as string;
    const [row] = await db.sql`select not_after from auth.sessions where id = ${id}`;
    return row;
  };
  try {
    await t.step("a session past the timebox is refused on refresh and admin routes", async () => {
      const time = clock();
      const limits = { timeboxSeconds: 24 * 3600, inactivityTimeoutSeconds: null, singlePerUser: false };
      const auth = await start({ sessionLimits: limits, now: time.now });
      const { session } = await signUp(auth);

      time.advance(23 * HOUR);
      const within = await refreshed(auth, session.refresh_token);
      assert.equal((await adminWithSession(auth, within.access_token)).status, 200);

      time.advance(2 * HOUR);
      assert.deepEqual(await refused(auth, within.refresh_token), {
        status: 400,
        code: "session_expired",
        message: "Invalid Refresh Token: Session Expired",
      });
      assert.deepEqual(await adminWithSession(auth, within.access_token), {
        status: 403,
        code: "session_expired",
        message: "Session is no longer valid",
      });
      // As GoTrue: nothing is written, the row stays, and GET /user still answers while the token lasts.
      assert.deepEqual({ ...(await sessionRow(session.access_token)) }, { not_after: null });
      const user = await supabaseFor(auth).auth.getUser(within.access_token);
      assert.equal(user.error, null);
    });

    await t.step("a session inactive too long is refused; each refresh restarts the count", async () => {
      const time = clock();
      const limits = { timeboxSeconds: null, inactivityTimeoutSeconds: 8 * 3600, singlePerUser: false };
      const auth = await start({ sessionLimits: limits, now: time.now });
      const { session } = await signUp(auth);

      time.advance(7 * HOUR);
      const first = await refreshed(auth, session.refresh_token);
      time.advance(7 * HOUR);
      const second = await refreshed(auth, first.refresh_token);
      time.advance(9 * HOUR);
      assert.deepEqual(await refused(auth, second.refresh_token), {
        status: 400,
        code: "session_expired",
        message: "Invalid Refresh Token: Session Expired (Inactivity)",
      });
      assert.equal((await adminWithSession(auth, second.access_token)).code, "session_expired");
      assert.deepEqual({ ...(await sessionRow(session.access_token)) }, { not_after: null });
    });

    await t.step("under single-session-per-user a newer sign-in ends the older session", async () => {
      const limits = { timeboxSeconds: null, inactivityTimeoutSeconds: null, singlePerUser: true };
      const auth = await start({ sessionLimits: limits });
      const { session: older, email } = await signUp(auth);
      const signIn = await supabaseFor(auth).auth.signInWithPassword({ email, password: PASSWORD });
      const newer = signIn.data.session!;

      assert.deepEqual(await refused(auth, older.refresh_token), {
        status: 400,
        code: "session_expired",
        message: "Invalid Refresh Token: Session Expired (Revoked by Newer Login)",
      });
      await refreshed(auth, newer.refresh_token);
      // Only the refresh grant applies the rule (GoTrue's CheckValidity does not know it).
      assert.equal((await adminWithSession(auth, older.access_token)).status, 200);
    });

    await t.step("without limits, an old, idle, superseded session still refreshes", async () => {
      const time = clock();
      const auth = await start({ now: time.now });
      const { session: older, email } = await signUp(auth);
      await supabaseFor(auth).auth.signInWithPassword({ email, password: PASSWORD });
      time.advance(1000 * HOUR);
      await refreshed(auth, older.refresh_token);
    });

    await t.step("a refresh token reused outside the interval deletes its session", async () => {
      const time = clock();
      const auth = await start({ refreshTokenReuseIntervalSeconds: 10, now: time.now });
      const { session } = await signUp(auth);
      const second = await refreshed(auth, session.refresh_token);
      const third = await refreshed(auth, second.refresh_token);

      // Within the interval, the first token may still be used (a concurrent refresh).
      await refreshed(auth, session.refresh_token);

      // The second token is neither the parent of the active one (the first is, now) nor recent.
      time.advance(11_000);
      assert.deepEqual(await refused(auth, second.refresh_token), {
        status: 400,
        code: "refresh_token_already_used",
        message: "Invalid Refresh Token: Already Used",
      });
      const sessionId = decodeJwt(session.access_token).session_id as string;
      assert.equal((await db.sql`select 1 from auth.sessions where id = ${sessionId}`).length, 0);
      assert.equal(
        (await db.sql`select 1 from auth.refresh_tokens where session_id = ${sessionId}`).length,
        0,
      );
      assert.equal(
        (await refused(auth, third.refresh_token)).code,
        "refresh_token_not_found",
      );
      const user = await supabaseFor(auth).auth.getUser(third.access_token);
      // GoTrue's 403 session_not_found, which supabase-js reports as a missing session.
      assert.equal(user.error?.name, "AuthSessionMissingError");
    });

    await t.step("with rotation off, such a reuse is refused and the session lives on", async () => {
      const time = clock();
      const auth = await start({
        refreshTokenReuseIntervalSeconds: 10,
        refreshTokenRotation: false,
        now: time.now,
      });
      const { session } = await signUp(auth);
      const second = await refreshed(auth, session.refresh_token);
      const third = await refreshed(auth, second.refresh_token);
      time.advance(11_000);
      assert.equal(
        (await refused(auth, session.refresh_token)).code,
        "refresh_token_already_used",
      );
      await refreshed(auth, third.refresh_token);
    });
  } finally {
    for (const auth of emulators) await auth.stop();
    await db.close();
  }
});
