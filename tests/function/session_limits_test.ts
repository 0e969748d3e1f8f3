/**
 * The exchange refuses the sessions Auth ends, with the function and the Auth emulator given the same
 * session limits (as an operator keeps the function's secrets in step with the dashboard): past the
 * timebox, inactive too long, superseded under single-session-per-user, or deleted after a refresh token
 * was reused. Each refusal is checked against Auth's own (its refresh is refused too), and a session within
 * the limits still exchanges. Sessions are made old by moving their timestamps back, never by waiting.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type Session } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { setPolicy } from "../_db.ts";
import { exchangeRequest, type Harness, openHarness } from "./_setup.ts";
import { PASSWORD } from "../_fixtures.ts";

async function exchange(h: Harness, accessToken: string) {
  const res = await h.app.handler(exchangeRequest(accessToken));
  const body = await res.json();
  return { status: res.status, error: body.error as string | undefined };
}

function supabaseFor(h: Harness) {
  return createClient(h.auth.url, h.auth.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

async function signUp(h: Harness): Promise<{ session: Session; email: string }> {
  const email = `u-${crypto.randomUUID().slice(0, 8)}@sessions.example`;
  const { data, error } = await supabaseFor(h).auth.signUp({ email, password: PASSWORD });
  assert.equal(error, null);
  return { session: data.session!, email };
}

/** Auth's answer to a refresh of the session: "refreshed" or its error code and message. */
async function authRefresh(h: Harness, session: Session) {
  const { error } = await supabaseFor(h).auth.refreshSession({ refresh_token: session.refresh_token });
  return error ? `${error.code}: ${error.message}` : "refreshed";
}

/** Moves a session's start, and its last refresh (in UTC, as GoTrue writes it), back in time. */
async function age(h: Harness, session: Session, created: string, refreshed: string | null = null) {
  const { sql } = h.db;
  await sql`update auth.sessions
               set created_at = now() - ${created}::interval,
                   refreshed_at = ${
    refreshed === null ? null : sql`(now() - ${refreshed}::interval) at time zone 'UTC'`
  }
             where id = ${decodeJwt(session.access_token).session_id as string}`;
}

const OK = { status: 200, error: undefined };
const REFUSED = { status: 401, error: "invalid_token" };

Deno.test("the exchange refuses a session past Auth's timebox, and accepts one within it", async () => {
  // Sessions at sign-up, without mail: Auth confirms at once (no address matters here).
  const h = await openHarness({
    auth: { autoConfirm: true },
    sessions: { timeboxSeconds: 24 * 3600, inactivityTimeoutSeconds: null, singlePerUser: false },
  });
  try {
    await setPolicy(h.db.sql, [{ strategy: "personal" }]);
    const old = await signUp(h);
    assert.deepEqual(await exchange(h, old.session.access_token), OK);
    await age(h, old.session, "25 hours", "1 minute");
    assert.deepEqual(await exchange(h, old.session.access_token), REFUSED);
    assert.equal(
      await authRefresh(h, old.session),
      "session_expired: Invalid Refresh Token: Session Expired",
    );

    const young = await signUp(h);
    await age(h, young.session, "23 hours", "1 minute");
    assert.deepEqual(await exchange(h, young.session.access_token), OK);
    assert.equal(await authRefresh(h, young.session), "refreshed");
  } finally {
    await h.close();
  }
});

Deno.test("the exchange refuses a session inactive past Auth's timeout, and accepts an active one", async () => {
  // Sessions at sign-up, without mail: Auth confirms at once (no address matters here).
  const h = await openHarness({
    auth: { autoConfirm: true },
    sessions: { timeboxSeconds: null, inactivityTimeoutSeconds: 8 * 3600, singlePerUser: false },
  });
  try {
    await setPolicy(h.db.sql, [{ strategy: "personal" }]);
    const idle = await signUp(h);
    await age(h, idle.session, "30 hours", "9 hours");
    assert.deepEqual(await exchange(h, idle.session.access_token), REFUSED);
    assert.equal(
      await authRefresh(h, idle.session),
      "session_expired: Invalid Refresh Token: Session Expired (Inactivity)",
    );

    const active = await signUp(h);
    await age(h, active.session, "30 hours", "1 hour");
    assert.deepEqual(await exchange(h, active.session.access_token), OK);
    assert.equal(await authRefresh(h, active.session), "refreshed");
  } finally {
    await h.close();
  }
});

Deno.test("under single-session-per-user the exchange refuses the session a newer sign-in superseded", async () => {
  // Sessions at sign-up, without mail: Auth confirms at once (no address matters here).
  const h = await openHarness({
    auth: { autoConfirm: true },
    sessions: { timeboxSeconds: null, inactivityTimeoutSeconds: null, singlePerUser: true },
  });
  try {
    // Under autoconfirm no address is proven, so no domain claim applies: a personal tenant instead.
    await setPolicy(h.db.sql, [{ strategy: "personal" }]);
    const { session: older, email } = await signUp(h);
    assert.deepEqual(await exchange(h, older.access_token), OK);
    const signIn = await supabaseFor(h).auth.signInWithPassword({ email, password: PASSWORD });
    const newer = signIn.data.session!;

    assert.deepEqual(await exchange(h, older.access_token), REFUSED);
    assert.deepEqual(await exchange(h, newer.access_token), OK);
    assert.equal(
      await authRefresh(h, older),
      "session_expired: Invalid Refresh Token: Session Expired (Revoked by Newer Login)",
    );
    assert.equal(await authRefresh(h, newer), "refreshed");
  } finally {
    await h.close();
  }
});

Deno.test("a refresh token reused outside the interval ends the session, and its access token's exchange", async () => {
  // Sessions at sign-up, without mail: Auth confirms at once (no address matters here).
  const h = await openHarness({ auth: { autoConfirm: true, refreshTokenReuseIntervalSeconds: 0 } });
  try {
    await setPolicy(h.db.sql, [{ strategy: "personal" }]);
    const { session } = await signUp(h);
    const supabase = supabaseFor(h);
    const second = (await supabase.auth.refreshSession({ refresh_token: session.refresh_token })).data
      .session!;
    const third = (await supabase.auth.refreshSession({ refresh_token: second.refresh_token })).data.session!;
    assert.deepEqual(await exchange(h, third.access_token), OK);

    // The first token is neither the parent of the active one nor within the (zero) interval: theft.
    assert.equal(
      await authRefresh(h, session),
      "refresh_token_already_used: Invalid Refresh Token: Already Used",
    );
    assert.deepEqual(await exchange(h, third.access_token), REFUSED);
    assert.deepEqual(await exchange(h, session.access_token), REFUSED);
  } finally {
    await h.close();
  }
});
