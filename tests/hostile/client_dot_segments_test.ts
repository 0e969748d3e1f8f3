/**
 * Hostile replay through the local stack (supabase-js, the gateway, the functions): an app hands an id from
 * its own input (a route parameter, a form) to a tenant call, and the input is `..` or `.`. The client
 * URL-encodes each segment, but `encodeURIComponent` leaves dots alone and URL parsing then drops the segment
 * with the one before it: `remove("acme", "..")` went out as `DELETE …/tenants/acme`, `setRole("..", …)` as
 * `PATCH …/functions/v1/members/…` (another function of the project, with the user's token), `grantableRoles
 * ("..")` as `GET …/functions/v1/roles`. Now such a segment is refused before anything is sent, and what the
 * gateway saw is checked through a recording `fetch`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { BackendSessionError, createBackendSession, createTenantClient } from "../../client/mod.ts";
import { startStack } from "../../dev/stack.ts";
import { PASSWORD } from "../_fixtures.ts";

Deno.test("an id of '..', '.' or '' never becomes another path, through the stack", async () => {
  const stack = await startStack({ autoConfirm: true });
  const sent: string[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname.startsWith("/functions/v1/")) {
      sent.push(`${init?.method ?? (input instanceof Request ? input.method : "GET")} ${url.pathname}`);
    }
    return fetch(input, init);
  };
  const ada = createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: { fetch: recording },
  });
  const backend = createBackendSession(ada, { autoRefresh: false });
  try {
    const signedUp = await ada.auth.signUp({
      email: `ada-${crypto.randomUUID().slice(0, 6)}@corp.test`,
      password: PASSWORD,
    });
    assert.equal(signedUp.error, null);
    await backend.getToken(); // her personal tenant
    const tenants = createTenantClient(ada, { session: backend });
    const [mine] = (await tenants.listTenants()).items;
    assert.equal(mine.role, "owner");
    const userId = signedUp.data.user!.id;
    sent.length = 0;

    const hostile: Array<[string, () => Promise<unknown>]> = [
      ["remove(tenant, '..')", () => tenants.remove(mine.tenantId, "..")],
      ["setRole(tenant, '..')", () => tenants.setRole(mine.tenantId, "..", "admin")],
      ["setRole('..', user)", () => tenants.setRole("..", userId, "admin")],
      ["grantableRoles('..')", () => tenants.grantableRoles("..")],
      ["members('.')", () => tenants.members(".")],
      ["revokeInvitation(tenant, '..')", () => tenants.revokeInvitation(mine.tenantId, "..")],
      ["renameTenant('', name)", () => tenants.renameTenant("", "Mallory's")],
      ["setDefaultTenant('..')", () => tenants.setDefaultTenant("..")],
      ["accept('..')", () => tenants.accept("..")],
      ["audit('..')", () => tenants.audit("..")],
    ];
    for (const [what, call] of hostile) {
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof BackendSessionError, `${what}: ${err}`);
        assert.deepEqual([err.code, err.status], ["invalid_request", 0], what);
        return true;
      });
    }
    assert.deepEqual(sent, [], "no request left the client for a dot or empty segment");

    // Ada's tenant and her place in it are untouched; ids that merely contain dots still go out encoded.
    assert.deepEqual((await tenants.listTenants()).items.map((t) => [t.tenantId, t.role]), [[
      mine.tenantId,
      "owner",
    ]]);
    await assert.rejects(tenants.members("a..b"), (err: unknown) => err instanceof BackendSessionError);
    assert.ok((sent as string[]).includes("GET /functions/v1/tenants/a..b/members"), JSON.stringify(sent));
  } finally {
    backend.dispose();
    await ada.auth.signOut({ scope: "local" });
    await stack.stop();
  }
});
