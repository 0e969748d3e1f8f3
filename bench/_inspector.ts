/**
 * A minimal client of V8's inspector (the Chrome DevTools Protocol over a WebSocket), enough to record a CPU
 * profile of a process started with `--inspect`: Deno 2.1.4, the Edge Runtime's, has no `--cpu-prof`.
 *
 * @module
 */

/** One node of a `.cpuprofile` (the Chrome DevTools format). */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** A `.cpuprofile`. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A connection to one process's inspector. */
export interface Inspector {
  /** Sends one protocol command and resolves with its result. */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Records a CPU profile (one sample every `intervalMicros`) around `work`, and returns both. */
  profile<T>(intervalMicros: number, work: () => Promise<T>): Promise<{ profile: CpuProfile; result: T }>;
  close(): void;
}

/**
 * Connects to the inspector of the process listening on `127.0.0.1:port` (its first target).
 *
 * @param port The `--inspect` port.
 * @returns The connection.
 * @throws {Error} When the inspector does not answer, or a command fails.
 */
export async function connectInspector(port: number): Promise<Inspector> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`the inspector on port ${port} did not accept a connection`));
  });
  let lastId = 0;
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const waiter = pending.get(message.id);
    if (!waiter) return; // An event, not an answer.
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`inspector: ${message.error.message}`));
    else waiter.resolve(message.result);
  };
  const call = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++lastId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    async profile(intervalMicros, work) {
      await call("Profiler.enable");
      await call("Profiler.setSamplingInterval", { interval: intervalMicros });
      await call("Profiler.start");
      const result = await work();
      const { profile } = await call<{ profile: CpuProfile }>("Profiler.stop");
      return { profile, result };
    },
    close: () => socket.close(),
  };
}
