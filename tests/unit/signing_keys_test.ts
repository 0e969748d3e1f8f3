import assert from "node:assert/strict";
import { ConfigError } from "../../supabase/functions/_shared/core/config.ts";
import { loadExchangeConfig } from "../../supabase/functions/_shared/exchange/config.ts";
import { parseSigningKeys, toPublicJwks } from "../../supabase/functions/_shared/exchange/signing_keys.ts";
import { generateSigningKey } from "../../tools/backend_keys.ts";
import { PROJECT_ENV } from "../_fixtures.ts";

const BASE = PROJECT_ENV;

function problemOf(value: string, algorithm: "ES256" | "EdDSA" = "ES256"): string {
  const parsed = parseSigningKeys(value, algorithm);
  assert.ok("problem" in parsed, "refused");
  return parsed.problem;
}

Deno.test("parseSigningKeys() keeps the keys in order, and toPublicJwks() publishes public members only", async () => {
  const [first, second] = [await generateSigningKey("ES256"), await generateSigningKey("ES256")];
  const parsed = parseSigningKeys(
    JSON.stringify({ keys: [{ ...first, use: "sig", extra: "x" }, second] }),
    "ES256",
  );
  assert.ok("keys" in parsed);
  assert.deepEqual(parsed.keys.map((k) => k.kid), [first.kid, second.kid]);
  const jwks = toPublicJwks(parsed.keys, "ES256");
  assert.deepEqual(jwks.keys[0], {
    kty: "EC",
    crv: "P-256",
    kid: first.kid,
    x: first.x,
    y: first.y,
    alg: "ES256",
    use: "sig",
  });
  assert.equal(JSON.stringify(jwks).includes(first.d), false);
  assert.equal(JSON.stringify(jwks).includes('"d"'), false);

  const ed = await generateSigningKey("EdDSA");
  const edParsed = parseSigningKeys(JSON.stringify([ed]), "EdDSA");
  assert.ok("keys" in edParsed);
  assert.deepEqual(Object.keys(toPublicJwks(edParsed.keys, "EdDSA").keys[0]).sort(), [
    "alg",
    "crv",
    "kid",
    "kty",
    "use",
    "x",
  ]);
});

Deno.test("parseSigningKeys() refuses what would sign tokens nobody can verify, without echoing a key", async () => {
  const key = await generateSigningKey("ES256");
  const other = await generateSigningKey("ES256");
  const cases: [string, string][] = [
    ["{", "is not JSON"],
    ['{"keys": []}', 'is not a JWK set ({"keys": [...]})'],
    [JSON.stringify({ keys: ["x"] }), "key 0: is not a JWK object"],
    [
      JSON.stringify({ keys: [{ ...key, kid: undefined }] }),
      "key 0: has no kid of 1-64 characters (letters, digits, . _ ~ -)",
    ],
    [JSON.stringify({ keys: [{ ...key, d: undefined }] }), "key 0: has no private part (d)"],
    [
      JSON.stringify({ keys: [{ ...key, d: other.d }] }),
      "key 0: has a private part (d) that does not belong to its public part",
    ],
    [JSON.stringify({ keys: [key, { ...other, kid: key.kid }] }), "key 1: its kid is used twice"],
    [JSON.stringify({ keys: [{ ...key, alg: "ES384" }] }), "key 0: says alg ES384, not ES256"],
    [JSON.stringify({ keys: [{ ...key, x: "AAAA" }] }), "key 0: is not a valid key"],
  ];
  for (const [value, problem] of cases) {
    assert.equal(problemOf(value), problem, value);
    assert.equal(problem.includes(key.d), false);
  }
  assert.equal(
    problemOf(JSON.stringify({ keys: [key] }), "EdDSA"),
    "key 0: is not a OKP Ed25519 key, as EdDSA needs",
  );
});

Deno.test("loadExchangeConfig() signs ES256/EdDSA with BACKEND_JWT_PRIVATE_KEYS and needs no shared secret", async () => {
  for (const algorithm of ["ES256", "EdDSA"] as const) {
    const key = await generateSigningKey(algorithm);
    const config = loadExchangeConfig({
      ...BASE,
      BACKEND_JWT_ALGORITHM: algorithm,
      BACKEND_JWT_PRIVATE_KEYS: JSON.stringify({ keys: [key] }),
    });
    assert.equal(config.backendJwt.algorithm, algorithm);
    assert.deepEqual("keys" in config.backendJwt && config.backendJwt.keys.map((k) => k.kid), [key.kid]);
  }
  for (const keys of [undefined, "", "not json"]) {
    const err = assert.throws(
      () => loadExchangeConfig({ ...BASE, BACKEND_JWT_ALGORITHM: "ES256", BACKEND_JWT_PRIVATE_KEYS: keys }),
      (err: unknown) => err instanceof ConfigError && err.setting === "BACKEND_JWT_PRIVATE_KEYS",
    );
    assert.equal(err, undefined);
  }
});

Deno.test("loadExchangeConfig() takes an optional BACKEND_JWT_KID for HMAC tokens and checks its form", () => {
  const env = { ...BASE, BACKEND_JWT_SECRET: "s".repeat(16) + "t".repeat(16) };
  assert.equal("kid" in loadExchangeConfig(env).backendJwt, false);
  const config = loadExchangeConfig({ ...env, BACKEND_JWT_KID: " 2026-01 " }).backendJwt;
  assert.equal("kid" in config && config.kid, "2026-01");
  assert.throws(
    () => loadExchangeConfig({ ...env, BACKEND_JWT_KID: "a b" }),
    (err: unknown) => err instanceof ConfigError && err.setting === "BACKEND_JWT_KID",
  );
});
