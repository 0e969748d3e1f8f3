/**
 * Unit tests of the tenant calls (`client/tenants.ts`) with the recording fake of supabase-js: the
 * request each call sends, how it reads the answers, its errors, and how it keeps a backend session's
 * cached token in step with the caller's own membership. The calls against the real functions are in
 * `tenants_stack_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BackendSessionError,
  type BackendToken,
  createBackendSession,
  createTenantClient,
  type InvokeResult,
} from "../../client/mod.ts";
import { FakeClock, FakeSupabase, httpError, type Invocation, successBody } from "./_fakes.ts";

const ME = "user-a";
const ACME_UUID = "8a3c1f4e-0000-4000-8000-00000000acme";
const MEMBER = {
  user_id: "u2",
  email: "bob@example.com",
  role: "user",
  joined_at: "2026-11-26T12:00:00.000Z",
};

const json = (data: unknown): InvokeResult => ({ data, error: null });

/** A fake whose function answers come from `routes` (by `METHOD name`), and exchanges succeed. */
function setup(routes: Record<string, (inv: Invocation) => InvokeResult> = {}) {
  const clock = new FakeClock();
  const supabase = new FakeSupabase(ME);
  let role = "owner";
  supabase.autoReply = (inv) => {
    if (inv.name === "exchange-token") {
      return {
        data: successBody(inv.userId!, { tenant_id: inv.body?.tenant_id ?? "t-default", role }),
        error: null,
      };
    }
    const route = routes[`${inv.method} ${inv.name}`];
    if (route) return route(inv);
    // A membership change answers with the member, as the function does.
    const member = /^tenants\/[^/]+\/members\/([^/]+)$/.exec(inv.name);
    if (member && (inv.method === "PATCH" || inv.method === "DELETE")) {
      return json({ member: { ...MEMBER, user_id: member[1], role: inv.body?.role ?? "user" } });
    }
    return httpError(404, { error: "not_found", message: "No such route" });
  };
  const backend = createBackendSession(supabase, { now: clock.now, timers: clock, autoRefresh: false });
  const tenants = createTenantClient(supabase, { session: backend });
  return {
    supabase,
    backend,
    tenants,
    /** The requests sent to the tenant functions, as `METHOD name`. */
    calls: () =>
      supabase.invocations.filter((i) => i.name !== "exchange-token").map((i) => `${i.method} ${i.name}`),
    exchanges: () => supabase.invocations.filter((i) => i.name === "exchange-token").map((i) => i.body),
    setRole(next: string) {
      role = next;
    },
    [Symbol.dispose]() {
      backend.dispose();
    },
  };
}

/** The cached token, read through a call so that assertions on it do not narrow its type. */
function current(t: { backend: { readonly current: BackendToken | null } }): BackendToken | null {
  return t.backend.current;
}

async function rejection(promise: Promise<unknown>): Promise<BackendSessionError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BackendSessionError, `expected a BackendSessionError, got ${err}`);
    return err;
  }
  assert.fail("expected a rejection");
}

// --- requests and answers ---------------------------------------------------------------------------

Deno.test("listTenants() GETs a page of the tenants function and reads each tenant", async () => {
  using t = setup({
    "GET tenants": () =>
      json({
        tenants: [
          { tenant_id: "acme", tenant_uuid: ACME_UUID, name: "Acme", role: "owner", is_default: true },
          { tenant_id: "b9e0", tenant_uuid: "b9e0", name: "Beta", role: "user", is_default: false },
        ],
        next_after: "1.b9e0.42657461",
      }),
    "GET tenants?limit=2&after=1.b9e0.42657461": () => json({ tenants: [], next_after: null }),
  });
  assert.deepEqual(await t.tenants.listTenants(), {
    items: [
      { tenantId: "acme", tenantUuid: ACME_UUID, name: "Acme", role: "owner", isDefault: true },
      { tenantId: "b9e0", tenantUuid: "b9e0", name: "Beta", role: "user", isDefault: false },
    ],
    nextAfter: "1.b9e0.42657461",
  });
  assert.deepEqual(await t.tenants.listTenants({ limit: 2, after: "1.b9e0.42657461" }), {
    items: [],
    nextAfter: null,
  });
  assert.deepEqual(t.calls(), ["GET tenants", "GET tenants?limit=2&after=1.b9e0.42657461"]);
  assert.equal(t.supabase.invocations[0].body, undefined, "a GET sends no body");
});

