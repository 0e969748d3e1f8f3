/**
 * `deno task bench --soak 20m`: minutes of mixed traffic through the gateway (`_traffic.ts`: exchanges,
 * tenant reads, invitations) against one local stack, read in windows (a minute each, or a tenth of a run
 * under 5 minutes): answers and 5xx, p50/p99, the RSS of the `exchange-token` workers and of the process that
 * runs the stack's stand-ins, and the Postgres connections each function holds.
 *
 * The targets (issue 23), read after the first window (warm-up): the workers' RSS drift from the second
 * window to the last ≤ 10% (the stand-ins' is shown, not a target: they are not what is deployed), p99 of the
 * last window within 1.2× of the second's, server connections constant, no 5xx. The Edge runtime's CPU rule
 * retires a busy worker and boots a fresh one (counted), so the workers' RSS is that of the workers serving at
 * each reading. `--soak 30s` is CI's smoke: it fails on a 5xx or a hang only. A run of 5 minutes or more
 * writes `bench/soak_results.json`.
 *
 * @module
 */
import postgres from "postgres";
import { startStack } from "../dev/stack.ts";
import { latencyOf, memoryMiB } from "./_measure.ts";
import { prepareTraffic, type Sample, startTraffic } from "./_traffic.ts";

const CONCURRENCY = 8;
const USERS = 200;
/** How often memory and connections are read within a window. */
const SAMPLE_EVERY_MS = 5_000;
const MIX = { exchange: 6, tenant_read: 3, invitation: 1 };

/** One window's readings. */
export interface SoakWindow {
  /** Its end, in seconds from the start. */
  atSeconds: number;
  requests: number;
  fiveXx: number;
  /** Requests with no answer within the client's bound (30 s). */
  hangs: number;
  p50Ms: number;
  p99Ms: number;
  /** Summed RSS of the `exchange-token` workers, the mean of the readings, in MiB. */
  workersRssMiB: number;
  /** RSS of this process (gateway, Auth emulator, mailbox, Edge runtime stand-in), in MiB. */
  standInsRssMiB: number;
  /** Postgres client connections by `application_name`, the most seen in the window. */
  connections: Record<string, number>;
  /** Workers of `exchange-token` booted in the window (the CPU rule's retirements replaced). */
  workerBoots: number;
}

/** A soak's result. */
export interface SoakReport {
  durationSeconds: number;
  windows: SoakWindow[];
  summary: {
    requests: number;
    fiveXx: number;
    hangs: number;
    workersRssDrift: number;
    standInsRssDrift: number;
    p99Ratio: number;
    connectionsRange: [number, number];
    missed: string[];
  };
}

/**
 * Parses `30s`, `20m` or `1h` into seconds.
 *
 * @param text The duration.
 * @returns Seconds.
 * @throws {Error} On anything else.
 */
export function parseSoakDuration(text: string | undefined): number {
  const match = /^(\d+)(s|m|h)$/.exec(text ?? "");
  if (!match) throw new Error(`--soak takes a duration such as 30s or 20m, not ${text}`);
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
}

/**
 * Runs the soak and prints its windows and summary.
 *
 * @param durationSeconds How long the traffic runs.
 * @returns The report.
 */
