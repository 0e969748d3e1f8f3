/**
 * The function's configuration: the environment of docs/contract.md §4, parsed and checked once per isolate.
 *
 * This is the only module that looks at environment variables, and it does so through the object it is
 * given (`loadConfig(Deno.env.toObject())`), so tests pass plain objects. It fails closed: a missing or
 * short `BACKEND_JWT_SECRET` (or, for ES256/EdDSA, a `BACKEND_JWT_PRIVATE_KEYS` that is not a sound
 * private JWK set), an unknown algorithm, a TTL that is not a sane number of seconds, or a
 * missing Supabase setting throws a {@linkcode ConfigError} naming the setting, and the function then
 * answers every request with 500 `server_misconfigured` instead of signing with a weak secret.
 *
 * @module
 */
import { ExchangeError } from "./errors.ts";
import { type AsymmetricAlgorithm, KID_PATTERN, parseSigningKeys, type SigningJwk } from "./signing_keys.ts";
import { parseGoDuration } from "./go_duration.ts";
import { parseGoBool } from "./go_bool.ts";
import { authIssuer, type Hs256Tokens, VERIFIER_DEFAULTS } from "./verify.ts";

/** The HMAC algorithms the Python side can verify with the shared secret. */
export type HmacAlgorithm = "HS256" | "HS384" | "HS512";

/** Every algorithm a backend token can be signed with: HMAC (the default) or asymmetric, opt-in. */
export type BackendJwtAlgorithm = HmacAlgorithm | AsymmetricAlgorithm;

/** The settings every backend JWT has, whatever signs it. */
interface BackendJwtCommon {
  /** Lifetime in seconds (`BACKEND_JWT_TTL_SECONDS`). */
  ttlSeconds: number;
  /** `aud` claim, only when `BACKEND_JWT_AUDIENCE` is set (PyJWT then needs `audience=`). */
  audience?: string;
  /** `iss` claim, only when `BACKEND_JWT_ISSUER` is set. */
  issuer?: string;
}

/** An HMAC-signed backend JWT: the secret the Python service shares. */
export interface HmacBackendJwtConfig extends BackendJwtCommon {
  algorithm: HmacAlgorithm;
  /** `BACKEND_JWT_SECRET` as UTF-8 bytes, as PyJWT uses a `str` key. */
  secret: Uint8Array;
  /** `BACKEND_JWT_KID`: a `kid` header naming the secret, for backends that keep several. */
  kid?: string;
}

/** An asymmetrically signed backend JWT: backends verify with the published public keys. */
export interface AsymmetricBackendJwtConfig extends BackendJwtCommon {
  algorithm: AsymmetricAlgorithm;
  /** `BACKEND_JWT_PRIVATE_KEYS`: the first signs, all are published. */
  keys: readonly SigningJwk[];
}

/** The backend JWT's settings. */
export type BackendJwtConfig = HmacBackendJwtConfig | AsymmetricBackendJwtConfig;

/**
 * Whether backend tokens are signed with a private key (and the public keys published).
 *
 * @param config The backend JWT's settings.
 * @returns True for ES256 and EdDSA.
 * @example
 * ```ts ignore
 * const jwks = isAsymmetric(config.backendJwt) ? toPublicJwks(config.backendJwt) : undefined;
 * ```
 */
export function isAsymmetric(config: BackendJwtConfig): config is AsymmetricBackendJwtConfig {
  return config.algorithm === "ES256" || config.algorithm === "EdDSA";
}

/**
 * The session limits Supabase Auth enforces on refresh (GoTrue's `Session.CheckValidity` and
 * single-session-per-user), as the operator set them in Auth; the exchange refuses a session past them.
 */
export interface SessionLimits {
  /** `AUTH_SESSIONS_TIMEBOX`: a session ends this many seconds after sign-in; null = never. */
  timeboxSeconds: number | null;
  /** `AUTH_SESSIONS_INACTIVITY_TIMEOUT`: a session ends this many seconds after its last refresh. */
  inactivityTimeoutSeconds: number | null;
  /** `AUTH_SESSIONS_SINGLE_PER_USER`: only the user's most recently refreshed session counts. */
  singlePerUser: boolean;
}

