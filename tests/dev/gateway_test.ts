/**
 * The gateway's rules, the one place they are tested: Kong's key-auth with its open Auth routes and
 * Kong's CORS on `/auth/v1`, the real Auth emulator behind it, and a real function server that owns its
 * own CORS behind `/functions/v1`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openTestDatabase } from "../_db.ts";
import { createAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { createGateway } from "../../dev/gateway.ts";
import { freePort } from "../../dev/postgres.ts";

const ORIGIN = "https://app.example";

Deno.test("the gateway", async (t) => {
  const db = await openTestDatabase();
  const auth = await createAuthEmulator({ url: "http://127.0.0.1:54321", databaseUrl: db.url });
  // The paths that reached Auth, to tell the gateway's refusals from Auth's own answers.
  const reached: string[] = [];
  // A function that answers every request, preflights included, with its own CORS.
  const fn = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const headers = { "Access-Control-Allow-Origin": "https://function-chosen.example" };
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers });
    return Response.json({ method: req.method, path: `${url.pathname}${url.search}` }, {
      status: 401,
      headers,
    });
  });
  const gateway = createGateway({
    auth: (req) => {
      reached.push(new URL(req.url).pathname);
      return auth.handler(req);
    },
    functions: {
      "exchange-token": `http://127.0.0.1:${fn.addr.port}`,
      // Nothing listens there.
      "stopped-function": `http://127.0.0.1:${freePort()}`,
    },
    apiKeys: [auth.anonKey, auth.serviceRoleKey],
  });
  const request = (path: string, init: RequestInit = {}) => {
    reached.length = 0;
    return gateway(new Request(`http://127.0.0.1:54321${path}`, init));
  };

  try {
    await t.step("an Auth route without an apikey gets Kong's key-auth refusal, with CORS", async () => {
      for (const headers of [{}, { apikey: "" }, { Origin: ORIGIN }] as Record<string, string>[]) {
        const res = await request("/auth/v1/user", { headers });
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { message: "No API key found in request" });
        assert.equal(res.headers.get("www-authenticate"), 'Key realm="kong"');
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
        assert.deepEqual(reached, []);
      }
    });

    await t.step("an unknown apikey, in the header or the query, is refused", async () => {
      for (
        const [path, headers] of [
          ["/auth/v1/token?grant_type=password", { apikey: "not-a-key" }],
          ["/auth/v1/token?grant_type=password&apikey=not-a-key", {}],
          // The header wins over the query, as in Kong.
          [`/auth/v1/token?grant_type=password&apikey=${auth.anonKey}`, { apikey: "not-a-key" }],
        ] as const
      ) {
        const res = await request(path, { method: "POST", headers, body: "{}" });
        assert.equal(res.status, 401);
        assert.deepEqual(await res.json(), { message: "Invalid authentication credentials" });
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
        assert.deepEqual(reached, []);
      }
    });

    await t.step("the anon and service_role keys reach Auth, and its answers get Kong's CORS", async () => {
      for (const key of [auth.anonKey, auth.serviceRoleKey]) {
        const res = await request("/auth/v1/user", { headers: { apikey: key } });
        // Auth's own refusal: the key passed, the request has no bearer token.
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error_code, "no_authorization");
        assert.deepEqual(reached, ["/auth/v1/user"]);
        // No Origin, so Auth added none: the `*` is the gateway's.
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
      }
      const byQuery = await request(`/auth/v1/health?apikey=${auth.anonKey}`);
      assert.equal(byQuery.status, 200);
      await byQuery.body?.cancel();
    });

    await t.step("only verify, callback, authorize and the JWKS are open, as prefixes", async () => {
      const jwks = await request("/auth/v1/.well-known/jwks.json");
      assert.equal(jwks.status, 200);
      assert.deepEqual(await jwks.json(), auth.jwks);
      assert.equal(jwks.headers.get("access-control-allow-origin"), "*");
      for (
        const path of [
          "/auth/v1/verify?token=abc&type=signup",
          "/auth/v1/callback?code=abc",
          "/auth/v1/authorize?provider=github",
          "/auth/v1/verify/extra",
        ]
      ) {
        const res = await request(path);
        await res.body?.cancel();
        assert.deepEqual(reached, [new URL(path, "http://x").pathname], path);
      }
      for (
        const path of ["/auth/v1/health", "/auth/v1/signup", "/auth/v1/.well-known/openid-configuration"]
      ) {
        const res = await request(path);
        assert.equal(res.status, 401, path);
        await res.body?.cancel();
        assert.deepEqual(reached, [], path);
      }
    });

    await t.step("Auth preflights are answered by the gateway; a bare OPTIONS needs a key", async () => {
      const res = await request("/auth/v1/token?grant_type=password", {
        method: "OPTIONS",
        headers: {
          Origin: ORIGIN,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "apikey,authorization,content-type,x-client-info",
        },
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "");
      assert.deepEqual(reached, []);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(
        res.headers.get("access-control-allow-headers"),
        "apikey,authorization,content-type,x-client-info",
      );
      assert.equal(
        res.headers.get("access-control-allow-methods"),
        "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT",
      );
      assert.equal(res.headers.get("access-control-allow-credentials"), null);

      const bare = await request("/auth/v1/token", { method: "OPTIONS" });
      assert.equal(bare.status, 401);
      await bare.body?.cancel();
    });

    await t.step("a function gets every request untouched and keeps its own CORS", async () => {
      const preflight = await request("/functions/v1/exchange-token?x=1", {
        method: "OPTIONS",
        headers: { Origin: ORIGIN, "Access-Control-Request-Method": "POST" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://function-chosen.example");
      const post = await request("/functions/v1/exchange-token/sub/path?q=1", { method: "POST" });
      assert.equal(post.status, 401);
      assert.deepEqual(await post.json(), { method: "POST", path: "/exchange-token/sub/path?q=1" });
      assert.equal(post.headers.get("access-control-allow-origin"), "https://function-chosen.example");
    });

    await t.step("any other path is Kong's 404, without CORS", async () => {
      for (const path of ["/functions/v1/other-function", "/auth/v1", "/rest/v1/tenants"]) {
        const res = await request(path, { headers: { apikey: auth.anonKey, Origin: ORIGIN } });
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), { message: "no Route matched with those values" });
        assert.equal(res.headers.get("access-control-allow-origin"), null);
      }
    });

    await t.step("a function that is down is Kong's 502, with Kong's CORS", async () => {
      const res = await request("/functions/v1/stopped-function", { method: "POST" });
      assert.equal(res.status, 502);
      assert.deepEqual(await res.json(), {
        message: "An invalid response was received from the upstream server",
      });
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });
  } finally {
    await fn.shutdown();
    await auth.stop();
    await db.close();
  }
});
