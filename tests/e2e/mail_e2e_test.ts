/**
 * End to end with email confirmations on, as a project with `[auth.email] enable_confirmations = true`
 * runs under `supabase start`: supabase-js through the local stack's gateway, the mails read from the
 * stack's mailbox through its Mailpit API (`MAILPIT_URL`), their links followed as a browser would, then
 * the exchange, and the backend token read by the real PyJWT. It runs with the publishable and secret
 * keys, then with the legacy anon and service_role keys; the admin API is reached with the secret key
 * through the gateway's `Authorization` rewrite.
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { pyjwtDecode } from "../_pyjwt.ts";
import { DB_POOLER } from "../_pooler.ts";
import { KEY_KINDS, type KeyKind, keysFor, stackOptionsFor } from "./_keys.ts";
import { PASSWORD } from "../_fixtures.ts";

function client(stack: LocalStack, key: string): SupabaseClient {
  return createClient(stack.apiUrl, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

/** Follows a mailed link and signs a client in with the session the redirect carries. */
async function signInByLink(stack: LocalStack, key: string, link: string): Promise<SupabaseClient> {
  const { status, fragment } = await followLink(link);
  assert.equal(status, 303);
  assert.ok(fragment.access_token, `no session in the redirect: ${JSON.stringify(fragment)}`);
  const supabase = client(stack, key);
  const { error } = await supabase.auth.setSession({
    access_token: fragment.access_token,
    refresh_token: fragment.refresh_token,
  });
  assert.equal(error, null);
  return supabase;
}

async function backendClaims(stack: LocalStack, supabase: SupabaseClient) {
  const { data, error } = await supabase.functions.invoke("exchange-token");
  assert.equal(error, null);
  const decoded = await pyjwtDecode(data.backend_token, stack.backendJwtSecret);
  assert.ok(decoded.ok, `PyJWT raised ${JSON.stringify(decoded)}`);
  return decoded.claims;
}

for (const kind of KEY_KINDS) {
  Deno.test(
    `with confirmations on, mails carry sign-up, invite, email change and upgrade to the exchange (${kind} keys)`,
    (t) => mailFlows(t, kind),
  );
}

async function mailFlows(t: Deno.TestContext, kind: KeyKind) {
  const stack = await startStack(
    stackOptionsFor(kind, {
      autoConfirm: false,
      authConfig: { enableAnonymousSignIns: true },
      dbPooler: DB_POOLER,
    }),
  );
  const keys = keysFor(stack, kind);
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const mailpit = stack.env().MAILPIT_URL;
  try {
    await t.step("the stack prints the mailbox as supabase status -o env does", () => {
      assert.equal(stack.env().INBUCKET_URL, mailpit);
      assert.equal(mailpit, stack.mailboxUrl);
    });

    await t.step("sign up, open the mail, follow its link, sign in, exchange", async () => {
      const supabase = client(stack, keys.client);
      const signUp = await supabase.auth.signUp({ email: "ada@example.com", password: PASSWORD });
      assert.equal(signUp.error, null);
      assert.equal(signUp.data.session, null);
      const refused = await supabase.auth.signInWithPassword({
        email: "ada@example.com",
        password: PASSWORD,
      });
      assert.equal(refused.error?.code, "email_not_confirmed");

      const [mail] = await mailsTo(mailpit, "ada@example.com");
      assert.equal(mail.subject, "Confirm your email address");
      assert.ok(mail.link.startsWith(`${stack.apiUrl}/auth/v1/verify?token=`), mail.link);
      const followed = await followLink(mail.link);
      assert.equal(followed.status, 303);
      assert.equal(followed.location.split("#")[0], "http://127.0.0.1:3000", "config.toml's site_url");
      assert.equal(followed.fragment.type, "signup");

      const { error } = await supabase.auth.signInWithPassword({
        email: "ada@example.com",
        password: PASSWORD,
      });
      assert.equal(error, null);
      const claims = await backendClaims(stack, supabase);
      assert.equal(claims.email, "ada@example.com");
      assert.equal(claims.tenant_id, "demo", "the confirmed @example.com address joins the demo tenant");
    });

    await t.step("an invitation by the admin API is accepted from its mail", async () => {
      const admin = client(stack, keys.admin).auth.admin;
      const { error } = await admin.inviteUserByEmail("bob@example.com");
      assert.equal(error, null);
      const [mail] = await mailsTo(mailpit, "bob@example.com");
      assert.equal(mail.subject, "You've been invited");
      const invitee = await signInByLink(stack, keys.client, mail.link);
      assert.equal((await invitee.auth.updateUser({ password: PASSWORD })).error, null);
      const again = client(stack, keys.client);
      assert.equal(
        (await again.auth.signInWithPassword({ email: "bob@example.com", password: PASSWORD })).error,
        null,
      );
      assert.equal((await backendClaims(stack, again)).email, "bob@example.com");
    });

    await t.step("an email change is confirmed from both addresses, then the backend sees it", async () => {
      const supabase = client(stack, keys.client);
      await supabase.auth.signUp({ email: "cy@example.com", password: PASSWORD });
      await followLink((await mailsTo(mailpit, "cy@example.com"))[0].link);
      await supabase.auth.signInWithPassword({ email: "cy@example.com", password: PASSWORD });
      assert.equal((await supabase.auth.updateUser({ email: "cy@example.org" })).error, null);

      const [toNew] = await mailsTo(mailpit, "cy@example.org");
      const [toCurrent] = await mailsTo(mailpit, "cy@example.com", 2);
      assert.equal(toNew.subject, "Confirm your new email address");
      assert.equal(toCurrent.subject, "Confirm your new email address");
      assert.ok((await followLink(toCurrent.link)).fragment.message);
      const [halfway] = await sql`select email from auth.users where email like 'cy@%'`;
      assert.equal(halfway.email, "cy@example.com", "one confirmation is not enough");
      await signInByLink(stack, keys.client, toNew.link);
      const [changed] = await sql`select email from auth.users where email like 'cy@%'`;
      assert.equal(changed.email, "cy@example.org");
      // The exchange reads the address from auth.users, so the session from before the change sees it too.
      assert.equal((await backendClaims(stack, supabase)).email, "cy@example.org");
    });

    await t.step("an anonymous user exchanges nothing, then adds an address by mail and joins", async () => {
      const supabase = client(stack, keys.client);
      const { data, error } = await supabase.auth.signInAnonymously();
      assert.equal(error, null);
      assert.equal(data.user?.is_anonymous, true);
      const refused = await supabase.functions.invoke("exchange-token");
      assert.ok(refused.error instanceof FunctionsHttpError);
      const response = refused.error.context as Response;
      assert.equal(response.status, 403);
      assert.equal((await response.json()).error, "no_tenant");

      assert.equal((await supabase.auth.updateUser({ email: "dee@example.com" })).error, null);
      const [mail] = await mailsTo(mailpit, "dee@example.com");
      const upgraded = await signInByLink(stack, keys.client, mail.link);
      const { data: user } = await upgraded.auth.getUser();
      assert.equal(user.user?.id, data.user?.id);
      assert.equal(user.user?.is_anonymous, false);
      const claims = await backendClaims(stack, upgraded);
      assert.equal(claims.email, "dee@example.com");
      assert.equal(claims.tenant_id, "demo");
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
}
