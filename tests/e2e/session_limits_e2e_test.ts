/**
 * End to end, the stack keeps the function in step with Auth's session limits: the limits of its Auth
 * config (`[auth.sessions]`, and single session per user) reach the function as `AUTH_SESSIONS_*`, so a
 * session the Auth emulator ends is refused by the exchange through the gateway. With
 * `DB_POOLER=transaction` the function reaches Postgres through the TLS transaction pooler.
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import postgres from "postgres";
import { startStack } from "../../dev/stack.ts";
import { DB_POOLER } from "../_pooler.ts";
import { PASSWORD } from "../_fixtures.ts";

Deno.test("the stack's function refuses the sessions its Auth ends", async (t) => {
  const stack = await startStack({
    // Sessions at sign-up, without mail: Auth confirms at once (no address matters here).
    autoConfirm: true,
    authConfig: {
      sessions: { timeboxSeconds: 24 * 3600, inactivityTimeoutSeconds: null, singlePerUser: true },
    },
    dbPooler: DB_POOLER,
  });
  const client = () =>
    createClient(stack.apiUrl, stack.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const exchange = async (accessToken: string) => {
    const { error } = await client().functions.invoke("exchange-token", {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    if (!error) return 200;
    assert.ok(error instanceof FunctionsHttpError, `expected a FunctionsHttpError, got ${error}`);
    return (error.context as Response).status;
  };
  try {
    await t.step("the function is given the limits as the settings it reads", () => {
      assert.equal(stack.functionEnv.AUTH_SESSIONS_TIMEBOX, "86400s");
      assert.equal(stack.functionEnv.AUTH_SESSIONS_INACTIVITY_TIMEOUT, "");
      assert.equal(stack.functionEnv.AUTH_SESSIONS_SINGLE_PER_USER, "true");
    });

    await t.step("a newer sign-in ends the older session for Auth and for the exchange", async () => {
      const email = `ada-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const { data: first } = await client().auth.signUp({ email, password: PASSWORD });
      assert.equal(await exchange(first.session!.access_token), 200);
      const { data: second } = await client().auth.signInWithPassword({ email, password: PASSWORD });
      assert.equal(await exchange(first.session!.access_token), 401);
      assert.equal(await exchange(second.session!.access_token), 200);
      const refresh = await client().auth.refreshSession({ refresh_token: first.session!.refresh_token });
      assert.equal(refresh.error?.code, "session_expired");
    });

    await t.step("a session past the timebox is refused by both", async () => {
      const email = `bob-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const { data } = await client().auth.signUp({ email, password: PASSWORD });
      const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
      try {
        await sql`update auth.sessions set created_at = now() - interval '25 hours'
                   where user_id = ${data.user!.id}`;
      } finally {
        await sql.end();
      }
      assert.equal(await exchange(data.session!.access_token), 401);
      const refresh = await client().auth.refreshSession({ refresh_token: data.session!.refresh_token });
      assert.equal(refresh.error?.code, "session_expired");
    });
  } finally {
    await stack.stop();
  }
});
