/**
 * `REQUIRE_AAL2` ("Safe to deploy", finding 6): with it on, an `aal1` session of a user who has a verified
 * TOTP factor is refused with 401 `insufficient_user_authentication` (RFC 9470) and nothing is provisioned;
 * the same user's `aal2` session, and users without a verified factor, exchange as before. Factors are
 * enrolled and verified through supabase-js `auth.mfa` against the Auth emulator.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { createTenant } from "../_db.ts";
import { exchangeRequest, type Harness, openHarness, signUp } from "./_setup.ts";
import { PASSWORD } from "../_fixtures.ts";
import { totpCode } from "../../dev/auth_emulator/mod.ts";

/** A member who enrolled a TOTP factor; `verify` says whether they also verified it (aal2 then). */
async function memberWithFactor(h: Harness, tenant: string, verify: boolean) {
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.userId})`;
  const { data: factor } = await user.supabase.auth.mfa.enroll({ factorType: "totp" });
  let aal2Token: string | undefined;
  if (verify) {
    const { data: challenge } = await user.supabase.auth.mfa.challenge({ factorId: factor!.id });
    const { data, error } = await user.supabase.auth.mfa.verify({
      factorId: factor!.id,
      challengeId: challenge!.id,
      code: totpCode(factor!.totp.secret),
    });
    assert.equal(error, null);
    aal2Token = data!.access_token;
  }
  // A later password sign-in: aal1 until a factor is verified in it.
  const again = createClient(h.auth.url, h.auth.anonKey, { auth: { persistSession: false } });
  const { data } = await again.auth.signInWithPassword({ email: user.email, password: PASSWORD });
  return { ...user, aal1Token: data.session!.access_token, aal2Token };
}

async function answer(app: { handler: (req: Request) => Promise<Response> }, token: string) {
  const res = await app.handler(exchangeRequest(token));
  return { status: res.status, body: await res.json(), challenge: res.headers.get("www-authenticate") };
}

Deno.test("REQUIRE_AAL2 refuses an aal1 session of a user with a verified factor, and only that", async () => {
  const h = await openHarness();
  try {
    const tenant = await createTenant(h.db.sql, "Acme");
    const strict = h.appWith({ requireAal2: true });
    const mfa = await memberWithFactor(h, tenant, true);

    const refused = await answer(strict, mfa.aal1Token);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, "insufficient_user_authentication");
    assert.equal(
      refused.challenge,
      'Bearer realm="exchange-token", error="insufficient_user_authentication"',
    );

    assert.equal((await answer(strict, mfa.aal2Token!)).status, 200, "the aal2 session");
    assert.equal((await answer(h.app, mfa.aal1Token)).status, 200, "REQUIRE_AAL2 off: as before");

    const unverified = await memberWithFactor(h, tenant, false);
    assert.equal((await answer(strict, unverified.aal1Token)).status, 200, "nothing to step up to");
    const plain = await signUp(h.auth);
    await h.db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${plain.userId})`;
    assert.equal((await answer(strict, plain.accessToken)).status, 200, "no factor at all");
  } finally {
    await h.close();
  }
});

Deno.test("a refused aal1 exchange provisions nothing", async () => {
  const h = await openHarness();
  try {
    // Everyone gets a personal tenant on their first exchange.
    await h.db
      .sql`insert into tenancy.provisioning_policy (position, strategy, role) values (3, 'personal', 'owner')`;
    const strict = h.appWith({ requireAal2: true });
    const user = await signUp(h.auth);
    const { data: factor } = await user.supabase.auth.mfa.enroll({ factorType: "totp" });
    const { data: challenge } = await user.supabase.auth.mfa.challenge({ factorId: factor!.id });
    const { data: verified } = await user.supabase.auth.mfa.verify({
      factorId: factor!.id,
      challengeId: challenge!.id,
      code: totpCode(factor!.totp.secret),
    });
    const again = createClient(h.auth.url, h.auth.anonKey, { auth: { persistSession: false } });
    const { data } = await again.auth.signInWithPassword({ email: user.email, password: PASSWORD });
    assert.equal((await answer(strict, data.session!.access_token)).status, 401);
    const memberships = await h.db.sql`select 1 from tenancy.memberships where user_id = ${user.userId}`;
    assert.equal(memberships.length, 0);
    assert.equal((await answer(strict, verified!.access_token)).status, 200);
  } finally {
    await h.close();
  }
});
