/**
 * The local Supabase stack, without Docker: embedded Postgres with the Supabase stand-in, our migrations
 * and the seed; the Auth emulator, set up from `supabase/config.toml`'s `[auth]` as `supabase start` sets
 * up Supabase Auth; a mailbox catching its mails (Mailpit's API); each function ({@linkcode FUNCTIONS}) in its
 * own Deno process (standing in for the Edge runtime, with the environment Supabase injects); and one gateway
 * port in front of them, as `supabase start` + `supabase functions serve` lay them out.
 *
 * Auth's session limits (`[auth.sessions]`, and single session per user) reach the function as the
 * settings it reads them by (`AUTH_SESSIONS_*`), as a hosted project's operator sets the function's secrets
 * to match the dashboard, so the exchange refuses the sessions the emulator ends.
 *
 * `deno task dev` runs it on Supabase's local ports; tests start it on free ports with one call. With
 * `demoPort`, it also serves the demo page (`demo/`, see `demo/server.ts`) on its own origin.
 *
 * @module
 */
import {
  assertPortFree,
  freePort,
  type PostgresMajor,
  type PostgresServer,
  startPostgres,
  type StartPostgresOptions,
} from "./postgres.ts";
import { hasSupabaseSuperuser, prepareDatabase, urlAs } from "./database.ts";
import {
  type AuthEmulator,
  createAuthEmulator,
  type SigningJwk,
  type SigningKeySet,
} from "./auth_emulator/mod.ts";
import { createGateway, type ProjectKeys } from "./gateway.ts";
import { generateApiKey } from "./api_keys.ts";
import { type AuthConfig, loadAuthConfig, sessionSecrets } from "./auth_config.ts";
import { startMailbox } from "./mailbox/mod.ts";
import { startDemoServer } from "../demo/server.ts";
import { startWatchdog } from "./watchdog.ts";
import { backendJwtSettings, startBackend } from "../examples/backend.ts";
import { missingPoolerPackages, type Pooler, type PoolerMode, startPooler } from "./pooler.ts";
import { startEdgeRuntime } from "./edge_runtime.ts";
import { FUNCTIONS, functionSource, startFunction } from "./function_worker.ts";

/** Options for {@linkcode startStack}. Ports of 0 (the default) are free ones picked at start. */
export interface StackOptions {
  /** The gateway (API_URL) port; `supabase start` uses 54321. */
  apiPort?: number;
  /** The Postgres port; `supabase start` uses 54322. */
  dbPort?: number;
  /** Keep the database and the secrets here between starts; a throwaway stack when omitted. */
  stateDir?: string;
  /** Run the transaction pooler (`dev/pooler.ts`) on this port (0 = a free one); `supabase start` uses 54329. */
  poolerPort?: number;
  /** `transaction`: the function connects through the pooler (started on a free port if need be). */
  dbPooler?: PoolerMode;
  /** Postgres major, 17 by default. */
  major?: PostgresMajor;
  /** Access tokens signed ES256 with a `kid` (default, as new projects) or HS256 (legacy). */
  mode?: "es256" | "hs256";
  /**
   * Confirm emails at sign-up without mail (`AUTO_CONFIRM`); default: the opposite of the Auth config's
   * `enableConfirmations`.
   */
  autoConfirm?: boolean;
  /** Auth settings over those read from `supabase/config.toml` (e.g. `{ enableAnonymousSignIns: true }`). */
  authConfig?: Partial<AuthConfig>;
  /** The mailbox's web page and API (`MAILPIT_URL`); `supabase start` uses 54324. */
  mailboxPort?: number;
  /** The mailbox's SMTP port; the CLI's `[local_smtp] smtp_port` is 54325. */
  mailboxSmtpPort?: number;
  /** `ALLOWED_ORIGINS` of the function (default `*`). */
  allowedOrigins?: string;
  /** Extra environment for the function (e.g. `BACKEND_JWT_TTL_SECONDS`). */
  functionEnv?: Record<string, string>;
  /** The function's wall-clock limit per request, in ms (`dev/edge_runtime.ts`); the runtime's 400 s by default. */
  functionWallClockLimitMs?: number;
  /**
   * The function's `BACKEND_JWT_SECRET`, e.g. the Python service's real one; it wins over the secret saved
   * in `stateDir` (which is kept, not overwritten, for the starts without it).
   */
  backendJwtSecret?: string;
  /** Apply `supabase/seed.sql` (default true). */
  seed?: boolean;
  /** Where the function's log lines and the stack's progress go (default: nowhere). */
  log?: (line: string) => void;
  /** Serve the demo page on this port (0 = a free one), as a frontend dev server would; off when omitted. */
  demoPort?: number;
  /** Run the example FastAPI backend on this port (0 = a free one); off when omitted. */
  backendPort?: number;
  /** `BACKEND_JWT_ALGORITHM`: HS256 (default) or ES256/EdDSA with a key set kept in `stateDir`. */
  backendJwtAlgorithm?: "HS256" | "ES256" | "EdDSA";
}

