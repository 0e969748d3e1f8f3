/**
 * Hostile replay of issue 12's finding 3, "forged requests cost Supabase Auth", as written and from outside:
 * unauthenticated POSTs with made-up tokens through the local stack's gateway, Auth's calls counted by the
 * Auth emulator behind it.
 *
 * Before: a made-up ES256 token with a random `kid` made two Auth calls (a JWKS refetch and
 * `GET /auth/v1/user`), an HS256 one one call, unshared and unlimited: 1,000 such requests, 2,000 or 1,000
 * calls. Now an unknown `kid` costs at most one JWKS fetch per isolate per 30 s and never `GET /user`, and
 * HS256 tokens cost at most the isolate's budget (`AUTH_API_CALLS_PER_SECOND`, 20 here), each refused token
 * once, and nothing with `AUTH_HS256_TOKENS=refuse`. The counts are printed as figures.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { startFunction } from "../../dev/function_worker.ts";
import { startEdgeRuntime } from "../../dev/edge_runtime.ts";
import { PASSWORD } from "../_fixtures.ts";

const FORGED = 1_000;
const BUDGET = 20;
const COOLDOWN_MS = 30_000;

function authCalls(stack: LocalStack): number {
  const counts = stack.auth.requestCounts();
  return (counts["GET /user"] ?? 0) + (counts["GET /.well-known/jwks.json"] ?? 0);
}

/** POSTs every token to `url`, 50 at a time, and tallies the answers by status. */
async function flood(url: string, tokens: string[]): Promise<Record<number, number>> {
  const tally: Record<number, number> = {};
  for (let i = 0; i < tokens.length; i += 50) {
    const statuses = await Promise.all(
      tokens.slice(i, i + 50).map(async (token) => {
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` } });
        await res.body?.cancel();
        return res.status;
      }),
    );
    for (const status of statuses) tally[status] = (tally[status] ?? 0) + 1;
  }
  return tally;
}

/** Auth calls made while `run` floods, and how long it took. */
async function measured(stack: LocalStack, run: () => Promise<Record<number, number>>) {
  const before = authCalls(stack);
  const started = performance.now();
  const tally = await run();
  return { calls: authCalls(stack) - before, ms: performance.now() - started, tally };
}

Deno.test("finding 3 replayed: forged tokens cost Auth a bounded number of calls, not one or two each", async (t) => {
  const stack = await startStack({
    autoConfirm: true,
    functionEnv: { AUTH_API_CALLS_PER_SECOND: String(BUDGET) },
  });
  const url = `${stack.apiUrl}/functions/v1/exchange-token`;
  try {
    // Plausible claims, as anyone can read them from their own token: this project's iss, aud and role.
    const supabase = createClient(stack.apiUrl, stack.publishableKey, { auth: { persistSession: false } });
    const { data } = await supabase.auth.signUp({
      email: `attacker-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: PASSWORD,
    });
    const claims = decodeJwt(data.session!.access_token);

    await t.step(`${FORGED} ES256 tokens with random kids: at most one JWKS fetch per 30 s`, async () => {
      const { privateKey } = await generateKeyPair("ES256");
      const forged = await Promise.all(
        Array.from(
          { length: FORGED },
          () =>
            new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() }).sign(
              privateKey,
            ),
        ),
      );
      const booted = stack.functionBoots;
      const { calls, ms, tally } = await measured(stack, () => flood(url, forged));
      // Each worker has a budget of its own; past 1 s of CPU time the runtime retires one for a fresh one.
      const workers = 1 + stack.functionBoots - booted;
      console.log(
        `Auth calls for ${FORGED} forged ES256 tokens with random kids: ${calls} (in ${Math.round(ms)} ms)`,
      );
      assert.ok(calls <= workers * (1 + Math.floor(ms / COOLDOWN_MS)), `${calls} calls`);
      assert.equal(tally[200], undefined);
      assert.equal((tally[401] ?? 0) + (tally[503] ?? 0), FORGED, JSON.stringify(tally));
    });

    await t.step(`${FORGED} distinct forged HS256 tokens: at most the budget, then 503`, async () => {
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
      const booted = stack.functionBoots;
      const { calls, ms, tally } = await measured(stack, () => flood(url, forged));
      const workers = 1 + stack.functionBoots - booted;
      console.log(
        `Auth calls for ${FORGED} distinct forged HS256 tokens, budget ${BUDGET}/s: ${calls} (in ${
          Math.round(ms)
        } ms)`,
      );
      assert.ok(calls <= workers * BUDGET * (1 + Math.ceil(ms / 1000)), `${calls} calls in ${ms} ms`);
      assert.equal(tally[200], undefined);
      assert.ok((tally[503] ?? 0) > 0, "the spent budget answers 503");
    });

    await t.step(`one forged HS256 token sent ${FORGED} times: one Auth call per worker`, async () => {
      // Past the budget's second, so that it has refilled.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(crypto.getRandomValues(new Uint8Array(32)));
      const booted = stack.functionBoots;
      const { calls, tally } = await measured(stack, () => flood(url, Array(FORGED).fill(forged)));
      // At most one per worker that served the flood: each caches the refusal, and past 1 s of CPU time the
      // runtime retires a worker for a fresh one (one retired just before the flood served none of it).
      const workers = 1 + stack.functionBoots - booted;
      console.log(
        `Auth calls for one forged HS256 token sent ${FORGED} times: ${calls} (${workers} workers)`,
      );
      assert.ok(calls >= 1 && calls <= workers, `${calls} calls, ${workers} workers`);
      assert.deepEqual(tally, { 401: FORGED });
    });

    await t.step(`with AUTH_HS256_TOKENS=refuse, ${FORGED} forged HS256 tokens: no Auth call`, async () => {
      // A second instance of the function, under a runtime of its own that gives it a free port.
      const fn = startEdgeRuntime({
        boot: (port) => startFunction(port, { ...stack.functionEnv, AUTH_HS256_TOKENS: "refuse" }),
      });
      try {
        await fn.boot();
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
        const { calls, tally } = await measured(
          stack,
          () => flood(`${fn.url}/exchange-token`, forged),
        );
        console.log(`Auth calls for ${FORGED} forged HS256 tokens with AUTH_HS256_TOKENS=refuse: ${calls}`);
        assert.equal(calls, 0);
        assert.deepEqual(tally, { 401: FORGED });
      } finally {
        await fn.stop();
      }
    });
  } finally {
    await stack.stop();
  }
});
