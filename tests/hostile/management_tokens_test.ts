/**
 * Hostile replay of issue 17's item 8 from outside, through the local stack's gateway: `REQUIRE_AAL2` and
 * `AUTH_HS256_TOKENS=refuse` were replayed for the exchange only (`token_claims_test.ts`,
 * `forged_tokens_test.ts`), while the `tenants` and `invitations` functions verify the same tokens with the
 * same `_shared` code and let a caller rename a tenant, invite, accept. A setting that reached the exchange
 * but not them, or a route that skipped the check, would leave a second way in.
 *
 * One stack, started as `deno task dev` starts it with `REQUIRE_AAL2=true AUTH_HS256_TOKENS=refuse` in the
 * environment, and for `GET /functions/v1/tenants`, `GET /functions/v1/invitations` and
 * `PATCH /functions/v1/tenants/{tenant}`, sent as any HTTP client would:
 *
 * - a user with a verified TOTP factor, signed in again with only a password (`aal1`), gets 401
 *   `insufficient_user_authentication` (the JSON error body of docs/tenants.md, the RFC 9470 challenge) and
 *   renames nothing; once they verify the factor in that session (`aal2`), the same calls answer 200;
 * - a user without a factor is not asked to step up: their `aal1` session answers 200;
 * - HS256 access tokens, one signed with the project's real legacy secret and the claims of a real session
 *   (Auth itself accepts it) and a batch forged with a random secret, get 401 `invalid_token` from both
 *   functions without a single Auth call (`GET /user`, JWKS: the emulator's counts unchanged), while the same
 *   user's ES256 session token answers 200.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, SignJWT } from "jose";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { totpCode } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

const FORGED = 200;

/** The routes replayed for a caller who owns `tenant`: both functions' lists and one write. */
function routes(tenant: string) {
  return [
    { method: "GET", path: "tenants" },
    { method: "GET", path: "invitations" },
    {
      method: "PATCH",
      path: `tenants/${tenant}`,
      body: { name: `Renamed ${crypto.randomUUID().slice(0, 6)}` },
    },
  ];
}

type Route = ReturnType<typeof routes>[number];

interface Answer {
  status: number;
  error?: string;
  message?: string;
  challenge: string | null;
}

