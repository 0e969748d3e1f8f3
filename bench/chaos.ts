/**
 * `deno task chaos`: the stack's parts stopped and started again under mixed traffic (`_traffic.ts`), each
 * fault bounded in time, and what the callers got, printed as counts:
 *
 * - `postgres`: Postgres stopped (data kept) and started again, the function connected directly;
 * - `pooler`: PgBouncer stopped and started again, the function connected through it (transaction mode);
 * - `auth`: Auth unreachable behind the gateway: ES256 exchanges and tenant reads go on with the JWKS the
 *   workers hold, HS256 exchanges answer 503 `auth_unavailable`, invitations are made without their mail, and
 *   a cold worker with no keys (started without `SUPABASE_JWKS`) answers 503;
 * - `smtp`: the mailbox's SMTP server stopped during invitations: `email_sent: false`, the invitation kept.
 *
 * The targets (issue 23): while a part is down only 503s with `Retry-After` besides the 2xx; 2xx again within
 * 2 s of it coming back; no worker restart (a crash or a limit; the CPU rule's retirements, which the Edge
 * runtime makes under any load, are counted apart); no answer past the function's deadlines (Auth's and the
 * database's, 5 s each); nothing lost or duplicated, counted in the database afterwards. `--smoke` runs each
 * fault briefly, and fails on a missed target but the timing ones (2 s, the deadlines) and the one that needs an
 * HS256 exchange to land in Auth's 2 s down time, which a loaded CI machine can miss; a full run exits 1 on
 * any, and writes `bench/chaos_results.json`.
 *
 * @module
 */
import { type LocalStack, type StackPart, startStack } from "../dev/stack.ts";
import { startFunction } from "../dev/function_worker.ts";
import { freePort } from "../dev/ports.ts";
import { countLedger, type LedgerCounts, prepareTraffic, type Sample, startTraffic } from "./_traffic.ts";

