/**
 * The functions' import graph keeps its shape (supabase/functions/_shared/): `core/` imports nothing of the
 * wings, `exchange/` and `management/` import `core/` and never each other, nothing imports in a circle,
 * and each entry point reaches its own wing only. The graph is `deno info --json`'s, for each function's
 * `index.ts` with its own `deno.json`, as the stack and `supabase functions deploy` resolve it; type-only
 * imports count too.
 */
import assert from "node:assert/strict";
import { edgesWithin, functionGraph, importCircles, ROOT } from "../_import_graph.ts";

const FUNCTIONS = new URL("supabase/functions/", ROOT).href;
const ENTRIES = { "exchange-token": "exchange", tenants: "management", invitations: "management" } as const;

type Layer = "core" | "exchange" | "management" | "entry" | "other";

/** Where a module of supabase/functions/ lies, by its path. */
function layerOf(specifier: string): Layer {
  const path = specifier.slice(FUNCTIONS.length);
  const [top, sub] = path.split("/");
  if (top === "_shared") {
    return sub === "core" || sub === "exchange" || sub === "management" ? sub : "other";
  }
  return "entry";
}

/**
 * What is wrong with a function's graph: an import across the wings or from core into one, a module outside
 * the three folders, another wing reached from the entry point, an import circle.
 */
function graphProblems(edges: Array<[string, string]>, wing: "exchange" | "management"): string[] {
  const problems: string[] = [];
  const short = (specifier: string) => specifier.slice(FUNCTIONS.length);
  const forbidden: Record<Layer, Layer[]> = {
    core: ["exchange", "management", "entry"],
    exchange: ["management", "entry"],
    management: ["exchange", "entry"],
    entry: [],
    other: [],
  };
  const nodes = new Set(edges.flat());
  for (const node of nodes) {
    const layer = layerOf(node);
    if (layer === "other") problems.push(`${short(node)} lies outside core/, exchange/ and management/`);
    if ((layer === "exchange" || layer === "management") && layer !== wing) {
      problems.push(`${short(node)} is reached from a ${wing} function`);
    }
  }
  for (const [from, to] of edges) {
    if (forbidden[layerOf(from)].includes(layerOf(to))) {
      problems.push(`${short(from)} (${layerOf(from)}) imports ${short(to)} (${layerOf(to)})`);
    }
  }
  for (const circle of importCircles(edges, FUNCTIONS)) problems.push(`import circle: ${circle}`);
  return problems;
}

/** The import edges among the function modules `name`'s entry point reaches, resolved with its own `deno.json`. */
async function edgesOf(name: string): Promise<Array<[string, string]>> {
  return edgesWithin(await functionGraph(name), FUNCTIONS);
}

for (const [name, wing] of Object.entries(ENTRIES)) {
  Deno.test(`${name} imports core/ and the ${wing} wing only: no wing into another or core into one, no circle`, async () => {
    const edges = await edgesOf(name);
    const reached = new Set(edges.flat().map(layerOf));
    assert.ok(reached.has("core") && reached.has(wing), `${name} reaches core/ and ${wing}/`);
    assert.deepEqual(graphProblems(edges, wing), []);
  });
}

Deno.test("the graph check finds each kind of problem it looks for", () => {
  const at = (path: string) => `${FUNCTIONS}${path}`;
  const edges: Array<[string, string]> = [
    [at("tenants/index.ts"), at("_shared/management/app.ts")],
    [at("_shared/management/app.ts"), at("_shared/exchange/app.ts")],
    [at("_shared/core/serve.ts"), at("_shared/management/handler.ts")],
    [at("_shared/management/handler.ts"), at("_shared/core/serve.ts")],
    [at("_shared/management/app.ts"), at("_shared/flat.ts")],
  ];
  const problems = graphProblems(edges, "management");
  for (
    const expected of [
      /_shared\/flat\.ts lies outside/,
      /_shared\/exchange\/app\.ts is reached from a management function/,
      /management\/app\.ts \(management\) imports _shared\/exchange\/app\.ts \(exchange\)/,
      /core\/serve\.ts \(core\) imports _shared\/management\/handler\.ts \(management\)/,
      /import circle: .*serve\.ts → .*handler\.ts → .*serve\.ts/,
    ]
  ) {
    assert.ok(problems.some((problem) => expected.test(problem)), `${expected} in ${problems.join("; ")}`);
  }
});