Deno.test("members() GETs a page of the tenant's members, the tenant's id encoded as one segment", async () => {
  using t = setup({
    "GET tenants/a%2Fb%20c/members": () =>
      json({
        members: [
          { user_id: "u1", email: "ada@example.com", role: "owner", joined_at: "2026-11-26T12:00:00Z" },
          { user_id: "u2", email: null, role: "user", joined_at: "2026-11-27T08:30:00Z" },
        ],
        next_after: null,
      }),
    "GET tenants/acme/members?limit=1&after=1764600000000000.u1": () =>
      json({ members: [], next_after: null }),
  });
  assert.deepEqual(await t.tenants.members("a/b c"), {
    items: [
      { userId: "u1", email: "ada@example.com", role: "owner", joinedAt: "2026-11-26T12:00:00Z" },
      { userId: "u2", email: null, role: "user", joinedAt: "2026-11-27T08:30:00Z" },
    ],
    nextAfter: null,
  });
  assert.deepEqual(await t.tenants.members("acme", { limit: 1, after: "1764600000000000.u1" }), {
    items: [],
    nextAfter: null,
  });
});

Deno.test("invite() POSTs the address and role, and says whether the mail went out", async () => {
  const invitation = {
    id: "5d1f0000-0000-4000-8000-000000000001",
    email: "ada@example.com",
    role: "admin",
    invited_by: ME,
    invited_by_email: "owner@acme.test",
    created_at: "2026-11-26T12:00:00.000Z",
    expires_at: "2026-12-03T12:00:00.000Z",
  };
  using t = setup({ "POST tenants/acme/invitations": () => json({ invitation, email_sent: false }) });
  assert.deepEqual(await t.tenants.invite("acme", "Ada@Example.com", "admin"), {
    invitation: {
      id: "5d1f0000-0000-4000-8000-000000000001",
      email: "ada@example.com",
      role: "admin",
      invitedBy: ME,
      invitedByEmail: "owner@acme.test",
      createdAt: "2026-11-26T12:00:00.000Z",
      expiresAt: "2026-12-03T12:00:00.000Z",
    },
    emailSent: false,
  });
  await t.tenants.invite("acme", "bob@example.com");
  assert.deepEqual(t.supabase.invocations.map((i) => i.body), [
    { email: "Ada@Example.com", role: "admin" },
    { email: "bob@example.com" },
  ]);
});

Deno.test("setRole(), remove() and leave() PATCH and DELETE the member, and answer with it", async () => {
  using t = setup();
  assert.deepEqual(await t.tenants.setRole("acme", "u2", "admin"), {
    userId: "u2",
    email: "bob@example.com",
    role: "admin",
    joinedAt: "2026-11-26T12:00:00.000Z",
  });
  assert.equal((await t.tenants.remove("acme", "u2")).userId, "u2");
  assert.equal((await t.tenants.leave("acme")).userId, ME);
  assert.deepEqual(t.calls(), [
    "PATCH tenants/acme/members/u2",
    "DELETE tenants/acme/members/u2",
    `DELETE tenants/acme/members/${ME}`,
  ]);
  assert.deepEqual(t.supabase.invocations.map((i) => i.body), [{ role: "admin" }, undefined, undefined]);
});

