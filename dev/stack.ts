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
  type PostgresMajor,
  type PostgresServer,
  startPostgres,
  type StartPostgresOptions,
} from "./postgres.ts";
import { createStandInDatabase, hasSupabaseSuperuser, prepareDatabase, urlAs } from "./database.ts";
import {
  type AuthEmulator,
  createAuthEmulator,
  type SigningJwk,
  type SigningKeySet,
} from "./auth_emulator/mod.ts";
import { createGateway, type ProjectKeys, unreachableUpstream } from "./gateway.ts";
import { generateApiKey } from "./api_keys.ts";
import { type AuthConfig, loadAuthConfig, sessionSecrets } from "./auth_config.ts";
import { type Mailbox, startMailbox } from "./mailbox/mod.ts";
import { type DemoConfig, type DemoListener, listenDemoServer } from "../demo/server.ts";
import { startWatchdog, type Watchdog } from "./watchdog.ts";
import { backendJwtSettings, type ExampleBackend, startBackend } from "../examples/backend.ts";
import { missingPoolerPackages, type Pooler, type PoolerMode, startPooler } from "./pooler.ts";
import { startEdgeRuntime } from "./edge_runtime.ts";
import { FUNCTIONS, functionSource, startFunction } from "./function_worker.ts";
import { parseEdgeDenoVersion } from "./edge_deno.ts";
import { assertPortFree, portError } from "./ports.ts";

/**
 * Options for {@linkcode startStack}. Ports of 0 (the default) are free ones, bound at start; the stack
 * reports the ports it got ({@linkcode LocalStack}).
 */
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
  /**
   * `ALLOWED_ORIGINS` of the function (default `*`); or, with `demoPort`, a function of the demo page's
   * origin (`(demoOrigin) => demoOrigin` allows that page alone, on whichever port it got).
   */
  allowedOrigins?: string | ((demoOrigin: string) => string);
  /** Extra environment for the function (e.g. `BACKEND_JWT_TTL_SECONDS`). */
  functionEnv?: Record<string, string>;
  /** The function's wall-clock limit per request, in ms (`dev/edge_runtime.ts`); the runtime's 400 s by default. */
  functionWallClockLimitMs?: number;
  /**
   * How many workers (isolates on the platform) serve each function at once, each with its own pool of
   * database connections (`EDGE_WORKERS_PER_FUNCTION`); 1 by default. Requests go to them in turn.
   */
  functionWorkers?: number;
  /**
   * Postgres's `max_connections` (its default is 100), e.g. lowered below workers × pool size to see what a
   * project's connection limit does to many isolates.
   */
  dbMaxConnections?: number;
  /**
   * The Deno version the functions' workers run on (`dev/edge_deno.ts`); default: `EDGE_DENO_VERSION` from the
   * environment, else the one the Edge runtime is compatible with, 2.1.4.
   */
  edgeDenoVersion?: string;
  /**
   * The function's `BACKEND_JWT_SECRET`, e.g. the Python service's real one; it wins over the secret saved
   * in `stateDir` (which is kept, not overwritten, for the starts without it).
   */
  backendJwtSecret?: string;
  /** Apply `supabase/seed.sql` (default true). */
  seed?: boolean;
  /**
   * Run Auth and the functions on this database instead of `postgres`: created when missing with the
   * Supabase stand-in only (`createStandInDatabase` in `dev/database.ts`), for another project's
   * `supabase db push --db-url`; this repository's migrations and seed are not applied.
   */
  database?: string;
  /** Serve the functions of the project at this folder (its `supabase/functions/`); this checkout by default. */
  projectRoot?: URL;
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
  /**
   * The function's own address (behind the gateway), e.g. for load tests that skip the gateway: its first
   * worker's, when several serve it.
   */
  readonly functionUrl: string;
  /**
   * The process id of the function's worker booted last (for memory readings): a new one once a request
   * has booted the function again after a crash.
   */
  readonly functionPid: number;
  /**
   * How many workers of `exchange-token` have booted: a new one after a crash, a limit, or a retirement at
   * the CPU soft limit (`dev/edge_runtime.ts`), each with caches of its own.
   */
  readonly functionBoots: number;
  /** The process ids of `exchange-token`'s workers booted last, one per worker (`functionWorkers`). */
  readonly functionPids: ReadonlyArray<number | undefined>;
  /** The environment the function runs with (to start another instance, e.g. for a cold start). */
  functionEnv: Record<string, string>;
  /** The Deno version the functions' workers run on, e.g. `2.1.4`. */
  edgeDenoVersion: string;
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
  /** Stops one part and starts it again while the rest runs on, for `deno task chaos` (bench/chaos.ts). */
  faults: StackFaults;
  /** Stops everything, in reverse order. */
  stop(): Promise<void>;
}

