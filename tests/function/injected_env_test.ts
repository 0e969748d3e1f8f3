/**
 * The function built from the environment `supabase functions serve` injects (`SUPABASE_URL`, the legacy
 * keys, `SUPABASE_PUBLISHABLE_KEYS`, `SUPABASE_SECRET_KEYS`, `SUPABASE_JWKS`, `SUPABASE_DB_URL`): which key
 * its supabase-js client sends to Auth, and that the injected JWKS saves the JWKS request. Every request
 * the client makes goes through supabase-js's own `fetch` option and is recorded.
 */
import assert from "node:assert/strict";
import { createTenant } from "../_db.ts";
import { createExchangeAppFromEnv } from "../../supabase/functions/_shared/exchange/app.ts";
import { generateApiKey } from "../../dev/api_keys.ts";
import { exchangeRequest, type Harness, openHarness, signUp } from "./_setup.ts";
import { exchangeEnv } from "../_fixtures.ts";

/** What Auth was asked, by path, with the key sent. */
interface AuthRequest {
  path: string;
  apikey: string | null;
}

/** The environment the CLI gives a function, on the harness's Auth and database. */
function injectedEnv(h: Harness, publishableKey: string): Record<string, string> {
  return exchangeEnv(h.auth, h.db, {
    SUPABASE_SERVICE_ROLE_KEY: h.auth.serviceRoleKey,
    SUPABASE_JWKS: JSON.stringify(h.auth.jwks),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: publishableKey }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: generateApiKey("secret") }),
  });
}

/** Builds the app from `env`, recording every request its supabase-js client makes. */
function recordedApp(env: Record<string, string>) {
  const seen: AuthRequest[] = [];
  const app = createExchangeAppFromEnv(env, {
    log: () => {},
    fetch: (input, init) => {
      const request = new Request(input, init);
      seen.push({ path: new URL(request.url).pathname, apikey: request.headers.get("apikey") });
      return fetch(request);
    },
  });
  return { app, seen };
}

async function member(h: Harness, tenant: string) {
  const user = await signUp(h.auth);
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.userId})`;
  return user;
}

Deno.test("with SUPABASE_JWKS injected, an ES256 token is verified without asking Auth", async () => {
  const h = await openHarness();
  const publishable = generateApiKey("publishable");
  const { app, seen } = recordedApp(injectedEnv(h, publishable));
  try {
    const tenant = await createTenant(h.db.sql, "Acme");
    for (let i = 0; i < 3; i++) {
      const user = await member(h, tenant);
      const res = await app.handler(exchangeRequest(user.accessToken));
      assert.equal(res.status, 200);
      assert.equal((await res.json()).user_id, user.userId);
    }
    // The one request is the isolate's reading of Auth's settings (email_trust.ts), with the same key.
    assert.deepEqual(
      seen,
      [{ path: "/auth/v1/settings", apikey: publishable }],
      "no JWKS request, no user lookup: only the isolate's one reading of Auth's settings (email_trust.ts)",
    );
  } finally {
    await app.close(1);
    await h.close();
  }
});

Deno.test("the function's supabase-js sends the default publishable key, else the anon key", async () => {
  // HS256 tokens: supabase-js asks Auth (GET /auth/v1/user) for every one, with its key as `apikey`.
  const h = await openHarness({ mode: "hs256" });
  const publishable = generateApiKey("publishable");
  const injected = recordedApp(injectedEnv(h, publishable));
  const legacy = recordedApp({ ...injectedEnv(h, publishable), SUPABASE_PUBLISHABLE_KEYS: "" });
  try {
    const tenant = await createTenant(h.db.sql, "Acme");
    const user = await member(h, tenant);
    for (const { app } of [injected, legacy]) {
      const res = await app.handler(exchangeRequest(user.accessToken));
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    // Then the isolate's one reading of Auth's settings (email_trust.ts), with the same key.
    for (const [{ seen }, key] of [[injected, publishable], [legacy, h.auth.anonKey]] as const) {
      assert.deepEqual(seen, [{ path: "/auth/v1/user", apikey: key }, {
        path: "/auth/v1/settings",
        apikey: key,
      }]);
    }
  } finally {
    await injected.app.close(1);
    await legacy.app.close(1);
    await h.close();
  }
});
