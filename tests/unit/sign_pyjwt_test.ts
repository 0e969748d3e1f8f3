/**
 * The backend JWT as the Python service reads it: PyJWT decodes the signer's token to exactly the documented
 * claims (sign_test.ts holds the literal vectors).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import type { BackendJwtConfig } from "../../supabase/functions/_shared/exchange/config.ts";
import { pyjwtDecode } from "../_pyjwt.ts";

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

Deno.test("createBackendSigner()'s token gives PyJWT exactly the documented claims, and no iat or nbf", async () => {
  const { token } = await createBackendSigner(CONFIG)(SUBJECT, NOW);
  // PyJWT's clock set to the signing time, so the token is fresh for it whatever today's date is.
  const result = await pyjwtDecode(token, SECRET, Math.round((NOW.getTime() - Date.now()) / 1000));
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(Object.entries(result.claims), [
    ["user_id", "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f"],
    ["tenant_id", "acme"],
    ["role", "admin"],
    ["email", "a@example.com"],
    ["exp", 1767927845],
  ]);
});