/** A running local stack and what `supabase status -o env` would print for it. */
export interface LocalStack {
  apiUrl: string;
  /** The database as `postgres` (not a superuser, as on Supabase). */
  dbUrl: string;
  /** The same through the transaction pooler, over TLS, when it runs. */
  poolerUrl?: string;
  /** The transaction pooler, when it runs. */
  pooler?: Pooler;
  /** `PUBLISHABLE_KEY` (`sb_publishable_…`), the key a frontend uses. */
  publishableKey: string;
  /** `SECRET_KEY` (`sb_secret_…`), for servers only. */
  secretKey: string;
  /** `ANON_KEY`, the legacy anon JWT (deprecated in `supabase status`, still accepted). */
  anonKey: string;
  /** `SERVICE_ROLE_KEY`, the legacy service_role JWT (deprecated, still accepted). */
  serviceRoleKey: string;
  jwtSecret: string;
  backendJwtSecret: string;
  /** The function's own address (behind the gateway), e.g. for load tests that skip the gateway. */
  functionUrl: string;
  /**
   * The process id of the function's worker booted last (for memory readings): a new one once a request
   * has booted the function again after a crash.
   */
  readonly functionPid: number;
  /** The environment the function runs with (to start another instance, e.g. for a cold start). */
  functionEnv: Record<string, string>;
  auth: AuthEmulator;
  postgres: PostgresServer;
  /** The mailbox's web page and Mailpit API, e.g. `http://127.0.0.1:54324`. */
  mailboxUrl: string;
  /** The demo page's URL (e.g. `http://127.0.0.1:5173/`) when `demoPort` was set. */
  demoUrl?: string;
  /** The example backend's URL (e.g. `http://127.0.0.1:8000`) when it runs. */
  backendUrl?: string;
  /**
   * The variables, in `supabase status -o env` names (`PUBLISHABLE_KEY`, `SECRET_KEY`, `MAILPIT_URL`, and the
   * deprecated `ANON_KEY`, `SERVICE_ROLE_KEY`, `JWT_SECRET`, `INBUCKET_URL`), plus `BACKEND_JWT_SECRET`.
   */
  env(): Record<string, string>;
  /** Stops everything, in reverse order. */
  stop(): Promise<void>;
}

interface Secrets {
  jwtSecret: string;
  backendJwtSecret: string;
  publishableKey: string;
  secretKey: string;
  /** Auth's ES256 keys by state, kept across rotations. */
  signingKeys?: SigningKeySet;
  /** The one ES256 key a state directory from before key rotation kept; read, never written. */
  signingKey?: SigningJwk;
}

/**
 * Starts the whole stack and resolves once the function answers.
 *
 * @param options Ports, persistence, token mode and the function's settings.
 * @returns The running stack.
 * @throws {Error} When a port is taken or a part fails to start.
 * @example
 * ```ts ignore
 * const stack = await startStack();
 * const supabase = createClient(stack.apiUrl, stack.publishableKey);
 * await stack.stop();
 * ```
 */
