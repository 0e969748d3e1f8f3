/**
 * The environment of docs/contract.md §4 that every function reads, parsed and checked once per isolate:
 * where Supabase and the database are, how access tokens are verified, who may call from a browser, the
 * limits of a request ({@linkcode loadServiceConfig}); and the helpers the wings' own `config.ts` read
 * their settings with.
 *
 * Only the `config.ts` modules look at environment variables, and they do so through the object they are
 * given (`loadServiceConfig(Deno.env.toObject())`), so tests pass plain objects. They fail closed: a missing
 * or unsafe setting throws a {@linkcode ConfigError} naming the setting (never its value), and the function
 * then answers every request with 500 `server_misconfigured` (`serve.ts`) instead of running half-configured.
 *
 * (Over 300 lines: one small parser per setting, kept next to the settings they fill.)
 *
 * @module
 */
import { ApiError } from "./errors.ts";
import { parseGoDuration } from "./go_duration.ts";
import { parseGoBool } from "./go_bool.ts";
import { authIssuer, type Hs256Tokens, VERIFIER_DEFAULTS } from "./verify.ts";

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

/** The environment as `Deno.env.toObject()` returns it. */
export type Env = Record<string, string | undefined>;

/** The defaults of the optional settings every function has. */
export const CONFIG_DEFAULTS = Object.freeze({
  allowedOrigins: "*" as const,
  maxBodyBytes: 16 * 1024,
  // 16 KiB arrive in one round trip; 10 s is ample for a slow phone, and bounds a dripped body.
  bodyTimeoutMs: 10_000,
  authTimeoutMs: 5_000,
  databaseTimeoutMs: 5_000,
});

/**
 * A setting is missing or unsafe. Its message names the setting (never its value); the function answers
 * 500 `server_misconfigured`.
 */
export class ConfigError extends ApiError {
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
  const dbSetting = isSet(env.TENANCY_DB_URL) ? "TENANCY_DB_URL" : "SUPABASE_DB_URL";
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

/**
 * Whether a setting is set: present and not blank.
 *
 * @param value The raw setting.
 * @returns True when it holds more than spaces.
 * @example
 * ```ts
 * isSet(" "); // false
 * ```
 */
export function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== "";
}

function _httpUrl(env: Env, name: string): string {
  return readUrl(env, name, ["http:", "https:"], "is not an http(s) URL").href.replace(/\/+$/, "");
}

/**
 * Reads a required URL setting of one of the given protocols.
 *
 * @param env The environment.
 * @param name The setting.
 * @param protocols The protocols allowed, e.g. `["http:", "https:"]`.
 * @param wrongProtocol The problem to report for another protocol.
 * @returns The URL.
 * @throws {ConfigError} When it is not set, not a URL, or of another protocol.
 * @example
 * ```ts
 * readUrl({ SUPABASE_URL: "https://x.supabase.co" }, "SUPABASE_URL", ["https:"], "is not https").host;
 * ```
 */
export function readUrl(env: Env, name: string, protocols: string[], wrongProtocol: string): URL {
  const value = env[name];
  if (!isSet(value)) throw new ConfigError(name, "is not set");
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
  if (isSet(env.SUPABASE_PUBLISHABLE_KEYS)) {
    const key = defaultKey(env.SUPABASE_PUBLISHABLE_KEYS, "SUPABASE_PUBLISHABLE_KEYS");
    if (key) return key;
    throw new ConfigError("SUPABASE_PUBLISHABLE_KEYS", "holds no key");
  }
  if (isSet(env.SUPABASE_ANON_KEY)) return env.SUPABASE_ANON_KEY.trim();
  throw new ConfigError("SUPABASE_ANON_KEY", "is not set (nor SUPABASE_PUBLISHABLE_KEYS)");
}

/**
 * The key of a key set Supabase injects as `{"default": "sb_..."}`: the default entry, else the first.
 *
 * @param value The raw setting (JSON).
 * @param name The setting, for the error.
 * @returns The key, or undefined when the set holds none.
 * @throws {ConfigError} When it is not JSON.
 * @example
 * ```ts
 * defaultKey('{"default":"sb_secret_x"}', "SUPABASE_SECRET_KEYS"); // "sb_secret_x"
 * ```
 */
export function defaultKey(value: string, name: string): string | undefined {
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

// SUPABASE_JWKS is an optimisation Supabase injects; a value we cannot read is ignored (supabase-js then
// fetches the JWKS from Auth), never a reason to refuse service.
function _jwks(value: string | undefined): { keys: JsonWebKey[] } | undefined {
  if (!isSet(value)) return undefined;
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
  if (!isSet(value)) return [];
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
  if (!isSet(value)) return VERIFIER_DEFAULTS.hs256Tokens;
  const mode = value.trim();
  if (mode === "verify" || mode === "refuse") return mode;
  throw new ConfigError("AUTH_HS256_TOKENS", "is not one of verify, refuse");
}

function _callsPerSecond(value: string | undefined): number {
  if (!isSet(value)) return VERIFIER_DEFAULTS.authApiCallsPerSecond;
  const text = value.trim();
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < 1) {
    throw new ConfigError("AUTH_API_CALLS_PER_SECOND", "is not a whole number from 1 to 9999999");
  }
  return Number(text);
}

function _databaseUrl(env: Env, name: string): string {
  readUrl(env, name, ["postgres:", "postgresql:"], "is not a postgres:// URL");
  return env[name]!.trim();
}

// Supabase's poolers take transactions on port 6543 (Supavisor, or the dedicated PgBouncer); any other
// pooler (a self-hosted one, the local stack's on 54329) must be named.
function _poolMode(value: string | undefined, databaseUrl: string): "transaction" | "session" {
  if (!isSet(value)) return isTransactionPooler(databaseUrl) ? "transaction" : "session";
  const mode = value.trim();
  if (mode === "transaction" || mode === "session") return mode;
  throw new ConfigError("TENANCY_DB_POOL_MODE", "is not one of transaction, session");
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
  if (!isSet(value)) return null;
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
  if (!isSet(value)) return false;
  const parsed = parseGoBool(value.trim());
  if (parsed === undefined) throw new ConfigError(name, "is not true or false");
  return parsed;
}
