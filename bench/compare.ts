/**
 * `deno task bench --compare <git-ref>`: the returning user's exchange of another revision (`base`) and of the
 * working tree (`head`), measured alternately in one invocation on one stack, so that a hot-path change is
 * judged by ratios taken on the same noisy machine at the same time.
 *
 * The revision's `supabase/functions/` is extracted with `git archive` into a temporary folder. One local
 * stack (the working tree's: its migrations and seed) serves both. Each round measures, for each side in
 * turn (the order swaps every round): the handler called in-process, one exchange at a time, in a process of
 * its own with that side's function `deno.json`; then wrk at 64 connections against that side's own function
 * process (the Edge runtime stand-in's way of running `exchange-token/index.ts`). Both run on the Edge
 * Runtime's Deno (2.1.4), or on `EDGE_DENO_VERSION`. The report gives the median
 * of each side and of the per-round ratios head/base, with their range, which shows how noisy the machine was.
 *
 * @module
 */
import postgres from "postgres";
import { startStack } from "../dev/stack.ts";
import { functionSource, startFunction } from "../dev/function_worker.ts";
import { freePort } from "../dev/ports.ts";
import { edgeDenoEnv, parseEdgeDenoVersion, resolveEdgeDeno } from "../dev/edge_deno.ts";
import { type LoadResult, type Rate, runWrk } from "./_measure.ts";
import { createBenchUsers } from "./_users.ts";

/** Options for {@linkcode runCompare}. */
export interface CompareOptions {
  /** A short run that only keeps the command working (figures not meaningful). */
  smoke: boolean;
  /** Rounds (each measures both sides once); default 5, 1 in a smoke run. */
  rounds?: number;
}

/** One side's figures in one round. */
interface SideRound {
  inProcess: Rate;
  http: LoadResult;
}

const SIDES = ["base", "head"] as const;
type Side = typeof SIDES[number];

/**
 * Runs the comparison and prints its table.
 *
 * @param ref The revision to compare the working tree with (`main`, a commit, a tag).
 * @param options Smoke run and rounds.
 * @returns The figures of every round, by side.
 * @throws {Error} When the revision cannot be extracted or an exchange does not answer 200.
 */
export async function runCompare(ref: string, options: CompareOptions): Promise<Record<Side, SideRound[]>> {
  const rounds = options.rounds ?? (options.smoke ? 1 : 5);
  const iterations = options.smoke ? 30 : 2_000;
  const seconds = options.smoke ? 1 : 8;
  const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const baseTree = await Deno.makeTempDir({ prefix: "bench-compare-" });
  const progress = (line: string) => console.error(`… ${line}`);
  const stack = await startStack();
  const admin = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const functions: { stop(): Promise<void> }[] = [];
  try {
    progress(`extracting ${ref}'s supabase/functions into ${baseTree}`);
    await extractFunctions(root, ref, baseTree);
    const trees: Record<Side, string> = { base: baseTree, head: root };

    const users = await createBenchUsers(admin, stack.auth, options.smoke ? 20 : 200);
    const inputFile = await Deno.makeTempFile({ prefix: "bench-compare-", suffix: ".json" });
    const tokens = users.map((u) => u.token);
    await Deno.writeTextFile(inputFile, JSON.stringify({ env: stack.functionEnv, tokens, iterations }));
    const tokensFile = await Deno.makeTempFile({ prefix: "bench-tokens-" });
    await Deno.writeTextFile(tokensFile, tokens.join("\n") + "\n");
    const script = new URL("rotate_tokens.lua", import.meta.url).pathname;

    const urls = {} as Record<Side, string>;
    for (const side of SIDES) {
      const port = freePort();
      functions.push(
        await startFunction(port, stack.functionEnv, {
          fn: functionSource("exchange-token", new URL(`file://${trees[side]}/`)),
        }),
      );
      urls[side] = `http://127.0.0.1:${port}/exchange-token`;
      await waitForExchange(urls[side], tokens[0]); // Each user becomes a member on a first exchange.
    }
    for (const token of tokens) await waitForExchange(urls.head, token);

    const results: Record<Side, SideRound[]> = { base: [], head: [] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
      for (const side of order) {
        progress(`round ${round + 1}/${rounds}, ${side}: in-process, then wrk c=64 for ${seconds} s`);
        const inProcess = await measureInProcess(root, trees[side], inputFile);
        const http = await runWrk(urls[side], { connections: 64, seconds, tokensFile, script });
        results[side].push({ inProcess, http });
      }
    }
    await Deno.remove(inputFile);
    await Deno.remove(tokensFile);
    console.log(compareTable(ref, results, options.smoke));
    return results;
  } finally {
    for (const fn of functions) await fn.stop();
    await admin.end();
    await stack.stop();
    await Deno.remove(baseTree, { recursive: true });
  }
}

/**
 * The comparison's Markdown table: each measure's median per side, and the median and range of the
 * per-round ratios (head over base, so above 1 is better for throughput, below 1 for latency).
 *
 * @param ref The base revision's name.
 * @param results Every round's figures, by side.
 * @param smoke Whether figures are meaningful.
 * @returns The table and its notes.
 */
