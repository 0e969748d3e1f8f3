/**
 * The local Supabase stack, without Docker: embedded Postgres with the Supabase stand-in, our migrations
 * and the seed; the Auth emulator; the `exchange-token` function in its own Deno process (standing in for
 * the Edge runtime, with the environment Supabase injects); and one gateway port in front of them, as
 * `supabase start` + `supabase functions serve` lay them out.
 *
 * `deno task dev` runs it on Supabase's local ports; tests start it on free ports with one call. With
 * `demoPort`, it also serves the demo page (`demo/`, see `dev/demo_server.ts`) on its own origin.
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
import { type AuthEmulator, createAuthEmulator } from "./auth_emulator/mod.ts";
import { createGateway, type ProjectKeys } from "./gateway.ts";
import { generateApiKey } from "./api_keys.ts";
import { startDemoServer } from "./demo_server.ts";
import { startWatchdog, type Watchdog } from "./watchdog.ts";

const ROOT = new URL("../", import.meta.url);
const FUNCTION_ENTRY = new URL("supabase/functions/exchange-token/index.ts", ROOT);
const FUNCTION_CONFIG = new URL("supabase/functions/exchange-token/deno.json", ROOT);
/** The Edge runtime's per-worker memory limit in `supabase functions serve` (MiB). */
const EDGE_MEMORY_LIMIT_MIB = 150;

/** Options for {@linkcode startStack}. Ports of 0 (the default) are free ones picked at start. */
export interface StackOptions {
  /** The gateway (API_URL) port; `supabase start` uses 54321. */
  apiPort?: number;
  /** The Postgres port; `supabase start` uses 54322. */
  dbPort?: number;
  /** Keep the database and the secrets here between starts; a throwaway stack when omitted. */
  stateDir?: string;
  /** Postgres major, 17 by default. */
  major?: PostgresMajor;
  /** Access tokens signed ES256 with a `kid` (default, as new projects) or HS256 (legacy). */
  mode?: "es256" | "hs256";
  /** Confirm emails at sign-up (default true). */
  autoConfirm?: boolean;
  /** `ALLOWED_ORIGINS` of the function (default `*`). */
  allowedOrigins?: string;
  /** Extra environment for the function (e.g. `BACKEND_JWT_TTL_SECONDS`). */
  functionEnv?: Record<string, string>;
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
}