/**
 * A part of the stack {@linkcode StackFaults} can stop: Postgres (its data kept), the pooler (PgBouncer, when
 * it runs), Auth (the gateway then answers its routes as Kong does for an unreachable upstream), or the
 * mailbox's SMTP server.
 */
export type StackPart = "postgres" | "pooler" | "auth" | "smtp";

/** Stops and starts the stack's parts one at a time, as outages do. */
export interface StackFaults {
  /** Stops the part; the others keep running. */
  stop(part: StackPart): Promise<void>;
  /** Starts a stopped part again, on the same port with the same data. */
  start(part: StackPart): Promise<void>;
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
 * It starts in phases, each a function below that starts its part and puts the part's stop on the stack's
 * list at once, so that a failure midway stops exactly what had started, in reverse order: the gateway's
 * and the demo page's ports (bound first, see {@linkcode bindPorts}), the secrets, the database, the
 * mailbox, the pooler, Auth, the example backend (alongside the functions, stopped after them), the
 * functions, the gateway's routes, the demo page.
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
  // Ports asked for of the parts that bind later: a clear error now, before Postgres starts.
  if (options.mailboxPort) assertPortFree(options.mailboxPort, "mailbox");
  if (options.mailboxSmtpPort) assertPortFree(options.mailboxSmtpPort, "mailbox SMTP");
  if (options.backendPort) assertPortFree(options.backendPort, "example backend");
  // If this process dies without stop(), the watchdog stops the function and Postgres for it.
  const watchdog = startWatchdog();
  const stops = new Stops();
  stops.push(() => watchdog.close());
  const start: Start = { options, log, watchdog, stops };

  try {
    const ports = bindPorts(start);
    const { secrets, persistSigningKeys } = await loadStackSecrets(start);
    const { postgres, dbUrl, superuserUrl } = await startDatabase(start);
    const config = { ...await loadAuthConfig(undefined, Deno.env.toObject()), ...options.authConfig };
    const mailbox = await startMailboxPart(start);
    const { pooler, poolerUrl } = await startPoolerPart(start, postgres, dbUrl);
    const { auth, keys, limits } = await startAuth(start, {
      apiUrl: ports.apiUrl,
      superuserUrl,
      secrets,
      config,
      mailbox,
      persistSigningKeys,
    });
    const functionEnv = {
      ...supabaseFunctionEnv(ports.apiUrl, dbUrl, keys, auth.jwks),
      BACKEND_JWT_SECRET: secrets.backendJwtSecret,
      ALLOWED_ORIGINS: functionOrigins(options, ports.demo),
      ...limits,
      ...(await backendJwtSettings(options.stateDir, options.backendJwtAlgorithm)),
      // As a project behind Supavisor set up per the README; the mode is named, the port is not 6543.
      ...(options.dbPooler ? { TENANCY_DB_URL: poolerUrl!, TENANCY_DB_POOL_MODE: options.dbPooler } : {}),
      ...options.functionEnv,
    };
    const backendStart = startBackendPart(start, ports, functionEnv);
    const edgeDenoVersion = options.edgeDenoVersion ??
      parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION"));
    const runtimes = await startFunctions(start, functionEnv, ports.demo, edgeDenoVersion);
    let authUp = true;
    ports.routeGateway(createGateway({
      auth: (req) => authUp ? auth.handler(req) : Promise.resolve(unreachableUpstream()),
      functions: Object.fromEntries(runtimes.map(({ name, runtime }) => [name, runtime.fetch])),
      keys,
    }));
    const backend = await backendStart;
    if (backend) log(`example backend on ${backend.url}`);
    const demoUrl = await serveDemoPage(start, ports.demo, {
      apiUrl: ports.apiUrl,
      publishableKey: keys.publishable,
      backendUrl: backend?.url,
      mailboxUrl: mailbox.url,
    });

    const { apiUrl } = ports;
    const runtime = runtimes[0].runtime;
    return {
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
      get functionUrl() {
        return `${runtime.url}/exchange-token`;
      },
      get functionPid() {
        return runtime.pid!;
      },
      get functionBoots() {
        return runtime.boots;
      },
      get functionPids() {
        return runtime.pids;
      },
      functionEnv,
      edgeDenoVersion,
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
      faults: {
        async stop(part) {
          if (part === "postgres") await postgres.stop({ keepData: true });
          else if (part === "pooler") await requirePooler(pooler).pause();
          else if (part === "auth") authUp = false;
          else await mailbox.stopSmtp();
        },
        async start(part) {
          if (part === "postgres") await postgres.start();
          else if (part === "pooler") await requirePooler(pooler).resume();
          else if (part === "auth") authUp = true;
          else await mailbox.startSmtp();
        },
      },
      stop: () => stops.stopAll(),
    };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}

/** The pooler, for a fault in it: a stack started without one has none to stop. */
function requirePooler(pooler: Pooler | undefined): Pooler {
  if (!pooler) throw new Error("this stack runs no pooler (start it with dbPooler or poolerPort)");
  return pooler;
}

/** The stack's stops, in the order their parts started. */
class Stops {
  #steps: Array<() => Promise<unknown>> = [];

