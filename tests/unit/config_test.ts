import assert from "node:assert/strict";
import {
  type BackendJwtConfig,
  type HmacBackendJwtConfig,
  isAsymmetric,
  loadExchangeConfig,
} from "../../supabase/functions/_shared/exchange/config.ts";
import {
  ConfigError,
  isTransactionPooler,
  parseAllowedOrigins,
} from "../../supabase/functions/_shared/core/config.ts";
import { loadManagementConfig } from "../../supabase/functions/_shared/management/config.ts";
import { PROJECT_ENV } from "../_fixtures.ts";

const SECRET = "s".repeat(16) + "t".repeat(16);
const BASE = { ...PROJECT_ENV, BACKEND_JWT_SECRET: SECRET };

function hmac(config: BackendJwtConfig): HmacBackendJwtConfig {
  assert.ok(!isAsymmetric(config), "an HMAC configuration");
  return config;
}

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    loadExchangeConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.code, "server_misconfigured");
    assert.equal(err.status, 500);
    return err;
  }
  assert.fail("loadExchangeConfig() accepted a bad configuration");
}

Deno.test("loadExchangeConfig() applies the defaults of docs/contract.md §4", () => {
  const config = loadExchangeConfig(BASE);
  assert.equal(config.supabaseUrl, "https://project.supabase.co");
  assert.equal(config.supabaseKey, "anon-key");
  assert.equal(config.databaseUrl, BASE.SUPABASE_DB_URL);
  assert.equal(config.transactionPooler, false);
  assert.equal(config.backendJwt.algorithm, "HS256");
  assert.equal(config.backendJwt.ttlSeconds, 604800);
  assert.deepEqual(hmac(config.backendJwt).secret, new TextEncoder().encode(SECRET));
  assert.equal(hmac(config.backendJwt).kid, undefined);
  assert.equal(config.backendJwt.audience, undefined);
  assert.equal(config.backendJwt.issuer, undefined);
  assert.equal(config.allowedOrigins, "*");
  assert.equal(config.maxBodyBytes, 16384);
  assert.deepEqual(config.authIssuers, ["https://project.supabase.co/auth/v1"]);
  assert.equal(config.hs256Tokens, "verify");
  assert.equal(config.authApiCallsPerSecond, 2000);
  assert.equal(config.requireAal2, false);
  assert.deepEqual(config.sessions, {
    timeboxSeconds: null,
    inactivityTimeoutSeconds: null,
    singlePerUser: false,
  });
});

Deno.test("loadExchangeConfig() reads Auth's session limits as GoTrue reads them: Go durations and Go booleans", () => {
  const config = loadExchangeConfig({
    ...BASE,
    AUTH_SESSIONS_TIMEBOX: "24h",
    AUTH_SESSIONS_INACTIVITY_TIMEOUT: " 1h30m ",
    AUTH_SESSIONS_SINGLE_PER_USER: "True",
  });
  assert.deepEqual(config.sessions, {
    timeboxSeconds: 86400,
    inactivityTimeoutSeconds: 5400,
    singlePerUser: true,
  });
  assert.equal(loadExchangeConfig({ ...BASE, AUTH_SESSIONS_TIMEBOX: "0.5h" }).sessions?.timeboxSeconds, 1800);
  assert.equal(
    loadExchangeConfig({ ...BASE, AUTH_SESSIONS_SINGLE_PER_USER: "0" }).sessions?.singlePerUser,
    false,
  );
  assert.equal(loadExchangeConfig({ ...BASE, AUTH_SESSIONS_TIMEBOX: "" }).sessions?.timeboxSeconds, null);
});

Deno.test("loadExchangeConfig() refuses a session limit that GoTrue would refuse, naming it", () => {
  for (const value of ["24", "1d", "-1h", "0", "0s", "soon"]) {
    assert.equal(refusal({ ...BASE, AUTH_SESSIONS_TIMEBOX: value }).setting, "AUTH_SESSIONS_TIMEBOX", value);
    assert.equal(
      refusal({ ...BASE, AUTH_SESSIONS_INACTIVITY_TIMEOUT: value }).setting,
      "AUTH_SESSIONS_INACTIVITY_TIMEOUT",
      value,
    );
  }
  for (const value of ["yes", "on", "2"]) {
    assert.equal(
      refusal({ ...BASE, AUTH_SESSIONS_SINGLE_PER_USER: value }).setting,
      "AUTH_SESSIONS_SINGLE_PER_USER",
      value,
    );
  }
});