export async function runSoak(durationSeconds: number): Promise<SoakReport> {
  const windowSeconds = durationSeconds >= 300 ? 60 : Math.max(1, durationSeconds / 10);
  console.error(`… starting the stack; ${durationSeconds} s of traffic in windows of ${windowSeconds} s`);
  const stack = await startStack();
  const admin = postgres(stack.postgres.url, { max: 1, onnotice: () => {} });
  const windows: SoakWindow[] = [];
  try {
    const setup = await prepareTraffic(stack, USERS);
    let current: Sample[] = [];
    const traffic = startTraffic(setup, {
      concurrency: CONCURRENCY,
      mix: () => MIX,
      onSample: (sample) => current.push(sample),
    });
    const end = traffic.started + durationSeconds * 1000;
    let boots = stack.functionBoots;
    for (let w = 1; performance.now() < end - 100; w++) {
      const windowEnd = Math.min(end, traffic.started + w * windowSeconds * 1000);
      const rss: number[] = [];
      const own: number[] = [];
      const connections: Record<string, number> = {};
      while (performance.now() < windowEnd) {
        await sleep(Math.min(SAMPLE_EVERY_MS, windowEnd - performance.now()));
        rss.push(workersRss(stack.functionPids));
        own.push(Deno.memoryUsage().rss / 2 ** 20);
        for (
          const { name, n } of await admin<{ name: string; n: number }[]>`
          select application_name as name, count(*)::int as n from pg_stat_activity
           where backend_type = 'client backend' and pid <> pg_backend_pid() group by 1`
        ) {
          connections[name || "(none)"] = Math.max(connections[name || "(none)"] ?? 0, n);
        }
      }
      const samples = current;
      current = [];
      const latency = latencyOf(samples.map((s) => s.ms));
      const window: SoakWindow = {
        atSeconds: Math.round((windowEnd - traffic.started) / 1000),
        requests: samples.length,
        fiveXx: samples.filter((s) => s.status >= 500).length,
        hangs: samples.filter((s) => s.status === 0).length,
        p50Ms: round(latency.p50Ms),
        p99Ms: round(latency.p99Ms),
        workersRssMiB: round(mean(rss)),
        standInsRssMiB: round(mean(own)),
        connections,
        workerBoots: stack.functionBoots - boots,
      };
      boots = stack.functionBoots;
      windows.push(window);
      console.log(
        `${window.atSeconds} s: ${window.requests} requests, 5xx ${window.fiveXx}, p50 ${window.p50Ms} ms, ` +
          `p99 ${window.p99Ms} ms, workers ${window.workersRssMiB} MiB (${window.workerBoots} booted), ` +
          `stand-ins ${window.standInsRssMiB} MiB, connections ${JSON.stringify(connections)}`,
      );
    }
    await traffic.stop();
    const report = { durationSeconds, windows, summary: summarise(windows) };
    const s = report.summary;
    console.log(
      `requests ${s.requests}, 5xx ${s.fiveXx}, hangs ${s.hangs}; workers' RSS drift ${
        pct(s.workersRssDrift)
      }, ` +
        `stand-ins' ${pct(s.standInsRssDrift)}; p99 last/second ${s.p99Ratio.toFixed(2)}×; ` +
        `connections ${s.connectionsRange[0]}–${s.connectionsRange[1]}`,
    );
    console.log(s.missed.length ? `MISSED: ${s.missed.join("; ")}` : "every target met");
    return report;
  } finally {
    await admin.end();
    await stack.stop();
  }
}

/** The targets, from the second window (after warm-up) to the last. */
function summarise(windows: SoakWindow[]): SoakReport["summary"] {
  const second = windows[Math.min(1, windows.length - 1)];
  const last = windows[windows.length - 1];
  const after = windows.slice(1);
  const total = (list: SoakWindow[]) =>
    list.reduce((sum, w) => sum + Object.values(w.connections).reduce((a, b) => a + b, 0), 0);
  const perWindow = after.map((w) => total([w]));
  const summary = {
    requests: windows.reduce((sum, w) => sum + w.requests, 0),
    fiveXx: windows.reduce((sum, w) => sum + w.fiveXx, 0),
    hangs: windows.reduce((sum, w) => sum + w.hangs, 0),
    workersRssDrift: last.workersRssMiB / second.workersRssMiB - 1,
    standInsRssDrift: last.standInsRssMiB / second.standInsRssMiB - 1,
    p99Ratio: last.p99Ms / second.p99Ms,
    connectionsRange: [Math.min(...perWindow), Math.max(...perWindow)] as [number, number],
    missed: [] as string[],
  };
  if (summary.fiveXx > 0) summary.missed.push(`${summary.fiveXx} 5xx`);
  if (summary.hangs > 0) summary.missed.push(`${summary.hangs} requests hung`);
  if (summary.workersRssDrift > 0.1) {
    summary.missed.push(`workers' RSS drift ${pct(summary.workersRssDrift)}`);
  }
  if (summary.p99Ratio > 1.2) summary.missed.push(`p99 last/second ${summary.p99Ratio.toFixed(2)}×`);
  if (summary.connectionsRange[1] - summary.connectionsRange[0] > 2) {
    summary.missed.push(`connections ${summary.connectionsRange[0]}–${summary.connectionsRange[1]}`);
  }
  return summary;
}

/** Summed RSS of the processes, in MiB; one that has just exited (retired) counts as 0. */
function workersRss(pids: ReadonlyArray<number | undefined>): number {
  let sum = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      const { rss } = memoryMiB(pid);
      if (Number.isFinite(rss)) sum += rss;
    } catch {
      // Exited between the reading of its pid and of its memory.
    }
  }
  return sum;
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function pct(x: number): string {
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