export async function startStack(options: StackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const apiPort = options.apiPort || freePort();
  if (options.apiPort) assertPortFree(options.apiPort, "API gateway");
  if (options.demoPort) assertPortFree(options.demoPort, "demo page");
  if (options.mailboxPort) assertPortFree(options.mailboxPort, "mailbox");
  if (options.mailboxSmtpPort) assertPortFree(options.mailboxSmtpPort, "mailbox SMTP");
  if (options.backendPort) assertPortFree(options.backendPort, "example backend");
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  // If this process dies without stop(), the watchdog stops the function and Postgres for it.
  const watchdog = startWatchdog();
  const stopping: Array<() => Promise<unknown>> = [() => watchdog.close()];
  const stop = async () => {
    for (const step of stopping.reverse()) await step().catch(() => {});
  };

  try {
    if (options.stateDir) await Deno.mkdir(options.stateDir, { recursive: true });
    const saved = await loadSecrets(options.stateDir);
    const secrets = {
      ...saved.secrets,
      backendJwtSecret: options.backendJwtSecret ?? saved.secrets.backendJwtSecret,
    };
    log(`BACKEND_JWT_SECRET ${options.backendJwtSecret ? "from the environment" : saved.source}`);
    const { signingKey: _single, ...kept } = saved.secrets;
    const persistSigningKeys = async (signingKeys: SigningKeySet | undefined) => {
      if (options.stateDir) await saveSecrets(options.stateDir, { ...kept, signingKeys });
    };

    const postgresOptions = { major: options.major, port: options.dbPort, watchdog };
    const postgres = options.stateDir
      ? await startKeptPostgres({ ...postgresOptions, dataDir: `${options.stateDir}/postgres` }, log)
      : await startPostgres(postgresOptions);
    stopping.push(() => postgres.stop());
    log(`Postgres ${postgres.major} on port ${postgres.port}`);
    const dbUrl = await prepareDatabase(postgres.url, { seed: options.seed ?? true });
    log("Supabase stand-in, migrations and seed applied (supabase db push as postgres)");

    const config = { ...await loadAuthConfig(undefined, Deno.env.toObject()), ...options.authConfig };
    const mailbox = await startMailbox({
      port: options.mailboxPort,
      smtpPort: options.mailboxSmtpPort,
      log,
    });
    stopping.push(() => mailbox.stop());
    log(`mailbox on ${mailbox.url} (SMTP on port ${mailbox.smtp.port})`);

    const autoConfirm = options.autoConfirm ?? !config.enableConfirmations;

    let pooler: Pooler | undefined;
    // A pooler nobody asked for (only a port to run it on) is skipped, in one line, where PgBouncer is missing.
    const poolerMissing = options.poolerPort !== undefined && !options.dbPooler
      ? await missingPoolerPackages()
      : null;
    if (poolerMissing) log(poolerMissing);
    else if (options.poolerPort !== undefined || options.dbPooler) {
      pooler = await startPooler({ serverUrl: postgres.url, port: options.poolerPort, watchdog });
      stopping.push(() => pooler!.stop());
      log(`Pooler (PgBouncer, transaction mode, TLS) on port ${pooler.port}`);
    }
    const poolerUrl = pooler?.urlFor(dbUrl);

    const auth = await createAuthEmulator({
      url: apiUrl,
      // GoTrue connects as the owner of the auth schema's tables.
      databaseUrl: urlAs(postgres.url, "supabase_auth_admin"),
      mode: options.mode ?? "es256",
      jwtSecret: secrets.jwtSecret,
      signingKeys: secrets.signingKeys ??
        (secrets.signingKey ? { inUse: secrets.signingKey, previouslyUsed: [] } : undefined),
      // A rotation or revocation (`/auth/v1/_emulator/signing-keys`) outlives a restart.
      onSigningKeysChange: (signingKeys) => persistSigningKeys(signingKeys),
      autoConfirm,
      // As `supabase start`: the project's SMTP server when configured, else the local mailbox.
      smtp: config.smtp ?? { ...mailbox.smtp, ...config.sender },
      siteUrl: config.siteUrl,
      redirectUrls: config.additionalRedirectUrls,
      secureEmailChange: config.doubleConfirmChanges,
      anonymousSignIns: config.enableAnonymousSignIns,
      maxFrequencySeconds: config.maxFrequencySeconds,
      otpLength: config.otpLength,
      otpExpirySeconds: config.otpExpirySeconds,
      refreshTokenReuseIntervalSeconds: config.refreshTokenReuseIntervalSeconds,
      refreshTokenRotation: config.enableRefreshTokenRotation,
      sessionLimits: config.sessions,
    });
    stopping.push(() => auth.stop());
    log(
      `Auth: email confirmations ${autoConfirm ? "off" : "on, by mail"} (${
        options.autoConfirm === undefined ? "[auth.email] enable_confirmations" : "AUTO_CONFIRM"
      })`,
    );
    if (autoConfirm) {
      // The function reads the same from Auth's /settings and logs it once; the banner says it up front.
      log(
        "Auth autoconfirms: an address proves nothing, so the exchange's invitation and domain provisioning " +
          "are off and its email claim is null (load tests only; keep confirmations on otherwise)",
      );
    }
    const limits = sessionSecrets(config.sessions);
    log(
      `Auth and the function: sessions timebox ${limits.AUTH_SESSIONS_TIMEBOX || "off"}, inactivity timeout ${
        limits.AUTH_SESSIONS_INACTIVITY_TIMEOUT || "off"
      } ([auth.sessions]), single per user ${limits.AUTH_SESSIONS_SINGLE_PER_USER} (AUTH_SESSIONS_SINGLE_PER_USER)`,
    );
    await persistSigningKeys(auth.signingKeys);

    const keys: ProjectKeys = {
      publishable: secrets.publishableKey,
      secret: secrets.secretKey,
      anon: auth.anonKey,
      serviceRole: auth.serviceRoleKey,
    };
    const functionPort = freePort();
    const functionEnv = {
      ...supabaseFunctionEnv(apiUrl, dbUrl, keys, auth.jwks),
      BACKEND_JWT_SECRET: secrets.backendJwtSecret,
      ALLOWED_ORIGINS: options.allowedOrigins ?? "*",
      ...limits,
      ...(await backendJwtSettings(options.stateDir, options.backendJwtAlgorithm)),
      // As a project behind Supavisor set up per the README; the mode is named, the port is not 6543.
      ...(options.dbPooler ? { TENANCY_DB_URL: poolerUrl!, TENANCY_DB_POOL_MODE: options.dbPooler } : {}),
      ...options.functionEnv,
    };
    // The backend allows the demo's origin, and the demo calls the backend: pick the demo's port first.
    const demoPort = options.demoPort === 0 ? freePort() : options.demoPort;
    // Started alongside the function but stopped after it: a stop that takes its time (uvicorn's) must not
    // hold up the function's.
    const backendStart = options.backendPort === undefined ? undefined : startBackend({
      port: options.backendPort || freePort(),
      apiUrl,
      functionEnv,
      allowedOrigin: demoPort ? `http://127.0.0.1:${demoPort}` : undefined,
      log: options.log,
      watchdog,
    });
    backendStart?.catch(() => {}); // awaited below; a failure there ends startStack
    stopping.push(async () => (await backendStart?.catch(() => undefined))?.stop());
    // The Edge runtime's part, for each function: boot it, boot it again after a crash, answer for it when it
    // cannot. The management functions' invitation links land on the demo page when it runs (docs/tenants.md).
    const managementEnv = demoPort
      ? { INVITE_REDIRECT_URL: `http://127.0.0.1:${demoPort}/`, ...functionEnv }
      : functionEnv;
    const runtimes = FUNCTIONS.map((name) => {
      const exchange = name === "exchange-token";
      const port = exchange ? functionPort : freePort();
      const runtime = startEdgeRuntime({
        port,
        boot: (bootPort) =>
          startFunction(
            bootPort,
            exchange ? functionEnv : managementEnv,
            options.log,
            watchdog,
            functionSource(name),
          ),
        wallClockLimitMs: options.functionWallClockLimitMs,
        log: options.log,
      });
      stopping.push(() => runtime.stop());
      return { name, port, runtime };
    });
    const runtime = runtimes[0].runtime;

    const gateway = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: apiPort,
        onListen: () => {},
      },
      createGateway({
        auth: auth.handler,
        functions: Object.fromEntries(runtimes.map(({ name, runtime }) => [name, runtime.fetch])),
        keys,
      }),
    );
    stopping.push(() => gateway.shutdown());

    // Booted now, not at the first request as the runtime does, so that a function that cannot boot fails
    // the start.
    for (const { name, port, runtime } of runtimes) {
      await runtime.boot();
      log(`${name} function on port ${port}`);
    }

    const backend = await backendStart;
    if (backend) log(`example backend on ${backend.url}`);

    let demoUrl: string | undefined;
    if (demoPort !== undefined) {
      const demo = await startDemoServer({
        apiUrl,
        publishableKey: keys.publishable,
        port: demoPort,
        backendUrl: backend?.url,
      });
      stopping.push(() => demo.stop());
      demoUrl = demo.url;
      log(`demo page on ${demo.url}`);
    }

    const stack: LocalStack = {
      apiUrl,
      dbUrl,
      poolerUrl,
      pooler,
      publishableKey: keys.publishable,
      secretKey: keys.secret,
      anonKey: keys.anon,
      serviceRoleKey: keys.serviceRole,
      jwtSecret: secrets.jwtSecret,
      backendJwtSecret: secrets.backendJwtSecret,
      functionUrl: `http://127.0.0.1:${functionPort}/exchange-token`,
      get functionPid() {
        return runtime.pid!;
      },
      functionEnv,
      auth,
      postgres,
      mailboxUrl: mailbox.url,
      demoUrl,
      backendUrl: backend?.url,
      env: () => ({
        API_URL: apiUrl,
        FUNCTIONS_URL: `${apiUrl}/functions/v1`,
        DB_URL: dbUrl,
        ...(poolerUrl ? { POOLER_URL: poolerUrl } : {}),
        PUBLISHABLE_KEY: keys.publishable,
        SECRET_KEY: keys.secret,
        JWT_SECRET: secrets.jwtSecret,
        ANON_KEY: keys.anon,
        SERVICE_ROLE_KEY: keys.serviceRole,
        MAILPIT_URL: mailbox.url,
        // `supabase status -o env` still prints Inbucket's name for the mail catcher (deprecated).
        INBUCKET_URL: mailbox.url,
        BACKEND_JWT_SECRET: secrets.backendJwtSecret,
        ...(backend ? { BACKEND_URL: backend.url } : {}),
      }),
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The `SUPABASE_*` environment `supabase functions serve` gives a function (supabase/cli
 * `internal/functions/serve/serve.go` and `templates/main.ts`), with the gateway's URL as `SUPABASE_URL`
 * where the CLI gives its Docker-internal `http://kong:8000`.
 *
 * @param apiUrl The gateway's URL.
 * @param dbUrl The database, as `postgres`.
 * @param keys The project's keys.
 * @param jwks Auth's public JWKS (`{ keys: [] }` in hs256 mode).
 * @returns `SUPABASE_URL`, `SUPABASE_ANON_KEY`, `SUPABASE_SERVICE_ROLE_KEY`, `SUPABASE_DB_URL`,
 *   `SUPABASE_JWKS`, and `SUPABASE_PUBLISHABLE_KEYS` and `SUPABASE_SECRET_KEYS` as `{"default":"sb_…"}`.
 */
function supabaseFunctionEnv(
  apiUrl: string,
  dbUrl: string,
  keys: ProjectKeys,
  jwks: { keys: unknown[] },
): Record<string, string> {
  return {
    SUPABASE_URL: apiUrl,
    SUPABASE_ANON_KEY: keys.anon,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRole,
    SUPABASE_DB_URL: dbUrl,
    SUPABASE_JWKS: JSON.stringify(jwks),
    SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: keys.publishable }),
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secret }),
  };
}