/**
 * What every function of this project needs, validated: where Supabase and the database are, who may call
 * from a browser, and the limits of a request.
 */
export interface ServiceConfig {
  /** `SUPABASE_URL`: the project's API gateway; Auth lives under `/auth/v1`. */
  supabaseUrl: string;
  /**
   * The key supabase-js sends as `apikey`: the `default` entry of `SUPABASE_PUBLISHABLE_KEYS`, else
   * `SUPABASE_ANON_KEY`.
   */
  supabaseKey: string;
  /** `SUPABASE_JWKS`, when Supabase injects it: the first 5 minutes' keys, without a JWKS request. */
  jwks?: { keys: JsonWebKey[] };
  /** The access token `iss` values accepted: `SUPABASE_URL` + `/auth/v1`, then `AUTH_ISSUERS`. */
  authIssuers?: readonly string[];
  /** `AUTH_HS256_TOKENS`: `verify` HS256 tokens through the Auth API (default) or `refuse` them. */
  hs256Tokens?: Hs256Tokens;
  /** `AUTH_API_CALLS_PER_SECOND`: the Auth API calls one isolate may make for HS256 tokens. */
  authApiCallsPerSecond?: number;
  /** `REQUIRE_AAL2`: refuse an `aal1` session of a user who has a verified MFA factor. */
  requireAal2?: boolean;
  /** `TENANCY_DB_URL`, else `SUPABASE_DB_URL`. */
  databaseUrl: string;
  /**
   * Whether `databaseUrl` is a transaction pooler, which needs `prepare: false`: `TENANCY_DB_POOL_MODE`,
   * else port 6543 (Supabase's).
   */
  transactionPooler: boolean;
  /** Auth's session limits; absent, only a session's existence and `not_after` are checked. */
  sessions?: SessionLimits;
  /** `ALLOWED_ORIGINS`: `"*"` or the exact origins allowed to call from a browser. */
  allowedOrigins: "*" | readonly string[];
  /** Largest request body accepted, in bytes (413 above it). */
  maxBodyBytes: number;
  /** How long the request body may take to arrive, in milliseconds (408 after it). */
  bodyTimeoutMs: number;
  /** How long the Auth API (user lookup, JWKS) may take before 503 `auth_unavailable`. */
  authTimeoutMs: number;
  /** How long the tenancy transaction may take, connecting included, before 503 `database_unavailable`. */
  databaseTimeoutMs: number;
}

/** Everything the exchange needs, validated. */
export interface Config extends ServiceConfig {
  backendJwt: BackendJwtConfig;
}

/** Everything the `tenants` and `invitations` functions need, validated (docs/tenants.md). */
export interface ManagementConfig extends ServiceConfig {
  /**
   * The key that calls Auth's admin API to mail invitations: the `default` entry of `SUPABASE_SECRET_KEYS`,
   * else `SUPABASE_SERVICE_ROLE_KEY`. Absent, invitations are made but no mail is sent (`email_sent: false`).
   */
  serviceKey?: string;
  /** `INVITE_REDIRECT_URL`: where invitation links land; absent, Auth's site URL. */
  inviteRedirectUrl?: string;
}

/** The environment as `Deno.env.toObject()` returns it. */
export type Env = Record<string, string | undefined>;

/** The defaults of the optional settings. */
export const CONFIG_DEFAULTS = Object.freeze({
  algorithm: "HS256" as HmacAlgorithm,
  ttlSeconds: 604_800,
  allowedOrigins: "*" as const,
  maxBodyBytes: 16 * 1024,
  // 16 KiB arrive in one round trip; 10 s is ample for a slow phone, and bounds a dripped body.
  bodyTimeoutMs: 10_000,
  authTimeoutMs: 5_000,
  databaseTimeoutMs: 5_000,
});