Deno.test("pendingInvitations(), accept() and decline() call the invitations function", async () => {
  const pending = {
    id: "inv-1",
    tenant_id: "acme",
    tenant_name: "Acme",
    role: "user",
    invited_by_email: "owner@acme.test",
    expires_at: "2026-12-03T12:00:00.000Z",
  };
  using t = setup({
    "GET invitations": () => json({ invitations: [pending], next_after: "1764600000000000.inv-1" }),
    "POST invitations/inv-1/accept": () =>
      json({
        tenant: { tenant_id: "acme", tenant_uuid: ACME_UUID, name: "Acme", role: "user", is_default: false },
      }),
    "POST invitations/inv-2/decline": () =>
      json({ invitation: { ...pending, id: "inv-2", invited_by_email: null } }),
  });
  assert.deepEqual(await t.tenants.pendingInvitations(), {
    items: [{
      id: "inv-1",
      tenantId: "acme",
      tenantName: "Acme",
      role: "user",
      invitedByEmail: "owner@acme.test",
      expiresAt: "2026-12-03T12:00:00.000Z",
    }],
    nextAfter: "1764600000000000.inv-1",
  });
  assert.deepEqual(await t.tenants.accept("inv-1"), {
    tenantId: "acme",
    tenantUuid: ACME_UUID,
    name: "Acme",
    role: "user",
    isDefault: false,
  });
  assert.equal((await t.tenants.decline("inv-2")).invitedByEmail, null);
  assert.deepEqual(t.calls(), [
    "GET invitations",
    "POST invitations/inv-1/accept",
    "POST invitations/inv-2/decline",
  ]);
});

Deno.test("audit() GETs one page with its limit and before, and reads the entries", async () => {
  const entry = {
    id: 42,
    at: "2026-11-26T12:00:00.000Z",
    action: "member.role_changed",
    actor_id: "u1",
    actor_email: "owner@acme.test",
    target_user_id: "u2",
    target_email: "bob@example.com",
    invitation_id: null,
    before: { role: "admin" },
    after: { role: "user" },
  };
  using t = setup({
    "GET tenants/acme/audit": () => json({ entries: [entry], next_before: 42 }),
    "GET tenants/acme/audit?limit=1&before=42": () => json({ entries: [], next_before: null }),
  });
  assert.deepEqual(await t.tenants.audit("acme"), {
    entries: [{
      id: 42,
      at: "2026-11-26T12:00:00.000Z",
      action: "member.role_changed",
      actorId: "u1",
      actorEmail: "owner@acme.test",
      targetUserId: "u2",
      targetEmail: "bob@example.com",
      invitationId: null,
      before: { role: "admin" },
      after: { role: "user" },
    }],
    nextBefore: 42,
  });
  assert.deepEqual(await t.tenants.audit("acme", { limit: 1, before: 42 }), {
    entries: [],
    nextBefore: null,
  });
});

const ACME = { tenant_id: "acme", tenant_uuid: ACME_UUID, name: "Acme", role: "owner", is_default: false };
const INVITATION = {
  id: "5d1a0000-0000-4000-8000-000000000001",
  email: "carol@example.com",
  role: "admin",
  invited_by: ME,
  invited_by_email: "ada@example.com",
  created_at: "2026-12-07T10:00:00.000Z",
  expires_at: "2026-12-14T10:00:00.000Z",
};
const INVITATION_READ = {
  id: INVITATION.id,
  email: "carol@example.com",
  role: "admin",
  invitedBy: ME,
  invitedByEmail: "ada@example.com",
  createdAt: "2026-12-07T10:00:00.000Z",
  expiresAt: "2026-12-14T10:00:00.000Z",
};

Deno.test("createTenant(), renameTenant() and setDefaultTenant() send their routes and read the tenant", async () => {
  using t = setup({
    "POST tenants": (inv) => json({ tenant: { ...ACME, name: inv.body?.name } }),
    "PATCH tenants/acme": (inv) => json({ tenant: { ...ACME, name: inv.body?.name } }),
    "PUT tenants/acme/default": () => json({ tenant: { ...ACME, is_default: true } }),
  });
  assert.equal((await t.tenants.createTenant("Acme")).name, "Acme");
  assert.equal((await t.tenants.renameTenant("acme", "Acme Corp")).name, "Acme Corp");
  assert.deepEqual(await t.tenants.setDefaultTenant("acme"), {
    tenantId: "acme",
    tenantUuid: ACME_UUID,
    name: "Acme",
    role: "owner",
    isDefault: true,
  });
  assert.deepEqual(t.calls(), ["POST tenants", "PATCH tenants/acme", "PUT tenants/acme/default"]);
  assert.deepEqual(t.supabase.invocations.map((i) => i.body ?? null), [
    { name: "Acme" },
    { name: "Acme Corp" },
    null,
  ]);
});

