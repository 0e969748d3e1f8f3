/**
 * The functions' worker processes: each function's `index.ts` in a Deno process of its own, as the Edge
 * runtime runs it in an isolate, for the Edge runtime stand-in (`dev/edge_runtime.ts`) to supervise.
 *
 * @module
 */
import { EDGE_MEMORY_LIMIT_MIB, type FunctionProcess } from "./edge_runtime.ts";
import type { Watchdog } from "./watchdog.ts";
import { pumpLines, waitForPort } from "./_process.ts";

const ROOT = new URL("../", import.meta.url);

/** The Edge Functions the stack serves under `/functions/v1/<name>`, each from `supabase/functions/<name>/`. */
export const FUNCTIONS = ["exchange-token", "tenants", "invitations"] as const;
/** One of {@linkcode FUNCTIONS}. */
export type FunctionName = typeof FUNCTIONS[number];

/**
 * One of this project's functions, as {@linkcode startFunction} runs it.
 *
 * @param name The function.
 * @returns Its entry point and its own `deno.json`.
 */
export function functionSource(name: FunctionName): FunctionSource {
  return {
    name,
    entry: new URL(`supabase/functions/${name}/index.ts`, ROOT),
    config: new URL(`supabase/functions/${name}/deno.json`, ROOT),
  };
}
const EXCHANGE_TOKEN = functionSource("exchange-token");

/** A function to run: its name (in log lines), its entry module and its `deno.json`. */
export interface FunctionSource {
  name: string;
  entry: URL;
  config?: URL;
}

/**
 * Runs a function's `index.ts` in its own Deno process, as the Edge runtime runs it in an isolate: with
 * network and environment access only, the environment Supabase injects, and the runtime's memory limit.
 *
 * @param port The port on 127.0.0.1 it listens on (told through `DENO_SERVE_ADDRESS`: it must be free; the
 *   Edge runtime stand-in reserves one, and boots again elsewhere on the `PortTakenError` of
 *   {@linkcode FunctionProcess.listening}).
 * @param env Its environment.
 * @param log Where its output lines go.
 * @param watchdog Stops it if this process dies without stopping it.
 * @param fn The function to run; `exchange-token` by default.
 * @returns The process.
 */
export function startFunction(
  port: number,
  env: Record<string, string>,
  log?: (line: string) => void,
  watchdog?: Watchdog,
  fn: FunctionSource = EXCHANGE_TOKEN,
): FunctionProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      // The Edge runtime's memoryLimitMb (256 in `supabase functions serve`) as a cap on the V8 heap: V8
      // ends the process with SIGTRAP past it, which `dev/edge_runtime.ts` answers as the limit. Deno's
      // own default sizes the heap for the machine, far above what a worker gets.
      `--v8-flags=--max-heap-size=${EDGE_MEMORY_LIMIT_MIB}`,
      ...(fn.config ? [`--config=${fn.config.pathname}`] : ["--no-config"]),
      fn.entry.pathname,
    ],
    cwd: ROOT,
    env: { ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, NO_COLOR: "1" },
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
