/**
 * The composition root of the management functions (docs/tenants.md): builds the `tenants` or the
 * `invitations` handler (supabase-js verifier, a postgres.js pool with the caller's transactions, Auth's
 * mailer for invitations) from a configuration ({@linkcode createManagementApp}) or from the environment
 * ({@linkcode createManagementAppFromEnv}).
 *
 * `tenants/index.ts` and `invitations/index.ts` serve {@linkcode createManagementAppFromEnv}; the function
 * tests call {@linkcode createManagementApp} with a configuration built by hand. Each app owns one Postgres
 * pool; `close()` ends it.
 *
 * @module
 */
import { createCallerTransactions } from "../core/caller.ts";
import type { Env } from "../core/config.ts";
import { createDatabasePool } from "../core/db.ts";
import { createEmailTrust } from "../core/email_trust.ts";
import { createAppFromEnv, type FunctionApp } from "../core/serve.ts";
import { createVerifier } from "../core/verify.ts";
import { loadManagementConfig, type ManagementConfig } from "./config.ts";
import { createManagementHandler, type ManagementLogEntry } from "./handler.ts";
import { createInvitationMailer } from "./invitation_mail.ts";
import { invitationsRoutes } from "./invitations_routes.ts";
import { tenantsRoutes } from "./tenants_routes.ts";

/** Which management function to build. */
export type ManagementFunction = "tenants" | "invitations";

/** Seams and tuning for {@linkcode createManagementApp}. */
export interface ManagementAppOptions {
  /** Where log lines go (default: JSON lines on stdout/stderr). */
  log?: (entry: ManagementLogEntry) => void;
  /** The fetch used to reach Auth (verification, mails). */
  fetch?: typeof fetch;
  /** The clock of the token's pre-check. */
  now?: () => Date;
  /**
   * Whether the project's confirmed addresses are proven by mail; by default `invitations` reads Auth's
   * settings for it (`createEmailTrust`), as the exchange does. `tenants` needs no proven address.
   */
  emailTrusted?: () => Promise<boolean>;
  /** Postgres connections per isolate (default 2: management requests are rare). */
  poolSize?: number;
}

/**
 * Builds a management function from a validated configuration.
 *
 * @param name `tenants` or `invitations`.
 * @param config The configuration (from `loadManagementConfig`, or built by hand in tests).
 * @param options Log, fetch, clock, email trust and pool size.
 * @returns The handler and `close()`.
 * @example
 * ```ts ignore
 * const app = createManagementApp("tenants", loadManagementConfig(Deno.env.toObject()));
 * Deno.serve(app.handler);
 * ```
 */
export function createManagementApp(
  name: ManagementFunction,
  config: ManagementConfig,
  options: ManagementAppOptions = {},
): FunctionApp {
  const pool = createDatabasePool({
    databaseUrl: config.databaseUrl,
    transactionPooler: config.transactionPooler,
    timeoutMs: config.databaseTimeoutMs,
    max: options.poolSize ?? 2,
    applicationName: name,
  });
  const run = createCallerTransactions({
    pool,
    timeoutMs: config.databaseTimeoutMs,
    sessions: config.sessions,
    requireAal2: config.requireAal2,
    emailTrusted: options.emailTrusted ?? (name === "invitations"
      ? createEmailTrust({
        supabaseUrl: config.supabaseUrl,
        supabaseKey: config.supabaseKey,
        timeoutMs: config.authTimeoutMs,
        fetch: options.fetch,
      })
      : undefined),
  });
  const routes = name === "tenants"
    ? tenantsRoutes({
      run,
      sendMail: createInvitationMailer({
        supabaseUrl: config.supabaseUrl,
        serviceKey: config.serviceKey,
        redirectUrl: config.inviteRedirectUrl,
        timeoutMs: config.authTimeoutMs,
        fetch: options.fetch,
      }),
    })
    : invitationsRoutes(run);
  const handler = createManagementHandler({
    name,
    config,
    verifyToken: createVerifier(config, options),
    routes,
    log: options.log,
  });
  let closing: Promise<void> | undefined;
  return { handler, close: (timeoutSeconds) => closing ??= pool.close(timeoutSeconds) };
}

/**
 * Builds a management function from the environment. A missing or unsafe setting is logged once, naming
 * it, and the handler then answers 500 `server_misconfigured` (with CORS) instead of failing at import.
 *
 * @param name `tenants` or `invitations`.
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @param options Log, fetch, clock, email trust and pool size.
 * @returns The handler and `close()`.
 * @example
 * ```ts ignore
 * const app = createManagementAppFromEnv("invitations", Deno.env.toObject());
 * Deno.serve(app.handler);
 * ```
 */
export function createManagementAppFromEnv(
  name: ManagementFunction,
  env: Env,
  options: ManagementAppOptions = {},
): FunctionApp {
  return createAppFromEnv(
    env,
    loadManagementConfig,
    (config) => createManagementApp(name, config, options),
    (error, allowedOrigins) =>
      createManagementHandler({
        name,
        config: { allowedOrigins, maxBodyBytes: 0, bodyTimeoutMs: 0 },
        verifyToken: () => Promise.reject(error),
        routes: [],
        log: options.log,
        misconfigured: error,
      }),
  );
}
