/**
 * The Edge runtime stand-in's supervision of one worker slot of a function (`dev/edge_runtime.ts` runs one
 * or more slots per function): the function runs as its own Deno process (a "worker" here; an isolate
 * there), one at a time in the slot. It boots the function when a request finds none running, forwards
 * requests to it, and answers for a worker that cannot answer as `supabase functions serve`'s
 * main service does (supabase/cli `internal/functions/serve/templates/main.ts`, over supabase/edge-runtime
 * `ext/workers/lib.rs` and `crates/base/src/worker/`):
 *
 * | the worker                                            | runtime error            | answer             |
 * | ----------------------------------------------------- | ------------------------ | ------------------ |
 * | cannot boot: exits before it listens, or is too slow  | `InvalidWorkerCreation`  | 503 `BOOT_ERROR`   |
 * | exits while a request waits for its answer            | `InvalidWorkerResponse`  | 500 `WORKER_ERROR` |
 * | goes over its memory or wall-clock limit              | `WorkerRequestCancelled` | 546 `WORKER_LIMIT` |
 *
 * The runtime evaluates a worker's module while it boots (`set_eager_module_init(true)` in its pool), so a
 * module that throws at its top level is a boot error there as here.
 *
 * The body is `{"code","message"}` with `Content-Type: application/json` and nothing else: no CORS headers
 * and no `Retry-After`, as the main service's `getResponse` sends it. A worker that ended, for any reason,
 * is forgotten, and the next request boots a fresh one, as the runtime's pool creates a new worker once the
 * old one has shut down. A boot error is not remembered: each request tries again.
 *
 * Limits, and how close they come to the runtime's (`memoryLimitMb` 256, `workerTimeoutMs` 400 s,
 * `cpuTimeSoftLimitMs`/`cpuTimeHardLimitMs` 1000/2000 in the CLI):
 * - Memory: the worker runs with V8's heap capped at {@linkcode EDGE_MEMORY_LIMIT_MIB} (`startFunction`), and
 *   V8 ends a process that outgrows it with SIGTRAP ("Fatal JavaScript out of memory"), which is read here
 *   as the limit. The runtime counts the heap plus external memory (ArrayBuffers); a cap on the heap does
 *   not see external memory.
 * - Wall clock: each request may wait {@linkcode WorkerSupervisorOptions.wallClockLimitMs} for its response's
 *   headers; past that the worker is killed, and every request it held gets 546. The runtime's limit is the
 *   worker's life (retired at half, ended at the limit), so there a request that starts late in a worker's
 *   life is cut sooner; and its limit also covers a response body still streaming.
 * - CPU time, the runtime's per-worker rule (`crates/base/src/worker/supervisor/strategy_per_worker.rs`):
 *   the worker's CPU time adds up over its life; past {@linkcode EDGE_CPU_SOFT_LIMIT_MS} it is retired (new
 *   requests boot a fresh worker, and it stops once its requests, bodies included, have ended), and at
 *   {@linkcode EDGE_CPU_HARD_LIMIT_MS} it is killed, its requests in flight answered 546. Read here from
 *   `/proc` for the process's main thread (where Deno runs JavaScript; not the garbage collector's or the
 *   compiler's threads), from the moment it listens, every 50 ms while it has requests in flight and once
 *   as each ends. It may overshoot a limit by one poll; CPU time spent between requests (timers, background
 *   work) is only read at the next request's end; and the boot's CPU time (the module's evaluation) is left
 *   out, while the runtime's timer runs whenever the isolate does. A retired worker
 *   still finishing holds its port, so the next worker boots on another ({@linkcode WorkerSupervisor.url}
 *   changes) unless the port was given, when the next boot waits for the retired worker's end.
 *
 * @module
 */
import { PORT_ATTEMPTS, PortTakenError, reservePort } from "./ports.ts";

/** The Edge runtime's per-worker memory limit (`memoryLimitMb` in `supabase functions serve`), in MiB. */
export const EDGE_MEMORY_LIMIT_MIB = 256;

/** The Edge runtime's wall-clock limit (`workerTimeoutMs` in `supabase functions serve`), in ms. */
export const EDGE_WALL_CLOCK_LIMIT_MS = 400_000;

/** The CPU time after which a worker is retired (`cpuTimeSoftLimitMs` in `supabase functions serve`), in ms. */
export const EDGE_CPU_SOFT_LIMIT_MS = 1000;

/** The CPU time at which a worker is ended (`cpuTimeHardLimitMs` in `supabase functions serve`), in ms. */
export const EDGE_CPU_HARD_LIMIT_MS = 2000;

/** How often a worker's CPU time is read while it has requests in flight. */
const CPU_POLL_MS = 50;

