/**
 * End to end, the way the frontend does it: a real supabase-js client signs up (confirming the address
 * through the stack's mailbox, as `supabase/config.toml` asks) or in through the local stack's gateway
 * (Auth emulator), calls `functions.invoke('exchange-token')` (the function in its own process), and the
 * backend token goes to the real PyJWT. With `DB_POOLER=transaction` the function
 * reaches Postgres through the TLS transaction pooler (tests/_pooler.ts).
 *
 * Every test runs twice: with the publishable key (the default: the frontend and the function's own
 * supabase-js client both use `sb_publishable_…`), and with the legacy keys only (the frontend uses the
 * anon JWT, and the function is given no publishable key, as a project on legacy keys).
 */
import assert from "node:assert/strict";
import { createClient, FunctionsHttpError, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { type LocalStack, type StackOptions, startStack } from "../../dev/stack.ts";
import { pyjwtDecode } from "../_pyjwt.ts";
import { DB_POOLER } from "../_pooler.ts";
import { followLink, mailsTo, signUpByMail } from "../_mail.ts";
import { KEY_KINDS, type KeyKind, keysFor, stackOptionsFor } from "./_keys.ts";
import { PASSWORD } from "../_fixtures.ts";

// Each key kind with each way Auth signs access tokens.
const CASES = KEY_KINDS.flatMap((kind) => (["es256", "hs256"] as const).map((mode) => [mode, kind] as const));

/** Makes a fresh supabase-js client of the frontend, with no session. */
type ClientFactory = () => SupabaseClient;

/** Runs `fn` against a stack whose frontend and function use `kind`'s keys. */
async function withStack(
  kind: KeyKind,
  options: StackOptions,
  fn: (stack: LocalStack, client: ClientFactory) => Promise<void>,
) {
  const stack = await startStack(stackOptionsFor(kind, { dbPooler: DB_POOLER, ...options }));
  const key = keysFor(stack, kind).client;
  const client = () =>
    createClient(stack.apiUrl, key, { auth: { persistSession: false, autoRefreshToken: false } });
  try {
    await fn(stack, client);
  } finally {
    await stack.stop();
  }
}

/** The contract's error body and status from a failed invoke. */
async function errorOf(error: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  assert.ok(error instanceof FunctionsHttpError, `expected a FunctionsHttpError, got ${error}`);
  const response = error.context as Response;
  return { status: response.status, body: await response.json() };
}

async function exchangeAndDecode(stack: LocalStack, supabase: SupabaseClient) {
  const { data, error } = await supabase.functions.invoke("exchange-token");
  assert.equal(error, null);
  const decoded = await pyjwtDecode(data.backend_token, stack.backendJwtSecret);
  assert.ok(decoded.ok, `PyJWT raised ${JSON.stringify(decoded)}`);
  return { data, claims: decoded.claims };
}

for (const [mode, kind] of CASES) {
  Deno.test(`supabase-js signs up, exchanges, and PyJWT accepts the backend token (${mode}, ${kind} keys)`, async (t) => {
    await withStack(kind, { mode }, async (stack, client) => {
      const mailed = {
        apiUrl: stack.apiUrl,
        apiKey: keysFor(stack, kind).client,
        mailboxUrl: stack.mailboxUrl,
      };
      const supabase = client();
      const { userId } = await signUpByMail(mailed, "ada@example.com", PASSWORD);
      const { error } = await supabase.auth.signInWithPassword({
        email: "ada@example.com",
        password: PASSWORD,
      });
      assert.equal(error, null);

      await t.step("the exchange answers the contract's body", async () => {
        const { data, claims } = await exchangeAndDecode(stack, supabase);
        assert.deepEqual(Object.keys(data).sort(), [
          "backend_token",
          "email",
          "expires_at",
          "expires_in",
          "role",
          "tenant_id",
          "token_type",
          "user_id",
        ]);
        assert.deepEqual(
          [data.user_id, data.tenant_id, data.role, data.email, data.token_type, data.expires_in],
          [userId, "demo", "user", "ada@example.com", "Bearer", 604800],
        );
        assert.equal(new Date(data.expires_at).getTime() / 1000, claims.exp);
        assert.deepEqual(Object.keys(claims).sort(), ["email", "exp", "role", "tenant_id", "user_id"]);
        assert.deepEqual(
          [claims.user_id, claims.tenant_id, claims.role, claims.email],
          [userId, "demo", "user", "ada@example.com"],
        );
      });

      await t.step("PyJWT accepts it with the backend's clock 60 s behind", async () => {
        const { data } = await supabase.functions.invoke("exchange-token");
        const late = await pyjwtDecode(data.backend_token, stack.backendJwtSecret, -60);
        assert.ok(late.ok, JSON.stringify(late));
        const wrongSecret = await pyjwtDecode(data.backend_token, "another secret that is 32 bytes long!!");
        assert.equal(wrongSecret.ok ? "decoded" : wrongSecret.error, "InvalidSignatureError");
      });

      await t.step("a tenant that is not the caller's is a 403 read from FunctionsHttpError", async () => {
        const { error } = await supabase.functions.invoke("exchange-token", {
          body: { tenant_id: "not-mine" },
        });
        const { status, body } = await errorOf(error);
        assert.equal(status, 403);
        assert.equal(body.error, "not_a_member");
        assert.equal(typeof body.message, "string");
      });

      await t.step("the requested tenant of the caller's is granted", async () => {
        const { data, error } = await supabase.functions.invoke("exchange-token", {
          body: { tenant_id: "demo" },
        });
        assert.equal(error, null);
        assert.equal(data.tenant_id, "demo");
      });

      await t.step("a refreshed session exchanges again", async () => {
        const before = (await supabase.auth.getSession()).data.session!;
        const { data: refreshed, error } = await supabase.auth.refreshSession();
        assert.equal(error, null);
        // The refresh token rotates; the access token may be byte-identical within the same second.
        assert.notEqual(refreshed.session!.refresh_token, before.refresh_token);
        const { claims } = await exchangeAndDecode(stack, supabase);
        assert.equal(claims.user_id, userId);
      });

      await t.step("after sign-out the old access token is refused with 401", async () => {
        const old = (await supabase.auth.getSession()).data.session!.access_token;
        assert.equal((await supabase.auth.signOut()).error, null);
        const { error } = await client().functions.invoke("exchange-token", {
          headers: { Authorization: `Bearer ${old}` },
        });
        const { status, body } = await errorOf(error);
        assert.equal(status, 401);
        assert.equal(body.error, "invalid_token");
        assert.match((error as FunctionsHttpError).context.headers.get("www-authenticate"), /invalid_token/);
      });

      await t.step("someone outside the claimed domain gets a personal tenant as owner", async () => {
        const other = client();
        const grace = await signUpByMail(mailed, "grace@elsewhere.test", PASSWORD);
        await other.auth.signInWithPassword({ email: "grace@elsewhere.test", password: PASSWORD });
        const { data } = await exchangeAndDecode(stack, other);
        assert.equal(data.role, "owner");
        assert.notEqual(data.tenant_id, "demo");
        assert.equal(data.user_id, grace.userId);
        await other.auth.signOut();
      });
    });
  });
}

for (const kind of KEY_KINDS) {
  Deno.test(
    `a user with an unconfirmed email never joins a tenant by invitation or domain (${kind} keys)`,
    () => unconfirmedEmail(kind),
  );
}

async function unconfirmedEmail(kind: KeyKind) {
  await withStack(kind, { autoConfirm: false }, async (stack, client) => {
    const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
    try {
      const [invited] =
        await sql`insert into tenancy.tenants (name, external_id) values ('Invite only', 'invite-only')
                                  returning id`;
      await sql`insert into tenancy.invitations (tenant_id, email) values
                (${invited.id}, 'eve@example.com'), (${invited.id}, 'fred@example.com')`;

      const supabase = client();
      const { data: signUp } = await supabase.auth.signUp({ email: "eve@example.com", password: PASSWORD });
      assert.equal(signUp.session, null, "no session before the email is confirmed");
      const { error: signInError } = await supabase.auth.signInWithPassword({
        email: "eve@example.com",
        password: PASSWORD,
      });
      assert.equal((signInError as { code?: string }).code, "email_not_confirmed");

      // Supabase Auth can still hold a session for an address it has not confirmed (a phone or OAuth
      // sign-in, an email change in flight); mint one as it would, straight into auth.sessions.
      const userId = signUp.user!.id;
      const [session] = await sql`insert into auth.sessions (id, user_id, created_at, updated_at, aal)
                                  values (gen_random_uuid(), ${userId}, now(), now(), 'aal1') returning id`;
      const now = Math.floor(Date.now() / 1000);
      const token = await stack.auth.signAccessToken({
        iss: stack.auth.issuer,
        sub: userId,
        aud: "authenticated",
        exp: now + 600,
        iat: now,
        email: "eve@example.com",
        role: "authenticated",
        session_id: session.id,
        is_anonymous: false,
      });
      const { data, error } = await client().functions.invoke("exchange-token", {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(error, null);
      assert.notEqual(data.tenant_id, "invite-only", "not by invitation");
      assert.notEqual(data.tenant_id, "demo", "not by the example.com domain claim");
      assert.equal(data.role, "owner", "the personal tenant of the seed's policy");
      assert.equal(data.email, null, "an unconfirmed email is not passed on to the backend");
      const [invitation] =
        await sql`select accepted_at from tenancy.invitations where email = 'eve@example.com'`;
      assert.equal(invitation.accepted_at, null);

      // Once confirmed by its mailed link, an invited address joins by its invitation.
      await supabase.auth.signUp({ email: "fred@example.com", password: PASSWORD });
      await followLink((await mailsTo(stack.mailboxUrl, "fred@example.com"))[0].link);
      const fred = client();
      const { error: fredError } = await fred.auth.signInWithPassword({
        email: "fred@example.com",
        password: PASSWORD,
      });
      assert.equal(fredError, null);
      const { data: fredData } = await fred.functions.invoke("exchange-token");
      assert.equal(fredData.tenant_id, "invite-only");
    } finally {
      await sql.end();
    }
  });
}
