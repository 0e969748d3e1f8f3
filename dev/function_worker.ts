/**
 * The functions' worker processes: each function's `index.ts` in a Deno process of its own, as the Edge
 * runtime runs it in an isolate, for the Edge runtime stand-in (`dev/edge_runtime.ts`) to supervise.
 *
 * @module
 */
import { EDGE_MEMORY_LIMIT_MIB, type FunctionProcess } from "./edge_runtime.ts";
import type { Watchdog } from "./watchdog.ts";
import { mainThreadCpuMs, pumpLines, waitForPort } from "./_process.ts";
import { EDGE_DENO_ENV, edgeDenoDir, errorLine, parseEdgeDenoVersion, resolveEdgeDeno } from "./edge_deno.ts";

const ROOT = new URL("../", import.meta.url);
const FUNCTIONS_DIR = new URL("supabase/functions/", ROOT);
const BOOTSTRAP = new URL("edge_worker_bootstrap.ts", import.meta.url);

/** The Edge Functions the stack serves under `/functions/v1/<name>`, each from `supabase/functions/<name>/`. */
export const FUNCTIONS = ["exchange-token", "tenants", "invitations"] as const;
/** One of {@linkcode FUNCTIONS}. */
export type FunctionName = typeof FUNCTIONS[number];

/**
 * One of this project's functions, as {@linkcode startFunction} runs it.
 *
 * @param name The function.
 * @param root The checkout it comes from; this one by default (the bench's `--compare` passes another
 *   revision's).
 * @returns Its entry point and its own `deno.json`.
 */
export function functionSource(name: FunctionName, root: URL = ROOT): FunctionSource {
  return {
    name,
    entry: new URL(`supabase/functions/${name}/index.ts`, root),
    config: new URL(`supabase/functions/${name}/deno.json`, root),
  };
}
const EXCHANGE_TOKEN = functionSource("exchange-token");

/** A function to run: its name (in log lines), its entry module and its `deno.json`. */
export interface FunctionSource {
  name: string;
  entry: URL;
  config?: URL;
}

/** Options for {@linkcode startFunction}. */
export interface StartFunctionOptions {
  /** Where its output lines go (dropped when omitted). */
  log?: (line: string) => void;
  /** Stops it if this process dies without stopping it. */
  watchdog?: Watchdog;
  /** The function to run; `exchange-token` by default. */
  fn?: FunctionSource;
  /**
   * The Deno version it runs on; by default `EDGE_DENO_VERSION` from the environment, else the Edge runtime's
   * (`EDGE_DENO_DEFAULT_VERSION` in `dev/edge_deno.ts`).
   */
  denoVersion?: string;
  /** Opens V8's inspector on this port of 127.0.0.1 (`deno task bench --profile` records a CPU profile). */
  inspectPort?: number;
}

/**
 * Runs a function's `index.ts` in its own process, as the Edge runtime runs it in an isolate: on the Deno
 * the runtime is compatible with (`dev/edge_deno.ts`), through `dev/edge_worker_bootstrap.ts`, with only the
 * permissions a user worker has (see {@linkcode userWorkerFlags}), the environment Supabase injects, and the
 * runtime's memory limit.
 *
 * @param port The port on 127.0.0.1 it listens on (it must be free; the Edge runtime stand-in reserves one,
 *   and boots again elsewhere on the `PortTakenError` of {@linkcode FunctionProcess.listening}).
 * @param env Its environment.
 * @param options Its log, watchdog, function, Deno version and inspector port.
 * @returns The process, once spawned.
 * @throws {Error} When the Deno version cannot be had from npm, or the function's dependencies not fetched.
 */
