/**
 * Supabase signing-key rotation, seen by the function (issue "A local stack as strict as hosted Supabase",
 * item 1): the Auth emulator rotates and revokes its ES256 keys; the function, built as Supabase builds it
 * (with `SUPABASE_JWKS` from its start), keeps exchanging a token of the previous key until that key is
 * revoked, then refuses it within the JWKS cache's 5 minutes, and picks up a key rotated in after it
 * started without a restart. Time passes on the function's injected clock, never by waiting; Auth's calls
 * are counted by the emulator.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createTenant } from "../_db.ts";
import { exchangeRequest, type Harness, openHarness, signUp } from "./_setup.ts";
import { JWKS_MAX_AGE_MS } from "../../supabase/functions/_shared/core/jwks_cache.ts";

/** A clock frozen at the system's time when made, moving only when told. */
function clock() {
  let at = Date.now();
  return { now: () => new Date(at), advance: (ms: number) => void (at += ms) };
}

async function member(h: Harness, tenant: string) {
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.userId})`;
  return user;
}

/** How many times the function asked Auth for the JWKS and for a user, so far. */
function authCalls(h: Harness) {
  const counts = h.auth.requestCounts();
  return { jwks: counts["GET /.well-known/jwks.json"] ?? 0, user: counts["GET /user"] ?? 0 };
}

async function status(app: { handler: (req: Request) => Promise<Response> }, token: string): Promise<number> {
  const res = await app.handler(exchangeRequest(token));
  await res.body?.cancel();
  return res.status;
}

Deno.test("a previous key's token exchanges until the key is revoked, then is refused within 5 minutes", async () => {
  const h = await openHarness();
  const time = clock();
  try {
    const tenant = await createTenant(h.db.sql, "Acme");
    const app = h.appWith({ jwks: h.auth.jwks }, { now: time.now });
    const old = await member(h, tenant);
    assert.equal(await status(app, old.accessToken), 200);

    await h.auth.rotateSigningKeys();
    const fresh = await member(h, tenant);
    assert.equal(await status(app, fresh.accessToken), 200, "the standby key was in the injected JWKS");
    assert.equal(await status(app, old.accessToken), 200, "the previous key still verifies");
    assert.deepEqual(authCalls(h), { jwks: 0, user: 0 });

    time.advance(JWKS_MAX_AGE_MS);
    assert.equal(await status(app, old.accessToken), 200, "still published after the refetch");
    assert.deepEqual(authCalls(h), { jwks: 1, user: 0 });

    const [previous] = h.auth.signingKeys!.previouslyUsed;
    await h.auth.revokeSigningKey(previous.kid!);
    assert.equal(await status(app, old.accessToken), 200, "within the bound, the cached key still verifies");
    time.advance(JWKS_MAX_AGE_MS - 1);
    assert.equal(await status(app, old.accessToken), 200, "just inside the bound");
    time.advance(1);
    assert.equal(await status(app, old.accessToken), 401, "5 minutes after the last fetch: refused");
    assert.equal(await status(app, fresh.accessToken), 200, "the key in use is unaffected");
    assert.deepEqual(authCalls(h), { jwks: 2, user: 0 }, "and no GET /user on the way");
  } finally {
    await h.close();
  }
});

Deno.test("a key rotated in after the function started is picked up without a restart", async () => {
  const h = await openHarness();
  try {
    const tenant = await createTenant(h.db.sql, "Acme");
    // Built as Supabase builds it: SUPABASE_JWKS holds the key in use and the standby key.
    const app = h.appWith({ jwks: h.auth.jwks });
    const [injectedInUse, injectedStandby] = h.auth.jwks.keys.map((key) => key.kid);
    await h.auth.rotateSigningKeys();
    await h.auth.rotateSigningKeys();
    const inUse = h.auth.signingKeys!.inUse.kid;
    assert.ok(inUse !== injectedInUse && inUse !== injectedStandby, "a key the function never saw");

    const user = await member(h, tenant);
    const before = authCalls(h);
    assert.equal(await status(app, user.accessToken), 200);
    assert.equal(await status(app, (await member(h, tenant)).accessToken), 200);
    const after = authCalls(h);
    assert.deepEqual({ jwks: after.jwks - before.jwks, user: after.user - before.user }, {
      jwks: 1,
      user: 0,
    });
  } finally {
    await h.close();
  }
});
