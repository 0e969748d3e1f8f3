/**
 * A transaction pooler in front of the local Postgres, standing in for Supabase's Supavisor on port 6543:
 * Debian's PgBouncer (`apt-get install pgbouncer`) in transaction mode, with TLS for the clients that ask.
 *
 * What it shares with Supavisor, and so what the function meets there: a server connection serves one
 * transaction of one client, then another client's, with whatever session settings the previous client
 * left on it (PgBouncer runs no reset query in transaction mode, and Supavisor none at all); prepared
 * statements do not survive from one transaction to the next (PgBouncer 1.18 has no
 * `max_prepared_statements`), so clients must not prepare; TLS is offered and plain TCP accepted. Clients
 * log in with SCRAM, and PgBouncer passes their SCRAM proof on to Postgres, as Supavisor does: its auth
 * file holds each role's SCRAM secret as Postgres stores it, never a password.
 *
 * PgBouncer refuses to run as root: then it runs as the `postgres` OS user, as Postgres does, from a
 * folder of its own (mode 0700, that user's) outside the checkout, in `/var/lib/exchange-token/`; otherwise
 * from a temporary folder. The folder holds its ini, its auth file and a self-signed certificate made at
 * start with `openssl`; it is removed on stop, or by the watchdog (`dev/watchdog.ts`) if we die first.
 *
 * @module
 */
import postgres from "postgres";
import { DATA_HOME, type OsUser, postgresUser } from "./postgres.ts";
import { assertPortFree, PortTakenError, reservePort, startOnFreePort } from "./ports.ts";
import { startWatchdog, type Watchdog } from "./watchdog.ts";

/** The pool modes the local stack offers; Supabase's pooler port 6543 is in transaction mode. */
export type PoolerMode = "transaction";

/** Options for {@linkcode startPooler}. */
export interface StartPoolerOptions {
  /** The Postgres server as its superuser: where to connect, and who may read the roles' SCRAM secrets. */
  serverUrl: string;
  /** The roles that may log in through the pooler (default: `postgres`, the function's). */
  roles?: string[];
  /** Port on 127.0.0.1; 0 (the default) picks a free one. Supabase's local pooler uses 54329. */
  port?: number;
  /** Server connections per database and role (`default_pool_size`, default 5). */
  poolSize?: number;
  /** The watchdog that stops PgBouncer and removes its folder if this process dies; its own when omitted. */
  watchdog?: Watchdog;
}

/** A running pooler. */
export interface Pooler {
  port: number;
  /** PgBouncer's process id. */
  pid: number;
  /** The folder with its ini, auth file, certificate and key (removed on stop). */
  dir: string;
  /**
   * The same database and role through the pooler, over TLS.
   *
   * @param url A URL of a database on the server, with the role and password to log in with.
   * @returns `url` on the pooler's port, with `sslmode=require`.
   */
  urlFor(url: string): string;
  /** Stops PgBouncer and keeps its folder, so that {@linkcode Pooler.resume} starts it again (fault tests). */
  pause(): Promise<void>;
  /** Starts a paused PgBouncer again, on the same port with the same files. */
  resume(): Promise<void>;
  /** Stops PgBouncer and removes its folder. */
  stop(): Promise<void>;
}

/** The default `default_pool_size`: small, as a Supabase project's pool on its smallest compute. */
const DEFAULT_POOL_SIZE = 5;
/** Where Debian puts PgBouncer; `/usr/sbin` may not be on a non-root user's PATH. */
const BINARIES = ["pgbouncer", "/usr/sbin/pgbouncer"];
const READY = "process up:";
const START_TIMEOUT_MS = 10_000;

/**
 * Says in one line what the pooler needs that this machine lacks (PgBouncer, openssl), or null when it has
 * both, so the stack can go on without a pooler nobody asked for.
 *
 * @returns The install hint, or null.
 * @example
 * ```ts
 * import { missingPoolerPackages } from "./pooler.ts";
 *
 * const missing = await missingPoolerPackages();
 * if (missing) console.log(missing);
 * ```
 */
export async function missingPoolerPackages(): Promise<string | null> {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  const found = async (name: string) => {
    for (const dir of [...path, "/usr/sbin", "/usr/bin"]) {
      if (await Deno.stat(`${dir}/${name}`).then((info) => info.isFile, () => false)) return true;
    }
    return false;
  };
  const missing = [];
  if (!await found("pgbouncer")) missing.push("pgbouncer");
  if (!await found("openssl")) missing.push("openssl");
  if (missing.length === 0) return null;
  return `the transaction pooler needs Debian's ${missing.join(" and ")} (apt-get install ${
    missing.join(" ")
  }); going on without it`;
}