  /** Adds the stop of a part that has just started. */
  push(step: () => Promise<unknown>): void {
    this.#steps.push(step);
  }

  /** Runs every stop, the last started first; a stop that fails does not hold up the others. */
  async stopAll(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) await step().catch(() => {});
  }
}

/** What every phase of {@linkcode startStack} gets. */
interface Start {
  options: StackOptions;
  log: (line: string) => void;
  watchdog: Watchdog;
  /** Where each phase puts the stop of what it started. */
  stops: Stops;
}

/** The ports bound before anything else starts (see {@linkcode bindPorts}). */
interface BoundPorts {
  /** The gateway's URL, e.g. `http://127.0.0.1:54321`. */
  apiUrl: string;
  /** Routes the gateway's requests to `handler`; until then it answers 503. */
  routeGateway(handler: (req: Request) => Promise<Response>): void;
  /** The demo page's server, bound, when `demoPort` was set. */
  demo?: DemoListener;
}

/**
 * Phase 1, the ports: binds the gateway's port (Auth's issuer and the functions' `SUPABASE_URL` name it)
 * and the demo page's (the example backend allows its origin, the invitation links land on it) before
 * anything else starts, on the ports asked for or on port 0, and keeps the listeners: each port is the one
 * the stack reports, never one probed and bound later. Both answer 503 until their part is ready.
 */
function bindPorts({ options, stops }: Start): BoundPorts {
  let handler: (req: Request) => Promise<Response> = () =>
    Promise.resolve(new Response(null, { status: 503 }));
  let gateway: Deno.HttpServer<Deno.NetAddr>;
  try {
    gateway = Deno.serve(
      { hostname: "127.0.0.1", port: options.apiPort || 0, onListen: () => {} },
      (req) => handler(req),
    );
  } catch (err) {
    throw portError(err, options.apiPort!, "API gateway");
  }
  stops.push(() => gateway.shutdown());
  let demo: DemoListener | undefined;
  if (options.demoPort !== undefined) {
    demo = listenDemoServer({ port: options.demoPort });
    stops.push(() => demo!.stop());
  }
  return {
    apiUrl: `http://127.0.0.1:${gateway.addr.port}`,
    routeGateway: (route) => handler = route,
    demo,
  };
}

/**
 * Phase 2, the secrets: those kept in `stateDir` (new ones otherwise), with `backendJwtSecret` over the
 * saved one; and how to keep Auth's signing keys there.
 */
async function loadStackSecrets({ options, log }: Start) {
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
  return { secrets, persistSigningKeys };
}

/**
 * Phase 3, the database: Postgres (kept in `stateDir`, or throwaway), the stand-in, the migrations, the seed;
 * or, with `database`, that database with the stand-in alone.
 */