Deno.test("grantableRoles(), invitations() and revokeInvitation() read roles and a manager's invitations", async () => {
  using t = setup({
    "GET tenants/acme/roles": () =>
      json({
        roles: [{ role: "admin", description: "Manages members" }, { role: "billing", description: null }],
      }),
    "GET tenants/acme/invitations?limit=1": () => json({ invitations: [INVITATION], next_after: "1.5d1a" }),
    [`DELETE tenants/acme/invitations/${INVITATION.id}`]: () => json({ invitation: INVITATION }),
  });
  assert.deepEqual(await t.tenants.grantableRoles("acme"), [
    { role: "admin", description: "Manages members" },
    { role: "billing", description: null },
  ]);
  assert.deepEqual(await t.tenants.invitations("acme", { limit: 1 }), {
    items: [INVITATION_READ],
    nextAfter: "1.5d1a",
  });
  assert.deepEqual(await t.tenants.revokeInvitation("acme", INVITATION.id), INVITATION_READ);
  assert.deepEqual(t.calls(), [
    "GET tenants/acme/roles",
    "GET tenants/acme/invitations?limit=1",
    `DELETE tenants/acme/invitations/${INVITATION.id}`,
  ]);
});

// --- errors -------------------------------------------------------------------------------------------

Deno.test("a call rejects with the function's code, status, message and Retry-After", async () => {
  using t = setup({
    "GET tenants/acme/members": () => httpError(404, { error: "not_found", message: "No such tenant" }),
    "GET invitations": () =>
      httpError(503, { error: "database_unavailable", message: "Try again" }, { "Retry-After": "5" }),
  });
  const missing = await rejection(t.tenants.members("acme"));
  assert.deepEqual([missing.code, missing.status, missing.message], ["not_found", 404, "No such tenant"]);
  const down = await rejection(t.tenants.pendingInvitations());
  assert.deepEqual([down.code, down.status, down.retryAfter], ["database_unavailable", 503, 5]);
});

Deno.test("the management codes come through: forbidden, conflict, rate_limited with Retry-After", async () => {
  using t = setup({
    "GET tenants/acme/audit": () => httpError(403, { error: "forbidden", message: "Managers only" }),
    "POST tenants/acme/invitations": () =>
      httpError(429, { error: "rate_limited", message: "Too many invitations" }, { "Retry-After": "1800" }),
    "POST invitations/inv-1/accept": () => httpError(409, { error: "conflict", message: "Already pending" }),
  });
  const limited = await rejection(t.tenants.invite("acme", "ada@example.com", "user"));
  assert.deepEqual([limited.code, limited.status, limited.retryAfter], ["rate_limited", 429, 1800]);
  const conflict = await rejection(t.tenants.accept("inv-1"));
  assert.deepEqual([conflict.code, conflict.status], ["conflict", 409]);
  const forbidden = await rejection(t.tenants.audit("acme"));
  assert.deepEqual([forbidden.code, forbidden.status], ["forbidden", 403]);
});

Deno.test("a call names its function when the answer has no message", async () => {
  using t = setup({ "GET tenants": () => httpError(502, "<html>Bad gateway</html>") });
  const err = await rejection(t.tenants.listTenants());
  assert.deepEqual([err.code, err.status, err.message], ["unexpected_response", 502, "tenants answered 502"]);
});

Deno.test("a call without a session rejects with not_signed_in and sends nothing", async () => {
  using t = setup();
  t.supabase.session = null;
  assert.equal((await rejection(t.tenants.leave("acme"))).code, "not_signed_in");
  assert.equal((await rejection(t.tenants.listTenants())).code, "not_signed_in");
  assert.deepEqual(t.calls(), []);
});

Deno.test("an answer without the documented fields rejects with unexpected_response", async () => {
  using t = setup({
    "GET tenants": () =>
      json({ tenants: [{ tenant_id: "acme", name: "Acme", role: "owner", is_default: true }] }),
    "GET invitations": () => json("<html>"),
    "POST tenants/acme/invitations": () => json({ id: "inv-1", email: "ada@example.com" }),
    "GET tenants/acme/audit": () => json({ entries: [], next_before: "42" }),
    "GET tenants/acme/members": () => json({ members: [], next_after: 42 }),
  });
  for (
    const call of [
      t.tenants.listTenants(),
      t.tenants.pendingInvitations(),
      t.tenants.invite("acme", "a@b.c", "user"),
      t.tenants.members("acme"),
    ]
  ) {
    const err = await rejection(call);
    assert.deepEqual([err.code, err.status], ["unexpected_response", 200]);
  }
});

