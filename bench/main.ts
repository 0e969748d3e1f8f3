/**
 * `deno task bench`: how fast an exchange is, measured against the floor of its parts, on loopback against
 * the local stack. Prints one table and writes it as JSON to `bench/results.json`.
 *
 * `--smoke` runs every step briefly (a few hundred requests in all), to keep the benchmark working in CI.
 * `--scale` runs `scale.ts` instead: the same exchange on an empty and on a seeded large database.
 * `--soak <duration>` runs `soak.ts` instead: mixed traffic for that long (`20m`; CI's smoke `30s`), read in
 * windows.
 * `--isolates` runs `isolates.ts` instead: the exchange through the gateway with 1, 4 and 8 workers, each with
 * its own pool, connected directly and through the transaction pooler.
 * `--compare <git-ref>` measures that revision and the working tree alternately instead (`compare.ts`), and
 * `--profile [git-ref]` profiles one exchange's CPU (`profile.ts`).
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { startStack } from "../dev/stack.ts";
import { startFunction } from "../dev/function_worker.ts";
import { EDGE_MEMORY_LIMIT_MIB } from "../dev/edge_runtime.ts";
import { startAuthEmulator } from "../dev/auth_emulator/mod.ts";
import { freePort } from "../dev/ports.ts";
import { urlAs } from "../dev/database.ts";
import { loadExchangeConfig } from "../supabase/functions/_shared/exchange/config.ts";
import { createExchangeApp } from "../supabase/functions/_shared/exchange/app.ts";
import { createBackendSigner } from "../supabase/functions/_shared/exchange/sign.ts";
import { createTenancyResolver } from "../supabase/functions/_shared/exchange/resolver.ts";
import { createEmailTrust } from "../supabase/functions/_shared/core/email_trust.ts";
import { type LoadResult, measure, memoryMiB, type Rate, runWrk } from "./_measure.ts";
import { createBenchUsers, exchangeRequest } from "./_users.ts";
import { runCompare } from "./compare.ts";
import { runProfile } from "./profile.ts";

const smoke = Deno.args.includes("--smoke");
if (Deno.args.includes("--scale")) {
  const { runScaleBench } = await import("./scale.ts");
  await runScaleBench({ smoke, users: smoke ? 10_000 : 1_000_000 });
  Deno.exit(0);
}
if (Deno.args.includes("--soak")) {
  const { parseSoakDuration, runSoak } = await import("./soak.ts");
  const seconds = parseSoakDuration(Deno.args[Deno.args.indexOf("--soak") + 1]);
  const report = await runSoak(seconds);
  if (seconds >= 300) {
    await Deno.writeTextFile(
      new URL("./soak_results.json", import.meta.url),
      JSON.stringify(report, null, 2) + "\n",
    );
  }
  // The smoke (under 5 minutes) fails on a 5xx or a hang only; a full run on any target missed.
  const failed = seconds >= 300
    ? report.summary.missed.length > 0
    : report.summary.fiveXx + report.summary.hangs > 0;
  Deno.exit(failed ? 1 : 0);
}
if (Deno.args.includes("--isolates")) {
  const { runIsolatesBench } = await import("./isolates.ts");
  await runIsolatesBench({ smoke });
  Deno.exit(0);
}
if (Deno.args.includes("--compare")) {
  const compareWith = Deno.args[Deno.args.indexOf("--compare") + 1];
  if (!compareWith || compareWith.startsWith("--")) {
    throw new Error("--compare takes a git revision: --compare main");
  }
  await runCompare(compareWith, { smoke });
  Deno.exit(0);
}
if (Deno.args.includes("--profile")) {
  const ref = Deno.args[Deno.args.indexOf("--profile") + 1];
  await runProfile(ref?.startsWith("--") ? undefined : ref, { smoke });
  Deno.exit(0);
}
const N = smoke ? 30 : 2_000;
const LOAD_SECONDS = smoke ? 1 : 10;
const CONCURRENCY = smoke ? [1, 16] : [1, 16, 64];
const USERS = smoke ? 20 : 200;

const progress = (line: string) => console.error(`… ${line}`);
const quiet = () => {};

progress("starting the local stack");
const stack = await startStack();
const admin = postgres(stack.dbUrl, { max: 4, onnotice: () => {} });
const config = loadExchangeConfig(stack.functionEnv);
/** Everything one run measured (also written to bench/results.json). */
interface Results {
  smoke: boolean;
  machine: ReturnType<typeof machine>;
  floor?: Record<string, Rate>;
  inProcess?: Record<string, Rate & { primitivesMicros: number; ratio: number }>;
  http?: LoadResult[];
  memory?: { sampledPeakRssMiB: number; vmHwmMiB: number; rssAfterMiB: number };
  coldStartMs?: { median: number; all: number[] };
}
const results: Results = { smoke, machine: machine() };