/** The three failures the runtime answers for, by the name its main service gives them. */
export type RuntimeErrorCode = "BOOT_ERROR" | "WORKER_ERROR" | "WORKER_LIMIT";

const RUNTIME_ERRORS: Record<RuntimeErrorCode, { status: number; message: string }> = {
  BOOT_ERROR: { status: 503, message: "Worker failed to boot (please check logs)" },
  WORKER_ERROR: { status: 500, message: "Function exited due to an error (please check logs)" },
  WORKER_LIMIT: {
    status: 546,
    message: "Worker failed to respond due to a resource limit (please check logs)",
  },
};

/** How long a failed request waits for its worker's exit status, to tell a crash from a limit. */
const EXIT_GRACE_MS = 2000;

/** One worker process, as the supervisor drives it (`startFunction` in `dev/function_worker.ts` makes one). */
export interface FunctionProcess {
  pid: number;
  /**
   * Resolves once the function accepts connections; rejects if it exits first or takes over 20 s, with a
   * `PortTakenError` (`dev/ports.ts`) when it exited because something else held its port.
   */
  listening: Promise<void>;
  /** Its exit status, once it has exited (on its own or stopped). */
  exited: Promise<Deno.CommandStatus>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<void>;
  /** The CPU time its JavaScript thread has used so far, in ms; undefined once it has exited. */
  cpuTimeMs(): Promise<number | undefined>;
}

/** Options for {@linkcode superviseWorker}. */
export interface WorkerSupervisorOptions {
  /** Starts one worker of the function, listening on `port` (`startFunction`). */
  boot: (port: number) => FunctionProcess | Promise<FunctionProcess>;
  /**
   * The port every worker listens on, so the function keeps one address across reboots. When omitted (or
   * 0), the first boot reserves a free one, and a boot whose worker finds it taken by something else moves
   * to another (`dev/ports.ts`); a port given here is never moved.
   */
  port?: number;
  /** How long a request may wait for its response's headers; default {@linkcode EDGE_WALL_CLOCK_LIMIT_MS}. */
  wallClockLimitMs?: number;
  /** The CPU time that retires a worker; default {@linkcode EDGE_CPU_SOFT_LIMIT_MS}. */
  cpuSoftLimitMs?: number;
  /** The CPU time that ends a worker and its requests with 546; default {@linkcode EDGE_CPU_HARD_LIMIT_MS}. */
  cpuHardLimitMs?: number;
  /** Where the supervisor's lines go (a boot, an exit and its reading). */
  log?: (line: string) => void;
  /** Told each worker's process id once it listens (the runtime in front of several slots keeps the last). */
  onBooted?: (pid: number) => void;
}

/** A running supervisor: see {@linkcode superviseWorker}. */
export interface WorkerSupervisor {
  /**
   * Forwards a request to the worker (booting one if none runs) and returns its answer, or the runtime's
   * error answer. Never throws.
   */
  fetch(request: Request): Promise<Response>;
  /** Boots a worker now if none runs; rejects as the boot failed (e.g. to fail a stack's start early). */
  boot(): Promise<void>;
  /** The process id of the worker booted last (it may have exited since); undefined before the first boot. */
  readonly pid: number | undefined;
  /** How many workers have booted so far (each holds its own caches, as each isolate does). */
  readonly boots: number;
  /** The port its workers listen on; 0 before the first boot when none was given. */
  readonly port: number;
  /** The function's address, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  /** Stops the worker and boots no other. */
  stop(): Promise<void>;
}

/** One booted worker and what the supervisor knows of its end. */
interface Worker {
  process: FunctionProcess;
  /** Set when the supervisor ended it for a limit, before the kill: which one. */
  overLimit?: "wall clock duration" | "CPU time hard limit";
  /** Its CPU time when it began to listen: its boot, which is not counted. */
  bootCpuMs: number;
  /** Requests sent to it whose response (body included) has not ended. */
  inFlight: number;
  /** Set at the CPU soft limit: it gets no new request, and is stopped once `inFlight` is 0. */
  retired: boolean;
  /** Reads its CPU time while it has requests in flight. */
  cpuWatch?: ReturnType<typeof setInterval>;
  /** Its exit status, once it has exited. */
  exit?: Deno.CommandStatus;
  /** The port it listens on. */
  port: number;
}

/**
 * The runtime's answer for a worker that failed, as `supabase functions serve` sends it.
 *
 * @param code Which failure.
 * @returns 503, 500 or 546 with `{ code, message }` as JSON, and no other header.
 * @example A worker over its memory limit
 * ```ts
 * const res = runtimeErrorResponse("WORKER_LIMIT");
 * console.log(res.status, await res.json()); // 546 { code: "WORKER_LIMIT", message: "Worker failed to … " }
 * ```
 */