/**
 * Parses `DB_POOLER` (the local stack's and the tests' setting): unset or empty for none, `transaction`.
 *
 * @param value The raw setting.
 * @returns The mode, or undefined for none.
 * @throws {Error} For any other value.
 * @example
 * ```ts
 * import { parsePoolerMode } from "./pooler.ts";
 *
 * parsePoolerMode(Deno.env.get("DB_POOLER")); // "transaction" or undefined
 * ```
 */
export function parsePoolerMode(value: string | undefined): PoolerMode | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "transaction") return value;
  throw new Error(`DB_POOLER must be transaction (or unset), not ${value}`);
}

/**
 * Starts PgBouncer in transaction mode in front of a Postgres server on 127.0.0.1.
 *
 * @param options The server, the roles, the port, the pool size and the watchdog.
 * @returns The running pooler.
 * @throws {Error} In one line, when the port is taken, PgBouncer or openssl is missing, a role has no SCRAM
 * password, or PgBouncer fails to start.
 * @example Put a pooler in front of a throwaway Postgres
 * ```ts ignore
 * import { startPostgres } from "./postgres.ts";
 * import { startPooler } from "./pooler.ts";
 *
 * const pg = await startPostgres();
 * const pooler = await startPooler({ serverUrl: pg.url });
 * console.log(pooler.urlFor(pg.url.replace("supabase_admin", "postgres")));
 * await pooler.stop();
 * await pg.stop();
 * ```
 */
export async function startPooler(options: StartPoolerOptions): Promise<Pooler> {
  // PgBouncer is told its port (`listen_port`). One asked for is checked now; a free one is reserved now,
  // held until just before the spawn, and when PgBouncer finds it taken all the same ("Address already in
  // use") the ini is written again with another (dev/ports.ts).
  if (options.port) assertPortFree(options.port, "pooler");
  const reserved = options.port ? undefined : reservePort();
  let port = options.port || reserved!.port;
  const watchdog = options.watchdog ?? startWatchdog();
  const release = options.watchdog ? () => Promise.resolve() : () => watchdog.close();
  let dir: string | undefined;
  try {
    const user = await postgresUser();
    dir = await ownFolder(user);
    await watchdog.watchFolder(dir);
    const secrets = await scramSecrets(options.serverUrl, options.roles ?? ["postgres"]);
    const server = new URL(options.serverUrl);
    await writeFiles(dir, user, {
      "userlist.txt": secrets.map(([role, secret]) => `${quote(role)} ${quote(secret)}\n`).join(""),
    });
    await makeCertificate(dir, user);
    const folder = dir;
    let bouncer = await startOnFreePort("pooler", options.port, async (attempt) => {
      port = attempt.port;
      await writeFiles(folder, user, {
        "pgbouncer.ini": ini(folder, {
          port,
          serverHost: server.hostname,
          serverPort: server.port || "5432",
          poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
        }),
      });
      attempt.release();
      return await spawn(folder, user, watchdog, port);
    }, reserved);
    let paused = false;
    return {
      port,
      get pid() {
        return bouncer.pid;
      },
      dir: folder,
      urlFor(url) {
        const through = new URL(url);
        through.hostname = "127.0.0.1";
        through.port = String(port);
        through.searchParams.set("sslmode", "require");
        return through.href;
      },
      async pause() {
        if (paused) return;
        paused = true;
        await bouncer.stop();
      },
      async resume() {
        if (!paused) return;
        bouncer = await spawn(folder, user, watchdog, port);
        paused = false;
      },
      async stop() {
        if (!paused) await bouncer.stop();
        paused = true;
        await Deno.remove(folder, { recursive: true }).catch(() => {});
        await watchdog.forgetFolder(folder);
        await release();
      },
    };
  } catch (err) {
    reserved?.release();
    if (dir) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await watchdog.forgetFolder(dir);
    }
    await release();
    const cause = err instanceof Error ? err.message : String(err);
    throw new Error(`the pooler failed to start on port ${port}: ${cause}`, { cause: err });
  }
}