/** Bounds of `BACKEND_JWT_TTL_SECONDS`: at least the clock-skew allowance, at most 30 days. */
export const TTL_BOUNDS = Object.freeze({ min: 60, max: 2_592_000 });

// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. docs/contract.md §3 asks for 32 bytes
// at least, which is exactly HS256's bound.
const MIN_SECRET_BYTES: Readonly<Record<HmacAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/**
 * A setting is missing or unsafe. Its message names the setting (never its value); the function answers
 * 500 `server_misconfigured`.
 */
export class ConfigError extends ExchangeError {
  override name = "ConfigError";
  /** The environment variable at fault. */
  readonly setting: string;
  /** What is wrong with the setting (for the log line; never contains the value). */
  readonly problem: string;

  /**
   * @param setting The environment variable at fault.
   * @param problem What is wrong with it, without its value.
   */
  constructor(setting: string, problem: string) {
    super("server_misconfigured", "The token exchange is not configured correctly");
    this.setting = setting;
    this.problem = problem;
  }
}

/**
 * Parses and validates the environment.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The validated configuration.
 * @throws {ConfigError} `server_misconfigured`, naming the first setting that is missing or unsafe.
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Env): Config {
  const service = loadServiceConfig(env);
  return { ...service, backendJwt: _backendJwt(env) };
}

/**
 * Parses and validates what every function needs (see {@linkcode ServiceConfig}).
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The validated settings.
 * @throws {ConfigError} `server_misconfigured`, naming the first setting that is missing or unsafe.
 * @example
 * ```ts
 * const service = loadServiceConfig(Deno.env.toObject());
 * ```
 */
export function loadServiceConfig(env: Env): ServiceConfig {
  const supabaseUrl = _httpUrl(env, "SUPABASE_URL");
  const supabaseKey = _supabaseKey(env);
  const jwks = _jwks(env.SUPABASE_JWKS);
  const authIssuers = [authIssuer(supabaseUrl), ..._issuers(env.AUTH_ISSUERS)];
  const dbSetting = _present(env.TENANCY_DB_URL) ? "TENANCY_DB_URL" : "SUPABASE_DB_URL";
  const databaseUrl = _databaseUrl(env, dbSetting);
  const allowedOrigins = parseAllowedOrigins(env.ALLOWED_ORIGINS);
  return {
    supabaseUrl,
    supabaseKey,
    ...(jwks ? { jwks } : {}),
    authIssuers: [...new Set(authIssuers)],
    hs256Tokens: _hs256Tokens(env.AUTH_HS256_TOKENS),
    authApiCallsPerSecond: _callsPerSecond(env.AUTH_API_CALLS_PER_SECOND),
    requireAal2: _goBool(env, "REQUIRE_AAL2"),
    databaseUrl,
    transactionPooler: _poolMode(env.TENANCY_DB_POOL_MODE, databaseUrl) === "transaction",
    sessions: _sessionLimits(env),
    allowedOrigins,
    maxBodyBytes: CONFIG_DEFAULTS.maxBodyBytes,
    bodyTimeoutMs: CONFIG_DEFAULTS.bodyTimeoutMs,
    authTimeoutMs: CONFIG_DEFAULTS.authTimeoutMs,
    databaseTimeoutMs: CONFIG_DEFAULTS.databaseTimeoutMs,
  };
}

/**
 * Parses and validates the settings of the `tenants` and `invitations` functions: those of every function,
 * the service key Supabase injects (to mail invitations) and `INVITE_REDIRECT_URL`.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The validated settings.
 * @throws {ConfigError} `server_misconfigured`, naming the first setting that is missing or unsafe.
 * @example
 * ```ts
 * const config = loadManagementConfig(Deno.env.toObject());
 * ```
 */