/** A running local stack and what `supabase status -o env` would print for it. */
export interface LocalStack {
  apiUrl: string;
  /** The database as `postgres` (not a superuser, as on Supabase). */
  dbUrl: string;
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
  /** The function's process id (for memory readings). */
  functionPid: number;
  /** The environment the function runs with (to start another instance, e.g. for a cold start). */
  functionEnv: Record<string, string>;
  auth: AuthEmulator;
  postgres: PostgresServer;
  /** The demo page's URL (e.g. `http://127.0.0.1:5173/`) when `demoPort` was set. */
  demoUrl?: string;
  /**
   * The variables, in `supabase status -o env` names (`PUBLISHABLE_KEY`, `SECRET_KEY`, and the deprecated
   * `ANON_KEY`, `SERVICE_ROLE_KEY`, `JWT_SECRET`), plus `BACKEND_JWT_SECRET`.
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
  signingKey?: JsonWebKey;
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

    const postgresOptions = { major: options.major, port: options.dbPort, watchdog };
    const postgres = options.stateDir
      ? await startKeptPostgres({ ...postgresOptions, dataDir: `${options.stateDir}/postgres` }, log)
      : await startPostgres(postgresOptions);
    stopping.push(() => postgres.stop());
    log(`Postgres ${postgres.major} on port ${postgres.port}`);
    const dbUrl = await prepareDatabase(postgres.url, { seed: options.seed ?? true });
    log("Supabase stand-in, migrations and seed applied (supabase db push as postgres)");

    const auth = await createAuthEmulator({
      url: apiUrl,
      // GoTrue connects as the owner of the auth schema's tables.
      databaseUrl: urlAs(postgres.url, "supabase_auth_admin"),
      mode: options.mode ?? "es256",
      jwtSecret: secrets.jwtSecret,
      signingKey: secrets.signingKey,
      autoConfirm: options.autoConfirm ?? true,
    });
    stopping.push(() => auth.stop());
    if (options.stateDir) {
      await saveSecrets(options.stateDir, { ...saved.secrets, signingKey: auth.signingKey });
    }

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
      ...options.functionEnv,
    };
    const fn = startFunction(functionPort, functionEnv, options.log, watchdog);
    stopping.push(() => fn.stop());

    const gateway = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: apiPort,
        onListen: () => {},
      },
      createGateway({
        auth: auth.handler,
        functions: { "exchange-token": `http://127.0.0.1:${functionPort}` },
        keys,
      }),
    );
    stopping.push(() => gateway.shutdown());

    await fn.listening;
    log(`exchange-token function on port ${functionPort}`);

    let demoUrl: string | undefined;
    if (options.demoPort !== undefined) {
      const demo = await startDemoServer({
        apiUrl,
        publishableKey: keys.publishable,
        port: options.demoPort,
      });
      stopping.push(() => demo.stop());
      demoUrl = demo.url;
      log(`demo page on ${demo.url}`);
    }

    const stack: LocalStack = {
      apiUrl,
      dbUrl,
      publishableKey: keys.publishable,
      secretKey: keys.secret,
      anonKey: keys.anon,
      serviceRoleKey: keys.serviceRole,
      jwtSecret: secrets.jwtSecret,
      backendJwtSecret: secrets.backendJwtSecret,
      functionUrl: `http://127.0.0.1:${functionPort}/exchange-token`,
      functionPid: fn.pid,
      functionEnv,
      auth,
      postgres,
      demoUrl,
      env: () => ({
        API_URL: apiUrl,
        FUNCTIONS_URL: `${apiUrl}/functions/v1`,
        DB_URL: dbUrl,
        PUBLISHABLE_KEY: keys.publishable,
        SECRET_KEY: keys.secret,
        JWT_SECRET: secrets.jwtSecret,
        ANON_KEY: keys.anon,
        SERVICE_ROLE_KEY: keys.serviceRole,
        BACKEND_JWT_SECRET: secrets.backendJwtSecret,
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

/** A function process started by {@linkcode startFunction}. */
export interface FunctionProcess {
  pid: number;
  /** Resolves once the function accepts connections; rejects if it exits first or takes over 20 s. */
  listening: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs the function's `index.ts` in its own Deno process, as the Edge runtime runs it in an isolate: with
 * network and environment access only, and the environment Supabase injects.
 *
 * @param port The port on 127.0.0.1 it listens on.
 * @param env Its environment.
 * @param log Where its output lines go.
 * @param watchdog Stops it if this process dies without stopping it.
 * @returns The process.
 */
export function startFunction(
  port: number,
  env: Record<string, string>,
  log?: (line: string) => void,
  watchdog?: Watchdog,
): FunctionProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      // The Edge runtime caps each worker's V8 heap (memoryLimitMb, 150 in `supabase functions serve`);
      // Deno's own default sizes the heap for throughput and lets an idle-looking server reach ~180 MiB.
      `--v8-flags=--max-heap-size=${EDGE_MEMORY_LIMIT_MIB}`,
      `--config=${FUNCTION_CONFIG.pathname}`,
      FUNCTION_ENTRY.pathname,
    ],
    cwd: ROOT,
    env: { ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, NO_COLOR: "1" },
    stdin: "null",
    // Nobody to read the log lines: let the OS drop them rather than pump them through this process.
    stdout: log ? "piped" : "null",
    stderr: log ? "piped" : "null",
  }).spawn();
  watchdog?.watchProcess(child.pid, "SIGTERM");
  const pumps = log ? Promise.all([pumpLines(child.stdout, log), pumpLines(child.stderr, log)]) : undefined;
  const listening = waitForPort(port, child.status);
  // A caller that never awaits it (it reached the function itself, then stopped it) must not crash on it.
  listening.catch(() => {});
  return {
    pid: child.pid,
    listening,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
      await pumps;
      await watchdog?.forgetProcess(child.pid);
    },
  };
}

/** Passes each whole line of `stream` to `log`, prefixed with the function's name. */
async function pumpLines(stream: ReadableStream<Uint8Array>, log: (line: string) => void) {
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) log(`[exchange-token] ${line}`);
  }
  if (partial.trim()) log(`[exchange-token] ${partial}`);
}

async function waitForPort(port: number, exited: Promise<Deno.CommandStatus>, timeoutMs = 20_000) {
  let dead: Deno.CommandStatus | undefined;
  exited.then((status) => dead = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`the exchange-token function exited (code ${dead.code}) before listening`);
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`the exchange-token function did not listen on port ${port} within ${timeoutMs} ms`);
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
