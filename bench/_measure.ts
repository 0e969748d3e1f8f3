/**
 * Small measuring tools for the benchmark: timing loops, wrk runs and process memory.
 *
 * @module
 */

/** A sequential measurement. */
export interface Rate {
  ops: number;
  opsPerSecond: number;
  /** Mean time per operation, in microseconds. */
  meanMicros: number;
}

/**
 * Runs `fn` one call at a time, first `warmup` times unmeasured, then `iterations` times.
 *
 * @returns Operations per second and the mean time per operation.
 */
export async function measure(
  fn: (i: number) => Promise<unknown>,
  iterations: number,
  warmup = Math.min(200, iterations),
): Promise<Rate> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await fn(warmup + i);
  const seconds = (performance.now() - start) / 1000;
  return { ops: iterations, opsPerSecond: iterations / seconds, meanMicros: (seconds * 1e6) / iterations };
}

/** What one wrk run measured. */
export interface LoadResult {
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
}

/** Runs wrk with `--latency` and the token-rotating script against `url`. */
export async function runWrk(
  url: string,
  options: { connections: number; seconds: number; tokensFile: string; script: string },
): Promise<LoadResult> {
  const threads = Math.min(2, options.connections);
  const { code, stdout, stderr } = await new Deno.Command("wrk", {
    args: [
      `-t${threads}`,
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--latency",
      "--timeout",
      "5s",
      "-s",
      options.script,
      url,
    ],
    env: { TOKENS_FILE: options.tokensFile },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  if (code !== 0) throw new Error(`wrk failed: ${new TextDecoder().decode(stderr)}${out}`);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    connections: options.connections,
    seconds: options.seconds,
    requests,
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: wrkMillis(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: wrkMillis(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: non2xx + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

function wrkMillis(value: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(value ?? "");
  if (!match) return NaN;
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as "us" | "ms" | "s" | "m"];
  return Number(match[1]) * factor;
}

/** Resident memory of a process, now and at its peak, in MiB (Linux `/proc`). */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** A sequential measurement's latencies. */
export interface Latency {
  ops: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `fn` one call at a time, first `warmup` times unmeasured, then `iterations` times, timing each call.
 *
 * @returns The mean, median and 99th percentile of one call, in milliseconds.
 */
export async function measureLatency(
  fn: (i: number) => Promise<unknown>,
  iterations: number,
  warmup = Math.min(50, iterations),
): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn(i);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn(warmup + i);
    times.push(performance.now() - start);
  }
  return latencyOf(times);
}

/**
 * The mean, median and 99th percentile of some durations.
 *
 * @param durations Milliseconds, one per call.
 * @returns The figures, in milliseconds.
 */
export function latencyOf(durations: number[]): Latency {
  const times = [...durations].sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return {
    ops: times.length,
    meanMs: times.reduce((sum, t) => sum + t, 0) / times.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}