/** The function's own deadlines in a row (Auth's call, then the database's transaction), plus 1 s of slack. */
const DEADLINE_MS = 5_000 + 5_000 + 1_000;
/** The time a caller may wait, after a part is back, for 2xx again. */
const RECOVERY_TARGET_MS = 2_000;
const WORKERS = 2;
const CONCURRENCY = 8;
const USERS = 40;
/** The Edge runtime stand-in's line for a worker that crashed or was ended for a limit (dev/edge_worker_supervisor.ts). */
const CRASH = /^\[edge-runtime\] worker \d+ (exited \(code|exited: memory limit|was ended)/;
/** Its line for a worker retired at the CPU soft limit. */
const RETIREMENT = /^\[edge-runtime\] worker \d+: CPU time soft limit reached/;

/** One fault: which part, and what its traffic mixes. */
interface Fault {
  part: StackPart;
  mix: Partial<Record<Sample["kind"], number>>;
}

/** What one fault did to the traffic. */
export interface FaultResult {
  part: StackPart;
  downMs: number;
  requests: number;
  /** Answers by status, over the whole run of this fault. */
  byStatus: Record<string, number>;
  /** Of the answers to requests in flight while the part was down: by status and error code. */
  whileDown: Record<string, number>;
  /** Of the answers to requests sent after the part was back, those not 2xx: by kind, status and error code. */
  afterUp: Record<string, number>;
  /** Answers that are neither 2xx nor 503 with `Retry-After`, by status and error code. */
  unexpected: Record<string, number>;
  /** From the part's start to the last non-2xx answer to a request sent after it (0: none). */
  recoveryMs: number;
  maxMs: number;
  /** Workers of any function that crashed or were ended for a limit (the CPU rule's retirements aside). */
  workerCrashes: number;
  /** Workers retired at the CPU soft limit, as the Edge runtime does under load (not a fault). */
  workerRetirements: number;
  /** For `auth`: what a cold worker with no keys answered. */
  coldWorker?: string;
  /** For `smtp` and `auth`: invitations answered 201 with `email_sent: false`. */
  invitationsWithoutMail?: number;
}

/** A whole run. */
export interface ChaosReport {
  smoke: boolean;
  faults: FaultResult[];
  ledger: LedgerCounts[];
  /** Targets missed, but the timing ones. */
  missed: string[];
  /** Timing targets missed: 2xx again within 2 s, every answer within the deadlines. */
  missedTimes: string[];
}

/**
 * Runs every fault on two stacks (direct, then through the pooler) and prints the counts.
 *
 * @param options `smoke` for short faults.
 * @returns The report.
 */
export async function runChaos(
  options: { smoke: boolean; only?: StackPart; log?: (line: string) => void },
): Promise<ChaosReport> {
  const seconds = options.smoke ? { warm: 1, down: 2, after: 3 } : { warm: 3, down: 5, after: 5 };
  const report: ChaosReport = { smoke: options.smoke, faults: [], ledger: [], missed: [], missedTimes: [] };
  const mixed = { exchange: 6, tenant_read: 2, invitation: 1, exchange_hs256: 1 };
  const stacks: Array<{ pooled: boolean; faults: Fault[] }> = [
    {
      pooled: false,
      faults: [
        { part: "postgres", mix: mixed },
        { part: "auth", mix: mixed },
        { part: "smtp", mix: { exchange: 2, invitation: 4 } },
      ],
    },
    { pooled: true, faults: [{ part: "pooler", mix: mixed }] },
  ];
  for (const { pooled, faults } of stacks) {
    progress(`starting the stack (${WORKERS} workers, ${pooled ? "through the pooler" : "direct"})`);
    // Through the pooler the workers run on the tooling's Deno, as the pooled suites do (docs/local-stack.md).
    const workers = { crashes: 0, retirements: 0 };
    const stack = await startStack({
      log: (line) => {
        options.log?.(line);
        if (CRASH.test(line)) workers.crashes++;
        if (RETIREMENT.test(line)) workers.retirements++;
      },
      functionWorkers: WORKERS,
      ...(pooled ? { dbPooler: "transaction" as const, edgeDenoVersion: Deno.version.deno } : {}),
    });
    try {
      const setup = await prepareTraffic(stack, USERS);
      const all: Sample[] = [];
      for (const fault of faults.filter((f) => !options.only || f.part === options.only)) {
        progress(`${fault.part}: down for ${seconds.down} s under load`);
        const samples: Sample[] = [];
        const before = { ...workers };
        const traffic = startTraffic(setup, {
          concurrency: CONCURRENCY,
          mix: () => fault.mix,
          onSample: (sample) => samples.push(sample),
        });
        const t0 = traffic.started;
        await sleep(seconds.warm * 1000);
        const downAt = performance.now() - t0;
        await stack.faults.stop(fault.part);
        const cold = fault.part === "auth" ? await askColdWorker(stack, setup.tokens[0]) : undefined;
        await sleep(Math.max(0, seconds.down * 1000 - (performance.now() - t0 - downAt)));
        await stack.faults.start(fault.part);
        const upAt = performance.now() - t0;
        await sleep(seconds.after * 1000);
        await traffic.stop();
        const result = summarise(fault.part, samples, downAt, upAt, {
          crashes: workers.crashes - before.crashes,
          retirements: workers.retirements - before.retirements,
        });
        result.coldWorker = cold;
        report.faults.push(result);
        all.push(...samples);
        print(result);
      }
      const ledger = await countLedger(stack, setup, all);
      report.ledger.push(ledger);
      console.log(`  ledger (${pooled ? "pooled" : "direct"} stack): ${JSON.stringify(ledger)}`);
    } finally {
      await stack.stop();
    }
  }
  const missed = missedTargets(report);
  report.missed = missed.other;
  report.missedTimes = missed.times;
  const all = [...missed.other, ...missed.times];
  console.log(all.length ? `MISSED: ${all.join("; ")}` : "every target met");
  return report;
}

/** Counts one fault's answers against its window. */
function summarise(
  part: StackPart,
  samples: Sample[],
  downAt: number,
  upAt: number,
  workers: { crashes: number; retirements: number },
): FaultResult {
  const label = (s: Sample) => `${s.status}${s.error ? ` ${s.error}` : ""}`;
  const tally = (list: Sample[], key = label) =>
    list.reduce((acc, s) => (acc[key(s)] = (acc[key(s)] ?? 0) + 1, acc), {} as Record<string, number>);
  const ok = (s: Sample) => s.status >= 200 && s.status < 300;
  const expected = (s: Sample) => ok(s) || (s.status === 503 && s.retryAfter !== null);
  const after = samples.filter((s) => s.start >= upAt && !ok(s));
  const invitations = samples.filter((s) => s.kind === "invitation" && s.status === 201);
  return {
    part,
    downMs: Math.round(upAt - downAt),
    requests: samples.length,
    byStatus: tally(samples, (s) => String(s.status)),
    whileDown: tally(
      samples.filter((s) => s.start < upAt && s.start + s.ms > downAt),
      (s) => `${s.kind} ${label(s)}`,
    ),
    unexpected: tally(samples.filter((s) => !expected(s))),
    afterUp: tally(after, (s) => `${s.kind} ${label(s)}${s.ms > 4_000 ? " (at its deadline)" : ""}`),
    recoveryMs: Math.round(Math.max(0, ...after.map((s) => s.start + s.ms - upAt))),
    maxMs: Math.round(Math.max(0, ...samples.map((s) => s.ms))),
    workerCrashes: workers.crashes,
    workerRetirements: workers.retirements,
    invitationsWithoutMail: invitations.filter((s) => s.emailSent === false).length,
  };
}

/** A worker booted while Auth is down, without the JWKS Supabase injects: its first ES256 exchange. */
async function askColdWorker(stack: LocalStack, token: string): Promise<string> {
  const port = freePort();
  const { SUPABASE_JWKS: _injected, ...env } = stack.functionEnv;
  const fn = await startFunction(port, env, { denoVersion: stack.edgeDenoVersion });
  try {
    await fn.listening;
    const res = await fetch(`http://127.0.0.1:${port}/exchange-token`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    const body = await res.json();
    return `${res.status} ${body.error ?? ""}${res.headers.get("retry-after") ? " Retry-After" : ""}`.trim();
  } finally {
    await fn.stop();
  }
}

/** The targets each fault missed, in words: the timing (and sampling) ones apart, which only a full run fails on. */
function missedTargets(report: ChaosReport): { other: string[]; times: string[] } {
  const missed: string[] = [];
  const times: string[] = [];
  for (const f of report.faults) {
    if (Object.keys(f.unexpected).length) {
      missed.push(`${f.part}: unexpected ${JSON.stringify(f.unexpected)}`);
    }
    if (f.recoveryMs > RECOVERY_TARGET_MS) times.push(`${f.part}: 2xx again after ${f.recoveryMs} ms`);
    if (f.maxMs > DEADLINE_MS) times.push(`${f.part}: an answer took ${f.maxMs} ms`);
    if (f.workerCrashes > 0) missed.push(`${f.part}: ${f.workerCrashes} workers crashed`);
    if (f.part === "auth") {
      if (!/^503 .*Retry-After$/.test(f.coldWorker ?? "")) {
        missed.push(`auth: a cold worker said ${f.coldWorker}`);
      }
      const down = Object.entries(f.whileDown);
      if (down.some(([k]) => k.startsWith("exchange ") && !k.startsWith("exchange 200"))) {
        missed.push("auth: an ES256 exchange failed while Auth was down");
      }
      // A sampling target, as the timing ones: on a loaded machine a 2 s window may see no HS256 exchange
      // at all (the cold worker's start takes part of it).
      if (!down.some(([k]) => k === "exchange_hs256 503 auth_unavailable")) {
        times.push("auth: no HS256 exchange answered 503 auth_unavailable");
      }
    }
    if (f.part === "smtp" && !f.invitationsWithoutMail) {
      missed.push("smtp: no invitation said email_sent: false");
    }
  }
  for (const l of report.ledger) {
    // An invitation committed whose answer was lost with the connection (a 503) is neither lost nor
    // duplicated: the caller's retry gets 409 conflict. It is counted, not a miss.
    const { invitationsAnswered: _answered, invitationsUnanswered: _unanswered, ...counts } = l;
    for (const [name, n] of Object.entries(counts)) if (n > 0) missed.push(`ledger: ${name} ${n}`);
  }
  return { other: missed, times };
}

function print(r: FaultResult) {
  console.log(
    `${r.part}: ${r.requests} requests ${JSON.stringify(r.byStatus)}, down ${r.downMs} ms, ` +
      `2xx again after ${r.recoveryMs} ms, slowest ${r.maxMs} ms, workers crashed ${r.workerCrashes} ` +
      `(retired at the CPU limit ${r.workerRetirements})`,
  );
  console.log(`  while down: ${JSON.stringify(r.whileDown)}`);
  if (Object.keys(r.afterUp).length) console.log(`  not 2xx after: ${JSON.stringify(r.afterUp)}`);
  if (Object.keys(r.unexpected).length) console.log(`  unexpected: ${JSON.stringify(r.unexpected)}`);
  if (r.coldWorker) console.log(`  a cold worker with no keys: ${r.coldWorker}`);
  if (r.invitationsWithoutMail) {
    console.log(`  invitations with email_sent false: ${r.invitationsWithoutMail}`);
  }
}

function progress(line: string) {
  console.error(`… ${line}`);
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) {
  const smoke = Deno.args.includes("--smoke");
  const flag = (name: string) =>
    Deno.args.includes(name) ? Deno.args[Deno.args.indexOf(name) + 1] : undefined;
  const logFile = flag("--log");
  const report = await runChaos({
    smoke,
    only: flag("--only") as StackPart | undefined,
    log: logFile ? (line) => Deno.writeTextFileSync(logFile, line + "\n", { append: true }) : undefined,
  });
  if (!smoke) {
    await Deno.writeTextFile(
      new URL("./chaos_results.json", import.meta.url),
      JSON.stringify(report, null, 2) + "\n",
    );
  }
  Deno.exit(report.missed.length || (!smoke && report.missedTimes.length) ? 1 : 0);
}