async function startDatabase({ options, log, watchdog, stops }: Start) {
  const flags = options.dbMaxConnections ? ["-c", `max_connections=${options.dbMaxConnections}`] : [];
  const postgresOptions = { major: options.major, port: options.dbPort, watchdog, flags };
  const postgres = options.stateDir
    ? await startKeptPostgres({ ...postgresOptions, dataDir: `${options.stateDir}/postgres` }, log)
    : await startPostgres(postgresOptions);
  stops.push(() => postgres.stop());
  log(
    `Postgres ${postgres.major} on port ${postgres.port}${
      options.dbMaxConnections ? ` (max_connections ${options.dbMaxConnections})` : ""
    }`,
  );
  if (options.database) {
    const superuserUrl = await createStandInDatabase(postgres.url, options.database);
    log(`Database ${options.database}: the Supabase stand-in only; push your migrations to DB_URL`);
    return { postgres, dbUrl: urlAs(superuserUrl, "postgres"), superuserUrl };
  }
  const dbUrl = await prepareDatabase(postgres.url, { seed: options.seed ?? true });
  log("Supabase stand-in, migrations and seed applied (supabase db push as postgres)");
  return { postgres, dbUrl, superuserUrl: postgres.url };
}

/** Phase 4, the mailbox: its web page and API, and its SMTP side, on the ports asked for or on port 0. */
async function startMailboxPart({ options, log, stops }: Start): Promise<Mailbox> {
  const mailbox = await startMailbox({ port: options.mailboxPort, smtpPort: options.mailboxSmtpPort, log });
  stops.push(() => mailbox.stop());
  log(`mailbox on ${mailbox.url} (SMTP on port ${mailbox.smtp.port})`);
  return mailbox;
}

/**
 * Phase 5, the transaction pooler, when asked for (`poolerPort`, or `dbPooler` on a free port). One asked for
 * by a port only is skipped, in one line, where PgBouncer is missing.
 */
async function startPoolerPart(
  { options, log, watchdog, stops }: Start,
  postgres: PostgresServer,
  dbUrl: string,
) {
  const missing = options.poolerPort !== undefined && !options.dbPooler
    ? await missingPoolerPackages()
    : null;
  if (missing) log(missing);
  if (missing || (options.poolerPort === undefined && !options.dbPooler)) return {};
  const pooler = await startPooler({ serverUrl: postgres.url, port: options.poolerPort, watchdog });
  stops.push(() => pooler.stop());
  log(`Pooler (PgBouncer, transaction mode, TLS) on port ${pooler.port}`);
  return { pooler, poolerUrl: pooler.urlFor(dbUrl) };
}

/**
 * Phase 6, Auth: the emulator, set up from the Auth config as `supabase start` sets up Supabase Auth, served
 * by the gateway; the project's keys; the session limits the functions get as settings.
 */
async function startAuth(
  { options, log, stops }: Start,
  parts: {
    apiUrl: string;
    /** The database's URL as the superuser. */
    superuserUrl: string;
    secrets: Secrets;
    config: AuthConfig;
    mailbox: Mailbox;
    persistSigningKeys: (signingKeys: SigningKeySet | undefined) => Promise<void>;
  },
) {
  const { secrets, config } = parts;
  const autoConfirm = options.autoConfirm ?? !config.enableConfirmations;
  const auth = await createAuthEmulator({
    url: parts.apiUrl,
    // GoTrue connects as the owner of the auth schema's tables.
    databaseUrl: urlAs(parts.superuserUrl, "supabase_auth_admin"),
    mode: options.mode ?? "es256",
    jwtSecret: secrets.jwtSecret,
    signingKeys: secrets.signingKeys ??
      (secrets.signingKey ? { inUse: secrets.signingKey, previouslyUsed: [] } : undefined),
    // A rotation or revocation (`/auth/v1/_emulator/signing-keys`) outlives a restart.
    onSigningKeysChange: (signingKeys) => parts.persistSigningKeys(signingKeys),
    autoConfirm,
    // As `supabase start`: the project's SMTP server when configured, else the local mailbox.
    smtp: config.smtp ?? { ...parts.mailbox.smtp, ...config.sender },
    siteUrl: config.siteUrl,
    redirectUrls: config.additionalRedirectUrls,
    secureEmailChange: config.doubleConfirmChanges,
    anonymousSignIns: config.enableAnonymousSignIns,
    features: {
      signup: config.enableSignup,
      emailProvider: config.emailEnableSignup,
      totpEnroll: config.totp.enrollEnabled,
      totpVerify: config.totp.verifyEnabled,
      securePasswordChange: config.securePasswordChange,
      manualLinking: config.enableManualLinking,
    },
    maxFrequencySeconds: config.maxFrequencySeconds,
    otpLength: config.otpLength,
    otpExpirySeconds: config.otpExpirySeconds,
    refreshTokenReuseIntervalSeconds: config.refreshTokenReuseIntervalSeconds,
    refreshTokenRotation: config.enableRefreshTokenRotation,
    sessionLimits: config.sessions,
    webAuthn: config.webAuthn,
  });
  stops.push(() => auth.stop());
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
  await parts.persistSigningKeys(auth.signingKeys);
  const keys: ProjectKeys = {
    publishable: secrets.publishableKey,
    secret: secrets.secretKey,
    anon: auth.anonKey,
    serviceRole: auth.serviceRoleKey,
  };
  return { auth, keys, limits };
}

