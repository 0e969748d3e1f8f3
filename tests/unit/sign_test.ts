import assert from "node:assert/strict";
import { CompactSign, jwtVerify } from "jose";
import { backendClaims } from "../../supabase/functions/_shared/exchange/sign.ts";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import type { BackendJwtConfig } from "../../supabase/functions/_shared/exchange/config.ts";

// HMAC is deterministic: with a fixed clock and secret the whole token is a literal. The vectors below
// were produced by PyJWT 2.6's jwt.encode (another implementation than the one under test) from the
// claims spelled out next to them. This file imports only _shared/, so it also runs on the Edge Runtime's
// Deno (`deno task test:edge-deno`); PyJWT's reading of a token is in sign_pyjwt_test.ts.
const SECRET = "0123456789abcdef0123456789abcdef";
const NOW = new Date("2026-01-02T03:04:05.678Z");
const SUBJECT = {
  userId: "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
  tenantId: "acme",
  role: "admin",
  email: "a@example.com",
};
const CONFIG: BackendJwtConfig = {
  secret: new TextEncoder().encode(SECRET),
  algorithm: "HS256",
  ttlSeconds: 604800,
};

// {"alg":"HS256","typ":"JWT"}.{"user_id":"6f0c…4e5f","tenant_id":"acme","role":"admin",
// "email":"a@example.com","exp":1767927845} (NOW + 7 days, in whole seconds)
const HS256_TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
  "eyJ1c2VyX2lkIjoiNmYwYzNmNGUtMWQyYi00YzVhLTllOGYtMGExYjJjM2Q0ZTVmIiwidGVuYW50X2lkIjoiYWNtZSIsInJvbGUiOiJhZG1p" +
  "biIsImVtYWlsIjoiYUBleGFtcGxlLmNvbSIsImV4cCI6MTc2NzkyNzg0NX0." +
  "2q2tfhCkTepEwCe5ZKncllVlbNkaVPbGkxzD-dmuc5E";

// {"alg":"HS512","typ":"JWT"}.{"user_id":"6f0c…4e5f","tenant_id":"acme","role":"admin","email":null,
// "exp":1767323105,"aud":"api","iss":"me"} (NOW + 60 s), secret "k" × 32 + "m" × 32
const HS512_TOKEN = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9." +
  "eyJ1c2VyX2lkIjoiNmYwYzNmNGUtMWQyYi00YzVhLTllOGYtMGExYjJjM2Q0ZTVmIiwidGVuYW50X2lkIjoiYWNtZSIsInJvbGUiOiJhZG1p" +
  "biIsImVtYWlsIjpudWxsLCJleHAiOjE3NjczMjMxMDUsImF1ZCI6ImFwaSIsImlzcyI6Im1lIn0." +
  "-hs5aRMUiHVRm1pRzVpFYE8u91S9S83gWs4C4Zxq1lBLzhkIt2DKgqpvtQp-iduaMdJjom6a45ARhZUWHy6f9A";

Deno.test("createBackendSigner() issues the literal HS256 token for a fixed clock and secret", async () => {
  const signed = await createBackendSigner(CONFIG)(SUBJECT, NOW);
  assert.equal(signed.token, HS256_TOKEN);
  assert.equal(signed.expiresIn, 604800);
  assert.equal(signed.expiresAt.toISOString(), "2026-01-09T03:04:05.000Z");
});

Deno.test("createBackendSigner() adds aud and iss only when configured, and signs with the configured HMAC", async () => {
  const signed = await createBackendSigner({
    secret: new TextEncoder().encode("k".repeat(32) + "m".repeat(32)),
    algorithm: "HS512",
    ttlSeconds: 60,
    audience: "api",
    issuer: "me",
  })({ ...SUBJECT, email: null }, NOW);
  assert.equal(signed.token, HS512_TOKEN);
  assert.equal(signed.expiresIn, 60);
});

Deno.test("createBackendSigner() output does not verify with another secret", async () => {
  const signed = await createBackendSigner(CONFIG)(SUBJECT, NOW);
  await assert.rejects(
    jwtVerify(signed.token, new TextEncoder().encode("another secret of thirty-two bytes!"), {
      currentDate: NOW,
    }),
    (err: Error & { code?: string }) => err.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  );
});

Deno.test("createBackendSigner()'s HMAC token is byte for byte jose's, for each hash, with and without a kid", async () => {
  for (const algorithm of ["HS256", "HS384", "HS512"] as const) {
    for (const kid of [undefined, "backend-2026"]) {
      const config: BackendJwtConfig = { ...CONFIG, algorithm, kid, audience: "api" };
      const { token } = await createBackendSigner(config)(SUBJECT, NOW);
      const claims: Uint8Array = new TextEncoder().encode(
        JSON.stringify(backendClaims(SUBJECT, NOW, config)),
      );
      const jose: string = await new CompactSign(claims)
        .setProtectedHeader({ alg: algorithm, typ: "JWT", ...(kid ? { kid } : {}) })
        .sign(config.secret as Uint8Array);
      assert.equal(token, jose, `${algorithm}, kid ${kid}`);
    }
  }
});