export function loadManagementConfig(env: Env): ManagementConfig {
  const service = loadServiceConfig(env);
  const serviceKey = _serviceKey(env);
  const inviteRedirectUrl = _present(env.INVITE_REDIRECT_URL)
    ? _url(env, "INVITE_REDIRECT_URL", ["http:", "https:"], "is not an http(s) URL").href
    : undefined;
  return {
    ...service,
    ...(serviceKey ? { serviceKey } : {}),
    ...(inviteRedirectUrl ? { inviteRedirectUrl } : {}),
  };
}

/**
 * Parses `ALLOWED_ORIGINS`: unset, empty or `*` allows any origin; otherwise a comma list of exact
 * origins (`https://app.example.com`, `http://localhost:3000`).
 *
 * @param value The raw setting.
 * @returns `"*"` or the list of origins.
 * @throws {ConfigError} `server_misconfigured` when an entry is not an origin.
 * @example
 * ```ts
 * parseAllowedOrigins("https://app.example.com, http://localhost:3000");
 * ```
 */
export function parseAllowedOrigins(value: string | undefined): "*" | readonly string[] {
  if (value === undefined || value.trim() === "" || value.trim() === "*") {
    return CONFIG_DEFAULTS.allowedOrigins;
  }
  const origins: string[] = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    let origin: string;
    try {
      origin = new URL(entry).origin;
    } catch {
      throw new ConfigError("ALLOWED_ORIGINS", "an entry is not a URL");
    }
    if (origin === "null" || origin !== entry.replace(/\/$/, "").toLowerCase()) {
      throw new ConfigError("ALLOWED_ORIGINS", "an entry is not a bare origin (scheme://host[:port])");
    }
    origins.push(origin);
  }
  if (origins.length === 0) throw new ConfigError("ALLOWED_ORIGINS", "no origin listed");
  return Object.freeze(origins);
}

/**
 * Whether a Postgres URL points at Supabase's transaction pooler (port 6543), where prepared statements
 * cannot be used.
 *
 * @param url A `postgres://` URL.
 * @returns True for port 6543.
 * @example
 * ```ts
 * isTransactionPooler("postgres://u:p@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"); // true
 * ```
 */
export function isTransactionPooler(url: string): boolean {
  try {
    return new URL(url).port === "6543";
  } catch {
    return false;
  }
}

function _present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== "";
}

function _httpUrl(env: Env, name: string): string {
  return _url(env, name, ["http:", "https:"], "is not an http(s) URL").href.replace(/\/+$/, "");
}

function _url(env: Env, name: string, protocols: string[], wrongProtocol: string): URL {
  const value = env[name];
  if (!_present(value)) throw new ConfigError(name, "is not set");
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(name, "is not a URL");
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(name, wrongProtocol);
  return url;
}

// The publishable key first: a project can disable its legacy API keys, and the gateway then refuses the
// anon key.
function _supabaseKey(env: Env): string {
  if (_present(env.SUPABASE_PUBLISHABLE_KEYS)) {
    const key = _defaultKey(env.SUPABASE_PUBLISHABLE_KEYS, "SUPABASE_PUBLISHABLE_KEYS");
    if (key) return key;
    throw new ConfigError("SUPABASE_PUBLISHABLE_KEYS", "holds no key");
  }
  if (_present(env.SUPABASE_ANON_KEY)) return env.SUPABASE_ANON_KEY.trim();
  throw new ConfigError("SUPABASE_ANON_KEY", "is not set (nor SUPABASE_PUBLISHABLE_KEYS)");
}

// Supabase injects its key sets as {"default": "sb_..."}: the default entry, else the first.
function _defaultKey(value: string, name: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError(name, "is not JSON");
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    const record = parsed as Record<string, unknown>;
    const key = typeof record.default === "string" ? record.default : Object.values(record)[0];
    if (typeof key === "string" && key.trim() !== "") return key.trim();
  }
  return undefined;
}

