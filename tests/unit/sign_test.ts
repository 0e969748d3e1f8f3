import assert from "node:assert/strict";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { backendClaims, createBackendSigner } from "../../supabase/functions/_shared/sign.ts";
import type { BackendJwtConfig } from "../../supabase/functions/_shared/config.ts";

const SECRET = new TextEncoder().encode("0123456789abcdef0123456789abcdef");
const NOW = new Date("2026-01-02T03:04:05.678Z");
const SUBJECT = {
  userId: "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
  tenantId: "acme",
  role: "admin",
  email: "a@example.com",
};
const CONFIG: BackendJwtConfig = { secret: SECRET, algorithm: "HS256", ttlSeconds: 604800 };

Deno.test("createBackendSigner() issues exactly the default claim set, with an HS256 JWT header", async () => {
  const signed = await createBackendSigner(CONFIG)(SUBJECT, NOW);
  assert.deepEqual(decodeProtectedHeader(signed.token), { alg: "HS256", typ: "JWT" });
  const { payload } = await jwtVerify(signed.token, SECRET, { algorithms: ["HS256"], currentDate: NOW });
  assert.deepEqual(Object.keys(payload), ["user_id", "tenant_id", "role", "email", "exp"]);
  assert.deepEqual(payload, {
    user_id: SUBJECT.userId,
    tenant_id: "acme",
    role: "admin",
    email: "a@example.com",
    exp: Math.floor(NOW.getTime() / 1000) + 604800,
  });
});

Deno.test("createBackendSigner() is deterministic for a frozen clock", async () => {
  const sign = createBackendSigner(CONFIG);
  const [a, b] = [await sign(SUBJECT, NOW), await sign(SUBJECT, NOW)];
  assert.equal(a.token, b.token);
  // The header and payload segments, byte for byte.
  assert.equal(
    a.token.split(".").slice(0, 2).join("."),
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
      btoa(JSON.stringify({ ...backendClaims(SUBJECT, NOW, CONFIG) })).replaceAll("=", "").replaceAll(
        "+",
        "-",
      )
        .replaceAll("/", "_"),
  );
});

Deno.test("createBackendSigner() sets exp to now + TTL and reports the same lifetime", async () => {
  const signed = await createBackendSigner({ ...CONFIG, ttlSeconds: 3600 })(SUBJECT, NOW);
  const exp = Math.floor(NOW.getTime() / 1000) + 3600;
  assert.equal(signed.expiresIn, 3600);
  assert.equal(signed.expiresAt.getTime(), exp * 1000);
  const payload = JSON.parse(atob(signed.token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
  assert.equal(payload.exp, exp);
  assert.equal("iat" in payload, false, "no iat: a backend clock behind ours would reject it");
  assert.equal("nbf" in payload, false);
});

Deno.test("createBackendSigner() adds aud and iss only when configured, and signs with the configured HMAC", async () => {
  const secret = new TextEncoder().encode("k".repeat(32) + "m".repeat(32));
  const signed = await createBackendSigner({
    secret,
    algorithm: "HS512",
    ttlSeconds: 60,
    audience: "api",
    issuer: "me",
  })(
    { ...SUBJECT, email: null },
    NOW,
  );
  assert.deepEqual(decodeProtectedHeader(signed.token), { alg: "HS512", typ: "JWT" });
  const { payload } = await jwtVerify(signed.token, secret, {
    algorithms: ["HS512"],
    currentDate: NOW,
    audience: "api",
  });
  assert.deepEqual(Object.keys(payload), ["user_id", "tenant_id", "role", "email", "exp", "aud", "iss"]);
  assert.equal(payload.email, null);
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
