/**
 * The exchange behind a transaction pooler of ONE server connection (PgBouncer, default_pool_size = 1):
 * every client's transactions run on the same Postgres session, so whatever session-level settings one
 * client leaves there, the next exchange meets. `auth.jwt()` and `auth.uid()` prefer the legacy
 * `request.jwt.claim` / `request.jwt.claim.sub` to `request.jwt.claims`; the exchange must not be fooled.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { createTenant } from "../_db.ts";
import { startPooler } from "../../dev/pooler.ts";
import { exchangeRequest, type Harness, openHarness, payloadOf, signUp } from "./_setup.ts";

async function member(h: Harness, tenantId: string) {
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                 values (${tenantId}, ${user.userId}, 'user', true)`;
  return user;
}

Deno.test("the exchange resolves its own caller on a pooled session that holds another user's legacy claims", async () => {
  const h = await openHarness();
  const pooler = await startPooler({ serverUrl: h.db.serverUrl, poolSize: 1 });
  const pooled = pooler.urlFor(h.db.url);
  // Another client of the same pool (the same role and database), as an older tool would behave.
  const other = postgres(pooled, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const app = h.appWith({ databaseUrl: pooled, transactionPooler: true });
    const acme = await createTenant(h.db.sql, "Acme", "acme-ext");
    const beta = await createTenant(h.db.sql, "Beta", "beta-ext");
    const ada = await member(h, acme);
    const bob = await member(h, beta);

    // Bob's live session, left on the one server connection at session level (is_local = false).
    const [before] = await other`
      select pg_backend_pid() as pid,
             set_config('request.jwt.claim', ${JSON.stringify(payloadOf(bob.accessToken))}, false),
             set_config('request.jwt.claim.sub', ${bob.userId}, false),
             set_config('request.jwt.claim.role', 'authenticated', false),
             set_config('request.jwt.claim.email', ${bob.email}, false)`;

    const res = await app.handler(exchangeRequest(ada.accessToken));
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual([body.user_id, body.tenant_id, body.email], [ada.userId, "acme-ext", ada.email]);

    // The exchange ran on that very session, and Bob's settings are still there after it (its clearing
    // was transaction-local): the test did not pass for want of them.
    const [after] = await other`
      select pg_backend_pid() as pid, current_setting('request.jwt.claim.sub') as sub, current_user as role,
             coalesce(current_setting('request.jwt.claims', true), '') as claims`;
    assert.deepEqual([after.pid, after.sub], [before.pid, bob.userId]);
    // The exchange's role and claims ended with its transaction: none of Ada's is left on the session.
    assert.notEqual(after.role, "authenticated");
    assert.doesNotMatch(after.claims, new RegExp(ada.userId));
  } finally {
    await other.end();
    await h.close();
    await pooler.stop();
  }
});
