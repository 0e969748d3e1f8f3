/**
 * The PKCE flow in the Auth emulator, through supabase-js with `flowType: "pkce"` as an app runs it: the
 * code verifier kept in the client's storage, the mailed link followed to a `?code=` redirect, and
 * `exchangeCodeForSession`, for sign-up confirmation, magic link, recovery and email change, with
 * confirmations on and off; then GoTrue's refusals of the `pkce` grant (`flow_state_not_found`,
 * `bad_code_verifier`, `flow_state_expired`, a replayed code) and of a malformed challenge.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { DEFAULT_SENDER, type Mailbox, startMailbox } from "../../dev/mailbox/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

const CALLBACK = "http://127.0.0.1:3000/auth/callback";

/** A PKCE client whose storage the test can read, as a browser's localStorage. */
function pkceClient(auth: AuthEmulator): { supabase: SupabaseClient; storage: Map<string, string> } {
  const storage = new Map<string, string>();
  const supabase = createClient(auth.url, auth.anonKey, {
    auth: {
      flowType: "pkce",
      autoRefreshToken: false,
      detectSessionInUrl: false,
      storage: {
        getItem: (key) => storage.get(key) ?? null,
        setItem: (key, value) => void storage.set(key, value),
        removeItem: (key) => void storage.delete(key),
      },
    },
  });
  return { supabase, storage };
}

