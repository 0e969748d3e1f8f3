/**
 * The exchange-token handler with real parts: Postgres from the harness, the Auth emulator signing ES256
 * access tokens (supabase-js verifies them against its JWKS, as on a new Supabase project), and the
 * handler built from a config object. One test per row of the contract (docs/contract.md §2).
 */
import assert from "node:assert/strict";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { allowRoles, createTenant, setPolicy } from "../_db.ts";
import { freePort } from "../../dev/ports.ts";
import { createExchangeAppFromEnv } from "../../supabase/functions/_shared/exchange/app.ts";
import { exchangeRequest, type Harness, openHarness, payloadOf, signUp } from "./_setup.ts";
import { BACKEND_SECRET, exchangeEnv, ORIGIN } from "../_fixtures.ts";
import { pyjwtDecode } from "../_pyjwt.ts";

async function expectError(res: Response, status: number, code: string): Promise<void> {
  const body = await res.json();
  assert.equal(res.status, status, JSON.stringify(body));
  assert.deepEqual(Object.keys(body).sort(), ["error", "message"]);
  assert.equal(body.error, code);
  assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN, "errors carry CORS headers");
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
}

async function member(h: Harness, tenantId: string, role = "user") {
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                 values (${tenantId}, ${user.userId}, ${role}, true)`;
  return user;
}

/**
 * The first answer after Postgres came back. Directly, that is the next request's. Behind a transaction
 * pooler (DB_POOLER=transaction), the requests of the first seconds may still meet the pooler's failed
 * logins to the stopped server, each a 503 `database_unavailable`: the first 200 within 10 s, then.
 */
async function againAfterOutage(h: Harness, exchange: () => Promise<Response>): Promise<Response> {
  const deadline = Date.now() + 10_000;
  let res = await exchange();
  while (h.config.transactionPooler && res.status === 503 && Date.now() < deadline) {
    await res.body?.cancel();
    res = await exchange();
  }
  return res;
}

Deno.test("exchange-token with Postgres and the Auth emulator (ES256 tokens)", async (t) => {
  const h = await openHarness({ mode: "es256" });
  await allowRoles(h.db.sql, "viewer");
  try {
    const acme = await createTenant(h.db.sql, "Acme", "acme-ext");
    const beta = await createTenant(h.db.sql, "Beta");

    await t.step("200: a member gets a backend JWT for their default tenant", async () => {
      const user = await member(h, acme, "admin");
      const res = await h.app.handler(exchangeRequest(user.accessToken));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const body = await res.json();
      assert.equal(body.user_id, user.userId);
      assert.equal(body.tenant_id, "acme-ext");
      assert.equal(body.role, "admin");
      assert.equal(body.email, user.email);
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, 604800);
      assert.equal(new Date(body.expires_at).getTime(), (payloadOf(body.backend_token).exp as number) * 1000);
      const { payload, protectedHeader } = await jwtVerify(
        body.backend_token,
        new TextEncoder().encode(BACKEND_SECRET),
        {
          algorithms: ["HS256"],
        },
      );
      assert.deepEqual(protectedHeader, { alg: "HS256", typ: "JWT" });
      assert.deepEqual(payload, {
        user_id: user.userId,
        tenant_id: "acme-ext",
        role: "admin",
        email: user.email,
        exp: payload.exp,
      });
      const line = h.logs.at(-1)!;
      assert.deepEqual([line.outcome, line.status, line.user_id, line.tenant_id, line.provisioned], [
        "ok",
        200,
        user.userId,
        "acme-ext",
        false,
      ]);
    });

    await t.step({
      name: "200: the issued token decodes with Debian's PyJWT, also with its clock 60 s behind",
      fn: async () => {
        const user = await member(h, acme);
        const body = await (await h.app.handler(exchangeRequest(user.accessToken))).json();
        for (const skew of [0, -60]) {
          const decoded = await pyjwtDecode(body.backend_token, BACKEND_SECRET, skew);
          assert.ok(decoded.ok, JSON.stringify(decoded));
          assert.equal(decoded.claims.tenant_id, "acme-ext");
        }
        // The signer's clock 60 s ahead of Python's.
        const ahead = h.appWith({}, { now: () => new Date(Date.now() + 60_000) });
        const early = await (await ahead.handler(exchangeRequest(user.accessToken))).json();
        const decoded = await pyjwtDecode(early.backend_token, BACKEND_SECRET);
        assert.ok(decoded.ok, JSON.stringify(decoded));
      },
    });

    await t.step("200: tenant selection by id or external id, in JSON", async () => {
      const user = await member(h, acme);
      await h.db
        .sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${beta}, ${user.userId}, 'viewer')`;
      const json = { "content-type": "application/json" };
      const picked = await h.app.handler(
        exchangeRequest(user.accessToken, { body: JSON.stringify({ tenant_id: beta }), headers: json }),
      );
      assert.equal(picked.status, 200);
      assert.deepEqual([(await picked.json()).tenant_id], [beta]);
      const byExternal = await h.app.handler(
        exchangeRequest(user.accessToken, { body: '{"tenant_id":"acme-ext"}', headers: json }),
      );
      assert.equal((await byExternal.json()).tenant_id, "acme-ext");
      const empty = await h.app.handler(exchangeRequest(user.accessToken, { body: "{}", headers: json }));
      assert.equal((await empty.json()).tenant_id, "acme-ext");
    });

    await t.step("403 not_a_member: a tenant that is not one of the caller's", async () => {
      const user = await member(h, acme);
      const res = await h.app.handler(
        exchangeRequest(user.accessToken, {
          body: JSON.stringify({ tenant_id: beta }),
          headers: { "content-type": "application/json" },
        }),
      );
      await expectError(res, 403, "not_a_member");
    });

    await t.step("403 no_tenant: no membership and a policy that provisions none", async () => {
      const user = await signUp(h.auth);
      await expectError(await h.app.handler(exchangeRequest(user.accessToken)), 403, "no_tenant");
    });

    await t.step("200: a first exchange provisions by policy and logs it", async () => {
      await setPolicy(h.db.sql, [{ strategy: "personal" }]);
      try {
        const user = await signUp(h.auth);
        const res = await h.app.handler(exchangeRequest(user.accessToken));
        assert.equal(res.status, 200);
        assert.equal((await res.json()).role, "user");
        assert.equal(h.logs.at(-1)!.provisioned, true);
      } finally {
        await setPolicy(h.db.sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      }
    });

    await t.step("200: the RFC 8693 form, with audience naming the tenant", async () => {
      const user = await member(h, acme);
      const form = new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: user.accessToken,
        subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        audience: "acme-ext",
      });
      const res = await h.app.handler(exchangeRequest(h.auth.anonKey, { body: form }));
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.access_token, body.backend_token);
      assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:jwt");
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, 604800);
      assert.equal(body.tenant_id, "acme-ext");
    });

    await t.step(
      "400 invalid_request (RFC 6749 §5.2): form errors, a missing subject_token included",
      async () => {
        const user = await member(h, acme);
        const base = {
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: user.accessToken,
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        };
        for (
          const [params, error] of [
            [{ grant_type: base.grant_type, subject_token_type: base.subject_token_type }, "invalid_request"],
            [{ ...base, subject_token: "not-a-jwt" }, "invalid_request"],
            [{ ...base, subject_token_type: "urn:ietf:params:oauth:token-type:id_token" }, "invalid_request"],
            [{ ...base, grant_type: "client_credentials" }, "unsupported_grant_type"],
            [{ ...base, audience: crypto.randomUUID() }, "invalid_target"],
          ] as const
        ) {
          const res = await h.app.handler(exchangeRequest(null, { body: new URLSearchParams(params) }));
          assert.equal(res.status, 400, error);
          const body = await res.json();
          assert.deepEqual(Object.keys(body).sort(), ["error", "error_description"]);
          assert.equal(body.error, error);
          assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
          // A token request's errors, a missing subject_token included, are RFC 6749's: no Bearer challenge.
          assert.equal(res.headers.get("www-authenticate"), null, error);
        }
      },
    );

    await t.step(
      "400 invalid_request: malformed JSON, not an object, wrong-typed or malformed tenant id",
      async () => {
        const user = await member(h, acme);
        for (
          const body of [
            "{",
            "[]",
            '"acme"',
            '{"tenant_id": 7}',
            '{"tenant_id": {"id": 1}}',
            '{"tenant_id": " acme"}',
          ]
        ) {
          const res = await h.app.handler(
            exchangeRequest(user.accessToken, { body, headers: { "content-type": "application/json" } }),
          );
          await expectError(res, 400, "invalid_request");
        }
      },
    );

    await t.step("401 invalid_token: no bearer credentials, challenged without an error code", async () => {
      // RFC 6750 §3.1: no Authorization (or another scheme) means the client may not know it must
      // authenticate, so the challenge names the realm only.
      const cases: Record<string, string>[] = [{}, { authorization: "" }, { authorization: "Basic abc" }];
      for (const headers of cases) {
        const res = await h.app.handler(exchangeRequest(null, { headers }));
        assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="exchange-token"');
        await expectError(res, 401, "invalid_token");
      }
    });

    await t.step(
      "401 invalid_token: an empty, malformed or foreign bearer, with error=invalid_token",
      async () => {
        const refused = 'Bearer realm="exchange-token", error="invalid_token"';
        const empty = await h.app.handler(exchangeRequest(null, { headers: { authorization: "Bearer " } }));
        assert.equal(empty.headers.get("www-authenticate"), refused);
        await expectError(empty, 401, "invalid_token");
        for (const token of ["not.a.jwt", "a,b"]) {
          const res = await h.app.handler(exchangeRequest(token));
          assert.equal(res.headers.get("www-authenticate"), refused, token);
          await expectError(res, 401, "invalid_token");
        }
      },
    );

    await t.step("401 invalid_token: a bad signature, alg none, an expired token", async () => {
      const user = await member(h, acme);
      const claims = payloadOf(user.accessToken);
      const kid = h.auth.jwks.keys[0].kid!;
      const { privateKey } = await generateKeyPair("ES256");
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).sign(
        privateKey,
      );
      await expectError(await h.app.handler(exchangeRequest(forged)), 401, "invalid_token");

      const [, payload] = user.accessToken.split(".");
      const none = `${
        btoa(JSON.stringify({ alg: "none", kid, typ: "JWT" })).replaceAll("=", "")
      }.${payload}.`;
      await expectError(await h.app.handler(exchangeRequest(none)), 401, "invalid_token");
      const noneSigned = `${
        btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replaceAll("=", "")
      }.${payload}.c2ln`;
      await expectError(await h.app.handler(exchangeRequest(noneSigned)), 401, "invalid_token");

      const expired = await h.auth.signAccessToken({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 });
      await expectError(await h.app.handler(exchangeRequest(expired)), 401, "invalid_token");

      // A kid the JWKS does not list: refused after one JWKS fetch (a fresh app has not fetched yet), and
      // while that fetch cools down, 503 with Retry-After rather than 401 (it may be a key rotated in since).
      const unknownKid = () =>
        new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() }).sign(privateKey);
      const fresh = h.appWith({});
      await expectError(await fresh.handler(exchangeRequest(await unknownKid())), 401, "invalid_token");
      const cooling = await fresh.handler(exchangeRequest(await unknownKid()));
      assert.ok(Number(cooling.headers.get("retry-after")) > 0);
      await expectError(cooling, 503, "auth_unavailable");
    });

    await t.step("401 invalid_token: a revoked session (signed out), a deleted or banned user", async () => {
      const revoked = await member(h, acme);
      assert.equal((await h.app.handler(exchangeRequest(revoked.accessToken))).status, 200);
      await fetch(`${h.auth.url}/auth/v1/logout?scope=global`, {
        method: "POST",
        headers: { apikey: h.auth.anonKey, authorization: `Bearer ${revoked.accessToken}` },
      }).then((r) => r.body?.cancel());
      // The ES256 token still verifies locally; its session is gone from auth.sessions.
      await expectError(await h.app.handler(exchangeRequest(revoked.accessToken)), 401, "invalid_token");

      const deleted = await member(h, acme);
      await h.db.sql`update auth.users set deleted_at = now() where id = ${deleted.userId}`;
      await expectError(await h.app.handler(exchangeRequest(deleted.accessToken)), 401, "invalid_token");

      const banned = await member(h, acme);
      await h.db
        .sql`update auth.users set banned_until = now() + interval '1 hour' where id = ${banned.userId}`;
      await expectError(await h.app.handler(exchangeRequest(banned.accessToken)), 401, "invalid_token");
    });

    await t.step("401 invalid_token: the anon and service-role keys are not users", async () => {
      // The anon key's JWT is also what a gateway may add for a caller who sent no token: a foreign bearer,
      // so the challenge carries error="invalid_token".
      for (const key of [h.auth.anonKey, h.auth.serviceRoleKey]) {
        const res = await h.app.handler(exchangeRequest(key));
        assert.equal(
          res.headers.get("www-authenticate"),
          'Bearer realm="exchange-token", error="invalid_token"',
        );
        await expectError(res, 401, "invalid_token");
      }
    });

    await t.step("405 method_not_allowed with Allow, 413, 415", async () => {
      const user = await member(h, acme);
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await h.app.handler(exchangeRequest(user.accessToken, { method }));
        assert.equal(res.headers.get("allow"), "POST, OPTIONS");
        await expectError(res, 405, "method_not_allowed");
      }
      const huge = JSON.stringify({ tenant_id: "acme-ext", pad: "x".repeat(17 * 1024) });
      await expectError(
        await h.app.handler(
          exchangeRequest(user.accessToken, { body: huge, headers: { "content-type": "application/json" } }),
        ),
        413,
        "payload_too_large",
      );
      await expectError(
        await h.app.handler(
          exchangeRequest(user.accessToken, { body: "acme", headers: { "content-type": "text/plain" } }),
        ),
        415,
        "unsupported_media_type",
      );
    });

    await t.step(
      "204 preflight with the headers supabase-js needs; no CORS grant for other origins",
      async () => {
        const res = await h.app.handler(exchangeRequest(null, {
          method: "OPTIONS",
          headers: {
            "access-control-request-method": "POST",
            "access-control-request-headers":
              "authorization, x-client-info, apikey, content-type, x-retry-count",
          },
        }));
        assert.equal(res.status, 204);
        assert.equal(res.headers.get("access-control-allow-origin"), ORIGIN);
        assert.match(res.headers.get("access-control-allow-methods")!, /POST/);
        const allowed = res.headers.get("access-control-allow-headers")!.split(", ");
        for (const name of ["authorization", "x-client-info", "apikey", "content-type", "x-retry-count"]) {
          assert.ok(allowed.includes(name), name);
        }
        const evil = await h.app.handler(
          exchangeRequest(null, { headers: { origin: "https://evil.example" } }),
        );
        assert.equal(evil.status, 401);
        assert.equal(evil.headers.get("access-control-allow-origin"), null);
        assert.equal(evil.headers.get("vary"), "Origin");
      },
    );

    await t.step("500 server_misconfigured: a short BACKEND_JWT_SECRET, answered with CORS", async () => {
      const app = createExchangeAppFromEnv(exchangeEnv(h.auth, h.db, { BACKEND_JWT_SECRET: "too-short" }), {
        log: () => {},
      });
      const user = await member(h, acme);
      await expectError(await app.handler(exchangeRequest(user.accessToken)), 500, "server_misconfigured");
      assert.equal((await app.handler(exchangeRequest(null, { method: "OPTIONS" }))).status, 204);
      await app.close();
    });

    await t.step("503 auth_unavailable with Retry-After: Auth refuses connections, or hangs", async () => {
      const user = await member(h, acme);
      // The tokens still name the emulator as their issuer.
      const refused = h.appWith({
        supabaseUrl: `http://127.0.0.1:${freePort()}`,
        authIssuers: [h.auth.issuer],
      });
      const res = await refused.handler(exchangeRequest(user.accessToken));
      // The JWKS is fetched again once the 30 s cooldown is over.
      assert.equal(res.headers.get("retry-after"), "30");
      await expectError(res, 503, "auth_unavailable");

      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        for await (const conn of listener) held.push(conn);
      })();
      try {
        const hung = h.appWith({
          supabaseUrl: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
          authIssuers: [h.auth.issuer],
          authTimeoutMs: 1000,
        });
        // A token with a kid never seen, so the function must fetch the JWKS.
        const { privateKey } = await generateKeyPair("ES256");
        const token = await new SignJWT(payloadOf(user.accessToken)).setProtectedHeader({
          alg: "ES256",
          kid: crypto.randomUUID(),
        })
          .sign(privateKey);
        const started = performance.now();
        await expectError(await hung.handler(exchangeRequest(token)), 503, "auth_unavailable");
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 900 && elapsed < 5000, `answered after ${elapsed} ms`);
      } finally {
        for (const conn of held) conn.close();
        listener.close();
        await accepting.catch(() => {});
      }
    });

    await t.step("503 database_unavailable with Retry-After, within a bounded time", async () => {
      const user = await member(h, acme);
      const url = new URL(h.db.url);
      url.port = String(freePort());
      const down = h.appWith({ databaseUrl: url.href, databaseTimeoutMs: 2000 });
      const started = performance.now();
      const res = await down.handler(exchangeRequest(user.accessToken));
      assert.ok(performance.now() - started < 5000);
      assert.equal(res.headers.get("retry-after"), "5");
      await expectError(res, 503, "database_unavailable");
      await down.close(0);
    });

    await t.step("no log line holds a token, a secret or an email address", () => {
      const text = JSON.stringify(h.logs);
      assert.ok(h.logs.length > 20);
      assert.ok(!/eyJ[A-Za-z0-9_-]+/.test(text), "no JWT");
      assert.ok(!text.includes("@example.com"), "no email");
      assert.ok(!text.includes(BACKEND_SECRET), "no secret");
      for (const entry of h.logs) {
        assert.equal(entry.msg, "exchange");
        assert.equal(typeof entry.latency_ms, "number");
        assert.equal(typeof entry.status, "number");
      }
    });

    await t.step({
      name: "Postgres restarted: the next request succeeds without restarting the function",
      ignore: h.db.server === undefined,
      fn: async () => {
        const user = await member(h, acme);
        assert.equal((await h.app.handler(exchangeRequest(user.accessToken))).status, 200);
        await h.db.server!.stop({ keepData: true });
        await h.db.server!.start();
        const after = await h.app.handler(exchangeRequest(user.accessToken));
        assert.equal(after.status, 200, await after.clone().text());
        await after.body?.cancel();

        await h.db.server!.stop({ keepData: true });
        await expectError(
          await h.app.handler(exchangeRequest(user.accessToken)),
          503,
          "database_unavailable",
        );
        await h.db.server!.start();
        const back = await againAfterOutage(h, () => h.app.handler(exchangeRequest(user.accessToken)));
        assert.equal(back.status, 200, await back.clone().text());
        await back.body?.cancel();
      },
    });
  } finally {
    await h.close();
  }
});
