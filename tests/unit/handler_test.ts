import assert from "node:assert/strict";
import {
  createExchangeHandler,
  createMisconfiguredHandler,
} from "../../supabase/functions/_shared/exchange/routes.ts";
import type { ExchangeLogEntry } from "../../supabase/functions/_shared/exchange/routes.ts";
import { ConfigError } from "../../supabase/functions/_shared/core/config.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";
import type { AccessTokenClaims } from "../../supabase/functions/_shared/core/verify.ts";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import { CALLER, ORIGIN, USER_ID as USER } from "../_fixtures.ts";

const NOW = new Date("2026-01-02T03:04:05.000Z");
const TOKEN = "header.payload.signature";

function setup(
  overrides: { verify?: () => Promise<AccessTokenClaims>; resolve?: () => Promise<never> } = {},
) {
  const logs: ExchangeLogEntry[] = [];
  const calls: Array<{ claims: Record<string, unknown>; requested: string | null }> = [];
  const handler = createExchangeHandler({
    config: { allowedOrigins: [ORIGIN], maxBodyBytes: 1024, bodyTimeoutMs: 10_000 },
    verifyToken: overrides.verify ??
      ((token) =>
        token === TOKEN ? Promise.resolve(CALLER) : Promise.reject(new ApiError("invalid_token", "bad"))),
    resolveTenant: overrides.resolve ?? ((claims, requested) => {
      calls.push({ claims, requested });
      return Promise.resolve({
        tenantId: requested ?? "acme",
        tenantUuid: crypto.randomUUID(),
        role: "admin",
        provisioned: true,
        email: "someone@example.com",
      });
    }),
    signToken: createBackendSigner({
      secret: new TextEncoder().encode("x".repeat(31) + "y"),
      algorithm: "HS256",
      ttlSeconds: 3600,
    }),
    now: () => NOW,
    log: (entry) => logs.push(entry),
  });
  return { handler, logs, calls };
}

function request(init: RequestInit & { headers?: Record<string, string> } = {}): Request {
  return new Request("http://localhost/exchange-token", {
    method: "POST",
    ...init,
    headers: { origin: ORIGIN, authorization: `Bearer ${TOKEN}`, ...init.headers },
  });
}

Deno.test("createExchangeHandler() answers 200 with the contract's success body", async () => {
  const { handler, calls } = setup();
  const res = await handler(request());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), [
    "backend_token",
    "email",
    "expires_at",
    "expires_in",
    "role",
    "tenant_id",
    "token_type",
    "user_id",
  ]);
  assert.equal(body.user_id, USER);
  assert.equal(body.tenant_id, "acme");
  assert.equal(body.role, "admin");
  assert.equal(body.email, "someone@example.com");
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 3600);
  assert.equal(body.expires_at, "2026-01-02T04:04:05.000Z");
  assert.deepEqual(calls, [{ claims: CALLER.claims, requested: null }]);
});

Deno.test("createExchangeHandler() passes the requested tenant on", async () => {
  const { handler, calls } = setup();
  const res = await handler(
    request({ body: '{"tenant_id":"beta"}', headers: { "content-type": "application/json" } }),
  );
  assert.equal(res.status, 200);
  assert.equal((await res.json()).tenant_id, "beta");
  assert.equal(calls[0].requested, "beta");
});

Deno.test("createExchangeHandler() answers OPTIONS 204 and other methods 405 with Allow, both with CORS", async () => {
  const { handler } = setup();
  const preflight = await handler(request({ method: "OPTIONS" }));
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal(await preflight.text(), "");
  for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
    const res = await handler(request({ method }));
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("allow"), "POST, OPTIONS");
    assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal((await res.json()).error, "method_not_allowed");
  }
});

Deno.test("createExchangeHandler() maps each collaborator failure to its status and headers", async () => {
  const rows = [
    ["invalid_token", 401, "www-authenticate", 'Bearer realm="exchange-token", error="invalid_token"'],
    ["no_tenant", 403, null, null],
    ["not_a_member", 403, null, null],
    ["database_unavailable", 503, "retry-after", "5"],
    ["auth_unavailable", 503, "retry-after", "5"],
    ["server_misconfigured", 500, null, null],
  ] as const;
  for (const [code, status, header, value] of rows) {
    const { handler, logs } = setup({ resolve: () => Promise.reject(new ApiError(code, "because")) });
    const res = await handler(request());
    assert.equal(res.status, status, code);
    assert.deepEqual(await res.json(), { error: code, message: "because" });
    if (header) assert.equal(res.headers.get(header), value);
    assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(logs[0].outcome, code);
    assert.equal(logs[0].status, status);
  }
});

Deno.test("createExchangeHandler() answers a bug with a bare 500 and logs it without secrets", async () => {
  const { handler, logs } = setup({
    resolve: () => Promise.reject(new TypeError(`boom near ${TOKEN} for someone@example.com`)),
  });
  const res = await handler(request());
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.error, "internal_error");
  assert.ok(!JSON.stringify(body).includes("boom"));
  const line = JSON.stringify(logs);
  assert.ok(!line.includes(TOKEN) && !line.includes("someone@example.com"), line);
  assert.equal(logs[0].level, "error");
  assert.equal(logs[0].cause?.name, "TypeError");
});

Deno.test("createExchangeHandler() logs one line per request: outcome, status, latency, user, tenant, provisioned", async () => {
  const { handler, logs } = setup();
  await handler(request());
  assert.equal(logs.length, 1);
  const entry = logs[0];
  assert.equal(entry.msg, "exchange");
  assert.equal(entry.outcome, "ok");
  assert.equal(entry.status, 200);
  assert.equal(typeof entry.latency_ms, "number");
  assert.equal(entry.user_id, USER);
  assert.equal(entry.tenant_id, "acme");
  assert.equal(entry.provisioned, true);
  const line = JSON.stringify(entry);
  assert.ok(!line.includes("someone@example.com") && !line.includes(TOKEN) && !line.includes("eyJ"), line);
});

Deno.test("createExchangeHandler() answers the RFC 8693 form with access_token and issued_token_type", async () => {
  const { handler } = setup();
  const form = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: TOKEN,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    resource: "beta",
  });
  const res = await handler(request({ body: form, headers: { authorization: "Bearer anon.key.here" } }));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.access_token, body.backend_token);
  assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:jwt");
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 3600);
  assert.equal(body.tenant_id, "beta");
});

Deno.test("createExchangeHandler() answers form errors the RFC 6749 way", async () => {
  const { handler } = setup();
  const form = new URLSearchParams({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: "other.token.value",
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
  });
  const res = await handler(request({ body: form }));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error, "invalid_request");
  assert.equal(typeof body.error_description, "string");
  const grant = await handler(request({ body: new URLSearchParams({ grant_type: "password" }) }));
  assert.equal((await grant.json()).error, "unsupported_grant_type");
});

Deno.test("createMisconfiguredHandler() answers 500 server_misconfigured with CORS, and preflights 204", async () => {
  const logs: ExchangeLogEntry[] = [];
  const handler = createMisconfiguredHandler(new ConfigError("BACKEND_JWT_SECRET", "is not set"), {
    allowedOrigins: "*",
    log: (entry) => logs.push(entry),
  });
  const res = await handler(request());
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(await res.json(), {
    error: "server_misconfigured",
    message: "The token exchange is not configured correctly",
  });
  assert.equal((await handler(request({ method: "OPTIONS" }))).status, 204);
  assert.equal(logs[0].outcome, "server_misconfigured");
});
