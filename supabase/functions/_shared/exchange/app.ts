/**
 * The composition root: builds the real exchange handler (verifier with its JWKS cache, postgres.js
 * tenancy pool with the reader of Auth's `mailer_autoconfirm`, jose signer) from a configuration
 * ({@linkcode createExchangeApp}) or from the environment
 * ({@linkcode createExchangeAppFromEnv}).
 *
 * `exchange-token/index.ts` serves {@linkcode createExchangeAppFromEnv}: on Supabase, and on the local
 * stack, which runs that file as its own Deno process behind the gateway (`dev/stack.ts`). The function
 * tests and the benchmark's in-process steps call {@linkcode createExchangeApp} directly, with a
 * configuration built by hand. Each app owns one verifier (its JWKS cache, Auth API budget and supabase-js client) and one Postgres pool (one per isolate
 * when built at module load); `close()` ends the pool.
 *
 * @module
 */
import { ConfigError, type Env, parseAllowedOrigins, type ServiceConfig } from "../core/config.ts";
import { type ExchangeConfig, isAsymmetric, loadExchangeConfig } from "./config.ts";
import { createExchangeHandler, createMisconfiguredHandler, type Log } from "./routes.ts";
import { type EmailTrustLogEntry, jsonLineLog } from "../core/log.ts";
import { createSupabaseVerifier, type VerifyToken } from "../core/verify.ts";
import { createTenancyResolver } from "./resolver.ts";
import { createEmailTrust } from "../core/email_trust.ts";
import { createBackendSigner } from "./sign.ts";
import { toPublicJwks } from "./signing_keys.ts";

/** A built exchange handler and what it holds open. */
export interface ExchangeApp {
  /** The request handler, for `Deno.serve` or a gateway. */
  handler: (req: Request) => Promise<Response>;
  /** Closes the Postgres pool (waiting at most `timeoutSeconds` for running queries). Idempotent. */
  close(timeoutSeconds?: number): Promise<void>;
}

/** Seams and tuning for {@linkcode createExchangeApp}. */
export interface ExchangeAppOptions {
  /** The clock the backend JWT is issued by. */
  now?: () => Date;
  /** Where log lines go (default: JSON lines on stdout/stderr). */
  log?: Log;
  /** Where the isolate's `email_trust` warnings go (default: JSON lines on stdout). */
  logEmailTrust?: (entry: EmailTrustLogEntry) => void;
  /** The fetch used to reach Auth (JWKS, `GET /user` and `GET /settings`). */
  fetch?: typeof fetch;
  /** Postgres connections per isolate (default 3). */
  poolSize?: number;
}

/**
 * Builds the full handler from a validated configuration.
 *
 * @param config The configuration (from `loadConfig`, or built by hand in tests and benchmarks).
 * @param options Clock, log, fetch and pool size.
 * @returns The handler and `close()`.
 * @example
 * ```ts
 * import { loadExchangeConfig } from "./config.ts";
 *
 * const app = createExchangeApp(loadExchangeConfig(Deno.env.toObject()));
 * const res = await app.handler(
 *   new Request("http://localhost/", { method: "POST", headers: { authorization: "Bearer eyJ..." } }),
 * );
 * await app.close();
 * ```
 */
export function createExchangeApp(
  config: ExchangeConfig,
  options: ExchangeAppOptions = {},
): ExchangeApp {
  const tenancy = createTenancyResolver({
    databaseUrl: config.databaseUrl,
    transactionPooler: config.transactionPooler,
    timeoutMs: config.databaseTimeoutMs,
    max: options.poolSize,
    emailTrusted: createEmailTrust({
      supabaseUrl: config.supabaseUrl,
      supabaseKey: config.supabaseKey,
      timeoutMs: config.authTimeoutMs,
      fetch: options.fetch,
      log: options.logEmailTrust,
    }),
    requireAal2: config.requireAal2,
    sessions: config.sessions,
  });
  const handler = createExchangeHandler({
    config,
    verifyToken: createVerifier(config, options),
    resolveTenant: tenancy.resolveTenant,
    signToken: createBackendSigner(config.backendJwt),
    now: options.now,
    log: options.log,
    jwks: isAsymmetric(config.backendJwt)
      ? toPublicJwks(config.backendJwt.keys, config.backendJwt.algorithm)
      : undefined,
  });
  let closing: Promise<void> | undefined;
  return { handler, close: (timeoutSeconds) => closing ??= tenancy.close(timeoutSeconds) };
}

/**
 * Builds the verifier of Supabase access tokens every function uses, from its settings.
 *
 * @param config The settings (the project, its issuers and JWKS, HS256 handling, the Auth API budget).
 * @param options The fetch that reaches Auth, and the clock.
 * @returns The verifier.
 * @example
 * ```ts ignore
 * const verifyToken = createVerifier(loadServiceConfig(Deno.env.toObject()), {});
 * ```
 */
export function createVerifier(
  config: ServiceConfig,
  options: { fetch?: typeof fetch; now?: () => Date },
): VerifyToken {
  return createSupabaseVerifier({
    supabaseUrl: config.supabaseUrl,
    supabaseKey: config.supabaseKey,
    timeoutMs: config.authTimeoutMs,
    issuers: config.authIssuers,
    jwks: config.jwks,
    hs256Tokens: config.hs256Tokens,
    authApiCallsPerSecond: config.authApiCallsPerSecond,
    fetch: options.fetch,
    now: options.now,
  });
}

/**
 * Builds the handler from the environment. A missing or unsafe setting is logged once, naming it, and
 * the handler then answers 500 `server_misconfigured` (with CORS) instead of failing at import.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @param options Clock, log, fetch and pool size.
 * @returns The handler and `close()`.
 * @example
 * ```ts
 * const app = createExchangeAppFromEnv(Deno.env.toObject());
 * Deno.serve(app.handler);
 * ```
 */
export function createExchangeAppFromEnv(env: Env, options: ExchangeAppOptions = {}): ExchangeApp {
  let config: ExchangeConfig;
  try {
    config = loadExchangeConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const allowedOrigins = reportConfigError(err, env);
    return {
      handler: createMisconfiguredHandler(err, { allowedOrigins, log: options.log ?? jsonLineLog }),
      close: () => Promise.resolve(),
    };
  }
  return createExchangeApp(config, options);
}

/**
 * What a function that cannot load its configuration does first: logs the error once (naming the setting,
 * never its value), and reads the CORS origins it can still answer with (`*` when `ALLOWED_ORIGINS` itself is
 * at fault, so errors stay readable).
 *
 * @param err The configuration error.
 * @param env The environment.
 * @returns The origins for the misconfigured handler's answers.
 * @example
 * ```ts
 * import { ConfigError } from "../core/config.ts";
 *
 * reportConfigError(new ConfigError("SUPABASE_URL", "is not set"), { ALLOWED_ORIGINS: "*" }); // "*"
 * ```
 */
export function reportConfigError(err: ConfigError, env: Env): "*" | readonly string[] {
  console.error(JSON.stringify({
    level: "error",
    msg: "config_invalid",
    setting: err.setting,
    problem: `${err.setting} ${err.problem}`,
  }));
  try {
    return parseAllowedOrigins(env.ALLOWED_ORIGINS);
  } catch {
    return "*"; // Already reported if it was the setting at fault.
  }
}
