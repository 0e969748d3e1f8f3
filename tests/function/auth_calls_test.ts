/**
 * Auth is spent only on plausible tokens ("Safe to deploy", finding 3): forged tokens, counted at the Auth
 * emulator. A made-up ES256 token with a random `kid` costs at most one JWKS fetch per 30 s, shared, and
 * never `GET /user`; forged HS256 tokens (which only Auth can check) cost at most the isolate's budget,
 * past which they get 503 with `Retry-After`; a refused token replayed costs nothing more; and with
 * `AUTH_HS256_TOKENS=refuse`, HS256 costs nothing at all. The clock is frozen, so the budget does not
 * refill while the test runs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateKeyPair, SignJWT } from "jose";
import { createTenant } from "../_db.ts";
import { exchangeRequest, type Harness, openHarness, payloadOf, signUp } from "./_setup.ts";
import type { FunctionApp } from "../../supabase/functions/_shared/core/serve.ts";

const FORGED = 1_000;

function authCalls(h: Harness): number {
  return Object.entries(h.auth.requestCounts())
    .filter(([route]) => route === "GET /user" || route === "GET /.well-known/jwks.json")
    .reduce((sum, [, count]) => sum + count, 0);
}

/** Sends every token, a few dozen at a time as a client would, and tallies the answers by status. */
async function send(app: FunctionApp, tokens: string[]): Promise<Record<number, number>> {
  const tally: Record<number, number> = {};
  for (let i = 0; i < tokens.length; i += 50) {
    const statuses = await Promise.all(
      tokens.slice(i, i + 50).map(async (token) => {
        const res = await app.handler(exchangeRequest(token));
        await res.body?.cancel();
        return res.status;
      }),
    );
    for (const s of statuses) tally[s] = (tally[s] ?? 0) + 1;
  }
  return tally;
}

async function plausibleClaims(h: Harness) {
  const tenant = await createTenant(h.db.sql, "Acme");
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.userId})`;
  return { user, claims: payloadOf(user.accessToken) };
}

Deno.test("1,000 ES256 tokens with random kids cost one JWKS fetch and no GET /user", async () => {
  const h = await openHarness();
  try {
    const { user, claims } = await plausibleClaims(h);
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await Promise.all(
      Array.from(
        { length: FORGED },
        () =>
          new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() }).sign(privateKey),
      ),
    );
    const at = Date.now();
    const app = h.appWith({ jwks: h.auth.jwks }, { now: () => new Date(at) });
    const before = authCalls(h);
    const tally = await send(app, forged);
    assert.equal(authCalls(h) - before, 1, `Auth calls for ${FORGED} forged ES256 tokens`);
    assert.deepEqual(Object.keys(tally).sort(), ["401", "503"], JSON.stringify(tally));
    assert.equal(tally[200], undefined);
    const ok = await app.handler(exchangeRequest(user.accessToken));
    assert.equal(ok.status, 200, "a real token is served meanwhile, from the cache");
    await ok.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("forged HS256 tokens cost at most the budget, then 503 with Retry-After, never 401", async () => {
  const h = await openHarness({ mode: "hs256" });
  try {
    const { user, claims } = await plausibleClaims(h);
    const wrongSecret = crypto.getRandomValues(new Uint8Array(32));
    const forged = await Promise.all(
      Array.from(
        { length: FORGED },
        (_, i) =>
          new SignJWT({ ...claims, nonce: i }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(
            wrongSecret,
          ),
      ),
    );
    const at = Date.now();
    const app = h.appWith({ authApiCallsPerSecond: 20 }, { now: () => new Date(at) });
    const before = authCalls(h);
    const tally = await send(app, forged);
    assert.equal(authCalls(h) - before, 20, "the budget, and not one call more");
    assert.deepEqual(tally, { 401: 20, 503: FORGED - 20 });
    const spent = await app.handler(exchangeRequest(user.accessToken));
    assert.equal(spent.status, 503);
    assert.equal(spent.headers.get("retry-after"), "1");
    assert.equal((await spent.json()).error, "auth_unavailable");
  } finally {
    await h.close();
  }
});

Deno.test("a forged HS256 token replayed 1,000 times costs one Auth call; a real one is still served", async () => {
  const h = await openHarness({ mode: "hs256" });
  try {
    const { user, claims } = await plausibleClaims(h);
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(crypto.getRandomValues(new Uint8Array(32)));
    const before = authCalls(h);
    const tally = await send(h.app, Array(FORGED).fill(forged));
    assert.deepEqual(tally, { 401: FORGED });
    assert.equal(authCalls(h) - before, 1, "concurrent ones share the call; later ones are remembered");
    assert.deepEqual(await send(h.app, [user.accessToken]), { 200: 1 });
  } finally {
    await h.close();
  }
});

Deno.test("AUTH_HS256_TOKENS=refuse refuses HS256 tokens, real ones included, without asking Auth", async () => {
  const h = await openHarness({ mode: "hs256" });
  try {
    const { user } = await plausibleClaims(h);
    const app = h.appWith({ hs256Tokens: "refuse" });
    const before = authCalls(h);
    const res = await app.handler(exchangeRequest(user.accessToken));
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error, "invalid_token");
    assert.equal(authCalls(h), before);
  } finally {
    await h.close();
  }
});
