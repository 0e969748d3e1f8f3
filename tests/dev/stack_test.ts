import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "../../dev/postgres.ts";
import { startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

Deno.test("the local stack serves its Auth and its function behind one gateway", async (t) => {
  const stack = await startStack({ allowedOrigins: "http://app.test" });
  try {
    await t.step("the gateway guards Auth with the stack's own keys, opaque and legacy", async () => {
      for (const apikey of [stack.publishableKey, stack.secretKey, stack.anonKey, stack.serviceRoleKey]) {
        const res = await fetch(`${stack.apiUrl}/auth/v1/health`, {
          headers: { apikey },
        });
        // Auth's own answer: the key passed the gateway.
        assert.equal(res.status, 200);
        assert.equal((await res.json()).name, "GoTrue");
      }
      const foreign = await fetch(`${stack.apiUrl}/auth/v1/user`, { headers: { apikey: "nope" } });
      assert.equal(foreign.status, 401);
      assert.equal((await foreign.json()).error_code, undefined);
    });

    await t.step("it prints the keys as supabase status -o env names them", () => {
      const env = stack.env();
      assert.match(env.PUBLISHABLE_KEY, /^sb_publishable_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/);
      assert.match(env.SECRET_KEY, /^sb_secret_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/);
      assert.deepEqual(
        [env.PUBLISHABLE_KEY, env.SECRET_KEY, env.ANON_KEY, env.SERVICE_ROLE_KEY],
        [stack.publishableKey, stack.secretKey, stack.anonKey, stack.serviceRoleKey],
      );
      assert.equal(env.JWT_SECRET, stack.jwtSecret);
    });

    await t.step("the function gets the environment supabase functions serve injects", () => {
      const env = stack.functionEnv;
      assert.equal(env.SUPABASE_URL, stack.apiUrl);
      assert.equal(env.SUPABASE_ANON_KEY, stack.anonKey);
      assert.equal(env.SUPABASE_SERVICE_ROLE_KEY, stack.serviceRoleKey);
      assert.deepEqual(JSON.parse(env.SUPABASE_PUBLISHABLE_KEYS), { default: stack.publishableKey });
      assert.deepEqual(JSON.parse(env.SUPABASE_SECRET_KEYS), { default: stack.secretKey });
      const jwks = JSON.parse(env.SUPABASE_JWKS);
      assert.deepEqual(jwks, stack.auth.jwks);
      assert.equal(jwks.keys.length, 2, "the key in use and the standby key");
      assert.equal("d" in jwks.keys[0], false, "public keys only");
    });

    await t.step("the JWKS is public", async () => {
      const jwks = await fetch(`${stack.apiUrl}/auth/v1/.well-known/jwks.json`);
      assert.equal(jwks.status, 200);
      const { keys } = await jwks.json();
      assert.equal(keys[0].alg, "ES256");
      assert.equal(typeof keys[0].kid, "string");
    });

    await t.step("the function is reached without an apikey and owns its CORS", async () => {
      const preflight = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
        method: "OPTIONS",
        headers: { origin: "http://app.test", "access-control-request-method": "POST" },
      });
      await preflight.body?.cancel();
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get("access-control-allow-origin"), "http://app.test");
      const unauthenticated = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, { method: "POST" });
      assert.equal(unauthenticated.status, 401);
      assert.equal(unauthenticated.headers.get("www-authenticate"), 'Bearer realm="exchange-token"');
      assert.equal((await unauthenticated.json()).error, "invalid_token");
      // With only the publishable key (supabase-js without a session), the gateway hands the function the
      // anon JWT, as supabase start's Kong does: not a user's token.
      const anonymous = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
        method: "POST",
        headers: { apikey: stack.publishableKey },
      });
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get("www-authenticate")!, /error="invalid_token"/);
      await anonymous.body?.cancel();
    });

    await t.step(
      "DB_URL and the function's SUPABASE_DB_URL log in as postgres, which is no superuser",
      async () => {
        assert.equal(stack.functionEnv.SUPABASE_DB_URL, stack.env().DB_URL);
        const sql = postgres(stack.env().DB_URL, { max: 1, onnotice: () => {} });
        try {
          const [role] =
            await sql`select current_user as name, rolsuper from pg_roles where rolname = current_user`;
          assert.deepEqual({ ...role }, { name: "postgres", rolsuper: false });
        } finally {
          await sql.end();
        }
      },
    );

    await t.step("a taken port is a clear error", async () => {
      const port = Number(new URL(stack.apiUrl).port);
      await assert.rejects(startStack({ apiPort: port }), /Port \d+ \(API gateway\) is already in use/);
    });
  } finally {
    await stack.stop();
  }
});

