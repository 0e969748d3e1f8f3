import assert from "node:assert/strict";
import {
  createManagementHandler,
  type ManagementLogEntry,
  type Route,
} from "../../supabase/functions/_shared/management/handler.ts";
import { ConfigError } from "../../supabase/functions/_shared/core/config.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";
import { CALLER, ORIGIN, USER_ID as USER } from "../_fixtures.ts";

function setup(routes: Route[], misconfigured?: ApiError) {
  const logs: ManagementLogEntry[] = [];
  const tokens: string[] = [];
  const handler = createManagementHandler({
    name: "tenants",
    config: { allowedOrigins: [ORIGIN], maxBodyBytes: 64, bodyTimeoutMs: 10_000 },
    verifyToken: (token) => {
      tokens.push(token);
      return token === "good.token.sig"
        ? Promise.resolve(CALLER)
        : Promise.reject(new ApiError("invalid_token", "refused"));
    },
    routes,
    log: (entry) => logs.push(entry),
    misconfigured,
  });
  const request = (method: string, path: string, init: { body?: string; token?: string | null } = {}) =>
    handler(
      new Request(`http://localhost${path}`, {
        method,
        body: init.body,
        headers: {
          origin: ORIGIN,
          ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? "good.token.sig"}` }),
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        },
      }),
    );
  return { logs, tokens, request };
}

const ECHO: Route[] = [
  { method: "GET", path: "", handle: () => Promise.resolve({ body: { root: true } }) },
  {
    method: "PATCH",
    path: "/:tenant/members/:user_id",
    handle: async ({ params, userId, body }) => ({ body: { params, userId, body: await body() } }),
  },
  {
    method: "DELETE",
    path: "/:tenant/members/:user_id",
    handle: () => Promise.resolve({ status: 201, body: {} }),
  },
];

Deno.test("createManagementHandler() routes by method and path, with /functions/v1 or without", async () => {
  const { request, logs } = setup(ECHO);
  for (const path of ["/functions/v1/tenants", "/tenants", "/tenants/"]) {
    const res = await request("GET", path);
    assert.equal(res.status, 200, path);
    assert.deepEqual(await res.json(), { root: true });
  }
  const res = await request("PATCH", "/functions/v1/tenants/acme%20co/members/u1", { body: '{"role":"x"}' });
  assert.deepEqual(await res.json(), {
    params: { tenant: "acme co", user_id: "u1" },
    userId: USER,
    body: { role: "x" },
  });
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal((await request("DELETE", "/tenants/a/members/b")).status, 201);
  assert.deepEqual(
    { ...logs[3], latency_ms: 0 },
    {
      level: "info",
      msg: "tenants",
      route: "PATCH /tenants/:tenant/members/:user_id",
      outcome: "ok",
      status: 200,
      method: "PATCH",
      latency_ms: 0,
      user_id: USER,
    },
  );
});

Deno.test("createManagementHandler() answers 404 for an unknown path and 405 with Allow before verifying", async () => {
  const { request, tokens } = setup(ECHO);
  for (
    const path of [
      "/tenantsx",
      "/other",
      "/tenants/a/members",
      "/tenants/a/members/b/c",
      "/tenants//members/b",
    ]
  ) {
    const res = await request("GET", path, { token: null });
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: "not_found", message: "No such route" });
  }
  const res = await request("PUT", "/tenants/a/members/b", { token: null });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "PATCH, DELETE, OPTIONS");
  assert.equal((await res.json()).error, "method_not_allowed");
  assert.deepEqual(tokens, []);
});

Deno.test("createManagementHandler() refuses a missing or refused token with 401 and the challenge", async () => {
  const { request } = setup(ECHO);
  const missing = await request("GET", "/tenants", { token: null });
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="tenants"');
  const refused = await request("GET", "/tenants", { token: "bad.token.sig" });
  assert.equal(refused.status, 401);
  assert.equal(
    refused.headers.get("www-authenticate"),
    'Bearer realm="tenants", error="invalid_token"',
  );
});

Deno.test("createManagementHandler() answers preflights with every method it routes", async () => {
  const { request } = setup(ECHO);
  const res = await request("OPTIONS", "/tenants/a/members/b", { token: null });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-methods"), "GET, POST, PATCH, PUT, DELETE, OPTIONS");
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
});

Deno.test("createManagementHandler() renders errors: a malformed path segment is 400, a bug a bare 500", async () => {
  const { request, logs } = setup([
    { method: "GET", path: "/:tenant", handle: () => Promise.reject(new TypeError("select secret")) },
  ]);
  const malformed = await request("GET", "/tenants/%E0%A4%A");
  assert.equal(malformed.status, 400);
  assert.equal((await malformed.json()).error, "invalid_request");
  const bug = await request("GET", "/tenants/acme");
  assert.equal(bug.status, 500);
  assert.deepEqual(await bug.json(), {
    error: "internal_error",
    message: "The exchange failed unexpectedly",
  });
  assert.equal(logs.at(-1)?.level, "error");
  assert.equal(logs.at(-1)?.cause?.name, "TypeError");
});

Deno.test("createManagementHandler() with a configuration error answers 500 to all but preflights", async () => {
  const { request } = setup(ECHO, new ConfigError("SUPABASE_URL", "is not set"));
  const res = await request("GET", "/tenants");
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, "server_misconfigured");
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal((await request("OPTIONS", "/tenants", { token: null })).status, 204);
});