export async function startFunction(
  port: number,
  env: Record<string, string>,
  options: StartFunctionOptions = {},
): Promise<FunctionProcess> {
  const { log, watchdog, fn = EXCHANGE_TOKEN } = options;
  const version = options.denoVersion ?? parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION"));
  const deno = await resolveEdgeDeno(version);
  const config = fn.config ? await configFlags(fn.config, version) : ["--no-config"];
  // Another Deno keeps a cache of its own.
  const denoDir: Record<string, string> = version === Deno.version.deno
    ? {}
    : { DENO_DIR: edgeDenoDir(version) };
  await cacheOnce(deno, version, fn, config, denoDir);
  const child = new Deno.Command(deno, {
    args: [
      "run",
      ...userWorkerFlags(fn),
      // The Edge runtime's memoryLimitMb (256 in `supabase functions serve`) as a cap on the V8 heap: V8
      // ends the process with SIGTRAP past it, which `dev/edge_runtime.ts` answers as the limit. Deno's
      // own default sizes the heap for the machine, far above what a worker gets.
      `--v8-flags=--max-heap-size=${EDGE_MEMORY_LIMIT_MIB}`,
      ...(options.inspectPort ? [`--inspect=127.0.0.1:${options.inspectPort}`] : []),
      ...config,
      BOOTSTRAP.pathname,
      String(port),
      fn.entry.href,
    ],
    cwd: ROOT,
    env: { ...env, ...EDGE_DENO_ENV, ...denoDir, NO_COLOR: "1" },
    stdin: "null",
    // Nobody to read the log lines: let the OS drop them rather than pump them through this process.
    stdout: log ? "piped" : "null",
    stderr: log ? "piped" : "null",
  }).spawn();
  watchdog?.watchProcess(child.pid, "SIGTERM");
  const pumps = log
    ? Promise.all([pumpLines(child.stdout, log, fn.name), pumpLines(child.stderr, log, fn.name)])
    : undefined;
  // A worker that ends on its own (a crash, a limit) is withdrawn from the watchdog as one that is stopped.
  const exited = child.status.then(async (status) => {
    await pumps;
    await watchdog?.forgetProcess(child.pid);
    return status;
  });
  const listening = waitForPort(port, child, `the ${fn.name} function`);
  // A caller that never awaits it (it reached the function itself, then stopped it) must not crash on it.
  listening.catch(() => {});
  return {
    pid: child.pid,
    listening,
    exited,
    cpuTimeMs: () => mainThreadCpuMs(child.pid),
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      await exited;
    },
  };
}

/**
 * The permissions of a user worker in the Edge runtime (supabase/edge-runtime
 * `crates/base/src/runtime/permissions.rs`: env, net, read, write and `sys` hostname only; no `run`, no
 * `ffi`), as Deno flags. Reads reach the functions' sources and `/tmp`, writes `/tmp` only, as the runtime
 * gives a user worker a read-only file system of its own sources with a writable `/tmp`
 * (`crates/fs/impl/static_fs.rs`, `tmp_fs.rs`). Without `--allow-run` and `--allow-ffi`, `node:child_process`
 * and `Deno.dlopen` throw; `Deno.Command` gets the runtime's own refusal from the bootstrap.
 */
function userWorkerFlags(fn: FunctionSource): string[] {
  const sources = new URL(".", fn.entry).pathname;
  // A function's `_shared/` sits beside its folder, in this checkout or in another project's.
  const functions = new URL("..", fn.entry).pathname;
  return [
    "--no-prompt",
    "--allow-net",
    "--allow-env",
    `--allow-read=/tmp,${FUNCTIONS_DIR.pathname},${functions},${sources}`,
    "--allow-write=/tmp",
    "--allow-sys=hostname",
  ];
}

/**
 * The flags for a function's `deno.json` and the lockfile beside it. Deno 2.1 refuses a version 5 lockfile
 * ("Unsupported lockfile version"), which Deno 2.3 and later write: such a lock is left out (`--no-lock`)
 * on a Deno older than 2.3, and read otherwise.
 */
async function configFlags(config: URL, version: string): Promise<string[]> {
  const lock = new URL("deno.lock", config);
  let lockVersion: string;
  try {
    lockVersion = JSON.parse(await Deno.readTextFile(lock)).version;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [`--config=${config.pathname}`, "--no-lock"];
    throw err;
  }
  const [major, minor] = version.split(".").map(Number);
  const readsV5 = major > 2 || (major === 2 && minor >= 3);
  const lockFlag = Number(lockVersion) >= 5 && !readsV5 ? "--no-lock" : `--lock=${lock.pathname}`;
  return [`--config=${config.pathname}`, lockFlag];
}

const cached = new Map<string, Promise<void>>();

/**
 * Fetches a function's dependencies into its Deno's cache, once per process, before its first boot: a
 * Deno other than the tooling's starts with an empty cache of its own, and the fetch would otherwise eat
 * into the boot's time limit.
 */
function cacheOnce(
  deno: string,
  version: string,
  fn: FunctionSource,
  config: string[],
  denoDir: Record<string, string>,
): Promise<void> {
  if (version === Deno.version.deno) return Promise.resolve();
  const key = `${version} ${fn.entry.href}`;
  let done = cached.get(key);
  if (!done) {
    done = (async () => {
      const { success, stderr } = await new Deno.Command(deno, {
        args: ["cache", ...config, BOOTSTRAP.pathname, fn.entry.pathname],
        cwd: ROOT,
        env: { ...EDGE_DENO_ENV, ...denoDir, NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
      }).output();
      if (!success) {
        throw new Error(
          `Deno ${version} could not fetch the ${fn.name} function's dependencies: ${errorLine(stderr)}`,
        );
      }
    })();
    cached.set(key, done);
    done.catch(() => cached.delete(key));
  }
  return done;
}