export function runtimeErrorResponse(code: RuntimeErrorCode): Response {
  const { status, message } = RUNTIME_ERRORS[code];
  return new Response(JSON.stringify({ code, message }), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/**
 * Supervises one worker slot of a function: boots a worker on demand, forwards requests, reboots after a crash, and answers
 * for a worker that cannot as the Edge runtime does.
 *
 * @param options How to boot a worker, on which port, and the wall-clock limit.
 * @returns The supervisor; nothing is booted until {@linkcode WorkerSupervisor.boot} or a request.
 * @example Supervise a function process
 * ```ts ignore
 * const slot = superviseWorker({ boot: (port) => startFunction(port, env) });
 * await slot.boot();
 * const res = await slot.fetch(new Request("http://gateway/exchange-token", { method: "POST" }));
 * await slot.stop();
 * ```
 */
export function superviseWorker(options: WorkerSupervisorOptions): WorkerSupervisor {
  const wallClockLimitMs = options.wallClockLimitMs ?? EDGE_WALL_CLOCK_LIMIT_MS;
  const cpuSoftLimitMs = options.cpuSoftLimitMs ?? EDGE_CPU_SOFT_LIMIT_MS;
  const cpuHardLimitMs = options.cpuHardLimitMs ?? EDGE_CPU_HARD_LIMIT_MS;
  const log = options.log ?? (() => {});
  // A worker is a child told its port. Without a port of the caller's, the first boot reserves one and
  // releases it just before the spawn; a worker that finds it taken all the same is booted again on another,
  // and the function keeps the port it got across later reboots (dev/ports.ts), unless a retired worker still
  // holds it while its last requests finish.
  let port = options.port ?? 0;
  let current: Worker | undefined;
  let lastPid: number | undefined;
  let boots = 0;
  // Requests that find no worker share one boot.
  let booting: Promise<Worker> | undefined;
  let stopped = false;
  // Retired workers still finishing their requests.
  const draining = new Set<Worker>();

  function bootWorker(): Promise<Worker> {
    if (current && !current.exit && !current.retired) return Promise.resolve(current);
    booting ??= (async () => {
      if (draining.size > 0) {
        // Two workers cannot listen on one port: a port of the caller's waits for the retired worker's end.
        if (options.port) await Promise.all([...draining].map((worker) => worker.process.exited));
        else port = 0;
      }
      let worker: Worker;
      for (let attempt = 1;; attempt++) {
        if (stopped) throw new Error("the Edge runtime stand-in was stopped");
        if (!port) {
          const reserved = reservePort();
          port = reserved.port;
          reserved.release(); // the spawn follows at once
        }
        worker = { process: await options.boot(port), port, bootCpuMs: 0, inFlight: 0, retired: false };
        const booted = worker;
        worker.process.exited.then((status) => {
          booted.exit = status;
          clearInterval(booted.cpuWatch);
          draining.delete(booted);
          if (current === booted) current = undefined;
          log(`[edge-runtime] worker ${booted.process.pid} ${describeExit(booted)}`);
        });
        try {
          await worker.process.listening;
          break;
        } catch (err) {
          await worker.process.stop();
          const movable = !options.port && err instanceof PortTakenError && attempt < PORT_ATTEMPTS;
          if (!movable) throw err;
          log(`[edge-runtime] port ${port} was taken before the worker bound it: booting on another`);
          port = 0;
        }
      }
      if (stopped) {
        await worker.process.stop();
        throw new Error("the Edge runtime stand-in was stopped");
      }
      worker.bootCpuMs = await worker.process.cpuTimeMs() ?? 0;
      current = worker;
      lastPid = worker.process.pid;
      boots++;
      options.onBooted?.(worker.process.pid);
      log(
        `[edge-runtime] worker ${worker.process.pid} booted (memory limit ${EDGE_MEMORY_LIMIT_MIB} MiB, ` +
          `CPU time ${cpuSoftLimitMs}/${cpuHardLimitMs} ms, wall clock ${wallClockLimitMs / 1000} s)`,
      );
      return worker;
    })().finally(() => {
      booting = undefined;
    });
    return booting;
  }

  /** Ends `worker` for a limit: its requests in flight get 546. */
  async function endForLimit(worker: Worker, limit: NonNullable<Worker["overLimit"]>) {
    if (worker.overLimit || worker.exit) return;
    log(`[edge-runtime] worker ${worker.process.pid}: ${limit} reached`);
    worker.overLimit = limit;
    await worker.process.stop("SIGKILL");
  }

  /** Stops a retired worker once its last request has ended. */
  function stopIfDrained(worker: Worker) {
    if (!worker.retired || worker.inFlight > 0 || worker.exit) return;
    log(`[edge-runtime] worker ${worker.process.pid}: retired, its requests done: stopping it`);
    worker.process.stop().catch(() => {});
  }

  /**
   * The runtime's CPU rule (supabase/edge-runtime `crates/base/src/worker/supervisor/strategy_per_worker.rs`):
   * past the soft limit the worker is retired (no new request reaches it, and it ends once its requests
   * have), at the hard limit it is ended.
   */
  async function checkCpu(worker: Worker) {
    const total = await worker.process.cpuTimeMs();
    if (total === undefined || worker.exit || worker.overLimit) return;
    const used = total - worker.bootCpuMs;
    if (used >= cpuHardLimitMs) return await endForLimit(worker, "CPU time hard limit");
    if (used >= cpuSoftLimitMs && !worker.retired) {
      log(
        `[edge-runtime] worker ${worker.process.pid}: CPU time soft limit reached (${used} ms): retiring it`,
      );
      worker.retired = true;
      draining.add(worker);
      if (current === worker) current = undefined;
      stopIfDrained(worker);
    }
  }

  function requestStarted(worker: Worker) {
    if (worker.inFlight++ === 0) {
      worker.cpuWatch = setInterval(() => checkCpu(worker), CPU_POLL_MS);
    }
  }

  function requestEnded(worker: Worker) {
    if (--worker.inFlight === 0) clearInterval(worker.cpuWatch);
    // A last reading: the request may have crossed a limit since the poll's.
    checkCpu(worker).finally(() => stopIfDrained(worker));
  }

  async function forward(request: Request): Promise<Response> {
    let worker: Worker;
    try {
      worker = await bootWorker();
    } catch (err) {
      log(`[edge-runtime] worker failed to boot: ${err instanceof Error ? err.message : err}`);
      return runtimeErrorResponse("BOOT_ERROR");
    }
    const { pathname, search } = new URL(request.url);
    const target = new URL(pathname + search, `http://127.0.0.1:${worker.port}`);
    requestStarted(worker);
    // Not `new Request(request, …)`, which would follow the caller's abort signal.
    const sent = fetch(target, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const overLimit = new Promise<"limit">((resolve) => {
      timer = setTimeout(() => resolve("limit"), wallClockLimitMs);
    });
    try {
      const answer = await Promise.race([sent, overLimit]);
      if (answer !== "limit") return whenBodyEnds(answer, () => requestEnded(worker));
      sent.catch(() => {});
      await endForLimit(worker, "wall clock duration");
      requestEnded(worker);
      return runtimeErrorResponse("WORKER_LIMIT");
    } catch {
      requestEnded(worker);
      return runtimeErrorResponse(await failureOf(worker));
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    fetch: forward,
    async boot() {
      await bootWorker();
    },
    get pid() {
      return lastPid;
    },
    get boots() {
      return boots;
    },
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    async stop() {
      stopped = true;
      await booting?.catch(() => {});
      await Promise.all([current, ...draining].map((worker) => worker?.process.stop()));
      current = undefined;
    },
  };
}

/**
 * `response` with a body that calls `ended` once it has been read to its end, failed or been cancelled (at
 * once when it has none): the runtime counts a request until its response is done.
 */
function whenBodyEnds(response: Response, ended: () => void): Response {
  if (!response.body) {
    ended();
    return response;
  }
  let called = false;
  const end = () => {
    if (!called) ended();
    called = true;
  };
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          end();
        } else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        end();
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  // fetch has decoded a compressed body already: its encoding and length no longer describe these bytes
  // (a Response passed on as it came drops them the same way).
  const headers = new Headers(response.headers);
  if (headers.has("content-encoding")) {
    headers.delete("content-encoding");
    headers.delete("content-length");
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Why a request to `worker` failed: its limit, or a crash (also when it is still running). */
async function failureOf(worker: Worker): Promise<RuntimeErrorCode> {
  if (!worker.overLimit && !worker.exit) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      worker.process.exited,
      new Promise((resolve) => timer = setTimeout(resolve, EXIT_GRACE_MS)),
    ]);
    clearTimeout(timer);
  }
  return isOverLimit(worker) ? "WORKER_LIMIT" : "WORKER_ERROR";
}

// V8 ends a process whose heap outgrew `--max-heap-size` with a trap ("Fatal JavaScript out of memory").
function isOverLimit(worker: Worker): boolean {
  return worker.overLimit !== undefined || worker.exit?.signal === "SIGTRAP";
}

function describeExit(worker: Worker): string {
  const { code, signal } = worker.exit!;
  const how = signal ? `signal ${signal}` : `code ${code}`;
  if (worker.overLimit) return `was ended: ${worker.overLimit} reached (${how})`;
  if (isOverLimit(worker)) return `exited: memory limit reached (${how})`;
  return `exited (${how})`;
}