/** A new folder only the OS user PgBouncer runs as may enter. */
async function ownFolder(user: OsUser | undefined): Promise<string> {
  if (!user) return await Deno.makeTempDir({ prefix: "exchange-token-pooler-" });
  // Not a temporary folder: TMPDIR may be one the `postgres` user cannot enter (a `mktemp -d` of root's).
  await Deno.mkdir(DATA_HOME, { recursive: true, mode: 0o755 });
  const dir = `${DATA_HOME}/pooler-${crypto.randomUUID()}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.chown(dir, user.uid, user.gid);
  return dir;
}

/** Each role's SCRAM secret, as `pg_authid` holds it (read as the superuser). */
async function scramSecrets(serverUrl: string, roles: string[]): Promise<Array<[string, string]>> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ rolname: string; rolpassword: string | null }[]>`
      select rolname, rolpassword from pg_authid where rolname = any(${roles})`;
    return roles.map((role) => {
      const secret = rows.find((row) => row.rolname === role)?.rolpassword;
      if (!secret?.startsWith("SCRAM-SHA-256$")) throw new Error(`the role ${role} has no SCRAM password`);
      return [role, secret];
    });
  } finally {
    await sql.end();
  }
}

/** The ini: one wildcard database entry, so every database of the server is reachable as on Supavisor. */
function ini(
  dir: string,
  settings: { port: number; serverHost: string; serverPort: string; poolSize: number },
): string {
  return `[databases]
* = host=${settings.serverHost} port=${settings.serverPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${settings.port}
unix_socket_dir =
pidfile =
logfile =
auth_type = scram-sha-256
auth_file = ${dir}/userlist.txt
pool_mode = transaction
default_pool_size = ${settings.poolSize}
max_client_conn = 500
; TLS when the client asks (the function's URL says sslmode=require), plain TCP otherwise, as Supavisor.
client_tls_sslmode = prefer
client_tls_cert_file = ${dir}/server.crt
client_tls_key_file = ${dir}/server.key
; Postgres on loopback has no TLS.
server_tls_sslmode = disable
; Come back quickly after a Postgres restart (the default waits 15 s after a failed login).
server_login_retry = 0.1
; Errors only: connections and statistics would bury them.
log_connections = 0
log_disconnections = 0
log_stats = 0
`;
}

/** Writes `files` into `dir`, readable by `user` only. */
async function writeFiles(dir: string, user: OsUser | undefined, files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text, { mode: 0o600 });
    if (user) await Deno.chown(`${dir}/${name}`, user.uid, user.gid);
  }
}

/** A self-signed P-256 certificate for 127.0.0.1 and localhost, valid for a day from now. */
async function makeCertificate(dir: string, user: OsUser | undefined) {
  const { success, stderr } = await command("openssl", {
    args: [
      ...[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
      ],
      ...["-subj", "/CN=exchange-token local pooler", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ...["-keyout", `${dir}/server.key`, "-out", `${dir}/server.crt`],
    ],
    stdout: "null",
    stderr: "piped",
  }, "Install openssl (apt-get install openssl).");
  if (!success) throw new Error(`openssl: ${lastLine(new TextDecoder().decode(stderr))}`);
  for (const name of ["server.key", "server.crt"]) {
    await Deno.chmod(`${dir}/${name}`, 0o600);
    if (user) await Deno.chown(`${dir}/${name}`, user.uid, user.gid);
  }
}

/** Runs a command to completion; a missing binary becomes an error that says what to install. */
async function command(name: string, options: Deno.CommandOptions, hint: string) {
  try {
    return await new Deno.Command(name, { ...options, stdin: "null" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`${name} is not installed. ${hint}`);
    throw err;
  }
}

/** PgBouncer, started as `user` and watched; resolves once it accepts connections. */
async function spawn(dir: string, user: OsUser | undefined, watchdog: Watchdog, port: number) {
  let child: Deno.ChildProcess | undefined;
  for (const binary of BINARIES) {
    try {
      child = new Deno.Command(binary, {
        args: [`${dir}/pgbouncer.ini`],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
        cwd: "/",
        env: { LC_ALL: "C" },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (!child) throw new Error("pgbouncer is not installed. Install Debian's (apt-get install pgbouncer).");
  const running = child;
  await watchdog.watchProcess(running.pid, "SIGTERM");
  // PgBouncer logs to stderr and blocks once a full pipe is not read: keep reading, keep the last lines.
  const tail: string[] = [];
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const reading = (async () => {
    for await (const line of lines(running.stderr)) {
      if (line.includes(READY)) resolve();
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  })();
  const stop = async () => {
    try {
      running.kill("SIGTERM"); // Immediate shutdown: SIGINT would wait for every client's transaction.
    } catch {
      // Already exited.
    }
    await running.status;
    await reading;
    await watchdog.forgetProcess(running.pid);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    running.status.then(() => "exited" as const),
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), START_TIMEOUT_MS)),
  ]);
  clearTimeout(timer);
  if (outcome === "ready") return { pid: running.pid, stop };
  await stop();
  if (outcome === "exited" && tail.some((line) => line.includes("Address already in use"))) {
    throw new PortTakenError(port, "PgBouncer");
  }
  const why = lastLine(tail.filter((line) => /ERROR|FATAL/.test(line)).join("\n") || tail.join("\n"));
  throw new Error(outcome === "timeout" ? `not ready after ${START_TIMEOUT_MS / 1000} s: ${why}` : why);
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    yield* parts.filter((line) => line.trim());
  }
  if (partial.trim()) yield partial;
}

/** The last line of `text`, without PgBouncer's timestamp and process id. */
function lastLine(text: string): string {
  const line = text.split("\n").map((l) => l.trim()).filter(Boolean).at(-1) ?? "exited without a message";
  return line.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[\d+\] /, "");
}

/** A value of PgBouncer's auth file, in double quotes (a quote inside is doubled). */
function quote(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}
