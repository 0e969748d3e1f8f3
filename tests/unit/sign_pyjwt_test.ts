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

// A secret of another length and a null email than sign_test.ts's vectors, so PyJWT reads a second case.
const SECRET = "pyjwt reads what the function signs, 50 bytes long";
const NOW = new Date("2026-03-04T05:06:07.890Z");

Deno.test("createBackendSigner()'s token gives PyJWT exactly the documented claims, and no iat or nbf", async () => {
  const config: BackendJwtConfig = {
    secret: new TextEncoder().encode(SECRET),
    algorithm: "HS256",
    ttlSeconds: 3600,
  };
  const subject = {
    userId: "0d9c8b7a-6f5e-4d3c-8b2a-190817263544",
    tenantId: "globex",
    role: "user",
    email: null,
  };
  const { token } = await createBackendSigner(config)(subject, NOW);
  // PyJWT's clock set to the signing time, so the token is fresh for it whatever today's date is.
  const result = await pyjwtDecode(token, SECRET, Math.round((NOW.getTime() - Date.now()) / 1000));
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(Object.entries(result.claims), [
    ["user_id", "0d9c8b7a-6f5e-4d3c-8b2a-190817263544"],
    ["tenant_id", "globex"],
    ["role", "user"],
    ["email", null],
    ["exp", 1772604367],
  ]);
});