// --- the backend token follows ------------------------------------------------------------------------

Deno.test("setDefaultTenant() drops the token of a session that follows the default, not a picked tenant's", async () => {
  using t = setup({ "PUT tenants/acme/default": () => json({ tenant: { ...ACME, is_default: true } }) });
  await t.backend.getToken();
  assert.equal(current(t)?.tenantId, "t-default");
  await t.tenants.setDefaultTenant("acme");
  assert.equal(current(t), null, "the old default's token goes");

  t.backend.selectTenant("beta");
  await t.backend.getToken();
  await t.tenants.setDefaultTenant("acme");
  assert.equal(current(t)?.tenantId, "beta", "a picked tenant's token stays");
});

Deno.test("changing one's own role in the token's tenant drops the token; the next exchange shows it", async () => {
  using t = setup();
  t.backend.selectTenant("acme");
  const before = await t.backend.getToken();
  assert.equal(current(t)?.role, "owner");
  t.setRole("admin");
  await t.tenants.setRole("acme", ME, "admin");
  assert.equal(current(t), null);
  assert.notEqual(await t.backend.getToken(), before);
  assert.equal(current(t)?.role, "admin");
  assert.deepEqual(t.exchanges(), [{ tenant_id: "acme" }, { tenant_id: "acme" }]);
});

Deno.test("changing someone else's role, or one's own elsewhere, keeps the token", async () => {
  using t = setup();
  t.backend.selectTenant("acme");
  const token = await t.backend.getToken();
  await t.tenants.setRole("acme", "u2", "admin");
  await t.tenants.remove("acme", "u2");
  await t.tenants.setRole("beta", ME, "user");
  await t.tenants.leave("beta");
  assert.equal(current(t)?.token, token);
  assert.equal(t.backend.tenantId, "acme");
  assert.equal(t.exchanges().length, 1);
});

Deno.test("leaving the picked tenant goes back to the default tenant", async () => {
  using t = setup();
  t.backend.selectTenant("acme");
  await t.backend.getToken();
  await t.tenants.leave("acme");
  assert.equal(current(t), null);
  assert.equal(t.backend.tenantId, null);
  await t.backend.getToken();
  assert.deepEqual(t.exchanges(), [{ tenant_id: "acme" }, {}]);
});

Deno.test("removing oneself from the default tenant's token drops it, as leaving does", async () => {
  using t = setup();
  await t.backend.getToken(); // the default tenant, t-default
  await t.tenants.remove("t-default", ME);
  assert.equal(current(t), null);
  assert.equal(t.backend.tenantId, null);
});

Deno.test("a tenant named by its uuid is recognised as the token's, once listTenants() has run", async () => {
  using t = setup({
    "GET tenants": () =>
      json({
        tenants: [{
          tenant_id: "acme",
          tenant_uuid: ACME_UUID,
          name: "Acme",
          role: "owner",
          is_default: true,
        }],
      }),
  });
  await t.backend.getToken();
  await t.tenants.setRole(ACME_UUID, ME, "admin");
  assert.notEqual(current(t), null, "unknown uuid: the token, another tenant's, stays");
  t.backend.selectTenant("acme");
  await t.backend.getToken();
  await t.tenants.listTenants();
  await t.tenants.setRole(ACME_UUID, ME, "admin");
  assert.equal(current(t), null);
});

Deno.test("a refused change keeps the token", async () => {
  using t = setup({
    [`PATCH tenants/acme/members/${ME}`]: () =>
      httpError(409, { error: "conflict", message: "A tenant keeps at least one owner" }),
  });
  t.backend.selectTenant("acme");
  const token = await t.backend.getToken();
  const err = await rejection(t.tenants.setRole("acme", ME, "user"));
  assert.deepEqual([err.code, err.status], ["conflict", 409]);
  assert.equal(current(t)?.token, token);
});
