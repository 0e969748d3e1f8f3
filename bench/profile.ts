/**
 * `deno task bench --profile [git-ref]`: where a returning user's in-process exchange spends its CPU. The
 * handler of the working tree (or of a revision, extracted as `--compare` does) runs in a process of its
 * own under Deno's `--cpu-prof`; the profile's self time is then summed by where the code lives (jose,
 * postgres.js, each `_shared` module, Deno's runtime parts, V8's builtins and garbage collector) and
 * printed per exchange, with the hottest functions.
 *
 * The profile covers the whole child process: its start (imports, building the app, about 0.3 s) is
 * included, which the long run (5,000 exchanges after 200 of warm-up) makes small.
 *
 * @module
 */
import postgres from "postgres";
import { startStack } from "../dev/stack.ts";
import { extractFunctions, measureInProcess } from "./compare.ts";
import { createBenchUsers } from "./_users.ts";

/** One node of a `.cpuprofile` (the Chrome DevTools format Deno writes). */
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

/**
 * Profiles the exchange and prints the breakdown.
 *
 * @param ref A revision to profile instead of the working tree.
 * @param options `smoke`: a short run.
 */
export async function runProfile(ref: string | undefined, options: { smoke: boolean }): Promise<void> {
  const iterations = options.smoke ? 30 : 5_000;
  const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const work = await Deno.makeTempDir({ prefix: "bench-profile-" });
  const stack = await startStack();
  const admin = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  try {
    const tree = ref ? `${work}/tree` : root;
    if (ref) {
      await Deno.mkdir(tree);
      await extractFunctions(root, ref, tree);
    }
    const users = await createBenchUsers(admin, stack.auth, options.smoke ? 20 : 200);
    const inputFile = `${work}/input.json`;
    const tokens = users.map((u) => u.token);
    // A first, unprofiled run makes the users members, so the profiled one sees returning users only.
    await Deno.writeTextFile(inputFile, JSON.stringify({ env: stack.functionEnv, tokens, iterations: 1 }));
    await measureInProcess(root, tree, inputFile);
    await Deno.writeTextFile(inputFile, JSON.stringify({ env: stack.functionEnv, tokens, iterations }));
    const rate = await measureInProcess(root, tree, inputFile, ["--cpu-prof", `--cpu-prof-dir=${work}/prof`]);
    const [file] = [...Deno.readDirSync(`${work}/prof`)];
    const profile = JSON.parse(await Deno.readTextFile(`${work}/prof/${file.name}`)) as CpuProfile;
    const exchanges = iterations + Math.min(200, iterations);
    console.log(
      `${ref ?? "working tree"}: ${rate.opsPerSecond.toFixed(0)} exchanges/s in-process (${
        rate.meanMicros.toFixed(0)
      } µs each)\n`,
    );
    console.log(profileTable(profile, exchanges));
  } finally {
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
