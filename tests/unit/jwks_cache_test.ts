import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import {
  createJwksCache,
  JWKS_MAX_AGE_MS,
  JWKS_REFETCH_COOLDOWN_MS,
  parseJwks,
} from "../../supabase/functions/_shared/core/jwks_cache.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

/** A public ES256 JWK as Supabase publishes it. */
async function publicJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig", key_ops: ["verify"], ext: true };
}

/** A cache on a clock the test moves, whose JWKS the test sets, counting the fetches. */
function harness(initial?: JWK[]) {
  const state = { now: 1_000_000, published: [] as JWK[], fetches: 0, failing: false };
  const cache = createJwksCache({
    now: () => state.now,
    initial: initial ? { keys: initial } : undefined,
    load: async () => {
      state.fetches++;
      await Promise.resolve();
      if (state.failing) throw new Error("Auth is down");
      return { keys: state.published };
    },
  });
  return { state, cache };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

Deno.test("keyFor() verifies with an injected JWKS without fetching", async () => {
  const current = await publicJwk("current");
  const { state, cache } = harness([current]);
  const key = await cache.keyFor("current", "ES256");
  assert.equal(key.type, "public");
  assert.equal(state.fetches, 0);
});

Deno.test("keyFor() fetches once for unknown kids, shared by concurrent requests, then refuses them", async () => {
  const { state, cache } = harness([await publicJwk("current")]);
  state.published = [await publicJwk("current")];
  const errors = await Promise.all(
    Array.from({ length: 20 }, (_, i) => failure(cache.keyFor(`forged-${i}`, "ES256"))),
  );
  assert.equal(state.fetches, 1);
  assert.deepEqual(new Set(errors.map((e) => e.code)), new Set(["invalid_token"]));
});

Deno.test("keyFor() answers 503 with Retry-After while the refetch cools down, then fetches again", async () => {
  const { state, cache } = harness([]);
  assert.equal((await failure(cache.keyFor("forged-1", "ES256"))).code, "invalid_token");
  state.now += 10_000;
  const cooling = await failure(cache.keyFor("forged-2", "ES256"));
  assert.equal(cooling.code, "auth_unavailable");
  assert.equal(cooling.status, 503);
  assert.equal(cooling.headers["Retry-After"], "20");
  assert.equal(state.fetches, 1);
  state.now += JWKS_REFETCH_COOLDOWN_MS - 10_000;
  assert.equal((await failure(cache.keyFor("forged-3", "ES256"))).code, "invalid_token");
  assert.equal(state.fetches, 2);
});

Deno.test("a key rotated in during the cooldown gets 503, never 401, and is used once the cooldown ends", async () => {
  const { state, cache } = harness([]);
  await failure(cache.keyFor("forged", "ES256"));
  state.published = [await publicJwk("rotated-in")];
  state.now += 1_000;
  const early = await failure(cache.keyFor("rotated-in", "ES256"));
  assert.equal(early.code, "auth_unavailable");
  state.now += JWKS_REFETCH_COOLDOWN_MS;
  assert.equal((await cache.keyFor("rotated-in", "ES256")).type, "public");
  assert.equal(state.fetches, 2);
});

Deno.test("a key that leaves the JWKS is refused once the cached JWKS is 5 minutes old, not before", async () => {
  const previous = await publicJwk("previous");
  const { state, cache } = harness([previous]);
  state.published = [];
  state.now += JWKS_MAX_AGE_MS - 1;
  assert.equal((await cache.keyFor("previous", "ES256")).type, "public", "still within the bound");
  assert.equal(state.fetches, 0);
  state.now += 1;
  assert.equal((await failure(cache.keyFor("previous", "ES256"))).code, "invalid_token");
  assert.equal(state.fetches, 1);
});

Deno.test("keyFor() fails closed with 503 when the JWKS cannot be fetched", async () => {
  const { state, cache } = harness([await publicJwk("current")]);
  state.failing = true;
  state.now += JWKS_MAX_AGE_MS;
  const down = await failure(cache.keyFor("current", "ES256"));
  assert.equal(down.code, "auth_unavailable");
  assert.equal(down.headers["Retry-After"], "30");
  state.failing = false;
  state.published = [await publicJwk("current")];
  state.now += 5_000;
  assert.equal((await failure(cache.keyFor("current", "ES256"))).code, "auth_unavailable", "cooling down");
  state.now += JWKS_REFETCH_COOLDOWN_MS;
  assert.equal((await cache.keyFor("current", "ES256")).type, "public");
  assert.equal(state.fetches, 2);
});

Deno.test("keyFor() refuses a token whose alg is not its key's", async () => {
  const { cache } = harness([await publicJwk("current")]);
  assert.equal((await failure(cache.keyFor("current", "RS256"))).code, "invalid_token");
});

Deno.test("parseJwks() keeps only public ES256/RS256 verification keys with a kid", async () => {
  const good = await publicJwk("good");
  const { publicKey: rsa } = await generateKeyPair("RS256", { extractable: true });
  const rsaJwk = { ...(await exportJWK(rsa)), kid: "rsa" };
  const keys = parseJwks({
    keys: [
      good,
      rsaJwk,
      { kty: "oct", kid: "legacy", k: "c2VjcmV0" },
      { ...good, kid: undefined },
      { ...good, kid: "encrypts", use: "enc" },
      { ...good, kid: "signs-only", key_ops: ["sign"] },
      { ...good, kid: "mislabelled", alg: "RS256" },
      { ...good, kid: "p384", crv: "P-384" },
      null,
    ],
  });
  assert.deepEqual([...keys.keys()], ["good", "rsa"]);
  assert.equal(keys.get("rsa")!.alg, "RS256");
  assert.throws(() => parseJwks({ keys: "nope" }), TypeError);
});
