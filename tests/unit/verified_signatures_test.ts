import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createVerifiedSignatures } from "../../supabase/functions/_shared/core/verified_signatures.ts";
import { createSupabaseVerifier } from "../../supabase/functions/_shared/core/verify.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

const SUPABASE_URL = "https://abcdefghijklmnop.supabase.co";

async function publicKey(): Promise<CryptoKey> {
  return (await generateKeyPair("ES256")).publicKey;
}

Deno.test("a token counts as checked only with the very key object it was remembered with", async () => {
  const signatures = createVerifiedSignatures();
  const key = await publicKey();
  assert.equal(signatures.checked("a.b.c", key), false);
  signatures.remember("a.b.c", key);
  assert.equal(signatures.checked("a.b.c", key), true);
  assert.equal(signatures.checked("a.b.d", key), false, "another token");
  assert.equal(signatures.checked("a.b.c", await publicKey()), false, "another key object");
});

Deno.test("the oldest token is dropped past the entries' bound", async () => {
  const signatures = createVerifiedSignatures(2);
  const key = await publicKey();
  signatures.remember("t1", key);
  signatures.remember("t2", key);
  signatures.remember("t3", key);
  assert.deepEqual(["t1", "t2", "t3"].map((t) => signatures.checked(t, key)), [false, true, true]);
  signatures.remember("t2", key);
  signatures.remember("t4", key);
  assert.deepEqual(
    ["t2", "t3", "t4"].map((t) => signatures.checked(t, key)),
    [true, false, true],
    "t2 renewed",
  );
});

/** A verifier with one ES256 key in its JWKS, on a clock the test moves; it never reaches Auth. */
async function harness() {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const state = { now: Date.now() };
  const verify = createSupabaseVerifier({
    supabaseUrl: SUPABASE_URL,
    supabaseKey: "anon",
    timeoutMs: 1000,
    jwks: { keys: [jwk] },
    now: () => new Date(state.now),
    fetch: () => Promise.reject(new Error("no Auth in this test")),
  });
  const token = (exp: number) =>
    new SignJWT({
      role: "authenticated",
      session_id: crypto.randomUUID(),
      aud: "authenticated",
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "JWT" })
      .setSubject(crypto.randomUUID())
      .setIssuer(`${SUPABASE_URL}/auth/v1`)
      .setExpirationTime(exp)
      .sign(privateKey);
  return { verify, token, state };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err.code;
  }
  throw new Error("expected a refusal");
}

Deno.test("a token accepted before still has its signature, expiry and claims checked", async () => {
  const { verify, token, state } = await harness();
  const exp = Math.floor(state.now / 1000) + 60;
  const good = await token(exp);
  assert.equal((await verify(good)).exp, exp);
  assert.equal((await verify(good)).exp, exp, "accepted again");

  // The same header and claims under another signature: a different token, checked and refused.
  const [header, payload, signature] = good.split(".");
  const forged = `${header}.${payload}.${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
  assert.equal(await refusal(verify(forged)), "invalid_token");

  state.now += 61_000;
  assert.equal(await refusal(verify(good)), "invalid_token", "expired, though remembered");
});