Deno.test("a second start with the same state directory keeps users, sessions and keys; older ones get sb_ keys", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "exchange-token-state-" });
  await Deno.chmod(stateDir, 0o755);
  try {
    const first = await startStack({ stateDir });
    // One API port for both starts, as `deno task dev`'s 54321: the tokens' `iss` names it. The first start
    // bound a free one; the second asks for the one it got.
    const apiPort = Number(new URL(first.apiUrl).port);
    let accessToken: string;
    let env: Record<string, string>;
    try {
      env = first.env();
      ({ accessToken } = await signUpByMail(
        { apiUrl: first.apiUrl, apiKey: first.publishableKey, mailboxUrl: first.mailboxUrl },
        "keep@example.com",
        PASSWORD,
      ));
    } finally {
      await first.stop();
    }

    const second = await startStack({ stateDir, apiPort });
    try {
      const again = second.env();
      for (const name of ["PUBLISHABLE_KEY", "SECRET_KEY", "ANON_KEY", "JWT_SECRET", "BACKEND_JWT_SECRET"]) {
        assert.equal(again[name], env[name], name);
      }
      // The token of the first run still verifies (same signing key) and its session still exists.
      const res = await fetch(`${second.apiUrl}/functions/v1/exchange-token`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}` },
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).tenant_id, "demo");
    } finally {
      await second.stop();
    }

    // A state directory from before the opaque keys: it gets new ones and keeps everything else.
    const file = `${stateDir}/secrets.json`;
    const { publishableKey: _p, secretKey: _s, ...older } = JSON.parse(await Deno.readTextFile(file));
    await Deno.writeTextFile(file, JSON.stringify(older));
    const third = await startStack({ stateDir });
    try {
      const now = third.env();
      assert.match(now.PUBLISHABLE_KEY, /^sb_publishable_/);
      assert.notEqual(now.PUBLISHABLE_KEY, env.PUBLISHABLE_KEY);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(file)).secretKey, now.SECRET_KEY, "and saves them");
      for (const name of ["ANON_KEY", "JWT_SECRET", "BACKEND_JWT_SECRET"]) {
        assert.equal(now[name], env[name], name);
      }
    } finally {
      await third.stop();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("a state directory made when postgres was the superuser is rebuilt, with one line saying so", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "exchange-token-state-" });
  await Deno.chmod(stateDir, 0o755);
  try {
    // What `deno task dev` made before supabase_admin: a cluster whose superuser is postgres, and where
    // supabase_admin cannot log in.
    const old = await startPostgres({ dataDir: `${stateDir}/postgres` });
    const admin = postgres(old.url, { max: 1, onnotice: () => {} });
    await admin`create role postgres superuser login password 'postgres'`;
    await admin.end();
    const asPostgres = postgres(old.url.replace("supabase_admin:", "postgres:"), {
      max: 1,
      onnotice: () => {},
    });
    await asPostgres`alter role supabase_admin rename to initdb_superuser`;
    await asPostgres.end();
    await old.stop({ keepData: true });
    const lines: string[] = [];
    const stack = await startStack({ stateDir, log: (line) => lines.push(line) });
    try {
      const rebuilt = lines.filter((line) => /rebuilding/.test(line));
      assert.equal(rebuilt.length, 1, lines.join("\n"));
      assert.match(rebuilt[0], /predates the supabase_admin superuser/);
      const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
      try {
        const superusers = await sql`select rolname from pg_roles where rolsuper`;
        assert.deepEqual(superusers.map((r) => r.rolname), ["supabase_admin"]);
      } finally {
        await sql.end();
      }
    } finally {
      await stack.stop();
    }

    const again: string[] = [];
    const second = await startStack({ stateDir, log: (line) => again.push(line) });
    await second.stop();
    assert.deepEqual(again.filter((line) => /rebuilding/.test(line)), [], "a rebuilt directory is kept");
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