// The secret key first, as the publishable key is preferred above: a project can disable its legacy keys.
function _serviceKey(env: Env): string | undefined {
  if (_present(env.SUPABASE_SECRET_KEYS)) {
    const key = _defaultKey(env.SUPABASE_SECRET_KEYS, "SUPABASE_SECRET_KEYS");
    if (key) return key;
    throw new ConfigError("SUPABASE_SECRET_KEYS", "holds no key");
  }
  return _present(env.SUPABASE_SERVICE_ROLE_KEY) ? env.SUPABASE_SERVICE_ROLE_KEY.trim() : undefined;
}

// SUPABASE_JWKS is an optimisation Supabase injects; a value we cannot read is ignored (supabase-js then
// fetches the JWKS from Auth), never a reason to refuse service.
function _jwks(value: string | undefined): { keys: JsonWebKey[] } | undefined {
  if (!_present(value)) return undefined;
  try {
    const parsed = JSON.parse(value);
    const keys = Array.isArray(parsed) ? parsed : parsed?.keys;
    if (Array.isArray(keys) && keys.every((k) => k && typeof k === "object")) return { keys };
  } catch {
    // Ignored, see above.
  }
  return undefined;
}

// Under `supabase start` the function sees SUPABASE_URL=http://kong:8000 while tokens name
// http://127.0.0.1:54321/auth/v1, and a custom domain differs from the project URL too.
function _issuers(value: string | undefined): string[] {
  if (!_present(value)) return [];
  return value.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "").map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError("AUTH_ISSUERS", "has an entry that is not a URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigError("AUTH_ISSUERS", "has an entry that is not an http(s) URL");
    }
    return entry.replace(/\/+$/, "");
  });
}

function _hs256Tokens(value: string | undefined): Hs256Tokens {
  if (!_present(value)) return VERIFIER_DEFAULTS.hs256Tokens;
  const mode = value.trim();
  if (mode === "verify" || mode === "refuse") return mode;
  throw new ConfigError("AUTH_HS256_TOKENS", "is not one of verify, refuse");
}

function _callsPerSecond(value: string | undefined): number {
  if (!_present(value)) return VERIFIER_DEFAULTS.authApiCallsPerSecond;
  const text = value.trim();
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < 1) {
    throw new ConfigError("AUTH_API_CALLS_PER_SECOND", "is not a whole number from 1 to 9999999");
  }
  return Number(text);
}

function _databaseUrl(env: Env, name: string): string {
  _url(env, name, ["postgres:", "postgresql:"], "is not a postgres:// URL");
  return env[name]!.trim();
}

// Supabase's poolers take transactions on port 6543 (Supavisor, or the dedicated PgBouncer); any other
// pooler (a self-hosted one, the local stack's on 54329) must be named.
function _poolMode(value: string | undefined, databaseUrl: string): "transaction" | "session" {
  if (!_present(value)) return isTransactionPooler(databaseUrl) ? "transaction" : "session";
  const mode = value.trim();
  if (mode === "transaction" || mode === "session") return mode;
  throw new ConfigError("TENANCY_DB_POOL_MODE", "is not one of transaction, session");
}

function _backendJwt(env: Env): BackendJwtConfig {
  const algorithm = _algorithm(env.BACKEND_JWT_ALGORITHM);
  const audience = _optionalText(env, "BACKEND_JWT_AUDIENCE");
  const issuer = _optionalText(env, "BACKEND_JWT_ISSUER");
  const common = {
    ttlSeconds: _ttl(env.BACKEND_JWT_TTL_SECONDS),
    ...(audience ? { audience } : {}),
    ...(issuer ? { issuer } : {}),
  };
  if (algorithm === "ES256" || algorithm === "EdDSA") {
    return { algorithm, keys: _signingKeys(env.BACKEND_JWT_PRIVATE_KEYS, algorithm), ...common };
  }
  const kid = _kid(env.BACKEND_JWT_KID);
  return {
    algorithm,
    secret: _secret(env.BACKEND_JWT_SECRET, algorithm),
    ...(kid ? { kid } : {}),
    ...common,
  };
}

