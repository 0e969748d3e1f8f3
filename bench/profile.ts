/**
 * `deno task bench --profile [git-ref]`: where the exchange spends its CPU on the Deno the platform runs. The
 * working tree's function (or a revision's, extracted as `--compare` does) runs in its own process, as the
 * Edge runtime stand-in runs it (Deno 2.1.4, or `EDGE_DENO_VERSION`), with V8's inspector open; after a
 * warm-up, a CPU profile is recorded through the inspector (Deno 2.1 has no `--cpu-prof`) while wrk sends
 * returning users' exchanges at 64 connections. The profile's self time is then summed by where the code
 * lives (jose, postgres.js, each `_shared` module, Deno's runtime parts, V8's builtins and garbage collector)
 * and divided by the exchanges answered, with the hottest functions.
 *
 * It profiles the function's main thread, the one the Edge runtime's CPU limit counts: work Deno hands to
 * other threads (an asynchronous WebCrypto call on Deno 2.9) is not in it. Sampling slows the process by
 * about a tenth, so its figures are for comparing places and revisions, not for throughput.
 *
 * @module
 */
import postgres from "postgres";
import { startStack } from "../dev/stack.ts";
import { functionSource, startFunction } from "../dev/function_worker.ts";
import { parseEdgeDenoVersion } from "../dev/edge_deno.ts";
import { freePort } from "../dev/ports.ts";
import { extractFunctions, waitForExchange } from "./compare.ts";
import { connectInspector, type CpuProfile } from "./_inspector.ts";
import { runWrk } from "./_measure.ts";
import { createBenchUsers } from "./_users.ts";

/**
 * Profiles the exchange under load and prints the breakdown.
 *
 * @param ref A revision to profile instead of the working tree.
 * @param options `smoke`: a short run.
 */
export async function runProfile(ref: string | undefined, options: { smoke: boolean }): Promise<void> {
  const seconds = options.smoke ? 1 : 10;
  const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const work = await Deno.makeTempDir({ prefix: "bench-profile-" });
  const stack = await startStack();
  const admin = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  let fn: { stop(): Promise<void> } | undefined;
  try {
    const tree = ref ? `${work}/tree` : root;
    if (ref) {
      await Deno.mkdir(tree);
      await extractFunctions(root, ref, tree);
    }
    const users = await createBenchUsers(admin, stack.auth, options.smoke ? 20 : 200);
    const tokensFile = `${work}/tokens`;
    await Deno.writeTextFile(tokensFile, users.map((u) => u.token).join("\n") + "\n");
    const port = freePort();
    const inspectPort = freePort();
    const started = await startFunction(port, stack.functionEnv, {
      fn: functionSource("exchange-token", new URL(`file://${tree}/`)),
      inspectPort,
    });
    fn = started;
    await started.listening;
    const url = `http://127.0.0.1:${port}/exchange-token`;
    // Each user becomes a member on a first exchange: the profiled load sees returning users only.
    for (const user of users) await waitForExchange(url, user.token);
    const load = {
      connections: 64,
      tokensFile,
      script: new URL("rotate_tokens.lua", import.meta.url).pathname,
    };
    await runWrk(url, { ...load, seconds: options.smoke ? 1 : 3 });
    const inspector = await connectInspector(inspectPort);
    const { profile, result } = await inspector.profile(200, () => runWrk(url, { ...load, seconds }));
    inspector.close();
    const version = parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION"));
    console.log(
      `${ref ?? "working tree"} on Deno ${version}: ${result.requests} exchanges in ${seconds} s at c=64, ` +
        `profiled (${result.requestsPerSecond.toFixed(0)}/s, ${result.errors} errors)\n`,
    );
    console.log(profileTable(profile, result.requests));
  } finally {
    await fn?.stop();
    await admin.end();
    await stack.stop();
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * The profile's self time by where the code lives, per exchange, and the hottest functions.
 *
 * @param profile The parsed `.cpuprofile`.
 * @param exchanges How many exchanges the process ran (to divide by).
 * @returns Two Markdown tables.
 */
export function profileTable(profile: CpuProfile, exchanges: number): string {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const frame = nodes.get(id)!.callFrame;
    const place = placeOf(frame.url, frame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + delta);
    const fn = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(`${place}\t${fn}`, (byFunction.get(`${place}\t${fn}`) ?? 0) + delta);
  });
  const busy = [...byPlace].filter(([place]) => place !== "(idle)").reduce((sum, [, t]) => sum + t, 0);
  const per = (micros: number) => (micros / exchanges).toFixed(1);
  const pct = (micros: number) => `${(100 * micros / busy).toFixed(1)} %`;
  const places = [...byPlace].filter(([place]) => place !== "(idle)").sort((a, b) => b[1] - a[1]);
  const lines = [
    "| where | CPU µs per exchange | share |",
    "|---|---|---|",
    ...places.map(([place, t]) => `| ${place} | ${per(t)} | ${pct(t)} |`),
    `| **all (busy)** | **${per(busy)}** | |`,
    "",
    "| hottest functions (self time) | where | µs per exchange |",
    "|---|---|---|",
    ...[...byFunction].filter(([key]) => !key.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, 15)
      .map(([key, t]) => {
        const [place, fn] = key.split("\t");
        return `| \`${fn}\` | ${place} | ${per(t)} |`;
      }),
  ];
  return lines.join("\n");
}

/** Where a frame's code lives, in the words of bench/README.md. */
function placeOf(url: string, functionName: string): string {
  if (url === "") {
    return ["(garbage collector)", "(idle)", "(program)"].includes(functionName)
      ? functionName
      : "V8 builtins and native code";
  }
  const npm = /\/npm\/[^/]+\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ??
    /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) {
    return npm[1].startsWith("@supabase/") ? "supabase-js" : npm[1] === "postgres" ? "postgres.js" : npm[1];
  }
  const shared = /supabase\/functions\/(_shared\/.+)$/.exec(url);
  if (shared) return shared[1];
  const ext = /^ext:([a-z_]+)\//.exec(url);
  if (ext) return `Deno runtime: ${ext[1]}`;
  if (url.startsWith("node:")) return "Deno runtime: deno_node";
  return shortUrl(url);
}

function shortUrl(url: string): string {
  return url.replace(/^.*\/(supabase\/functions\/|bench\/|npm\/registry\.npmjs\.org\/)/, "");
}
