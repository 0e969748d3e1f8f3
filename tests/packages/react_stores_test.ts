/**
 * The stores behind the React package's hooks (packages/supabase-exchange-token/src/react/), with the
 * real client (`createBackendSession`, `createTenantClient`) over the recording fake of supabase-js: what
 * `useBackendToken()` and `useTenants()` render as users sign in and out, switch tenants, and are refused.
 * The hooks themselves are driven in a real React app by react_vite_app_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createBackendSession, createTenantClient, type InvokeResult } from "../../client/mod.ts";
import { createTenantsStore } from "../../packages/supabase-exchange-token/src/react/tenants_store.ts";
import { createTokenStore } from "../../packages/supabase-exchange-token/src/react/token_store.ts";
import {
  FakeClock,
  FakeSupabase,
  httpError,
  type Invocation,
  settle,
  successBody,
} from "../client/_fakes.ts";

function setup(answer?: (inv: Invocation) => InvokeResult | undefined) {
  const clock = new FakeClock();
  const supabase = new FakeSupabase(null);
  const exchange = supabase.autoReply!;
  supabase.autoReply = (inv) => answer?.(inv) ?? exchange(inv);
  const session = createBackendSession(supabase, { now: clock.now, timers: clock, retryDelaysMs: [] });
  const tokens = createTokenStore(supabase, session);
  const unsubscribe = tokens.subscribe(() => {});
  return {
    supabase,
    session,
    tokens,
    [Symbol.dispose]() {
      unsubscribe();
      session.dispose();
    },
  };
}

const tenantRow = (id: string) => ({
  tenant_id: id,
  tenant_uuid: `${id}-uuid`,
  name: id,
  role: "owner",
  is_default: false,
});

Deno.test("createTokenStore() exchanges when a user signs in and forgets the token at sign-out", async () => {
  using t = setup();
  assert.deepEqual(t.tokens.getSnapshot(), { userId: null, token: null, error: null, loading: false });
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  const { userId, token, error, loading } = t.tokens.getSnapshot();
  assert.deepEqual([userId, token?.userId, token?.tenantId, error, loading], [
    "user-a",
    "user-a",
    "t-default",
    null,
    false,
  ]);
  assert.deepEqual(t.supabase.invocations.map((i) => i.name), ["exchange-token"]);

  t.supabase.emit("SIGNED_OUT", null);
  await settle();
  assert.deepEqual(t.tokens.getSnapshot(), { userId: null, token: null, error: null, loading: false });
  assert.equal(t.supabase.invocations.length, 1, "no exchange after sign-out");
});

Deno.test("createTokenStore() exchanges again for the tenant selectTenant() picks", async () => {
  using t = setup();
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  t.session.selectTenant("acme");
  await settle();
  assert.equal(t.tokens.getSnapshot().token?.tenantId, "acme");
  assert.deepEqual(t.supabase.invocations.map((i) => i.body?.tenant_id), [undefined, "acme"]);
});

Deno.test("createTokenStore() puts a refused exchange's code in error, then clears it on refresh()", async () => {
  let refuse = true;
  using t = setup((inv) =>
    refuse && inv.name === "exchange-token"
      ? httpError(403, { error: "no_tenant", message: "None" })
      : undefined
  );
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  const refused = t.tokens.getSnapshot();
  assert.deepEqual([refused.token, refused.error?.code, refused.error?.status, refused.loading], [
    null,
    "no_tenant",
    403,
    false,
  ]);

  refuse = false;
  await t.tokens.refresh();
  assert.deepEqual([t.tokens.getSnapshot().token?.userId, t.tokens.getSnapshot().error], ["user-a", null]);
});

Deno.test("createTokenStore() drops an exchange that finishes after its user signed out", async () => {
  using t = setup();
  t.supabase.autoReply = null; // the test answers the exchange itself
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  assert.equal(t.tokens.getSnapshot().loading, true);
  t.supabase.emit("SIGNED_OUT", null);
  t.supabase.invocations[0].reply({ data: successBody("user-a"), error: null });
  await settle();
  assert.deepEqual(t.tokens.getSnapshot(), { userId: null, token: null, error: null, loading: false });
});

Deno.test("createTokenStore() follows Auth only while subscribed", () => {
  const supabase = new FakeSupabase(null);
  const session = createBackendSession(supabase, { retryDelaysMs: [] });
  const before = supabase.listenerCount; // the session's own
  const tokens = createTokenStore(supabase, session);
  const stop = tokens.subscribe(() => {});
  assert.equal(supabase.listenerCount, before + 1);
  stop();
  assert.equal(supabase.listenerCount, before);
  session.dispose();
});

Deno.test("createTenantsStore() reads every page for the signed-in user and empties at sign-out", async () => {
  using t = setup((inv) => {
    if (inv.name === "tenants?limit=100") {
      return { data: { tenants: [tenantRow("acme")], next_after: "1.acme" }, error: null };
    }
    if (inv.name === "tenants?limit=100&after=1.acme") {
      return { data: { tenants: [tenantRow("beta")], next_after: null }, error: null };
    }
  });
  const tenants = createTenantsStore(createTenantClient(t.supabase, { session: t.session }), t.tokens);
  const stop = tenants.subscribe(() => {});
  assert.deepEqual(tenants.getSnapshot(), { tenants: null, error: null, loading: false });

  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  const listed = tenants.getSnapshot();
  assert.deepEqual([listed.tenants?.map((x) => x.tenantId), listed.error, listed.loading], [
    ["acme", "beta"],
    null,
    false,
  ]);

  t.supabase.emit("SIGNED_OUT", null);
  await settle();
  assert.deepEqual(tenants.getSnapshot(), { tenants: null, error: null, loading: false });
  stop();
});

Deno.test("createTenantsStore() keeps the last list and reports the error when a reload is refused", async () => {
  let down = false;
  using t = setup((inv) => {
    if (!inv.name.startsWith("tenants")) return undefined;
    return down
      ? httpError(503, { error: "database_unavailable", message: "Later" }, { "retry-after": "1" })
      : { data: { tenants: [tenantRow("acme")], next_after: null }, error: null };
  });
  const tenants = createTenantsStore(createTenantClient(t.supabase, { session: t.session }), t.tokens);
  const stop = tenants.subscribe(() => {});
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  down = true;
  await tenants.reload();
  const after = tenants.getSnapshot();
  assert.deepEqual([after.tenants?.map((x) => x.tenantId), after.error?.code, after.loading], [
    ["acme"],
    "database_unavailable",
    false,
  ]);
  stop();
});

Deno.test("createTenantsStore() lists only once the first exchange has settled, which may make the membership", async () => {
  using t = setup();
  t.supabase.autoReply = null; // the test answers each call itself
  const tenants = createTenantsStore(createTenantClient(t.supabase, { session: t.session }), t.tokens);
  const stop = tenants.subscribe(() => {});
  t.supabase.emit("SIGNED_IN", "user-a");
  await settle();
  assert.deepEqual(
    t.supabase.invocations.map((i) => i.name),
    ["exchange-token"],
    "no list during the exchange",
  );

  t.supabase.invocations[0].reply({ data: successBody("user-a", { tenant_id: "demo" }), error: null });
  await settle();
  assert.deepEqual(t.supabase.invocations.map((i) => i.name), ["exchange-token", "tenants?limit=100"]);
  t.supabase.invocations[1].reply({ data: { tenants: [tenantRow("demo")], next_after: null }, error: null });
  await settle();
  assert.deepEqual(tenants.getSnapshot().tenants?.map((x) => x.tenantId), ["demo"]);
  stop();
});