function _algorithm(value: string | undefined): BackendJwtAlgorithm {
  if (!_present(value)) return CONFIG_DEFAULTS.algorithm;
  const algorithm = value.trim();
  if (["HS256", "HS384", "HS512", "ES256", "EdDSA"].includes(algorithm)) {
    return algorithm as BackendJwtAlgorithm;
  }
  throw new ConfigError("BACKEND_JWT_ALGORITHM", "is not one of HS256, HS384, HS512, ES256, EdDSA");
}

function _signingKeys(value: string | undefined, algorithm: AsymmetricAlgorithm): SigningJwk[] {
  if (!_present(value)) {
    throw new ConfigError(
      "BACKEND_JWT_PRIVATE_KEYS",
      `is not set (${algorithm} signs with a private JWK set)`,
    );
  }
  const parsed = parseSigningKeys(value, algorithm);
  if ("problem" in parsed) throw new ConfigError("BACKEND_JWT_PRIVATE_KEYS", parsed.problem);
  return parsed.keys;
}

function _kid(value: string | undefined): string | undefined {
  if (!_present(value)) return undefined;
  if (!KID_PATTERN.test(value.trim())) {
    throw new ConfigError("BACKEND_JWT_KID", "is not 1-64 characters of letters, digits, . _ ~ -");
  }
  return value.trim();
}

function _secret(value: string | undefined, algorithm: HmacAlgorithm): Uint8Array {
  if (value === undefined || value === "") throw new ConfigError("BACKEND_JWT_SECRET", "is not set");
  const bytes = new TextEncoder().encode(value);
  const min = MIN_SECRET_BYTES[algorithm];
  if (bytes.byteLength < min) {
    throw new ConfigError("BACKEND_JWT_SECRET", `is shorter than ${min} bytes, the minimum for ${algorithm}`);
  }
  if (new Set(bytes).size === 1) throw new ConfigError("BACKEND_JWT_SECRET", "is one repeated character");
  return bytes;
}

function _ttl(value: string | undefined): number {
  if (!_present(value)) return CONFIG_DEFAULTS.ttlSeconds;
  const text = value.trim();
  if (!/^[0-9]{1,10}$/.test(text)) {
    throw new ConfigError("BACKEND_JWT_TTL_SECONDS", "is not a whole number of seconds");
  }
  const seconds = Number(text);
  if (seconds < TTL_BOUNDS.min || seconds > TTL_BOUNDS.max) {
    throw new ConfigError(
      "BACKEND_JWT_TTL_SECONDS",
      `is outside ${TTL_BOUNDS.min}..${TTL_BOUNDS.max} seconds`,
    );
  }
  return seconds;
}

// GoTrue reads these as Go durations and refuses one that is not positive (SessionsConfiguration.Validate).
function _sessionLimits(env: Env): SessionLimits {
  return {
    timeboxSeconds: _duration(env, "AUTH_SESSIONS_TIMEBOX"),
    inactivityTimeoutSeconds: _duration(env, "AUTH_SESSIONS_INACTIVITY_TIMEOUT"),
    singlePerUser: _goBool(env, "AUTH_SESSIONS_SINGLE_PER_USER"),
  };
}

function _duration(env: Env, name: string): number | null {
  const value = env[name];
  if (!_present(value)) return null;
  let ms: number;
  try {
    ms = parseGoDuration(value.trim());
  } catch {
    throw new ConfigError(name, 'is not a Go duration such as "24h" or "8h30m"');
  }
  if (!(ms > 0)) throw new ConfigError(name, "is not a positive duration");
  return ms / 1000;
}

function _goBool(env: Env, name: string): boolean {
  const value = env[name];
  if (!_present(value)) return false;
  const parsed = parseGoBool(value.trim());
  if (parsed === undefined) throw new ConfigError(name, "is not true or false");
  return parsed;
}

function _optionalText(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === "") return undefined;
  if (value.trim().length > 255) throw new ConfigError(name, "is longer than 255 characters");
  return value.trim();
}
