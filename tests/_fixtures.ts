/**
 * Test support: the constants every test layer shares (the test accounts' password, the allowed origin, the
 * backend secret, a caller's claims, a project's environment) and the builders of the functions'
 * configurations on a suite's Auth and database, each with overrides. A test that needs another value
 * keeps its own, saying why.
 *
 * @module
 */
import type { ServiceConfig } from "../supabase/functions/_shared/core/config.ts";
import type { AccessTokenClaims } from "../supabase/functions/_shared/core/verify.ts";
import type { ExchangeConfig, HmacBackendJwtConfig } from "../supabase/functions/_shared/exchange/config.ts";
import type { ManagementConfig } from "../supabase/functions/_shared/management/config.ts";

/** The password of the test accounts (no test depends on its value). */
export const PASSWORD = "correct horse battery staple";

/** The browser origin the functions allow in the tests, and the tests' requests send. */
export const ORIGIN = "https://app.example.com";

/** The backend secret (HS256) the tests share with the Python contract check. */
export const BACKEND_SECRET = "test-backend-secret-0123456789abcdef";

/** A user id for tests that need one but no account. */
export const USER_ID = "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f";

/** An Auth session id for tests that need one but no session. */
export const SESSION_ID = "0b0d5c8e-8f5e-4f2c-9a57-3e0a8f9b1c2d";

/** A verified caller, as a stubbed `verifyToken` answers: {@linkcode USER_ID} in {@linkcode SESSION_ID}. */
export const CALLER: AccessTokenClaims = {
  userId: USER_ID,
  sessionId: SESSION_ID,
  exp: 2000000000,
  claims: { sub: USER_ID, role: "authenticated" },
};

/** A hosted project's environment with placeholder values, as far as every function needs it. */
export const PROJECT_ENV = {
  SUPABASE_URL: "https://project.supabase.co/",
  SUPABASE_ANON_KEY: "anon-key",
  SUPABASE_DB_URL: "postgresql://postgres:pw@db.project.supabase.co:5432/postgres",
};

/** The Auth a function under test calls: the emulator's URL and keys. */
export interface TestAuth {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
}

/** The Postgres a function under test connects to: directly, or through the transaction pooler. */
export interface TestDatabaseTarget {
  url: string;
  transactionPooler: boolean;
}

/** The backend-token settings of the tests: HS256 on {@linkcode BACKEND_SECRET}, 7 days, with overrides. */
export function backendJwt(
  overrides: Partial<Omit<HmacBackendJwtConfig, "secret">> = {},
): HmacBackendJwtConfig {
  return {
    secret: new TextEncoder().encode(BACKEND_SECRET),
    algorithm: "HS256",
    ttlSeconds: 604800,
    ...overrides,
  };
}

/** The settings every function shares, on `auth` and `database`: {@linkcode ORIGIN}, 3 s timeouts. */
function serviceConfig(auth: TestAuth, database: TestDatabaseTarget): ServiceConfig {
  return {
    supabaseUrl: auth.url,
    supabaseKey: auth.anonKey,
    databaseUrl: database.url,
    transactionPooler: database.transactionPooler,
    allowedOrigins: [ORIGIN],
    maxBodyBytes: 16 * 1024,
    bodyTimeoutMs: 10_000,
    authTimeoutMs: 3000,
    databaseTimeoutMs: 3000,
  };
}

/**
 * The exchange's configuration on a suite's Auth and database, signing with {@linkcode backendJwt}.
 *
 * @param auth The Auth emulator (its URL and anon key).
 * @param database Where the function connects (`functionDatabase(db)`).
 * @param overrides Settings that differ from the tests' defaults.
 * @returns The configuration `createExchangeApp` takes.
 */
export function exchangeConfig(
  auth: TestAuth,
  database: TestDatabaseTarget,
  overrides: Partial<ExchangeConfig> = {},
): ExchangeConfig {
  return { ...serviceConfig(auth, database), backendJwt: backendJwt(), ...overrides };
}

/**
 * The `tenants` and `invitations` functions' configuration on a suite's Auth and database, mailing
 * invitations with the emulator's service_role key.
 *
 * @param auth The Auth emulator (its URL and keys).
 * @param database Where the functions connect (`functionDatabase(db)`).
 * @param overrides Settings that differ from the tests' defaults.
 * @returns The configuration `createManagementApp` takes.
 */
export function managementConfig(
  auth: TestAuth,
  database: TestDatabaseTarget,
  overrides: Partial<ManagementConfig> = {},
): ManagementConfig {
  return { ...serviceConfig(auth, database), serviceKey: auth.serviceRoleKey, ...overrides };
}

/**
 * The environment the exchange is deployed with, on a suite's Auth and database: the project's URL, anon key
 * and database URL, {@linkcode BACKEND_SECRET} and {@linkcode ORIGIN}.
 *
 * @param auth The Auth emulator (its URL and anon key).
 * @param database The suite's database (its URL).
 * @param overrides Variables to add or replace.
 * @returns What `createExchangeAppFromEnv` takes.
 */
export function exchangeEnv(
  auth: Pick<TestAuth, "url" | "anonKey">,
  database: { url: string },
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    SUPABASE_URL: auth.url,
    SUPABASE_ANON_KEY: auth.anonKey,
    SUPABASE_DB_URL: database.url,
    BACKEND_JWT_SECRET: BACKEND_SECRET,
    ALLOWED_ORIGINS: ORIGIN,
    ...overrides,
  };
}
