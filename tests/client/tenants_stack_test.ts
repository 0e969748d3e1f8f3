/**
 * The tenant calls (`createTenantClient`) with supabase-js against the local stack: the real `tenants` and
 * `invitations` functions, Postgres and the exchange. Two users share a tenant (the operator adds the second
 * with SQL, as an import would); the calls' answers, their errors, and the backend token following the
 * caller's own membership are checked end to end. The invitation by mail runs in the browser story
 * (`tests/browser/tenants_story_test.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import {
  BackendSessionError,
  type BackendToken,
  createBackendSession,
  createTenantClient,
} from "../../client/mod.ts";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

const OLGA = "olga@acme.test"; // gets a personal tenant, as owner
const BOB = "bob@example.com"; // joins the seed's `demo` tenant

/** A signed-in user's supabase-js client, backend session and tenant calls; the exchanges are counted. */
async function userOf(stack: LocalStack, email: string) {
  const exchanges: unknown[] = [];
  const supabase = createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: {
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init);
        if (new URL(request.url).pathname.endsWith("/exchange-token")) {
          exchanges.push(await request.clone().json());
        }
        return await fetch(request);
      },
    },
  });
  const { data, error } = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(error, null);
  const backend = createBackendSession(supabase, { autoRefresh: false });
  const tenants = createTenantClient(supabase, { session: backend });
  return {
    id: data.user!.id,
    backend,
    tenants,
    exchanges,
    async [Symbol.asyncDispose]() {
      backend.dispose();
      await supabase.auth.signOut({ scope: "local" });
    },
  };
}