export function compareTable(ref: string, results: Record<Side, SideRound[]>, smoke: boolean): string {
  const f = (n: number, digits = 0) =>
    n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const measures: {
    name: string;
    value: (r: SideRound) => number;
    unit: string;
    digits: number;
    target?: string;
  }[] = [
    {
      name: "in-process: returning user, ES256",
      value: (r) => r.inProcess.opsPerSecond,
      unit: "ops/s",
      digits: 0,
      target: "≥ 1.25×",
    },
    {
      name: "HTTP c=64: throughput",
      value: (r) => r.http.requestsPerSecond,
      unit: "req/s",
      digits: 0,
      target: "≥ 1.25×",
    },
    { name: "HTTP c=64: p50", value: (r) => r.http.p50Ms, unit: "ms", digits: 2 },
    { name: "HTTP c=64: p99", value: (r) => r.http.p99Ms, unit: "ms", digits: 2 },
    { name: "HTTP c=64: p99 / p50", value: (r) => r.http.p99Ms / r.http.p50Ms, unit: "", digits: 2 },
  ];
  const rows = [["measure", `base (${ref})`, "head (working tree)", "head / base: median [range]", "target"]];
  for (const m of measures) {
    const base = results.base.map(m.value);
    const head = results.head.map(m.value);
    const ratios = head.map((h, i) => h / base[i]);
    const ratio = median(ratios);
    const target = m.target ? `${m.target}: ${ratio >= 1.25 ? "met" : "MISSED"}` : "";
    rows.push([
      m.name,
      `${f(median(base), m.digits)} ${m.unit}`.trim(),
      `${f(median(head), m.digits)} ${m.unit}`.trim(),
      `${f(ratio, 2)}× [${f(Math.min(...ratios), 2)}–${f(Math.max(...ratios), 2)}]`,
      target,
    ]);
  }
  const p99OverP50 = median(results.head.map((r) => r.http.p99Ms / r.http.p50Ms));
  rows.push(["head: c=64 p99 ≤ 1.5 × p50", "", f(p99OverP50, 2), "", p99OverP50 <= 1.5 ? "met" : "MISSED"]);
  const errors = [...results.base, ...results.head].reduce((sum, r) => sum + r.http.errors, 0);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
  return [
    line(rows[0]),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
    "",
    `${results.head.length} round(s), sides alternating; ${errors} wrk errors in all${
      smoke ? " (smoke run: figures are not meaningful)" : ""
    }`,
  ].join("\n");
}

/** The median of some numbers. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Extracts a revision's `supabase/functions/` into a folder.
 *
 * @param root The repository.
 * @param ref The revision.
 * @param into The (empty) folder.
 * @throws {Error} When git or tar fail.
 */
export async function extractFunctions(root: string, ref: string, into: string): Promise<void> {
  const archive = await new Deno.Command("git", {
    args: ["-C", root, "archive", "--format=tar", ref, "supabase/functions"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!archive.success) throw new Error(`git archive ${ref}: ${new TextDecoder().decode(archive.stderr)}`);
  const tar = new Deno.Command("tar", { args: ["-x", "-C", into], stdin: "piped" }).spawn();
  const writer = tar.stdin.getWriter();
  await writer.write(archive.stdout);
  await writer.close();
  if (!(await tar.status).success) throw new Error(`tar could not extract ${ref}`);
}

/**
 * One in-process measurement of a tree's exchange, in a process of its own (`_compare_in_process.ts`), on
 * the Deno the function processes run on (`EDGE_DENO_VERSION`, by default the Edge Runtime's 2.1.4): the
 * two differ where it counts, e.g. Deno 2.9's ECDSA verification takes about 5 times 2.1's, and 2.1 runs
 * `setImmediate` as a 1 ms timer.
 *
 * @param root The working tree (where the bench lives).
 * @param tree The tree whose exchange is measured.
 * @param inputFile The environment, tokens and iterations, as JSON.
 * @returns The measured rate.
 * @throws {Error} When the run fails.
 */
export async function measureInProcess(root: string, tree: string, inputFile: string): Promise<Rate> {
  const version = parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION"));
  const { success, stdout, stderr } = await new Deno.Command(await resolveEdgeDeno(version), {
    env: version === Deno.version.deno ? {} : edgeDenoEnv(version),
    args: [
      "run",
      "-A",
      "--no-lock",
      `--config=${tree}/supabase/functions/exchange-token/deno.json`,
      `${root}/bench/_compare_in_process.ts`,
      tree,
      inputFile,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  if (!success) {
    throw new Error(`in-process run of ${tree} failed: ${new TextDecoder().decode(stderr)}${out}`);
  }
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

/**
 * Waits until the function answers an exchange with 200.
 *
 * @param url The function's exchange URL.
 * @param token An access token.
 */
export async function waitForExchange(url: string, token: string): Promise<void> {
  for (let tries = 0;; tries++) {
    try {
      const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      const body = await res.text();
      if (res.status === 200) return;
      throw new Error(`exchange answered ${res.status}: ${body}`);
    } catch (err) {
      if (!(err instanceof TypeError) || tries > 2_000) throw err; // Not listening yet.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