/** The function's `ALLOWED_ORIGINS`: as asked for (`*` by default), or made from the demo page's origin. */
function functionOrigins(options: StackOptions, demo: DemoListener | undefined): string {
  const { allowedOrigins } = options;
  if (typeof allowedOrigins !== "function") return allowedOrigins ?? "*";
  if (!demo) {
    throw new Error("allowedOrigins as a function needs demoPort: it is given the demo page's origin");
  }
  return allowedOrigins(demo.origin);
}

/**
 * Phase 7, the example backend, when asked for (`backendPort`): started alongside the functions (its
 * start is returned, not awaited; a failure ends the stack's start where it is awaited), and stopped after
 * them, so that its slow stop (uvicorn's) does not hold up theirs. It allows the demo page's origin.
 */
function startBackendPart(
  { options, watchdog, stops }: Start,
  ports: BoundPorts,
  functionEnv: Record<string, string>,
): Promise<ExampleBackend | undefined> {
  if (options.backendPort === undefined) return Promise.resolve(undefined);
  const backendStart = startBackend({
    port: options.backendPort,
    apiUrl: ports.apiUrl,
    functionEnv,
    allowedOrigin: ports.demo?.origin,
    log: options.log,
    watchdog,
  });
  backendStart.catch(() => {}); // awaited by startStack; a failure there ends the start
  stops.push(async () => (await backendStart.catch(() => undefined))?.stop());
  return backendStart;
}

/**
 * Phase 8, the functions: for each of {@linkcode FUNCTIONS}, the Edge runtime's part (boot it, boot it again
 * after a crash, answer for it when it cannot), booted now rather than at the first request as the runtime
 * does, so that a function that cannot boot fails the start. Each worker port is reserved by its runtime
 * (`dev/edge_runtime.ts`). The management functions' invitation links land on the demo page when it runs
 * (docs/tenants.md).
 */
async function startFunctions(
  { options, log, watchdog, stops }: Start,
  functionEnv: Record<string, string>,
  demo: DemoListener | undefined,
  denoVersion: string,
) {
  // As `supabase functions serve` prints "Using supabase-edge-runtime-1.70.0 (compatible with Deno v2.1.4)".
  log(`Using the Edge runtime stand-in (compatible with Deno v${denoVersion})`);
  const managementEnv = demo ? { INVITE_REDIRECT_URL: demo.url, ...functionEnv } : functionEnv;
  const runtimes = FUNCTIONS.map((name) => {
    const env = name === "exchange-token" ? functionEnv : managementEnv;
    const runtime = startEdgeRuntime({
      boot: (port) =>
        startFunction(port, env, {
          log: options.log,
          watchdog,
          fn: functionSource(name, options.projectRoot),
          denoVersion,
        }),
      wallClockLimitMs: options.functionWallClockLimitMs,
      workers: options.functionWorkers,
      log: options.log,
    });
    stops.push(() => runtime.stop());
    return { name, runtime };
  });
  for (const { name, runtime } of runtimes) {
    await runtime.boot();
    log(
      runtime.workers === 1
        ? `${name} function on port ${runtime.port}`
        : `${name} function: ${runtime.workers} workers, on ports ${runtime.ports.join(", ")}`,
    );
  }
  return runtimes;
}

/** Phase 9, the demo page, when asked for: rendered with the API URL, the key and the backend, on its port. */
async function serveDemoPage(
  { log }: Start,
  demo: DemoListener | undefined,
  config: DemoConfig,
): Promise<string | undefined> {
  if (!demo) return undefined;
  await demo.serve(config);
  log(`demo page on ${demo.url}`);
  return demo.url;
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