/** The cached token, read through a call so that assertions on it do not narrow its type. */
function current(user: { backend: { readonly current: BackendToken | null } }): BackendToken | null {
  return user.backend.current;
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

Deno.test("createTenantClient() against the local stack", async (t) => {
  // Addresses confirmed by mail, as the exchange and the invitations trust only those.
  const stack = await startStack({ autoConfirm: false });
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    for (const email of [OLGA, BOB]) {
      const { error } = await createClient(stack.apiUrl, stack.publishableKey, {
        auth: { persistSession: false, autoRefreshToken: false },
      }).auth.signUp({ email, password: PASSWORD });
      assert.equal(error, null);
      const [mail] = await mailsTo(stack.mailboxUrl, email);
      assert.equal((await followLink(mail.link)).status, 303);
    }
    await using olga = await userOf(stack, OLGA);
    await using bob = await userOf(stack, BOB);
    await bob.backend.getToken(); // Bob's first exchange: he joins `demo`, his default
    const tenant = (await olga.backend.getToken(), current(olga)!.tenantId);
    // The operator adds Bob to Olga's tenant, as a plain user.
    await sql`insert into tenancy.memberships (user_id, tenant_id, role) values (${bob.id}, ${tenant}, 'user')`;

    await t.step("listTenants() and members() read the caller's tenants and a tenant's members", async () => {
      assert.deepEqual(await olga.tenants.listTenants(), {
        items: [{
          tenantId: tenant,
          tenantUuid: tenant,
          name: "Olga's workspace",
          role: "owner",
          isDefault: true,
        }],
        nextAfter: null,
      });
      const bobs = (await bob.tenants.listTenants()).items;
      assert.deepEqual(bobs.map((x) => [x.tenantId, x.role, x.isDefault]), [["demo", "user", true], [
        tenant,
        "user",
        false,
      ]]);
      const { items: members } = await bob.tenants.members(tenant);
      assert.deepEqual(members.map((m) => [m.email, m.role]).sort(), [[BOB, "user"], [OLGA, "owner"]]);
      assert.ok(members.every((m) => !Number.isNaN(Date.parse(m.joinedAt))));
    });

    await t.step("a page's nextAfter reads the next page", async () => {
      const first = await bob.tenants.members(tenant, { limit: 1 });
      assert.equal(first.items.length, 1);
      assert.equal(typeof first.nextAfter, "string");
      const second = await bob.tenants.members(tenant, { limit: 1, after: first.nextAfter! });
      assert.deepEqual(
        [...first.items, ...second.items].map((m) => m.userId),
        (await bob.tenants.members(tenant)).items.map((m) => m.userId),
      );
      const tenants = await bob.tenants.listTenants({ limit: 1 });
      const rest = await bob.tenants.listTenants({ limit: 1, after: tenants.nextAfter! });
      assert.deepEqual([...tenants.items, ...rest.items].map((x) => x.tenantId), ["demo", tenant]);
      const bad = await rejection(bob.tenants.members(tenant, { limit: 101 }));
      assert.deepEqual([bad.code, bad.status], ["invalid_request", 400]);
    });

    await t.step(
      "a plain user is refused the managers' calls; a stranger's tenant is not found",
      async () => {
        assert.equal((await rejection(bob.tenants.invite(tenant, "eve@example.com"))).code, "forbidden");
        assert.equal((await rejection(bob.tenants.setRole(tenant, olga.id, "user"))).code, "forbidden");
        assert.equal((await rejection(bob.tenants.audit(tenant))).code, "forbidden");
        assert.equal((await rejection(bob.tenants.invitations(tenant))).code, "forbidden");
        assert.equal((await rejection(bob.tenants.grantableRoles(tenant))).code, "forbidden");
        assert.equal((await rejection(bob.tenants.renameTenant(tenant, "Bob's now"))).code, "forbidden");
        assert.equal((await rejection(olga.tenants.grantableRoles("demo"))).code, "not_found");
        const hidden = await rejection(olga.tenants.members("demo"));
        assert.deepEqual([hidden.code, hidden.status], ["not_found", 404]);
      },
    );

    await t.step("the last owner can neither leave nor be demoted", async () => {
      assert.equal((await rejection(olga.tenants.leave(tenant))).code, "conflict");
      assert.equal((await rejection(olga.tenants.setRole(tenant, olga.id, "admin"))).code, "conflict");
    });

    await t.step("one's own role change drops the cached token; the next exchange carries it", async () => {
      const promoted = await olga.tenants.setRole(tenant, bob.id, "owner");
      assert.deepEqual([promoted.userId, promoted.role], [bob.id, "owner"]);
      bob.backend.selectTenant(tenant);
      await bob.backend.getToken();
      assert.equal(current(bob)?.role, "owner");
      const before = bob.exchanges.length;

      await bob.tenants.setRole(tenant, bob.id, "admin"); // Olga stays owner
      assert.equal(current(bob), null);
      await bob.backend.getToken();
      assert.equal(current(bob)?.role, "admin");
      assert.deepEqual(bob.exchanges.slice(before), [{ tenant_id: tenant }]);
    });

    await t.step(
      "grantableRoles() lists the operator's roles: all to an owner, all but owner to an admin",
      async () => {
        await sql`insert into tenancy.roles (role, description) values ('billing', 'Reads and pays invoices')`;
        assert.deepEqual(await olga.tenants.grantableRoles(tenant), [
          { role: "admin", description: "Manages members and invitations, never owners" },
          { role: "billing", description: "Reads and pays invoices" },
          { role: "owner", description: "Manages the tenant, its members, invitations and owners" },
          { role: "user", description: "A member: reads the tenant" },
        ]);
        assert.deepEqual((await bob.tenants.grantableRoles(tenant)).map((r) => r.role), [
          "admin",
          "billing",
          "user",
        ]);
        const refused = await rejection(bob.tenants.invite(tenant, "dave@example.com", "auditor"));
        assert.deepEqual([refused.code, refused.status], ["invalid_request", 400]);
        assert.match(refused.message, /admin, billing, owner, user/);
      },
    );

    await t.step("an invitation is sent, listed for nobody else, and conflicts with a second", async () => {
      const { invitation, emailSent } = await bob.tenants.invite(tenant, " Carol@Example.com ", "user");
      assert.deepEqual([invitation.email, invitation.role, invitation.invitedBy], [
        "carol@example.com",
        "user",
        bob.id,
      ]);
      assert.equal(typeof emailSent, "boolean");
      assert.equal((await rejection(olga.tenants.invite(tenant, "carol@example.com"))).code, "conflict");
      assert.deepEqual(await olga.tenants.pendingInvitations(), { items: [], nextAfter: null });
      assert.equal((await rejection(olga.tenants.accept(invitation.id))).code, "not_found");
    });

    await t.step("a manager lists the pending invitations a page at a time, and revokes one", async () => {
      await olga.tenants.invite(tenant, "dave@example.com", "billing");
      const first = await olga.tenants.invitations(tenant, { limit: 1 });
      assert.deepEqual(first.items.map((i) => [i.email, i.role, i.invitedByEmail]), [
        ["dave@example.com", "billing", OLGA],
      ]);
      const rest = await olga.tenants.invitations(tenant, { limit: 1, after: first.nextAfter! });
      assert.deepEqual(rest.items.map((i) => [i.email, i.invitedBy]), [["carol@example.com", bob.id]]);
      const revoked = await bob.tenants.revokeInvitation(tenant, first.items[0].id);
      assert.deepEqual([revoked.id, revoked.email], [first.items[0].id, "dave@example.com"]);
      assert.deepEqual((await olga.tenants.invitations(tenant)).items.map((i) => i.email), [
        "carol@example.com",
      ]);
      const again = await rejection(olga.tenants.revokeInvitation(tenant, revoked.id));
      assert.deepEqual([again.code, again.status], ["not_found", 404]);
      const malformed = await rejection(olga.tenants.revokeInvitation(tenant, "not-a-uuid"));
      assert.deepEqual([malformed.code, malformed.status], ["invalid_request", 400]);
    });

    await t.step("leaving the picked tenant goes back to the default one", async () => {
      const left = await bob.tenants.leave(tenant);
      assert.equal(left.userId, bob.id);
      assert.equal(bob.backend.tenantId, null);
      assert.equal(current(bob), null);
      await bob.backend.getToken();
      assert.equal(current(bob)?.tenantId, "demo");
      assert.equal((await rejection(bob.tenants.members(tenant))).code, "not_found");
    });

    await t.step("audit() pages through the trail, newest first", async () => {
      const first = await olga.tenants.audit(tenant, { limit: 2 });
      assert.deepEqual(first.entries.map((e) => e.action), ["member.left", "invitation.revoked"]);
      assert.equal(first.nextBefore, first.entries[1].id);
      const rest = await olga.tenants.audit(tenant, { before: first.nextBefore! });
      assert.deepEqual(rest.entries.map((e) => e.action), [
        "invitation.created",
        "invitation.created",
        "member.role_changed",
        "member.role_changed",
      ]);
      assert.equal(rest.nextBefore, null);
      const [left] = first.entries;
      assert.deepEqual([left.actorEmail, left.targetEmail, left.before], [BOB, BOB, { role: "admin" }]);
    });

    await t.step(
      "createTenant() needs self-service; renameTenant() and setDefaultTenant() follow",
      async () => {
        const off = await rejection(olga.tenants.createTenant("Acme"));
        assert.deepEqual([off.code, off.status], ["forbidden", 403]);
        await sql`update tenancy.management_settings set self_service_tenants = true`;
        const acme = await olga.tenants.createTenant("Acme");
        assert.deepEqual([acme.name, acme.role, acme.isDefault], ["Acme", "owner", false]);
        assert.equal((await rejection(olga.tenants.createTenant(""))).code, "invalid_request");

        const renamed = await olga.tenants.renameTenant(acme.tenantId, "Acme Corp");
        assert.deepEqual([renamed.tenantId, renamed.name], [acme.tenantId, "Acme Corp"]);
        assert.equal((await rejection(bob.tenants.renameTenant(acme.tenantId, "Mine"))).code, "not_found");

        // Olga's session follows her default: her personal tenant's token goes when Acme becomes it.
        await olga.backend.getToken();
        assert.equal(current(olga)?.tenantId, tenant);
        const made = await olga.tenants.setDefaultTenant(acme.tenantId);
        assert.deepEqual([made.tenantId, made.isDefault], [acme.tenantId, true]);
        assert.equal(current(olga), null);
        await olga.backend.getToken();
        assert.equal(current(olga)?.tenantId, acme.tenantId);
        assert.deepEqual((await olga.tenants.listTenants()).items.map((x) => [x.name, x.isDefault]), [
          ["Acme Corp", true],
          ["Olga's workspace", false],
        ]);
      },
    );
  } finally {
    await sql.end();
    await stack.stop();
  }
});
