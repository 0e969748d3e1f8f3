/**
 * The backend-token signer with a private JWK set, and the JWKS route: what a backend that verifies
 * through the JWKS relies on.
 */
import assert from "node:assert/strict";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import {
  createExchangeHandler,
  createMisconfiguredHandler,
  JWKS_MAX_AGE_SECONDS,
} from "../../supabase/functions/_shared/exchange/routes.ts";
import { ConfigError } from "../../supabase/functions/_shared/core/config.ts";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import { toPublicJwks } from "../../supabase/functions/_shared/exchange/signing_keys.ts";
import { generateSigningKey } from "../../tools/backend_keys.ts";
import { ORIGIN } from "../_fixtures.ts";

const NOW = new Date("2026-01-02T03:04:05.000Z");
const SUBJECT = {
  userId: "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
  tenantId: "acme",
  role: "user",
  email: null,
};
const JWKS_URL = "http://localhost/exchange-token/.well-known/jwks.json";

function handlerWith(jwks?: ReturnType<typeof toPublicJwks>) {
  const refuse = () => Promise.reject(new Error("not called"));
  return createExchangeHandler({
    config: { allowedOrigins: [ORIGIN], maxBodyBytes: 1024, bodyTimeoutMs: 10_000 },
    verifyToken: refuse,
    resolveTenant: refuse,
    signToken: refuse,
    log: () => {},
    jwks,
  });
}

for (const algorithm of ["ES256", "EdDSA"] as const) {
  Deno.test(`createBackendSigner() signs ${algorithm} with the first key, its kid in the header`, async () => {
    const keys = [await generateSigningKey(algorithm), await generateSigningKey(algorithm)];
    const sign = createBackendSigner({ algorithm, keys, ttlSeconds: 3600 });
    const { token } = await sign(SUBJECT, NOW);
    assert.deepEqual(decodeProtectedHeader(token), { alg: algorithm, typ: "JWT", kid: keys[0].kid });
    const published = createLocalJWKSet(toPublicJwks(keys, algorithm));
    const { payload } = await jwtVerify(token, published, { algorithms: [algorithm], currentDate: NOW });
    assert.deepEqual(Object.keys(payload), ["user_id", "tenant_id", "role", "email", "exp"]);
  });
}

Deno.test("createBackendSigner() puts BACKEND_JWT_KID in an HMAC token's header only when set", async () => {
  const secret = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
  const withKid = await createBackendSigner({ algorithm: "HS256", secret, kid: "2026-01", ttlSeconds: 60 })(
    SUBJECT,
    NOW,
  );
  // HMAC is deterministic: the whole header segment, byte for byte.
  assert.equal(withKid.token.split(".")[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjIwMjYtMDEifQ");
  const without = await createBackendSigner({ algorithm: "HS256", secret, ttlSeconds: 60 })(SUBJECT, NOW);
  assert.deepEqual(decodeProtectedHeader(without.token), { alg: "HS256", typ: "JWT" });
});

Deno.test("GET .well-known/jwks.json serves the public keys: cacheable, any origin, no private member", async () => {
  const keys = [await generateSigningKey("ES256"), await generateSigningKey("ES256")];
  const handler = handlerWith(toPublicJwks(keys, "ES256"));
  for (const url of [JWKS_URL, "http://localhost/.well-known/jwks.json"]) {
    const res = await handler(new Request(url, { headers: { origin: "https://elsewhere.example" } }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const text = await res.text();
    const jwks = JSON.parse(text);
    assert.deepEqual(jwks.keys.map((k: { kid: string }) => k.kid), keys.map((k) => k.kid));
    for (const key of keys) assert.equal(text.includes(key.d), false);
    for (const key of jwks.keys) {
      assert.deepEqual(Object.keys(key).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    }
  }
});

Deno.test("with HMAC tokens the JWKS is 404 not_found; every other GET stays 405", async () => {
  const handler = handlerWith(undefined);
  const res = await handler(new Request(JWKS_URL, { headers: { origin: ORIGIN } }));
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal((await res.json()).error, "not_found");

  const withKeys = handlerWith(toPublicJwks([await generateSigningKey("ES256")], "ES256"));
  for (
    const [method, url] of [
      ["GET", "http://localhost/exchange-token"],
      ["GET", "http://localhost/exchange-token/.well-known/other.json"],
      ["GET", "http://localhost/a/b/.well-known/jwks.json"],
      ["POST", JWKS_URL],
      ["HEAD", JWKS_URL],
    ]
  ) {
    const other = await withKeys(new Request(url, { method, headers: { origin: ORIGIN } }));
    await other.body?.cancel();
    const expected = method === "POST" ? 401 : 405; // a POST anywhere is an exchange (here without a token)
    assert.equal(other.status, expected, `${method} ${url}`);
  }
});

Deno.test("a misconfigured function answers the JWKS with 500 server_misconfigured", async () => {
  const handler = createMisconfiguredHandler(new ConfigError("BACKEND_JWT_PRIVATE_KEYS", "is not set"), {
    allowedOrigins: "*",
    log: () => {},
  });
  const res = await handler(new Request(JWKS_URL));
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, "server_misconfigured");
});