Deno.test("loadExchangeConfig() reads the access-token settings: issuers, HS256, the Auth API budget, REQUIRE_AAL2", () => {
  const config = loadExchangeConfig({
    ...BASE,
    SUPABASE_URL: "http://kong:8000",
    AUTH_ISSUERS:
      " http://127.0.0.1:54321/auth/v1/ , https://auth.example.com/auth/v1,http://kong:8000/auth/v1",
    AUTH_HS256_TOKENS: "refuse",
    AUTH_API_CALLS_PER_SECOND: "50",
    REQUIRE_AAL2: "true",
  });
  assert.deepEqual(config.authIssuers, [
    "http://kong:8000/auth/v1",
    "http://127.0.0.1:54321/auth/v1",
    "https://auth.example.com/auth/v1",
  ]);
  assert.equal(config.hs256Tokens, "refuse");
  assert.equal(config.authApiCallsPerSecond, 50);
  assert.equal(config.requireAal2, true);
  assert.equal(loadExchangeConfig({ ...BASE, REQUIRE_AAL2: "FALSE" }).requireAal2, false);
});

Deno.test("loadExchangeConfig() refuses access-token settings it cannot read, naming them", () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ AUTH_ISSUERS: "not a url" }, "AUTH_ISSUERS"],
    [{ AUTH_ISSUERS: "ftp://auth.example.com" }, "AUTH_ISSUERS"],
    [{ AUTH_HS256_TOKENS: "off" }, "AUTH_HS256_TOKENS"],
    [{ AUTH_API_CALLS_PER_SECOND: "0" }, "AUTH_API_CALLS_PER_SECOND"],
    [{ AUTH_API_CALLS_PER_SECOND: "1.5" }, "AUTH_API_CALLS_PER_SECOND"],
    [{ REQUIRE_AAL2: "yes" }, "REQUIRE_AAL2"],
  ];
  for (const [env, setting] of cases) assert.equal(refusal({ ...BASE, ...env }).setting, setting);
});

Deno.test("loadExchangeConfig() lets TENANCY_DB_URL override SUPABASE_DB_URL and detects the transaction pooler", () => {
  const pooler = "postgres://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres";
  const config = loadExchangeConfig({ ...BASE, TENANCY_DB_URL: pooler });
  assert.equal(config.databaseUrl, pooler);
  assert.equal(config.transactionPooler, true);
  assert.equal(isTransactionPooler(BASE.SUPABASE_DB_URL), false);
});

Deno.test("loadExchangeConfig() takes TENANCY_DB_POOL_MODE over the port, and refuses another mode", () => {
  const local = "postgresql://postgres:postgres@127.0.0.1:54329/postgres?sslmode=require";
  const pooler = "postgres://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres";
  assert.equal(loadExchangeConfig({ ...BASE, TENANCY_DB_URL: local }).transactionPooler, false);
  assert.equal(
    loadExchangeConfig({ ...BASE, TENANCY_DB_URL: local, TENANCY_DB_POOL_MODE: " transaction " })
      .transactionPooler,
    true,
  );
  assert.equal(
    loadExchangeConfig({ ...BASE, TENANCY_DB_URL: pooler, TENANCY_DB_POOL_MODE: "session" })
      .transactionPooler,
    false,
  );
  assert.equal(
    loadExchangeConfig({ ...BASE, TENANCY_DB_URL: pooler, TENANCY_DB_POOL_MODE: "" }).transactionPooler,
    true,
  );
  assert.equal(refusal({ ...BASE, TENANCY_DB_POOL_MODE: "statement" }).setting, "TENANCY_DB_POOL_MODE");
});

