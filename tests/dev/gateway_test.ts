/**
 * The gateway's rules, the one place they are tested: Kong's key-auth with its open Auth routes and
 * Kong's CORS on `/auth/v1`, the real Auth emulator behind it, a real function server that owns its
 * own CORS behind `/functions/v1`, and the `Authorization` rewrite `supabase start`'s Kong applies on both.
 *
 * @module
 */
import assert from "node:assert/strict";
import { openTestDatabase } from "../_db.ts";
import { createAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { createGateway, type ProjectKeys, upstreamAuthorization } from "../../dev/gateway.ts";
import { freePort } from "../../dev/ports.ts";
import { generateApiKey } from "../../dev/api_keys.ts";
import { PASSWORD } from "../_fixtures.ts";

const ORIGIN = "https://app.example";
// `supabase start`'s own pair (supabase/cli pkg/config/apikeys.go), and stand-ins for the legacy JWTs.
const KEYS: ProjectKeys = {
  publishable: "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
  secret: "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
  anon: "anon.legacy.jwt",
  serviceRole: "service-role.legacy.jwt",
};

Deno.test("upstreamAuthorization() follows supabase start's BearerToken rule, row by row", () => {
  const rows: [string, Record<string, string>, string | undefined][] = [
    [
      "a user's bearer is kept, whatever the key",
      { authorization: "Bearer user.jwt", apikey: KEYS.secret },
      "Bearer user.jwt",
    ],
    ["another scheme is kept", { authorization: "Basic dTpw", apikey: KEYS.publishable }, "Basic dTpw"],
    ["an empty header is kept", { authorization: "", apikey: KEYS.publishable }, ""],
    [
      "a lower-case bearer sb_ is not recognised",
      { authorization: "bearer sb_x", apikey: KEYS.publishable },
      "bearer sb_x",
    ],
    ["no header, the secret key", { apikey: KEYS.secret }, `Bearer ${KEYS.serviceRole}`],
    ["no header, the publishable key", { apikey: KEYS.publishable }, `Bearer ${KEYS.anon}`],
    [
      "Bearer <publishable key>",
      { authorization: `Bearer ${KEYS.publishable}`, apikey: KEYS.publishable },
      `Bearer ${KEYS.anon}`,
    ],
    ["Bearer <secret key> with the secret key", {
      authorization: `Bearer ${KEYS.secret}`,
      apikey: KEYS.secret,
    }, `Bearer ${KEYS.serviceRole}`],
    ["Bearer sb_ with a legacy apikey: the apikey, raw", {
      authorization: "Bearer sb_other",
      apikey: KEYS.anon,
    }, KEYS.anon],
    [
      "no header, a legacy apikey: copied raw, without Bearer",
      { apikey: KEYS.serviceRole },
      KEYS.serviceRole,
    ],
    [
      "no header, an unknown apikey: copied raw",
      { apikey: "sb_publishable_not-ours" },
      "sb_publishable_not-ours",
    ],
    ["Bearer sb_ and no apikey: no header", { authorization: `Bearer ${KEYS.secret}` }, undefined],
    ["neither: no header", {}, undefined],
  ];
  for (const [name, headers, expected] of rows) {
    assert.equal(upstreamAuthorization(new Headers(headers), KEYS), expected, name);
  }
});

Deno.test("the gateway", async (t) => {
  const db = await openTestDatabase();
  const auth = await createAuthEmulator({ url: "http://127.0.0.1:54321", databaseUrl: db.url });
  const keys: ProjectKeys = {
    publishable: generateApiKey("publishable"),
    secret: generateApiKey("secret"),
    anon: auth.anonKey,
    serviceRole: auth.serviceRoleKey,
  };
  // The paths that reached Auth, to tell the gateway's refusals from Auth's own answers.
  const reached: string[] = [];
  // The Authorization header of the last request that reached Auth.
  let authSaw: string | null = null;
  // A function that answers every request, preflights included, with its own CORS.
  const fn = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const headers = { "Access-Control-Allow-Origin": "https://function-chosen.example" };
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers });
    return Response.json({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      authorization: req.headers.get("authorization"),
      apikey: req.headers.get("apikey"),
    }, { status: 401, headers });
  });
  const gateway = createGateway({
    auth: (req) => {
      reached.push(new URL(req.url).pathname);
      authSaw = req.headers.get("authorization");
      return auth.handler(req);
    },
    functions: {
      "exchange-token": `http://127.0.0.1:${fn.addr.port}`,
      // Nothing listens there.
      "stopped-function": `http://127.0.0.1:${freePort()}`,
    },
    keys,
  });
  const request = (path: string, init: RequestInit = {}) => {
    reached.length = 0;
    authSaw = null;
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
          // Another project's key of the right shape (supabase start's default pair is not this stack's).
          ["/auth/v1/token?grant_type=password", { apikey: KEYS.publishable }],
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

    await t.step("the legacy keys reach Auth, and its answers get Kong's CORS", async () => {
      for (const key of [auth.anonKey, auth.serviceRoleKey]) {
        const res = await request("/auth/v1/user", { headers: { apikey: key } });
        // Auth's own refusal: the key passed, and the JWT copied as Authorization has no `Bearer `.
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error_code, "no_authorization");
        assert.deepEqual(reached, ["/auth/v1/user"]);
        assert.equal(authSaw, key);
        // No Origin, so Auth added none: the `*` is the gateway's.
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
      }
      const byQuery = await request(`/auth/v1/health?apikey=${auth.anonKey}`);
      assert.equal(byQuery.status, 200);
      await byQuery.body?.cancel();
    });

    await t.step("the publishable and secret keys reach Auth as the anon and service_role JWTs", async () => {
      const anon = await request("/auth/v1/user", {
        headers: { apikey: keys.publishable, authorization: `Bearer ${keys.publishable}` },
      });
      assert.equal(authSaw, `Bearer ${auth.anonKey}`);
      // GoTrue's refusal of a JWT without a user: it verified the anon JWT's signature first.
      assert.equal(anon.status, 403);
      assert.match((await anon.json()).msg, /missing sub claim/);
      assert.equal(anon.headers.get("access-control-allow-origin"), "*");

      const service = await request("/auth/v1/user", { headers: { apikey: keys.secret } });
      assert.equal(authSaw, `Bearer ${auth.serviceRoleKey}`);
      assert.equal(service.status, 403);
      await service.body?.cancel();

      // A signed-in user's bearer token is passed on as sent, with either key kind.
      const signUp = await request("/auth/v1/signup", {
        method: "POST",
        headers: { apikey: keys.publishable, "content-type": "application/json" },
        body: JSON.stringify({ email: "gateway@example.com", password: PASSWORD }),
      });
      const data = await signUp.json();
      assert.equal(signUp.status, 200, JSON.stringify(data));
      for (const apikey of [keys.publishable, auth.anonKey]) {
        const user = await request("/auth/v1/user", {
          headers: { apikey, authorization: `Bearer ${data.access_token}` },
        });
        assert.equal(authSaw, `Bearer ${data.access_token}`);
        assert.equal(user.status, 200);
        assert.equal((await user.json()).email, "gateway@example.com");
      }
    });

    await t.step("a key by the query passes key-auth but leaves Authorization alone", async () => {
      const res = await request(`/auth/v1/health?apikey=${keys.secret}`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(authSaw, null);
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
        // No rewrite on the open routes: Kong's auth-v1-open* services have only the cors plugin.
        const res = await request(path, { headers: { apikey: keys.publishable } });
        await res.body?.cancel();
        assert.deepEqual(reached, [new URL(path, "http://x").pathname], path);
        assert.equal(authSaw, null, path);
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

    await t.step("a function gets every request, without a key check, and keeps its own CORS", async () => {
      const preflight = await request("/functions/v1/exchange-token?x=1", {
        method: "OPTIONS",
        headers: { Origin: ORIGIN, "Access-Control-Request-Method": "POST" },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "https://function-chosen.example");
      const post = await request("/functions/v1/exchange-token/sub/path?q=1", { method: "POST" });
      assert.equal(post.status, 401);
      assert.deepEqual(await post.json(), {
        method: "POST",
        path: "/exchange-token/sub/path?q=1",
        authorization: null,
        apikey: null,
      });
      assert.equal(post.headers.get("access-control-allow-origin"), "https://function-chosen.example");
    });

    await t.step("a function sees Authorization rewritten, and the apikey as sent", async () => {
      const seen = async (headers: Record<string, string>) => {
        const res = await request("/functions/v1/exchange-token", { method: "POST", headers });
        const { authorization, apikey } = await res.json();
        return { authorization, apikey };
      };
      // What supabase-js sends for functions.invoke() with a publishable key and no session: apikey only.
      assert.deepEqual(await seen({ apikey: keys.publishable }), {
        authorization: `Bearer ${auth.anonKey}`,
        apikey: keys.publishable,
      });
      assert.deepEqual(await seen({ apikey: keys.secret, authorization: `Bearer ${keys.secret}` }), {
        authorization: `Bearer ${auth.serviceRoleKey}`,
        apikey: keys.secret,
      });
      assert.deepEqual(await seen({ apikey: keys.publishable, authorization: "Bearer user.jwt" }), {
        authorization: "Bearer user.jwt",
        apikey: keys.publishable,
      });
      // Not checked here: an unknown key reaches the function, copied into Authorization.
      assert.deepEqual(await seen({ apikey: "nope" }), { authorization: "nope", apikey: "nope" });
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