/**
 * Starts Postgres on a kept data directory. One made before `supabase_admin` was the superuser (when
 * `postgres` was) would run everything as a superuser, so it is rebuilt, never half-used.
 */
async function startKeptPostgres(
  options: StartPostgresOptions & { dataDir: string },
  log: (line: string) => void,
): Promise<PostgresServer> {
  const server = await startPostgres(options);
  if (await hasSupabaseSuperuser(server.url)) return server;
  await server.stop();
  log(`${options.dataDir} predates the supabase_admin superuser (postgres was one there): rebuilding it`);
  await Deno.remove(options.dataDir, { recursive: true });
  return await startPostgres(options);
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** The secrets saved in `stateDir` (or new ones), and where they came from, for the start's log. */
async function loadSecrets(stateDir?: string): Promise<{ secrets: Secrets; source: string }> {
  const fresh = (): Secrets => ({
    jwtSecret: randomSecret(),
    backendJwtSecret: randomSecret(),
    publishableKey: generateApiKey("publishable"),
    secretKey: generateApiKey("secret"),
  });
  if (stateDir) {
    try {
      const saved: Partial<Secrets> = JSON.parse(await Deno.readTextFile(`${stateDir}/secrets.json`));
      // A state directory from before the opaque keys gets them now, and keeps the rest.
      return { secrets: { ...fresh(), ...saved }, source: `saved in ${stateDir}/secrets.json` };
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return {
    secrets: fresh(),
    source: stateDir ? `generated, saved in ${stateDir}/secrets.json` : "generated",
  };
}

async function saveSecrets(stateDir: string, secrets: Secrets) {
  await Deno.writeTextFile(`${stateDir}/secrets.json`, JSON.stringify(secrets, null, 2), { mode: 0o600 });
}
