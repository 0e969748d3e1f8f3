/**
 * The exchange-token handler on a legacy project: the Auth emulator signs HS256 access tokens, so
 * supabase-js verifies each one with the Auth API (`GET /auth/v1/user`) instead of a JWKS.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { createTenant } from "../_db.ts";
import { freePort } from "../../dev/ports.ts";
import { exchangeRequest, openHarness, payloadOf, signUp } from "./_setup.ts";

Deno.test("exchange-token with Postgres and the Auth emulator (HS256 tokens, verified by the Auth API)", async (t) => {
  const h = await openHarness({ mode: "hs256" });
  try {
    const acme = await createTenant(h.db.sql, "Acme");
    const member = async () => {
      const user = await signUp(h.auth);
      await h.db
        .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${user.userId}, true)`;
      return user;
    };

    await t.step("200: an HS256 access token is verified by Auth and exchanged", async () => {
      const user = await member();
      const res = await h.app.handler(exchangeRequest(user.accessToken));
      assert.equal(res.status, 200);
      assert.equal((await res.json()).user_id, user.userId);
    });

    await t.step("401 invalid_token: signed with another secret, or after sign-out", async () => {
      const user = await member();
      const forged = await new SignJWT(payloadOf(user.accessToken)).setProtectedHeader({
        alg: "HS256",
        typ: "JWT",
      })
        .sign(new TextEncoder().encode("some-other-secret-of-thirty-two-bytes"));
      const res = await h.app.handler(exchangeRequest(forged));
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error, "invalid_token");

      await fetch(`${h.auth.url}/auth/v1/logout?scope=global`, {
        method: "POST",
        headers: { apikey: h.auth.anonKey, authorization: `Bearer ${user.accessToken}` },
      }).then((r) => r.body?.cancel());
      const revoked = await h.app.handler(exchangeRequest(user.accessToken));
      assert.equal(revoked.status, 401);
      assert.equal(
        revoked.headers.get("www-authenticate"),
        'Bearer realm="exchange-token", error="invalid_token"',
      );
      await revoked.body?.cancel();
    });

    await t.step("503 auth_unavailable: Auth cannot be reached", async () => {
      const user = await member();
      const down = h.appWith({ supabaseUrl: `http://127.0.0.1:${freePort()}`, authIssuers: [h.auth.issuer] });
      const res = await down.handler(exchangeRequest(user.accessToken));
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "5");
      assert.equal((await res.json()).error, "auth_unavailable");
    });
  } finally {
    await h.close();
  }
});
