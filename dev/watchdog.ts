/**
 * A watchdog for the local stack's children: a tiny process that outlives a hard kill of its owner.
 *
 * The owner (the stack, or a test's Postgres) tells it which processes to stop and which folders to remove
 * should the owner die, one line at a time on a pipe. When the pipe closes without the owner having
 * withdrawn them (SIGKILL, a crash, an owner that forgot to stop), it signals each process, waits a few
 * seconds, kills what is left and removes the folders. No child can be trusted to notice on its own:
 * Postgres runs as another OS user when we are root, and Deno has no parent-death signal.
 *
 * The watchdog runs in its own process group, so Ctrl-C in a terminal (SIGINT to the foreground group)
 * or a supervisor killing the owner's group leaves it alive to clean up. Linux only: it reads `/proc`.
 *
 * @module
 */

/** What {@linkcode startWatchdog} returns: the owner's end of the pipe. */
export interface Watchdog {
  /**
   * Have `pid` sent `signal` (then SIGKILL after a grace period) if the owner dies.
   *
   * @param pid The process.
   * @param signal The polite signal, e.g. `SIGINT` for Postgres's fast shutdown.
   */
  watchProcess(pid: number, signal: Deno.Signal): Promise<void>;
  /** Withdraws {@linkcode Watchdog.watchProcess} once the process has exited. */
  forgetProcess(pid: number): Promise<void>;
  /** Have `path` removed (recursively) if the owner dies, after the processes have stopped. */
  watchFolder(path: string): Promise<void>;
  /** Withdraws {@linkcode Watchdog.watchFolder} once the folder is gone. */
  forgetFolder(path: string): Promise<void>;
  /** Closes the pipe and waits for the watchdog to exit (it acts on anything not withdrawn). */
  close(): Promise<void>;
}

/** How long the watchdog waits after the polite signals before it sends SIGKILL. */
const GRACE_MS = 3000;

/**
 * Starts a watchdog process for the calling process.
 *
 * @returns The owner's end: register children and folders, withdraw them as they stop, close at the end.
 * @example Guard a child process
 * ```ts ignore
 * const watchdog = startWatchdog();
 * const child = new Deno.Command("sleep", { args: ["600"] }).spawn();
 * await watchdog.watchProcess(child.pid, "SIGTERM");
 * // ... a SIGKILL of this process now also ends `sleep`.
 * child.kill();
 * await child.status;
 * await watchdog.forgetProcess(child.pid);
 * await watchdog.close();
 * ```
 */
export function startWatchdog(): Watchdog {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--no-lock",
      // Deno grants `/proc/PID/...` (how it tells a live process from a reused pid) only with --allow-all.
      "--allow-all",
      new URL(import.meta.url).pathname,
    ],
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
    // Its own process group: a signal to the owner's group (Ctrl-C, a supervisor) must not reach it.
    detached: true,
  }).spawn();
  // Never keep the owner alive: if it ends without close(), the pipe closes and the watchdog cleans up.
  child.unref();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  // One write at a time, in order: a `forget` must never overtake its `watch`. A watchdog that died is a
  // lost safety net, not a reason to fail the stack it guards: write errors are dropped.
  let queue = Promise.resolve();
  const send = (line: string) => {
    if (line.includes("\n")) throw new Error(`watchdog: a line break in ${JSON.stringify(line)}`);
    queue = queue.then(() => writer.write(encoder.encode(line + "\n"))).catch(() => {});
    return queue;
  };
  return {
    watchProcess: (pid, signal) => send(`process ${pid} ${signal}`),
    forgetProcess: (pid) => send(`forget-process ${pid}`),
    watchFolder: (path) => send(`folder ${path}`),
    forgetFolder: (path) => send(`forget-folder ${path}`),
    async close() {
      await queue;
      await writer.close().catch(() => {});
      child.ref(); // Waiting for it is what keeps this process alive now.
      await child.status;
    },
  };
}

/** What the watchdog has been asked to look after. */
interface Watched {
  /** Process id → the polite signal and its start time (to never signal a reused pid). */
  processes: Map<number, { signal: Deno.Signal; started: string | undefined }>;
  folders: Set<string>;
}

/** Applies one line: `process PID SIGNAL`, `forget-process PID`, `folder PATH` or `forget-folder PATH`. */
function applyLine(watched: Watched, line: string) {
  const space = line.indexOf(" ");
  const [verb, rest] = [line.slice(0, space), line.slice(space + 1)];
  switch (verb) {
    case "process": {
      const [pid, signal] = rest.split(" ");
      watched.processes.set(Number(pid), {
        signal: signal as Deno.Signal,
        started: startTimeOf(Number(pid)),
      });
      return;
    }
    case "forget-process":
      watched.processes.delete(Number(rest));
      return;
    case "folder":
      watched.folders.add(rest);
      return;
    case "forget-folder":
      watched.folders.delete(rest);
      return;
  }
  throw new Error(`watchdog: unknown line ${JSON.stringify(line)}`);
}

/** Reads field 22 of `/proc/PID/stat` (start time), or undefined when the process is gone or a zombie. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** Signals what is still running, waits, kills what is left, then removes the folders. */
async function reap(watched: Watched) {
  const alive = () =>
    [...watched.processes].filter(([pid, { started }]) =>
      started !== undefined && startTimeOf(pid) === started
    );
  const signal = (to: (entry: { signal: Deno.Signal }) => Deno.Signal) => {
    for (const [pid, entry] of alive()) {
      try {
        Deno.kill(pid, to(entry));
      } catch {
        // Exited in the meantime.
      }
    }
  };
  const waitForExit = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };
  signal((entry) => entry.signal);
  await waitForExit(GRACE_MS);
  signal(() => "SIGKILL");
  await waitForExit(1000);
  for (const folder of watched.folders) await Deno.remove(folder, { recursive: true }).catch(() => {});
}

if (import.meta.main) {
  const watched: Watched = { processes: new Map(), folders: new Set() };
  let partial = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) applyLine(watched, line);
  }
  // The pipe closed: either the owner closed it with nothing left to do, or the owner is gone.
  await reap(watched);
}
