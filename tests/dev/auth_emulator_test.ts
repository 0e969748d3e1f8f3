/**
 * The Auth emulator through a real supabase-js client, against a real migrated database: what the rest of
 * the project relies on (tokens with Supabase's claims, JWKS, sessions in auth.sessions) and GoTrue's
 * answers to the ways it can go wrong. What only GoTrue's HTTP layer decides (CORS, error formats, no
 * `apikey` check) is asked of the emulator's handler directly; the gateway's rules are
 * `gateway_test.ts`'s.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

/** A supabase-js client that records the Auth paths it calls (an injected fetch, no global patching). */
function client(auth: AuthEmulator): { supabase: SupabaseClient; paths: string[] } {
  const paths: string[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return globalThis.fetch(input, init);
  };
  const supabase = createClient(auth.url, auth.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { fetch },
  });
  return { supabase, paths };
}

function email(): string {
  return `user-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

async function signedUp(auth: AuthEmulator, data: Record<string, unknown> = {}) {
  const { supabase, paths } = client(auth);
  const address = email();
  const { data: result, error } = await supabase.auth.signUp({
    email: address,
    password: PASSWORD,
    options: { data },
  });
  assert.equal(error, null);
  assert.ok(result.session, "autoConfirm gives a session at sign-up");
  return { supabase, paths, email: address, session: result.session, user: result.user! };
}

Deno.test("Auth emulator", async (t) => {
  const db: TestDatabase = await openTestDatabase();
  const emulators: AuthEmulator[] = [];
  try {
    // Reuse interval 0 so that reuse detection can be shown without waiting GoTrue's default 10 s.
    const es256 = await startAuthEmulator({ databaseUrl: db.authUrl, refreshTokenReuseIntervalSeconds: 0 });
    emulators.push(es256);
    const hs256 = await startAuthEmulator({ databaseUrl: db.authUrl, mode: "hs256" });
    emulators.push(hs256);
    const unconfirmed = await startAuthEmulator({ databaseUrl: db.authUrl, autoConfirm: false });
    emulators.push(unconfirmed);

    await t.step("signUp() returns a session whose access token carries Supabase's claims", async () => {
      const { session, user, email: address } = await signedUp(es256, { plan: "pro" });
      const header = decodeProtectedHeader(session.access_token);
      assert.deepEqual(header, { alg: "ES256", kid: es256.jwks.keys[0].kid, typ: "JWT" });
      const claims = decodeJwt(session.access_token);
      assert.equal(claims.iss, `${es256.url}/auth/v1`);
      assert.equal(claims.sub, user.id);
      assert.equal(claims.aud, "authenticated");
      assert.equal(claims.role, "authenticated");
      assert.equal(claims.email, address);
      assert.equal(claims.phone, "");
      assert.equal(claims.aal, "aal1");
      assert.equal(claims.is_anonymous, false);
      assert.equal(claims.exp, claims.iat! + 3600);
      assert.deepEqual(claims.app_metadata, { provider: "email", providers: ["email"] });
      // GoTrue copies the new email identity's claims into the user's metadata, then confirms.
      assert.deepEqual(claims.user_metadata, {
        plan: "pro",
        sub: user.id,
        email: address,
        email_verified: true,
        phone_verified: false,
      });
      const amr = claims.amr as Array<{ method: string; timestamp: number }>;
      assert.equal(amr[0].method, "password");
      assert.equal(session.token_type, "bearer");
      assert.equal(session.expires_in, 3600);
      assert.ok(user.email_confirmed_at);

      const [row] = await db.sql`select encrypted_password, email_confirmed_at, last_sign_in_at
                                   from auth.users where id = ${user.id}`;
      assert.match(row.encrypted_password, /^\$2[ab]\$10\$/);
      assert.ok(row.email_confirmed_at && row.last_sign_in_at);
      const sessions = await db.sql`select id from auth.sessions where user_id = ${user.id}`;
      assert.deepEqual(sessions.map((s) => s.id), [claims.session_id]);
      const [token] = await db.sql`select revoked, session_id from auth.refresh_tokens
                                    where token = ${session.refresh_token}`;
      assert.deepEqual({ ...token }, { revoked: false, session_id: claims.session_id });

      // The identity is a row of auth.identities, as GoTrue keeps it; autoconfirm leaves its
      // email_verified false (GoTrue's Confirm updates the user only).
      const [identity] = await db.sql`select * from auth.identities where user_id = ${user.id}`;
      assert.deepEqual(
        { ...identity, created_at: undefined, updated_at: undefined, last_sign_in_at: undefined },
        {
          id: identity.id,
          provider_id: user.id,
          user_id: user.id,
          provider: "email",
          email: address,
          identity_data: {
            plan: "pro",
            sub: user.id,
            email: address,
            email_verified: false,
            phone_verified: false,
          },
          created_at: undefined,
          updated_at: undefined,
          last_sign_in_at: undefined,
        },
      );
      assert.equal(user.identities?.[0].identity_id, identity.id);
      assert.equal(user.identities?.[0].id, user.id);
    });

    await t.step("signUp() refuses an email that is already registered", async () => {
      const { email: address } = await signedUp(es256);
      const { supabase } = client(es256);
      const { error } = await supabase.auth.signUp({ email: address, password: PASSWORD });
      assert.equal(error?.status, 422);
      assert.equal(error?.code, "user_already_exists");
    });

    await t.step("signInWithPassword() opens a new session, and refuses a wrong password", async () => {
      const { email: address, user } = await signedUp(es256);
      const { supabase } = client(es256);
      const { data, error } = await supabase.auth.signInWithPassword({ email: address, password: PASSWORD });
      assert.equal(error, null);
      assert.equal(data.user?.id, user.id);
      const [{ count }] = await db.sql`select count(*)::int from auth.sessions where user_id = ${user.id}`;
      assert.equal(count, 2);

      const wrong = await supabase.auth.signInWithPassword({ email: address, password: "not the password" });
      assert.equal(wrong.error?.status, 400);
      assert.equal(wrong.error?.code, "invalid_credentials");
      assert.equal(wrong.error?.message, "Invalid login credentials");
      const nobody = await supabase.auth.signInWithPassword({ email: email(), password: PASSWORD });
      assert.equal(nobody.error?.code, "invalid_credentials");
    });

    await t.step("getUser() returns the user of a valid access token", async () => {
      const { supabase, session, user } = await signedUp(es256, { name: "Ada" });
      const { data, error } = await supabase.auth.getUser(session.access_token);
      assert.equal(error, null);
      assert.equal(data.user?.id, user.id);
      assert.equal(data.user?.user_metadata.name, "Ada");
      assert.equal(data.user?.identities?.[0].provider, "email");
    });

    await t.step(
      "getClaims() in es256 mode verifies locally with the JWKS, without calling /user",
      async () => {
        const { supabase, paths, session, user } = await signedUp(es256);
        paths.length = 0;
        const { data, error } = await supabase.auth.getClaims(session.access_token);
        assert.equal(error, null);
        assert.equal(data?.claims.sub, user.id);
        assert.deepEqual(paths, ["/auth/v1/.well-known/jwks.json"]);

        const forged = await es256.signAccessToken({ ...data!.claims }, { kid: "not-a-published-kid" });
        paths.length = 0;
        const refused = await supabase.auth.getClaims(forged);
        assert.equal(refused.error?.code, "bad_jwt");
        // An unknown kid makes supabase-js refetch the JWKS, then ask Auth, which refuses it.
        assert.deepEqual(paths, ["/auth/v1/.well-known/jwks.json", "/auth/v1/user"]);
      },
    );

    await t.step("getClaims() in hs256 mode asks /user, and the JWKS is empty", async () => {
      const { supabase, paths, session, user } = await signedUp(hs256);
      assert.deepEqual(decodeProtectedHeader(session.access_token), { alg: "HS256", typ: "JWT" });
      paths.length = 0;
      const { data, error } = await supabase.auth.getClaims(session.access_token);
      assert.equal(error, null);
      assert.equal(data?.claims.sub, user.id);
      assert.deepEqual(paths, ["/auth/v1/user"]);
      const jwks = await fetch(`${hs256.url}/auth/v1/.well-known/jwks.json`);
      assert.deepEqual(await jwks.json(), { keys: [] });
    });

    await t.step("refreshSession() rotates the refresh token and refuses a reused one", async () => {
      const { supabase, session } = await signedUp(es256);
      const first = session.refresh_token;
      const second = await supabase.auth.refreshSession({ refresh_token: first });
      assert.equal(second.error, null);
      const secondToken = second.data.session!.refresh_token;
      assert.notEqual(secondToken, first);
      const [old] = await db.sql`select revoked from auth.refresh_tokens where token = ${first}`;
      assert.equal(old.revoked, true);

      // GoTrue answers the parent of the active token with the active token (the client lost the reply).
      const again = await supabase.auth.refreshSession({ refresh_token: first });
      assert.equal(again.data.session?.refresh_token, secondToken);

      const third = await supabase.auth.refreshSession({ refresh_token: secondToken });
      assert.equal(third.error, null);
      const reused = await supabase.auth.refreshSession({ refresh_token: first });
      assert.equal(reused.error?.status, 400);
      assert.equal(reused.error?.code, "refresh_token_already_used");
      // Reuse ends the whole session: the newest token goes with it.
      const family = await supabase.auth.refreshSession({ refresh_token: third.data.session!.refresh_token });
      assert.equal(family.error?.code, "refresh_token_not_found");
    });

    await t.step(
      "signOut() deletes the session, so its access token no longer passes getUser()",
      async () => {
        const { supabase, session } = await signedUp(es256);
        const sessionId = decodeJwt(session.access_token).session_id as string;
        await supabase.auth.setSession(session);
        const { error } = await supabase.auth.signOut();
        assert.equal(error, null);
        const rows = await db.sql`select 1 from auth.sessions where id = ${sessionId}`;
        assert.equal(rows.length, 0);
        const after = await supabase.auth.getUser(session.access_token);
        assert.equal(after.data.user, null);
        assert.equal(after.error?.name, "AuthSessionMissingError");
        const refresh = await supabase.auth.refreshSession({ refresh_token: session.refresh_token });
        assert.equal(refresh.error?.code, "refresh_token_not_found");
      },
    );

    await t.step("signOut({ scope: 'others' }) keeps the caller's session and ends the rest", async () => {
      const { supabase, session, email: address, user } = await signedUp(es256);
      const other = client(es256).supabase;
      await other.auth.signInWithPassword({ email: address, password: PASSWORD });
      await supabase.auth.setSession(session);
      assert.equal((await supabase.auth.signOut({ scope: "others" })).error, null);
      const rows = await db.sql`select id from auth.sessions where user_id = ${user.id}`;
      assert.deepEqual(rows.map((r) => r.id), [decodeJwt(session.access_token).session_id]);
    });

    await t.step(
      "with autoConfirm off, signUp() leaves the email unconfirmed and returns no session",
      async () => {
        const { supabase } = client(unconfirmed);
        const address = email();
        const { data, error } = await supabase.auth.signUp({ email: address, password: PASSWORD });
        assert.equal(error, null);
        assert.equal(data.session, null);
        assert.equal(data.user?.email, address);
        assert.equal(data.user?.email_confirmed_at, undefined);
        const [row] = await db.sql`select email_confirmed_at, confirmation_sent_at from auth.users
                                  where id = ${data.user!.id}`;
        assert.equal(row.email_confirmed_at, null);
        assert.ok(row.confirmation_sent_at);
        const signIn = await supabase.auth.signInWithPassword({ email: address, password: PASSWORD });
        assert.equal(signIn.error?.code, "email_not_confirmed");
      },
    );

    await t.step("getUser() refuses expired, deleted, banned and badly signed tokens", async () => {
      const { supabase, session, user } = await signedUp(es256);
      const claims = decodeJwt(session.access_token);
      const expired = await es256.signAccessToken({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 });
      const res = await supabase.auth.getUser(expired);
      assert.equal(res.error?.status, 403);
      assert.equal(res.error?.code, "bad_jwt");
      const hsWithWrongSecret = await hs256.signAccessToken({ ...claims });
      assert.equal((await supabase.auth.getUser(hsWithWrongSecret)).error?.code, "bad_jwt");

      await db.sql`update auth.users set banned_until = now() + interval '1 hour' where id = ${user.id}`;
      assert.equal((await supabase.auth.getUser(session.access_token)).error?.code, "user_banned");
      await db.sql`delete from auth.users where id = ${user.id}`;
      assert.equal((await supabase.auth.getUser(session.access_token)).error?.code, "user_not_found");
    });

    await t.step("like Auth itself, the emulator checks no apikey: that is the gateway's job", async () => {
      const { session, user } = await signedUp(es256);
      for (const headers of [{}, { apikey: "not-a-key" }] as Record<string, string>[]) {
        const res = await es256.handler(
          new Request(`${es256.url}/auth/v1/user`, {
            headers: { ...headers, Authorization: `Bearer ${session.access_token}` },
          }),
        );
        assert.equal(res.status, 200);
        assert.equal((await res.json()).id, user.id);
      }
    });

    await t.step("the JWKS publishes the signing key field for field as Supabase does", async () => {
      const jwks = await es256.handler(new Request(`${es256.url}/auth/v1/.well-known/jwks.json`));
      assert.equal(jwks.status, 200);
      const [key] = (await jwks.json()).keys;
      assert.deepEqual(Object.keys(key).sort(), [
        "alg",
        "crv",
        "ext",
        "key_ops",
        "kid",
        "kty",
        "use",
        "x",
        "y",
      ]);
      assert.equal(key.alg, "ES256");
      assert.equal(key.use, "sig");
    });

    await t.step("answers carry GoTrue's own CORS headers, errors included", async () => {
      const res = await es256.handler(
        new Request(`${es256.url}/auth/v1/user`, { headers: { Origin: "https://app.example" } }),
      );
      assert.equal(res.status, 401);
      await res.body?.cancel();
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(res.headers.get("access-control-allow-credentials"), "true");
      assert.equal(
        res.headers.get("access-control-expose-headers"),
        "X-Total-Count, Link, X-Supabase-Api-Version",
      );
      assert.equal(res.headers.get("vary"), "Origin");
      const sameOrigin = await es256.handler(new Request(`${es256.url}/auth/v1/health`));
      await sameOrigin.body?.cancel();
      assert.equal(sameOrigin.headers.get("access-control-allow-origin"), null);
      assert.equal(sameOrigin.headers.get("vary"), "Origin");
    });

    await t.step(
      "a preflight is allowed only for GoTrue's headers, which do not include apikey",
      async () => {
        const preflight = (requestHeaders: string) =>
          es256.handler(
            new Request(`${es256.url}/auth/v1/token`, {
              method: "OPTIONS",
              headers: {
                Origin: "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": requestHeaders,
              },
            }),
          );
        const allowed = await preflight("authorization,content-type,x-client-info");
        assert.equal(allowed.status, 204);
        assert.equal(allowed.headers.get("access-control-allow-origin"), "*");
        assert.equal(allowed.headers.get("access-control-allow-methods"), "POST");
        assert.equal(
          allowed.headers.get("access-control-allow-headers"),
          "authorization,content-type,x-client-info",
        );
        assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
        // What supabase-js in a browser asks for: in a project, the gateway answers this one.
        const withApiKey = await preflight("apikey,authorization,content-type,x-client-info");
        assert.equal(withApiKey.status, 204);
        assert.equal(withApiKey.headers.get("access-control-allow-origin"), null);
        assert.equal(withApiKey.headers.get("access-control-allow-headers"), null);
      },
    );

    await t.step("bad input is a JSON 4xx in the format the client asked for, never a 500", async () => {
      const post = (path: string, body: string, headers: Record<string, string> = {}) =>
        es256.handler(new Request(`${es256.url}/auth/v1${path}`, { method: "POST", headers, body }));
      const legacy = await post("/signup", "{not json");
      assert.equal(legacy.status, 400);
      assert.deepEqual(Object.keys(await legacy.json()), ["code", "error_code", "msg"]);
      const versioned = await post("/signup", JSON.stringify({ email: 42 }), {
        "X-Supabase-Api-Version": "2024-01-01",
      });
      assert.equal(versioned.status, 400);
      assert.equal(versioned.headers.get("x-supabase-api-version"), "2024-01-01");
      assert.equal((await versioned.json()).code, "bad_json");
      const weak = await post("/signup", JSON.stringify({ email: email(), password: "abc" }));
      assert.equal(weak.status, 422);
      assert.deepEqual((await weak.json()).weak_password, { reasons: ["length"] });
      const badEmail = await post("/signup", JSON.stringify({ email: "not-an-email", password: PASSWORD }));
      assert.equal((await badEmail.json()).error_code, "validation_failed");
      const noToken = await post("/token?grant_type=refresh_token", "{}");
      assert.deepEqual(await noToken.json(), {
        error: "invalid_request",
        error_description: "refresh_token required",
      });
      const grant = await post("/token?grant_type=magic", "{}");
      assert.equal(grant.status, 400);
      await grant.body?.cancel();
      const scope = await post("/logout?scope=everyone", "", {
        Authorization: `Bearer ${(await signedUp(es256)).session.access_token}`,
      });
      assert.equal(scope.status, 400);
      await scope.body?.cancel();
      const noBearer = await post("/logout", "");
      assert.equal(noBearer.status, 401);
      assert.equal((await noBearer.json()).error_code, "no_authorization");
      const method = await es256.handler(new Request(`${es256.url}/auth/v1/signup`));
      assert.equal(method.status, 405);
      assert.equal(method.headers.get("allow"), "POST");
      await method.body?.cancel();
    });

    await t.step("startAuthEmulator() names a taken port in its error", async () => {
      const port = Number(new URL(es256.url).port);
      await assert.rejects(
        startAuthEmulator({ databaseUrl: db.authUrl, port }),
        /Port \d+ \(Auth emulator\) is already in use/,
      );
    });
  } finally {
    for (const emulator of emulators) await emulator.stop();
    await db.close();
  }
});
