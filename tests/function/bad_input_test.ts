/**
 * A battery of hostile and broken requests against the real handler: every answer is a 4xx with the JSON
 * error shape, never a 500 (and never a stack, SQL or token).
 */
import assert from "node:assert/strict";
import { generateKeyPair, SignJWT } from "jose";
import { createTenant } from "../_db.ts";
import { exchangeRequest, openHarness, payloadOf, signUp } from "./_setup.ts";
import { call, openManagementHarness, provenUser } from "./_management_setup.ts";

function b64url(text: string): string {
  return btoa(text).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
}

Deno.test("exchange-token answers every bad input with a 4xx JSON error, never a 500", async () => {
  const h = await openHarness({ mode: "es256" });
  try {
    const acme = await createTenant(h.db.sql, "Acme");
    const user = await signUp(h.auth);
    await h.db
      .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${user.userId}, true)`;
    const good = user.accessToken;
    const claims = payloadOf(good);
    const [header, payload, signature] = good.split(".");
    const { privateKey } = await generateKeyPair("ES256");
    const json = { "content-type": "application/json" };

    const cases: Array<[string, Request]> = [
      ["garbage token", exchangeRequest("garbage")],
      ["random base64url parts", exchangeRequest("abc.def.ghi")],
      ["truncated token", exchangeRequest(good.slice(0, good.length - 20))],
      ["token without signature", exchangeRequest(`${header}.${payload}`)],
      ["token cut in the header", exchangeRequest(good.slice(0, 10))],
      ["header that is JSON null", exchangeRequest(`${b64url("null")}.${payload}.${signature}`)],
      ["header that is an array", exchangeRequest(`${b64url("[1,2]")}.${payload}.${signature}`)],
      ["header that is not JSON", exchangeRequest(`${b64url("{alg")}.${payload}.${signature}`)],
      ["payload of invalid UTF-8", exchangeRequest(`${header}.${b64url("\xff\xfe\xfd")}.${signature}`)],
      ["alg none", exchangeRequest(`${b64url('{"alg":"none","typ":"JWT"}')}.${payload}.`)],
      [
        "alg none with a signature",
        exchangeRequest(`${b64url('{"alg":"none","typ":"JWT"}')}.${payload}.${signature}`),
      ],
      [
        "alg HS256 over an ES256 kid",
        exchangeRequest(
          `${b64url(JSON.stringify({ alg: "HS256", kid: h.auth.jwks.keys[0].kid }))}.${payload}.${signature}`,
        ),
      ],
      [
        "alg RS256 with the ES256 kid",
        exchangeRequest(
          `${b64url(JSON.stringify({ alg: "RS256", kid: h.auth.jwks.keys[0].kid }))}.${payload}.${signature}`,
        ),
      ],
      [
        "token signed with another key",
        exchangeRequest(
          await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: h.auth.jwks.keys[0].kid }).sign(
            privateKey,
          ),
        ),
      ],
      ["string exp", exchangeRequest(await h.auth.signAccessToken({ ...claims, exp: String(claims.exp) }))],
      ["no sub", exchangeRequest(await h.auth.signAccessToken({ ...claims, sub: undefined }))],
      ["sub that is not a uuid", exchangeRequest(await h.auth.signAccessToken({ ...claims, sub: "admin" }))],
      [
        "session that never existed",
        exchangeRequest(await h.auth.signAccessToken({ ...claims, session_id: crypto.randomUUID() })),
      ],
      ["anon key as bearer", exchangeRequest(h.auth.anonKey)],
      ["service-role key as bearer", exchangeRequest(h.auth.serviceRoleKey)],
      ["publishable-style key as bearer", exchangeRequest("sb_publishable_abcdefghijklmnop")],
      ["64 KiB Authorization header", exchangeRequest("a".repeat(64 * 1024))],
      ["64 KiB token-shaped bearer", exchangeRequest(`${header}.${"A".repeat(64 * 1024)}.${signature}`)],
      ["bearer with a comma", exchangeRequest(null, { headers: { authorization: "Bearer a,b" } })],
      [
        "two bearer tokens",
        exchangeRequest(null, { headers: { authorization: `Bearer ${good} Bearer ${good}` } }),
      ],
      [
        "invalid UTF-8 body",
        exchangeRequest(good, { body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), headers: json }),
      ],
      ["JSON array", exchangeRequest(good, { body: "[]", headers: json })],
      ["JSON array of an object", exchangeRequest(good, { body: '[{"tenant_id":"x"}]', headers: json })],
      ["JSON null", exchangeRequest(good, { body: "null", headers: json })],
      ["tenant_id a number", exchangeRequest(good, { body: '{"tenant_id":1}', headers: json })],
      ["tenant_id an object", exchangeRequest(good, { body: '{"tenant_id":{"$ne":null}}', headers: json })],
      ["tenant_id true", exchangeRequest(good, { body: '{"tenant_id":true}', headers: json })],
      ["tenant_id with a NUL", exchangeRequest(good, { body: '{"tenant_id":"a\\u0000b"}', headers: json })],
      [
        "tenant_id with a lone surrogate",
        exchangeRequest(good, { body: '{"tenant_id":"\\ud800"}', headers: json }),
      ],
      [
        "tenant_id of 10 000 characters",
        exchangeRequest(good, { body: JSON.stringify({ tenant_id: "x".repeat(10_000) }), headers: json }),
      ],
      [
        "tenant_id that is SQL",
        exchangeRequest(good, { body: JSON.stringify({ tenant_id: "x' or '1'='1" }), headers: json }),
      ],
      ["truncated JSON", exchangeRequest(good, { body: '{"tenant_id":', headers: json })],
      [
        "deeply nested JSON",
        exchangeRequest(good, { body: "[".repeat(5000) + "]".repeat(5000), headers: json }),
      ],
      ["huge body", exchangeRequest(good, { body: "x".repeat(1024 * 1024), headers: json })],
      [
        "huge streamed body",
        exchangeRequest(good, { body: new Blob([new Uint8Array(1024 * 1024)]).stream(), headers: json }),
      ],
      [
        "XML body",
        exchangeRequest(good, { body: "<tenant/>", headers: { "content-type": "application/xml" } }),
      ],
      [
        "multipart body",
        exchangeRequest(good, {
          body: (() => {
            const f = new FormData();
            f.set("tenant_id", "x");
            return f;
          })(),
        }),
      ],
      [
        "form without grant_type",
        exchangeRequest(good, { body: new URLSearchParams({ subject_token: good }) }),
      ],
      [
        "form with invalid UTF-8",
        exchangeRequest(null, {
          body: new Uint8Array([0x67, 0x3d, 0xff]),
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
      ],
      [
        "form with a garbage subject token",
        exchangeRequest(null, {
          body: new URLSearchParams({
            grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
            subject_token: "garbage",
            subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
          }),
        }),
      ],
      ["PATCH method", exchangeRequest(good, { method: "PATCH" })],
    ];

    for (const [name, request] of cases) await assertClientError(h.app.handler, name, request);
  } finally {
    await h.close();
  }
});

/** A 4xx with the JSON error shape and CORS, never a 500, a stack, SQL or a token. */
async function assertClientError(
  handler: (req: Request) => Promise<Response>,
  name: string,
  request: Request,
) {
  const res = await handler(request);
  const text = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `${name}: ${res.status} ${text}`);
  const body = JSON.parse(text);
  const code = body.error;
  assert.equal(typeof code, "string", name);
  assert.ok(typeof body.message === "string" || typeof body.error_description === "string", name);
  assert.ok(!/eyJ|select |insert |at file:|Error:|tenancy[._]/.test(text), `${name} leaks: ${text}`);
  assert.ok(res.headers.get("access-control-allow-origin"), `${name} has CORS`);
}

Deno.test("the tenants and invitations functions answer every bad input with a 4xx JSON error", async () => {
  const h = await openManagementHarness();
  try {
    const acme = await createTenant(h.db.sql, "Acme", "acme");
    const owner = await provenUser(h.auth);
    await h.db
      .sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${acme}, ${owner.userId}, 'owner')`;
    const good = owner.accessToken;
    const uuid = crypto.randomUUID();
    const json = { "content-type": "application/json" };
    // Every route with a well-formed request, to be spoilt one part at a time.
    const routes: Array<[string, string, unknown?]> = [
      ["GET", "/tenants"],
      ["POST", "/tenants", { name: "x" }],
      ["PATCH", "/tenants/acme", { name: "x" }],
      ["PUT", "/tenants/acme/default"],
      ["GET", "/tenants/acme/members"],
      ["PATCH", `/tenants/acme/members/${owner.userId}`, { role: "user" }],
      ["DELETE", `/tenants/acme/members/${uuid}`],
      ["GET", "/tenants/acme/invitations"],
      ["POST", "/tenants/acme/invitations", { email: "a@example.com", role: "user" }],
      ["DELETE", `/tenants/acme/invitations/${uuid}`],
      ["GET", "/tenants/acme/audit"],
      ["GET", "/tenants/acme/roles"],
      ["GET", "/invitations"],
      ["POST", `/invitations/${uuid}/accept`],
      ["POST", `/invitations/${uuid}/decline`],
    ];
    const cases: Array<[string, Request]> = [];
    for (const [method, path, body] of routes) {
      const route = `${method} ${path}`;
      cases.push(
        [`${route} without a token`, call(null, method, path, body)],
        [`${route} with a garbage token`, call("garbage", method, path, body)],
        [`${route} with the anon key`, call(h.auth.anonKey, method, path, body)],
        [`${route} with the service-role key`, call(h.auth.serviceRoleKey, method, path, body)],
        [
          `${route} with a session that never existed`,
          call(await h.auth.signAccessToken({ ...payloadOf(good), session_id: uuid }), method, path, body),
        ],
        [`${route} with a 64 KiB Authorization`, call("a".repeat(64 * 1024), method, path, body)],
        [`${route} with another method`, call(good, "PROPFIND", path)],
      );
      if (body !== undefined) {
        cases.push(
          [
            `${route} with invalid UTF-8`,
            call(good, method, path, new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
          ],
          [`${route} with a JSON array`, call(good, method, path, "[]")],
          [`${route} with JSON null`, call(good, method, path, "null")],
          [`${route} with truncated JSON`, call(good, method, path, '{"name":')],
          [`${route} with deeply nested JSON`, call(good, method, path, "[".repeat(5000) + "]".repeat(5000))],
          [`${route} with a huge body`, call(good, method, path, "x".repeat(1024 * 1024))],
          [
            `${route} with a huge streamed body`,
            new Request(`http://localhost/functions/v1${path}`, {
              method,
              headers: { ...json, authorization: `Bearer ${good}`, origin: "https://app.example.com" },
              body: new Blob([new Uint8Array(1024 * 1024)]).stream(),
            }),
          ],
          [
            `${route} with an XML body`,
            call(good, method, path, "<name/>", { "content-type": "application/xml" }),
          ],
        );
      }
    }
    const fields: Array<[string, string, Record<string, unknown>]> = [
      ["name a number", "/tenants/acme", { name: 1 }],
      ["name an object", "/tenants/acme", { name: { $ne: null } }],
      ["name with a NUL", "/tenants/acme", { name: "a\u0000b" }],
      ["name with a lone surrogate", "/tenants/acme", { name: "\ud800" }],
      ["name of 10 000 characters", "/tenants/acme", { name: "x".repeat(10_000) }],
      ["name missing", "/tenants/acme", {}],
      ["role in capitals", `/tenants/acme/members/${owner.userId}`, { role: "OWNER" }],
      ["role empty", `/tenants/acme/members/${owner.userId}`, { role: "" }],
      ["role a number", `/tenants/acme/members/${owner.userId}`, { role: 5 }],
      ["role of 40 characters", `/tenants/acme/members/${owner.userId}`, { role: "a".repeat(40) }],
      ["role that is SQL", `/tenants/acme/members/${owner.userId}`, {
        role: "x'; drop table tenancy.tenants; --",
      }],
    ];
    for (const [name, path, body] of fields) {
      cases.push([`PATCH with ${name}`, call(good, "PATCH", path, body)]);
    }
    for (
      const email of [
        5,
        "a@b",
        "x".repeat(300) + "@example.com",
        "a\u0000@example.com",
        "a b@example.com",
        "@example.com",
        "",
      ]
    ) {
      cases.push([
        `invitation to ${JSON.stringify(email).slice(0, 40)}`,
        call(good, "POST", "/tenants/acme/invitations", { email }),
      ]);
    }
    for (
      const path of [
        "/tenants/a%00b/members",
        "/tenants/%E0%A4%A/members",
        `/tenants/${"x".repeat(300)}/members`,
        "/tenants/%20acme/members",
        "/tenants/acme/members/not-a-uuid",
        "/tenants/acme/members/..%2F..",
        "/tenants//members",
        "/tenants/acme/invitations/1",
        "/invitations/not-a-uuid/accept",
        "/invitations/x/y/z",
        "/tenantsx",
        "/functions/v1/tenants",
      ]
    ) {
      const method = path.endsWith("/accept") ? "POST" : path.includes("/members/") ? "DELETE" : "GET";
      cases.push([`${method} ${path.slice(0, 60)}`, call(good, method, path)]);
    }
    for (
      const query of [
        "limit=abc",
        "limit=-1",
        "limit=1e3",
        "limit=101",
        "before=0",
        "before=99999999999999999999",
        "before=x",
      ]
    ) {
      cases.push([`audit with ${query}`, call(good, "GET", `/tenants/acme/audit?${query}`)]);
    }

    for (const [name, request] of cases) {
      const handler = new URL(request.url).pathname.startsWith("/functions/v1/invitations")
        ? h.invitations.handler
        : h.tenants.handler;
      await assertClientError(handler, name, request);
    }
    const [{ count }] = await h.db.sql`select count(*)::int from tenancy.audit_log`;
    assert.equal(count, 0, "no bad request changed anything");
  } finally {
    await h.close();
  }
});