function client(stack: LocalStack): SupabaseClient {
  return createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

/** A function call through the gateway, with the headers supabase-js `functions.invoke` sends. */
async function call(stack: LocalStack, token: string, route: Route): Promise<Answer> {
  const res = await fetch(`${stack.apiUrl}/functions/v1/${route.path}`, {
    method: route.method,
    headers: {
      apikey: stack.publishableKey,
      authorization: `Bearer ${token}`,
      ...(route.body ? { "content-type": "application/json" } : {}),
    },
    body: route.body ? JSON.stringify(route.body) : undefined,
  });
  const body = await res.json();
  return {
    status: res.status,
    ...(body.error ? { error: body.error, message: body.message } : {}),
    challenge: res.headers.get("www-authenticate"),
  };
}

/** Every route's status, as `{ "GET tenants": 200, … }`. */
async function statuses(stack: LocalStack, token: string, tenant: string) {
  const answers: Record<string, number> = {};
  for (const route of routes(tenant)) {
    answers[`${route.method} ${route.path}`] = (await call(stack, token, route)).status;
  }
  return answers;
}

function allOk(tenant: string) {
  return Object.fromEntries(routes(tenant).map((route) => [`${route.method} ${route.path}`, 200]));
}

/** Auth's calls that a token's verification could cost: `GET /user` and the JWKS. */
function authCalls(stack: LocalStack) {
  const counts = stack.auth.requestCounts();
  return { user: counts["GET /user"] ?? 0, jwks: counts["GET /.well-known/jwks.json"] ?? 0 };
}

Deno.test("issue 17 item 8 replayed: REQUIRE_AAL2 and AUTH_HS256_TOKENS=refuse hold for tenants and invitations", async (t) => {
  const stack = await startStack({
    autoConfirm: true,
    seed: false,
    functionEnv: { REQUIRE_AAL2: "true", AUTH_HS256_TOKENS: "refuse" },
  });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    /** A user signed up (a session at once: auto-confirm), owner of a tenant of their own, as the operator's SQL. */
    const owner = async (tenant: string) => {
      const email = `${tenant}-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const supabase = client(stack);
      const { data, error } = await supabase.auth.signUp({ email, password: PASSWORD });
      assert.equal(error, null);
      await sql`insert into tenancy.tenants (name, external_id) values (${tenant}, ${tenant})`;
      await sql`insert into tenancy.memberships (tenant_id, user_id, role)
                select id, ${data.user!.id}, 'owner' from tenancy.tenants where external_id = ${tenant}`;
      return { email, supabase, session: data.session! };
    };
    const tenantName = async (tenant: string) =>
      (await sql`select name from tenancy.tenants where external_id = ${tenant}`)[0].name as string;

    await t.step("a password-only session of a user with a verified factor must step up first", async () => {
      const mfa = await owner("aal-mfa");
      const { data: factor } = await mfa.supabase.auth.mfa.enroll({ factorType: "totp" });
      const { data: challenge } = await mfa.supabase.auth.mfa.challenge({ factorId: factor!.id });
      const { error: verifyError } = await mfa.supabase.auth.mfa.verify({
        factorId: factor!.id,
        challengeId: challenge!.id,
        code: totpCode(factor!.totp.secret),
      });
      assert.equal(verifyError, null);

      // Signing in again with the password alone: aal1.
      const attacker = client(stack);
      const { data: signedIn } = await attacker.auth.signInWithPassword({
        email: mfa.email,
        password: PASSWORD,
      });
      const aal1Token = signedIn.session!.access_token;
      assert.equal(decodeJwt(aal1Token).aal, "aal1");
      const nameBefore = await tenantName("aal-mfa");
      for (const route of routes("aal-mfa")) {
        const answer = await call(stack, aal1Token, route);
        const label = `${route.method} ${route.path}`;
        assert.equal(answer.status, 401, label);
        assert.equal(answer.error, "insufficient_user_authentication", label);
        assert.equal(typeof answer.message, "string", label);
        assert.match(
          answer.challenge ?? "",
          /^Bearer realm="[^"]+", error="insufficient_user_authentication"$/,
          label,
        );
      }
      assert.equal(await tenantName("aal-mfa"), nameBefore, "the refused PATCH renamed nothing");

      // With the factor verified in that session: aal2, and the same calls go through.
      const { data: again } = await attacker.auth.mfa.challenge({ factorId: factor!.id });
      const { data: stepped } = await attacker.auth.mfa.verify({
        factorId: factor!.id,
        challengeId: again!.id,
        code: totpCode(factor!.totp.secret),
      });
      assert.equal(decodeJwt(stepped!.access_token).aal, "aal2");
      assert.deepEqual(await statuses(stack, stepped!.access_token, "aal-mfa"), allOk("aal-mfa"));
      assert.notEqual(await tenantName("aal-mfa"), nameBefore, "the aal2 PATCH renamed the tenant");
    });

    const plain = await owner("aal-plain");

    await t.step("a user without a factor has nothing to step up to: aal1 answers 200", async () => {
      assert.equal(decodeJwt(plain.session.access_token).aal, "aal1");
      assert.deepEqual(await statuses(stack, plain.session.access_token, "aal-plain"), allOk("aal-plain"));
    });

    await t.step(
      `HS256 tokens, the project's real secret and ${FORGED} forged: 401, no Auth call`,
      async () => {
        const claims = decodeJwt(plain.session.access_token);
        const real = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .sign(new TextEncoder().encode(stack.jwtSecret));
        // Control: the token is genuine, Auth itself accepts it (a call made before the count starts).
        const fromAuth = await fetch(`${stack.apiUrl}/auth/v1/user`, {
          headers: { apikey: stack.publishableKey, authorization: `Bearer ${real}` },
        });
        await fromAuth.body?.cancel();
        assert.equal(fromAuth.status, 200, "Auth accepts the legacy-secret token");
        const secret = crypto.getRandomValues(new Uint8Array(32));
        const forged = await Promise.all(
          Array.from(
            { length: FORGED },
            (_, i) =>
              new SignJWT({ ...claims, nonce: i }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(
                secret,
              ),
          ),
        );

        const nameBefore = await tenantName("aal-plain");
        const before = authCalls(stack);
        const started = performance.now();
        for (const route of routes("aal-plain")) {
          const tally: Record<string, number> = {};
          const tokens = [real, ...forged];
          for (let i = 0; i < tokens.length; i += 50) {
            const answers = await Promise.all(
              tokens.slice(i, i + 50).map((token) => call(stack, token, route)),
            );
            for (const { status, error } of answers) {
              tally[`${status} ${error}`] = (tally[`${status} ${error}`] ?? 0) + 1;
            }
          }
          assert.deepEqual(tally, { "401 invalid_token": FORGED + 1 }, `${route.method} ${route.path}`);
        }
        const calls = authCalls(stack);
        console.log(
          `Auth calls for ${FORGED + 1} HS256 tokens on ${
            routes("").length
          } routes with AUTH_HS256_TOKENS=refuse: ${calls.user - before.user} GET /user, ${
            calls.jwks - before.jwks
          } JWKS (in ${Math.round(performance.now() - started)} ms)`,
        );
        assert.deepEqual(calls, before);
        assert.equal(await tenantName("aal-plain"), nameBefore, "no HS256 PATCH renamed the tenant");

        // The same user's ES256 session token still answers.
        assert.deepEqual(await statuses(stack, plain.session.access_token, "aal-plain"), allOk("aal-plain"));
      },
    );
  } finally {
    await sql.end();
    await stack.stop();
  }
});
