/**
 * Hostile replay of issue 12's finding 6 from outside, through the local stack's gateway: the access
 * token's `iss` and `aud` were not checked (supabase-js `getClaims` checks neither), and an `aal1` session
 * of a user with MFA exchanged like an `aal2` one.
 *
 * Now a token signed with the project's own key but naming another issuer, or an audience other than
 * `authenticated`, is refused; and with `REQUIRE_AAL2=true`, a user with a verified TOTP factor who signed
 * in with only a password gets 401 `insufficient_user_authentication` until they verify the factor.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { totpCode } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

function client(stack: LocalStack): SupabaseClient {
  return createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

/** The exchange's status and error code for a bearer token, sent as any HTTP client would. */
async function exchange(stack: LocalStack, token: string): Promise<{ status: number; error?: string }> {
  const res = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await res.json();
  return { status: res.status, ...(body.error ? { error: body.error } : {}) };
}

Deno.test("finding 6 replayed: iss and aud are checked; REQUIRE_AAL2 refuses a password-only MFA session", async (t) => {
  const stack = await startStack({ autoConfirm: true, functionEnv: { REQUIRE_AAL2: "true" } });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const email = `mfa-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const supabase = client(stack);
    const { data: signedUp } = await supabase.auth.signUp({ email, password: PASSWORD });
    const userId = signedUp.user!.id;
    // The operator's SQL: a tenant, and the user in it.
    await sql`insert into tenancy.memberships (tenant_id, user_id)
              select id, ${userId} from tenancy.tenants where external_id = 'demo'`;
    const claims = decodeJwt(signedUp.session!.access_token);

    await t.step(
      "a token with the project's signature but another issuer or audience is refused",
      async () => {
        assert.equal(
          (await exchange(stack, await stack.auth.signAccessToken(claims))).status,
          200,
          "control",
        );
        for (
          const forged of [
            { ...claims, iss: "https://another-project.supabase.co/auth/v1" },
            { ...claims, iss: undefined },
            { ...claims, aud: "anon" },
            { ...claims, aud: ["https://api.example.com"] },
          ]
        ) {
          assert.deepEqual(await exchange(stack, await stack.auth.signAccessToken(forged)), {
            status: 401,
            error: "invalid_token",
          }, JSON.stringify({ iss: forged.iss, aud: forged.aud }));
        }
      },
    );

    await t.step("a password-only session of a user with a verified factor must step up first", async () => {
      const { data: factor } = await supabase.auth.mfa.enroll({ factorType: "totp" });
      const { data: challenge } = await supabase.auth.mfa.challenge({ factorId: factor!.id });
      await supabase.auth.mfa.verify({
        factorId: factor!.id,
        challengeId: challenge!.id,
        code: totpCode(factor!.totp.secret),
      });

      // Signing in again with the password alone: aal1.
      const attacker = client(stack);
      const { data: signedIn } = await attacker.auth.signInWithPassword({ email, password: PASSWORD });
      assert.equal(decodeJwt(signedIn.session!.access_token).aal, "aal1");
      const refused = await attacker.functions.invoke("exchange-token");
      assert.equal((refused.error as { context?: Response }).context?.status, 401);
      assert.equal(
        (await (refused.error as { context: Response }).context.json()).error,
        "insufficient_user_authentication",
      );

      // With the second factor verified in that session: aal2, and the exchange goes through.
      const { data: again } = await attacker.auth.mfa.challenge({ factorId: factor!.id });
      const { data: stepped } = await attacker.auth.mfa.verify({
        factorId: factor!.id,
        challengeId: again!.id,
        code: totpCode(factor!.totp.secret),
      });
      assert.equal(decodeJwt(stepped!.access_token).aal, "aal2");
      assert.deepEqual(await exchange(stack, stepped!.access_token), { status: 200 });
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
});
