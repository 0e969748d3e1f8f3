/**
 * A stand-in for the Edge runtime in front of one function: N workers of it at once (a Deno process each
 * here, an isolate each there), requests spread over them in turn. The platform runs a busy function in many
 * isolates, each with its own module state: its own caches and its own pool of database connections (3 for
 * this project's functions), so a project's connection count grows with its isolates, not with its traffic.
 * `workers` (the local stack's `EDGE_WORKERS_PER_FUNCTION`, 1 by default) sets N, to see that locally.
 *
 * Each worker sits in a slot of its own (`dev/edge_worker_supervisor.ts`), which keeps the runtime's rules
 * per worker, as the runtime applies them per isolate: a boot error, a crash and a memory or wall-clock limit
 * are answered as the runtime answers them (503 `BOOT_ERROR`, 500 `WORKER_ERROR`, 546 `WORKER_LIMIT`), and the
 * CPU rule retires or ends that worker only; its slot boots a fresh one at its next turn.
 *
 * Where this differs from the platform: its load balancer sends a request to any isolate that has room and
 * starts new ones under load (up to limits of its own), where this stand-in has a fixed N and a strict turn.
 * A turn that finds its slot booting waits for that boot, as a request waits for a cold isolate there.
 *
 * @module
 */
import {
  superviseWorker,
  type WorkerSupervisor,
  type WorkerSupervisorOptions,
} from "./edge_worker_supervisor.ts";

export {
  EDGE_CPU_HARD_LIMIT_MS,
  EDGE_CPU_SOFT_LIMIT_MS,
  EDGE_MEMORY_LIMIT_MIB,
  EDGE_WALL_CLOCK_LIMIT_MS,
  type FunctionProcess,
  type RuntimeErrorCode,
  runtimeErrorResponse,
} from "./edge_worker_supervisor.ts";

/** Options for {@linkcode startEdgeRuntime}: a slot's options (`dev/edge_worker_supervisor.ts`), and N. */
export interface EdgeRuntimeOptions extends Omit<WorkerSupervisorOptions, "onBooted"> {
  /** How many workers serve the function at once, each in its own process; 1 by default. */
  workers?: number;
  /**
   * With one worker only: the port it listens on, kept across reboots (see `WorkerSupervisorOptions.port`).
   * Several workers each reserve a free port of their own.
   */
  port?: number;
}

/** A running runtime: see {@linkcode startEdgeRuntime}. */
export interface EdgeRuntime {
  /**
   * Forwards a request to the next worker in turn (booting one if its slot has none) and returns its
   * answer, or the runtime's error answer. Never throws.
   */
  fetch(request: Request): Promise<Response>;
  /** Boots every slot's worker now if it has none; rejects as the first failed boot did. */
  boot(): Promise<void>;
  /** How many workers serve the function at once. */
  readonly workers: number;
  /** The process id of the worker booted last, in any slot (it may have exited since). */
  readonly pid: number | undefined;
  /** Each slot's worker booted last (undefined before its first boot), in slot order. */
  readonly pids: ReadonlyArray<number | undefined>;
  /** How many workers have booted so far, in all slots (each holds its own caches, as each isolate does). */
  readonly boots: number;
  /** The first slot's port; 0 before its first boot when none was given. */
  readonly port: number;
  /** Each slot's port, in slot order. */
  readonly ports: readonly number[];
  /** The first slot's address, e.g. `http://127.0.0.1:8081`: one worker, past the turn. */
  readonly url: string;
  /** Stops every worker and boots no other. */
  stop(): Promise<void>;
}

/**
 * Runs a function in `workers` slots and spreads requests over them in turn.
 *
 * @param options How to boot a worker, how many, the limits and the log.
 * @returns The runtime; nothing is booted until {@linkcode EdgeRuntime.boot} or a request.
 * @throws {RangeError} When `workers` is not a whole number from 1, or a port is given with several.
 * @example Four workers of a function, requests in turn
 * ```ts ignore
 * const runtime = startEdgeRuntime({ boot: (port) => startFunction(port, env), workers: 4 });
 * await runtime.boot();
 * const res = await runtime.fetch(new Request("http://gateway/exchange-token", { method: "POST" }));
 * await runtime.stop();
 * ```
 */
export function startEdgeRuntime(options: EdgeRuntimeOptions): EdgeRuntime {
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a whole number from 1, not ${workers}`);
  }
  // Two workers cannot listen on one port.
  if (workers > 1 && options.port) throw new RangeError("a port is one worker's: give none with several");
  let lastPid: number | undefined;
  const slots: WorkerSupervisor[] = Array.from(
    { length: workers },
    () => superviseWorker({ ...options, onBooted: (pid) => lastPid = pid }),
  );
  let turn = 0;
  return {
    fetch(request) {
      const slot = slots[turn];
      turn = (turn + 1) % workers;
      return slot.fetch(request);
    },
    async boot() {
      await Promise.all(slots.map((slot) => slot.boot()));
    },
    workers,
    get pid() {
      return lastPid;
    },
    get pids() {
      return slots.map((slot) => slot.pid);
    },
    get boots() {
      return slots.reduce((sum, slot) => sum + slot.boots, 0);
    },
    get port() {
      return slots[0].port;
    },
    get ports() {
      return slots.map((slot) => slot.port);
    },
    get url() {
      return slots[0].url;
    },
    async stop() {
      await Promise.all(slots.map((slot) => slot.stop()));
    },
  };
}