try {
  // The seed's policy gives every @example.com user the demo tenant, so these are members after one exchange.
  progress(`creating ${USERS} users with sessions`);
  const returning = await createBenchUsers(admin, stack.auth, USERS);
  const firstTimers = await createBenchUsers(admin, stack.auth, N + Math.min(200, N));

  // ---------------------------------------------------------------------------------------------
  // The floor: each primitive on its own, one call at a time.
  // ---------------------------------------------------------------------------------------------
  const supabase = createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const tenancy = createTenancyResolver({
    databaseUrl: stack.dbUrl,
    timeoutMs: 5_000,
    emailTrusted: createEmailTrust({
      supabaseUrl: stack.apiUrl,
      supabaseKey: stack.anonKey,
      timeoutMs: 5_000,
    }),
  });
  const sign = createBackendSigner(config.backendJwt);
  const floor: Record<string, Rate> = {};

  progress("primitive: ES256 verification (supabase-js getClaims, JWKS cached)");
  floor.es256_verify = await measure(async (i) => {
    const { error } = await supabase.auth.getClaims(returning[i % returning.length].token);
    if (error) throw error;
  }, N);

  progress("primitive: HS256 signing (the backend signer, node:crypto HMAC)");
  floor.hs256_sign = await measure(
    () =>
      sign(
        { userId: returning[0].id, tenantId: "demo", role: "user", email: returning[0].email },
        new Date(),
      ),
    N,
  );

  progress("primitive: one Postgres round trip (select 1)");
  floor.pg_select_1 = await measure(() => admin`select 1`, N);

  for (const user of returning) await tenancy.resolveTenant(user.claims, null);
  progress("primitive: resolve_tenant for a returning user (one pipelined transaction)");
  floor.resolve_returning = await measure(
    (i) => tenancy.resolveTenant(returning[i % returning.length].claims, null),
    N,
  );
  await tenancy.close();
  results.floor = floor;

  // ---------------------------------------------------------------------------------------------
  // In-process: the real handler called directly, no HTTP.
  // ---------------------------------------------------------------------------------------------
  const app = createExchangeApp(config, { log: quiet });
  const inProcess: Record<string, Rate & { primitivesMicros: number; ratio: number }> = {};
  const ok = async (res: Response) => {
    if (res.status !== 200) throw new Error(`exchange answered ${res.status}: ${await res.text()}`);
    await res.body?.cancel();
  };
  const withRatio = (rate: Rate, parts: Rate[]) => {
    const primitivesMicros = parts.reduce((sum, part) => sum + part.meanMicros, 0);
    return { ...rate, primitivesMicros, ratio: rate.meanMicros / primitivesMicros };
  };

  progress("in-process: returning user, ES256");
  inProcess.returning_es256 = withRatio(
    await measure((i) => app.handler(exchangeRequest(returning[i % returning.length].token)).then(ok), N),
    [floor.es256_verify, floor.resolve_returning, floor.hs256_sign],
  );

  progress("in-process: first-time user (provisioning)");
  inProcess.first_time_es256 = withRatio(
    await measure((i) => app.handler(exchangeRequest(firstTimers[i].token)).then(ok), N),
    [floor.es256_verify, floor.resolve_returning, floor.hs256_sign],
  );
  await app.close();

  progress("in-process: returning user, HS256 (verified by the Auth API)");
  const hsAuth = await startAuthEmulator({
    databaseUrl: urlAs(stack.dbUrl, "supabase_auth_admin"),
    mode: "hs256",
    jwtSecret: stack.jwtSecret,
  });
  const hsConfig = loadExchangeConfig({
    ...stack.functionEnv,
    SUPABASE_URL: hsAuth.url,
    SUPABASE_ANON_KEY: hsAuth.anonKey,
  });
  const hsApp = createExchangeApp(hsConfig, { log: quiet });
  const hsUsers = await Promise.all(
    returning.map(async (u) => ({
      ...u,
      token: await hsAuth.signAccessToken({ ...u.claims, iss: hsAuth.issuer }),
    })),
  );
  const hsSupabase = createClient(hsAuth.url, hsAuth.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  floor.hs256_verify_auth_api = await measure(async (i) => {
    const { error } = await hsSupabase.auth.getClaims(hsUsers[i % hsUsers.length].token);
    if (error) throw error;
  }, N);
  inProcess.returning_hs256 = withRatio(
    await measure((i) => hsApp.handler(exchangeRequest(hsUsers[i % hsUsers.length].token)).then(ok), N),
    [floor.hs256_verify_auth_api, floor.resolve_returning, floor.hs256_sign],
  );
  await hsApp.close();
  await hsAuth.stop();
  results.inProcess = inProcess;

  // ---------------------------------------------------------------------------------------------
  // Over HTTP: wrk against the function's own process (as the Edge runtime serves it).
  // ---------------------------------------------------------------------------------------------
  const tokensFile = await Deno.makeTempFile({ prefix: "bench-tokens-" });
  await Deno.writeTextFile(tokensFile, returning.map((u) => u.token).join("\n") + "\n");
  const script = new URL("rotate_tokens.lua", import.meta.url).pathname;
  const http: LoadResult[] = [];
  let peakRss = 0;
  for (const connections of CONCURRENCY) {
    progress(`HTTP: wrk, ${connections} connection(s), ${LOAD_SECONDS} s`);
    const sampler = setInterval(() => peakRss = Math.max(peakRss, memoryMiB(stack.functionPid).rss), 100);
    http.push(await runWrk(stack.functionUrl, { connections, seconds: LOAD_SECONDS, tokensFile, script }));
    clearInterval(sampler);
  }
  await Deno.remove(tokensFile);
  const memory = memoryMiB(stack.functionPid);
  results.http = http;
  results.memory = { sampledPeakRssMiB: peakRss, vmHwmMiB: memory.peak, rssAfterMiB: memory.rss };

  // ---------------------------------------------------------------------------------------------
  // Cold start: a new function process, from spawn to its first 200.
  // ---------------------------------------------------------------------------------------------
  progress("cold start: new function process to first 200");
  const coldStarts: number[] = [];
  for (let run = 0; run < (smoke ? 1 : 5); run++) {
    const port = freePort();
    const started = performance.now();
    const fn = await startFunction(port, stack.functionEnv);
    try {
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/exchange-token`, {
            method: "POST",
            headers: { authorization: `Bearer ${returning[run].token}` },
          });
          await ok(res);
          break;
        } catch (err) {
          if (!(err instanceof TypeError)) throw err; // Not listening yet.
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
      coldStarts.push(performance.now() - started);
    } finally {
      await fn.stop();
    }
  }
  coldStarts.sort((a, b) => a - b);
  results.coldStartMs = { median: coldStarts[Math.floor(coldStarts.length / 2)], all: coldStarts };

  report(results as Required<Results>);
  await Deno.writeTextFile(new URL("results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n");
} finally {
  await admin.end();
  await stack.stop();
}

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "unknown";
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
  };
}

function report(r: Required<Results>) {
  const f = (n: number, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const rows: string[][] = [["step", "result", "target"]];
  for (const [name, rate] of Object.entries(r.floor)) {
    rows.push([`floor: ${name}`, `${f(rate.opsPerSecond)} ops/s (${f(rate.meanMicros)} µs)`, ""]);
  }
  for (const [name, rate] of Object.entries(r.inProcess)) {
    const target = name === "returning_es256"
      ? `≤ 2.0× primitives: ${rate.ratio <= 2 ? "met" : "MISSED"}`
      : "";
    rows.push([
      `in-process: ${name}`,
      `${f(rate.opsPerSecond)} ops/s (${f(rate.meanMicros)} µs, ${f(rate.ratio, 2)}× primitives)`,
      target,
    ]);
  }
  for (const run of r.http) {
    const met = run.requestsPerSecond >= 2500 && run.p99Ms < 50 && run.p99Ms <= 1.5 * run.p50Ms &&
      run.errors === 0;
    rows.push([
      `HTTP c=${run.connections}`,
      `${f(run.requestsPerSecond)} req/s, p50 ${f(run.p50Ms, 2)} ms, p99 ${
        f(run.p99Ms, 2)
      } ms, ${run.errors} errors`,
      run.connections === 64
        ? `≥ 2,500/s, p99 < 50 ms and ≤ 1.5 × p50, 0 errors: ${met ? "met" : "MISSED"}`
        : "",
    ]);
  }
  const peak = Math.max(r.memory.sampledPeakRssMiB, r.memory.vmHwmMiB);
  rows.push([
    "memory: function peak RSS",
    `${f(peak, 1)} MiB`,
    `< ${EDGE_MEMORY_LIMIT_MIB} MiB: ${peak < EDGE_MEMORY_LIMIT_MIB ? "met" : "MISSED"}`,
  ]);
  rows.push([
    "cold start: spawn to first 200",
    `${f(r.coldStartMs.median)} ms (median)`,
    `< 500 ms: ${r.coldStartMs.median < 500 ? "met" : "MISSED"}`,
  ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
  console.log(
    [line(rows[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join(
      "\n",
    ),
  );
  console.log(
    `\n${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Deno ${r.machine.deno}${
      r.smoke ? " (smoke run: figures are not meaningful)" : ""
    }`,
  );
}
