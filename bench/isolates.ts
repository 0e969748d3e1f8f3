/**
 * `deno task bench --isolates`: `exchange-token` through the stack's gateway served by 1, 4 and 8 workers
 * (isolates on the platform, each with its own pool of 3 connections), connected to Postgres directly and
 * through the transaction pooler (PgBouncer, standing in for Supavisor). For each: wrk's throughput and
 * latency, the peak of Postgres connections the function held (sampled from `pg_stat_activity`), the
 * workers' summed peak RSS, and how many workers booted during the load (the CPU rule retires a worker at
 * 1 s of CPU time, and its slot boots another). `--smoke` runs 2 workers in each mode briefly, to keep it working in CI. Writes
 * `bench/isolates_results.json`.
 *
 * Both modes run the workers on the tooling's Deno, so that they compare like with like: on Deno 2.1.4,
 * postgres.js's TLS upgrade to PgBouncer never completes (`tests/dev/connection_limit_test.ts`).
 *
 * @module
 */
import postgres from "postgres";
import { type LocalStack, startStack } from "../dev/stack.ts";
import type { PoolerMode } from "../dev/pooler.ts";
import { type LoadResult, memoryMiB, runWrk } from "./_measure.ts";
import { createBenchUsers } from "./_users.ts";

/** How long and how wide `runIsolatesBench` measures. */
export interface IsolatesOptions {
  /** Short runs of 2 workers, for CI: figures are not meaningful. */
  smoke: boolean;
}

/** One configuration's figures. */
interface Row extends LoadResult {
  mode: "direct" | "pooler";
  workers: number;
  /** The most connections the function (or PgBouncer for it) held to Postgres at once, sampled. */
  peakServerConnections: number;
  /** The workers' resident memory summed, at its sampled peak, in MiB. */
  peakRssMiB: number;
  /** Workers booted during the load: each retired at 1 s of CPU time (the runtime's rule) is replaced. */
  bootsDuringLoad: number;
}

const progress = (line: string) => console.error(`… ${line}`);

/**
 * Measures every configuration in turn, each on a stack of its own, and prints the table.
 *
 * @param options Whether it is a smoke run.
 * @example
 * ```ts ignore
 * await runIsolatesBench({ smoke: true });
 * ```
 */
export async function runIsolatesBench(options: IsolatesOptions): Promise<void> {
  const { smoke } = options;
  const workerCounts = smoke ? [2] : [1, 4, 8];
  const rows: Row[] = [];
  for (const mode of ["direct", "pooler"] as const) {
    for (const workers of workerCounts) {
      progress(`${mode}, ${workers} worker(s): starting the stack`);
      rows.push(await measureOne(mode, workers, smoke));
    }
  }
  report(rows, smoke);
  await Deno.writeTextFile(
    new URL("isolates_results.json", import.meta.url),
    JSON.stringify({ smoke, rows }, null, 2) + "\n",
  );
}

/** One stack with `workers` workers per function, its users provisioned, then wrk through its gateway. */
async function measureOne(mode: Row["mode"], workers: number, smoke: boolean): Promise<Row> {
  const dbPooler: PoolerMode | undefined = mode === "pooler" ? "transaction" : undefined;
  const stack = await startStack({ functionWorkers: workers, dbPooler, edgeDenoVersion: Deno.version.deno });
  // As the superuser, so that its connection is not one of the function's in the count.
  const admin = postgres(stack.postgres.url, { max: 2, onnotice: () => {} });
  const tokensFile = await Deno.makeTempFile({ prefix: "bench-isolates-tokens-" });
  try {
    const users = await createBenchUsers(admin, stack.auth, smoke ? 20 : 200);
    // Each user's first exchange provisions it (and, in turn, opens a connection in every worker).
    for (const user of users) await exchangeOnce(stack, user.token);
    await Deno.writeTextFile(tokensFile, users.map((u) => u.token).join("\n") + "\n");
    let peakServerConnections = 0;
    let peakRssMiB = 0;
    const sample = async () => {
      const [{ count }] = await admin<{ count: number }[]>`
        select count(*)::int as count from pg_stat_activity where usename = 'postgres'`;
      peakServerConnections = Math.max(peakServerConnections, count);
      const rss = stack.functionPids.reduce<number>((sum, pid) => sum + (pid ? rssOf(pid) : 0), 0);
      peakRssMiB = Math.max(peakRssMiB, rss);
    };
    const sampler = setInterval(() => sample().catch(() => {}), 100);
    const connections = smoke ? 8 : 64;
    const bootsBefore = stack.functionBoots;
    progress(`${mode}, ${workers} worker(s): wrk, ${connections} connections`);
    const load = await runWrk(`${stack.apiUrl}/functions/v1/exchange-token`, {
      connections,
      seconds: smoke ? 1 : 10,
      tokensFile,
      script: new URL("rotate_tokens.lua", import.meta.url).pathname,
    }).finally(() => clearInterval(sampler));
    await sample();
    const bootsDuringLoad = stack.functionBoots - bootsBefore;
    return { mode, workers, ...load, peakServerConnections, peakRssMiB, bootsDuringLoad };
  } finally {
    await Deno.remove(tokensFile);
    await admin.end();
    await stack.stop();
  }
}

async function exchangeOnce(stack: LocalStack, token: string) {
  const res = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });
  if (res.status !== 200) throw new Error(`exchange answered ${res.status}: ${await res.text()}`);
  await res.body?.cancel();
}

/** A worker's RSS in MiB, or 0 once it has exited (a worker retired by the CPU rule; its status has none). */
function rssOf(pid: number): number {
  try {
    return memoryMiB(pid).rss || 0;
  } catch {
    return 0;
  }
}

function report(rows: Row[], smoke: boolean) {
  const f = (n: number, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const table = [
    [
      "mode",
      "workers",
      "wrk c",
      "req/s",
      "p50",
      "p99",
      "errors",
      "Postgres connections",
      "workers' RSS",
      "boots during load",
    ],
    ...rows.map((r) => [
      r.mode,
      String(r.workers),
      String(r.connections),
      f(r.requestsPerSecond),
      `${f(r.p50Ms, 2)} ms`,
      `${f(r.p99Ms, 2)} ms`,
      String(r.errors),
      String(r.peakServerConnections),
      `${f(r.peakRssMiB, 1)} MiB`,
      String(r.bootsDuringLoad),
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
  console.log(
    [line(table[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...table.slice(1).map(line)]
      .join("\n"),
  );
  if (smoke) console.log("\n(smoke run: figures are not meaningful)");
}