Deno.test("loadExchangeConfig() prefers the default publishable key to the anon key, as Supabase injects both", () => {
  const injected = {
    ...BASE,
    SUPABASE_PUBLISHABLE_KEYS: '{"default":"sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"}',
  };
  assert.equal(loadExchangeConfig(injected).supabaseKey, "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH");
  assert.equal(
    loadExchangeConfig({
      ...BASE,
      SUPABASE_PUBLISHABLE_KEYS: '{"ci":"sb_publishable_ci","default":"sb_publishable_d"}',
    })
      .supabaseKey,
    "sb_publishable_d",
    "the default entry, wherever it stands",
  );
  assert.equal(
    loadExchangeConfig({ ...BASE, SUPABASE_PUBLISHABLE_KEYS: '{"ci":"sb_publishable_ci"}' }).supabaseKey,
    "sb_publishable_ci",
    "without a default entry, the first",
  );
  assert.equal(
    loadExchangeConfig({ ...injected, SUPABASE_ANON_KEY: undefined }).supabaseKey.slice(0, 15),
    "sb_publishable_",
  );
});

Deno.test("loadExchangeConfig() falls back to SUPABASE_ANON_KEY without publishable keys", () => {
  assert.equal(loadExchangeConfig(BASE).supabaseKey, "anon-key");
  assert.equal(loadExchangeConfig({ ...BASE, SUPABASE_PUBLISHABLE_KEYS: " " }).supabaseKey, "anon-key");
  assert.equal(refusal({ ...BASE, SUPABASE_ANON_KEY: undefined }).setting, "SUPABASE_ANON_KEY");
});

Deno.test("loadExchangeConfig() refuses publishable keys it cannot read, even with an anon key", () => {
  for (const keys of ["{}", "not json", '["sb_publishable_x"]', '{"default":""}', '{"default":42}']) {
    const err = refusal({ ...BASE, SUPABASE_PUBLISHABLE_KEYS: keys });
    assert.equal(err.setting, "SUPABASE_PUBLISHABLE_KEYS", keys);
  }
});

Deno.test("loadExchangeConfig() uses SUPABASE_JWKS when it can read it, and ignores it otherwise", () => {
  const jwks = { keys: [{ kty: "EC", kid: "k1", crv: "P-256", x: "x", y: "y" }] };
  assert.deepEqual(loadExchangeConfig({ ...BASE, SUPABASE_JWKS: JSON.stringify(jwks) }).jwks, jwks);
  assert.deepEqual(loadExchangeConfig({ ...BASE, SUPABASE_JWKS: JSON.stringify(jwks.keys) }).jwks, jwks);
  assert.equal(loadExchangeConfig({ ...BASE, SUPABASE_JWKS: "not json" }).jwks, undefined);
});

Deno.test("loadExchangeConfig() refuses a missing, short or degenerate BACKEND_JWT_SECRET, naming it", () => {
  for (const secret of [undefined, "", "x".repeat(31), "a".repeat(64)]) {
    const err = refusal({ ...BASE, BACKEND_JWT_SECRET: secret });
    assert.equal(err.setting, "BACKEND_JWT_SECRET");
    if (secret) assert.ok(!err.problem.includes(secret), "the problem never contains the secret");
  }
  // 32 bytes is enough for HS256; HS384 and HS512 need 48 and 64 (RFC 7518 §3.2).
  assert.equal(
    hmac(loadExchangeConfig({ ...BASE, BACKEND_JWT_SECRET: "é".repeat(16) }).backendJwt).secret.byteLength,
    32,
  );
  assert.equal(refusal({ ...BASE, BACKEND_JWT_ALGORITHM: "HS512" }).setting, "BACKEND_JWT_SECRET");
  const long = crypto.randomUUID() + crypto.randomUUID();
  assert.equal(
    loadExchangeConfig({ ...BASE, BACKEND_JWT_SECRET: long, BACKEND_JWT_ALGORITHM: "HS512" }).backendJwt
      .algorithm,
    "HS512",
  );
});

Deno.test("loadExchangeConfig() refuses an unknown BACKEND_JWT_ALGORITHM", () => {
  for (const algorithm of ["none", "RS256", "hs256", "HS1024"]) {
    assert.equal(refusal({ ...BASE, BACKEND_JWT_ALGORITHM: algorithm }).setting, "BACKEND_JWT_ALGORITHM");
  }
  assert.equal(
    loadExchangeConfig({ ...BASE, BACKEND_JWT_ALGORITHM: "HS384", BACKEND_JWT_SECRET: SECRET + SECRET })
      .backendJwt
      .algorithm,
    "HS384",
  );
});