function email(): string {
  return `pkce-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/** Follows the newest mail to `address` (the `nth` newest) and returns the callback's query. */
async function followMail(mailbox: Mailbox, address: string, count = 1): Promise<URLSearchParams> {
  const mails = await mailsTo(mailbox.url, address, count);
  const { status, location } = await followLink(mails[0].link);
  assert.equal(status, 303);
  const target = new URL(location);
  assert.equal(`${target.origin}${target.pathname}`, CALLBACK);
  assert.ok(!target.hash.includes("access_token"), "no session in the fragment of a PKCE redirect");
  return target.searchParams;
}

/** The app's callback page: the code and flow id from the query, traded by supabase-js. */
async function exchange(supabase: SupabaseClient, query: URLSearchParams) {
  const code = query.get("code");
  assert.match(code ?? "", /^[0-9a-f-]{36}$/, `a code in the callback: ${query}`);
  const flowId = query.get("sb_flow_id");
  return await supabase.auth.exchangeCodeForSession(code!, flowId ? { flowId } : undefined);
}

async function post(auth: AuthEmulator, path: string, body: unknown): Promise<Response> {
  return await fetch(`${auth.url}/auth/v1${path}`, {
    method: "POST",
    headers: { apikey: auth.anonKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("Auth emulator PKCE flow", async (t) => {
  const db: TestDatabase = await openTestDatabase();
  const mailbox = await startMailbox();
  const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER };
  const options = { databaseUrl: db.authUrl, smtp, maxFrequencySeconds: 0, redirectUrls: [`${CALLBACK}**`] };
  const confirming = await startAuthEmulator({ ...options, autoConfirm: false });
  const autoConfirming = await startAuthEmulator({ ...options, autoConfirm: true });
  try {
    await t.step("a sign-up's confirmation link answers with a code that buys the session once", async () => {
      const address = email();
      const { supabase, storage } = pkceClient(confirming);
      const { data, error } = await supabase.auth.signUp({
        email: address,
        password: PASSWORD,
        options: { emailRedirectTo: CALLBACK },
      });
      assert.equal(error, null);
      assert.equal(data.session, null);
      const [flowState] = await db.sql`
        select provider_type, authentication_method, code_challenge_method, code_challenge, auth_code
          from auth.flow_state where user_id = ${data.user!.id}`;
      assert.deepEqual(
        { ...flowState, auth_code: typeof flowState.auth_code },
        {
          provider_type: "email",
          authentication_method: "email/signup",
          code_challenge_method: "s256",
          code_challenge: flowState.code_challenge,
          auth_code: "string",
        },
      );
      const [mail] = await mailsTo(mailbox.url, address);
      assert.match(new URL(mail.link).searchParams.get("token")!, /^pkce_[0-9a-f]{56}$/);
      const [, verifier] = [...storage].find(([key]) => key.endsWith("-code-verifier"))!;

      const query = await followMail(mailbox, address);
      assert.equal(query.get("code"), flowState.auth_code);
      const exchanged = await exchange(supabase, query);
      assert.equal(exchanged.error, null);
      assert.equal(exchanged.data.user!.email, address);
      assert.ok(exchanged.data.user!.email_confirmed_at, "the address is confirmed");
      assert.equal((await supabase.auth.getUser()).data.user?.id, data.user!.id, "the client is signed in");
      const rows = await db.sql`select 1 from auth.flow_state where user_id = ${data.user!.id}`;
      assert.equal(rows.length, 0, "the flow state is spent");

      const replay = await post(confirming, "/token?grant_type=pkce", {
        auth_code: query.get("code"),
        code_verifier: verifier,
      });
      assert.equal(replay.status, 404);
      assert.deepEqual(await replay.json(), {
        code: 404,
        error_code: "flow_state_not_found",
        msg: "invalid flow state, no valid flow state found",
      });
    });

    for (const [mode, auth] of [["confirmations on", confirming], ["autoconfirm", autoConfirming]] as const) {
      await t.step(`${mode}: a magic link, an email change and a recovery link end in codes`, async () => {
        const address = email();
        const setup = pkceClient(auth).supabase;
        if (auth === confirming) {
          await setup.auth.signUp({
            email: address,
            password: PASSWORD,
            options: { emailRedirectTo: CALLBACK },
          });
          await exchange(setup, await followMail(mailbox, address));
        } else {
          const { data } = await setup.auth.signUp({ email: address, password: PASSWORD });
          assert.ok(data.session, "autoconfirm answers a PKCE sign-up with a session, as GoTrue does");
        }
        const before = (await mailsTo(mailbox.url, address, 0)).length;

        const { supabase } = pkceClient(auth);
        const otp = await supabase.auth.signInWithOtp({
          email: address,
          options: { emailRedirectTo: CALLBACK },
        });
        assert.equal(otp.error, null);
        const magic = await exchange(supabase, await followMail(mailbox, address, before + 1));
        assert.equal(magic.error, null);
        assert.equal(magic.data.user!.email, address);

        const changed = `new-${address}`;
        const update = await supabase.auth.updateUser({ email: changed }, { emailRedirectTo: CALLBACK });
        assert.equal(update.error, null);
        if (auth === confirming) {
          // Secure email change: the current address's link only records its half, the message in the query.
          const first = await followMail(mailbox, address, before + 2);
          assert.equal(
            first.get("message"),
            "Confirmation link accepted. Please proceed to confirm link sent to the other email",
          );
        }
        const switched = await exchange(supabase, await followMail(mailbox, changed));
        assert.equal(switched.error, null);
        assert.equal(switched.data.user!.email, changed);

        const recovering = pkceClient(auth).supabase;
        const events: string[] = [];
        recovering.auth.onAuthStateChange((event) => void events.push(event));
        const reset = await recovering.auth.resetPasswordForEmail(changed, { redirectTo: CALLBACK });
        assert.equal(reset.error, null);
        const recovered = await exchange(recovering, await followMail(mailbox, changed, 2));
        assert.equal(recovered.error, null);
        assert.ok(events.includes("PASSWORD_RECOVERY"), `supabase-js saw a recovery: ${events}`);
        assert.equal((await recovering.auth.updateUser({ password: `${PASSWORD}!` })).error, null);
      });
    }

    await t.step("the pkce grant refuses an unknown code, a wrong verifier and a stale flow", async () => {
      const address = email();
      const { supabase } = pkceClient(confirming);
      await supabase.auth.signInWithOtp({ email: address, options: { emailRedirectTo: CALLBACK } });
      const unknown = await supabase.auth.exchangeCodeForSession(crypto.randomUUID());
      assert.equal(unknown.error?.status, 404);
      assert.equal(unknown.error?.code, "flow_state_not_found");

      const query = await followMail(mailbox, address);
      const code = query.get("code");
      const wrong = await post(confirming, "/token?grant_type=pkce", {
        auth_code: code,
        code_verifier: "x".repeat(43),
      });
      assert.equal(wrong.status, 400);
      assert.deepEqual(await wrong.json(), {
        code: 400,
        error_code: "bad_code_verifier",
        msg: "code challenge does not match previously saved code verifier",
      });

      await db.sql`update auth.flow_state set created_at = now() - interval '301 seconds'
                    where auth_code = ${code}`;
      const stale = await post(confirming, "/token?grant_type=pkce", { auth_code: code, code_verifier: "y" });
      assert.equal(stale.status, 422);
      assert.deepEqual(await stale.json(), {
        code: 422,
        error_code: "flow_state_expired",
        msg: "invalid flow state, flow state has expired",
      });

      const empty = await post(confirming, "/token?grant_type=pkce", { auth_code: code });
      assert.equal(empty.status, 400);
      assert.equal((await empty.json()).error_code, "validation_failed");
    });

    await t.step(
      "a malformed challenge is refused; a spent or orphaned PKCE link redirects with the error in the query",
      async () => {
        const short = await post(confirming, "/recover", {
          email: email(),
          code_challenge: "too-short",
          code_challenge_method: "s256",
        });
        assert.equal(short.status, 400);
        assert.deepEqual(await short.json(), {
          code: 400,
          error_code: "validation_failed",
          msg: "code challenge has to be between 43 and 128 characters",
        });
        const half = await post(confirming, "/otp", { email: email(), code_challenge: "a".repeat(43) });
        assert.equal(half.status, 400);
        assert.equal((await half.json()).msg, "PKCE flow requires code_challenge_method and code_challenge");

        const address = email();
        const { supabase } = pkceClient(confirming);
        await supabase.auth.signUp({
          email: address,
          password: PASSWORD,
          options: { emailRedirectTo: CALLBACK },
        });
        const [mail] = await mailsTo(mailbox.url, address);
        await followLink(mail.link);
        const { location } = await followLink(mail.link);
        const target = new URL(location);
        assert.equal(target.searchParams.get("error_code"), "otp_expired");
        assert.equal(new URLSearchParams(target.hash.slice(1)).get("error_code"), "otp_expired");

        // A link whose flow state is gone confirms nothing: GoTrue's error, in the query too.
        const orphan = email();
        const { data } = await supabase.auth.signUp({
          email: orphan,
          password: PASSWORD,
          options: { emailRedirectTo: CALLBACK },
        });
        await db.sql`delete from auth.flow_state where user_id = ${data.user!.id}`;
        const [orphanMail] = await mailsTo(mailbox.url, orphan);
        const refused = new URL((await followLink(orphanMail.link)).location);
        assert.equal(refused.searchParams.get("error_code"), "flow_state_not_found");
        assert.equal(
          refused.searchParams.get("error_description"),
          "No associated flow state found. 422: No valid flow state found for user.",
        );
        const [user] = await db.sql`select email_confirmed_at from auth.users where id = ${data.user!.id}`;
        assert.equal(user.email_confirmed_at, null, "the confirmation was rolled back");
      },
    );
  } finally {
    await confirming.stop();
    await autoConfirming.stop();
    await mailbox.stop();
    await db.close();
  }
});
