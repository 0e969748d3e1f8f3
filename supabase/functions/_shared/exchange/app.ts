/**
 * The exchange's composition root: builds the real exchange handler (verifier with its JWKS cache,
 * postgres.js pool with the reader of Auth's `mailer_autoconfirm`, jose signer) from a configuration
 * ({@linkcode createExchangeApp}) or from the environment ({@linkcode createExchangeAppFromEnv}).
 *
 * `exchange-token/index.ts` serves {@linkcode createExchangeAppFromEnv}: on Supabase, and on the local
 * stack, which runs that file as its own Deno process behind the gateway (`dev/stack.ts`). The function
 * tests and the benchmark's in-process steps call {@linkcode createExchangeApp} directly, with a
 * configuration built by hand. Each app owns one verifier (its JWKS cache, Auth API budget and supabase-js
 * client) and one Postgres pool (one per isolate when built at module load); `close()` ends the pool.
 *
 * @module
 */
import type { Env } from "../core/config.ts";
import { createEmailTrust } from "../core/email_trust.ts";
import type { EmailTrustLogEntry } from "../core/log.ts";
import { createAppFromEnv, type FunctionApp } from "../core/serve.ts";
import { createVerifier } from "../core/verify.ts";
import { type ExchangeConfig, isAsymmetric, loadExchangeConfig } from "./config.ts";
import { createTenancyResolver } from "./resolver.ts";
import { createExchangeHandler, createMisconfiguredHandler, type Log } from "./routes.ts";
import { createBackendSigner } from "./sign.ts";
import { toPublicJwks } from "./signing_keys.ts";

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
 * @param config The configuration (from `loadExchangeConfig`, or built by hand in tests and benchmarks).
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
): FunctionApp {
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
export function createExchangeAppFromEnv(env: Env, options: ExchangeAppOptions = {}): FunctionApp {
  return createAppFromEnv(
    env,
    loadExchangeConfig,
    (config) => createExchangeApp(config, options),
    (error, allowedOrigins) => createMisconfiguredHandler(error, { allowedOrigins, log: options.log }),
  );
}