Deno.test("loadExchangeConfig() refuses a BACKEND_JWT_TTL_SECONDS that is not a sane whole number of seconds", () => {
  for (const ttl of ["abc", "-5", "1.5", "0", "59", "2592001", "1e6", "99999999999"]) {
    assert.equal(refusal({ ...BASE, BACKEND_JWT_TTL_SECONDS: ttl }).setting, "BACKEND_JWT_TTL_SECONDS", ttl);
  }
  assert.equal(
    loadExchangeConfig({ ...BASE, BACKEND_JWT_TTL_SECONDS: " 3600 " }).backendJwt.ttlSeconds,
    3600,
  );
});

Deno.test("loadExchangeConfig() refuses missing or malformed Supabase settings, naming each", () => {
  assert.equal(refusal({ ...BASE, SUPABASE_URL: undefined }).setting, "SUPABASE_URL");
  assert.equal(refusal({ ...BASE, SUPABASE_URL: "not a url" }).setting, "SUPABASE_URL");
  assert.equal(refusal({ ...BASE, SUPABASE_URL: "ftp://x" }).setting, "SUPABASE_URL");
  assert.equal(refusal({ ...BASE, SUPABASE_DB_URL: undefined }).setting, "SUPABASE_DB_URL");
  assert.equal(refusal({ ...BASE, SUPABASE_DB_URL: "mysql://x/y" }).setting, "SUPABASE_DB_URL");
  assert.equal(refusal({ ...BASE, TENANCY_DB_URL: "http://x" }).setting, "TENANCY_DB_URL");
});

Deno.test("loadExchangeConfig() sets aud and iss only when configured", () => {
  const config = loadExchangeConfig({
    ...BASE,
    BACKEND_JWT_AUDIENCE: "backend",
    BACKEND_JWT_ISSUER: "exchange-token",
  });
  assert.equal(config.backendJwt.audience, "backend");
  assert.equal(config.backendJwt.issuer, "exchange-token");
  assert.equal(loadExchangeConfig({ ...BASE, BACKEND_JWT_AUDIENCE: " " }).backendJwt.audience, undefined);
});

Deno.test("parseAllowedOrigins() reads a comma list of exact origins and refuses anything else", () => {
  assert.equal(parseAllowedOrigins(undefined), "*");
  assert.equal(parseAllowedOrigins(" * "), "*");
  assert.deepEqual(parseAllowedOrigins("https://app.example.com, http://localhost:3000/"), [
    "https://app.example.com",
    "http://localhost:3000",
  ]);
  for (const bad of ["app.example.com", "https://app.example.com/path", "https://a.com,nope", ","]) {
    assert.throws(
      () => parseAllowedOrigins(bad),
      (err) => err instanceof ConfigError && err.setting === "ALLOWED_ORIGINS",
      bad,
    );
  }
});

Deno.test("loadManagementConfig() needs no backend secret, and takes the service key and the redirect", () => {
  const { BACKEND_JWT_SECRET: _, ...base } = BASE;
  const config = loadManagementConfig(base);
  assert.equal(config.serviceKey, undefined);
  assert.equal(config.inviteRedirectUrl, undefined);
  assert.equal("backendJwt" in config, false);
  const keyed = loadManagementConfig({
    ...base,
    SUPABASE_SERVICE_ROLE_KEY: "service-role-jwt",
    SUPABASE_SECRET_KEYS: '{"default":"sb_secret_abc"}',
    INVITE_REDIRECT_URL: "https://app.example.com/welcome",
  });
  assert.equal(keyed.serviceKey, "sb_secret_abc");
  assert.equal(keyed.inviteRedirectUrl, "https://app.example.com/welcome");
  assert.equal(loadManagementConfig({ ...base, SUPABASE_SERVICE_ROLE_KEY: " jwt " }).serviceKey, "jwt");
  for (
    const [env, setting] of [
      [{ INVITE_REDIRECT_URL: "javascript:alert(1)" }, "INVITE_REDIRECT_URL"],
      [{ SUPABASE_SECRET_KEYS: "not json" }, "SUPABASE_SECRET_KEYS"],
      [{ SUPABASE_SECRET_KEYS: "{}" }, "SUPABASE_SECRET_KEYS"],
    ] as const
  ) {
    assert.throws(
      () => loadManagementConfig({ ...base, ...env }),
      (err: ConfigError) => err.setting === setting,
    );
  }
});
