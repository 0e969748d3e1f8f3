/**
 * The functions' import graph keeps its shape (supabase/functions/_shared/): `core/` imports nothing of the
 * wings, `exchange/` and `management/` import `core/` and never each other, nothing imports in a circle,
 * and each entry point reaches its own wing only. The graph is `deno info --json`'s, for each function's
 * `index.ts` with its own `deno.json`, as the stack and `supabase functions deploy` resolve it; type-only
 * imports count too.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const FUNCTIONS = new URL("supabase/functions/", ROOT).href;
const ENTRIES = { "exchange-token": "exchange", tenants: "management", invitations: "management" } as const;

/** `deno info --json`'s modules, as far as this check reads them. */
interface InfoModule {
  specifier: string;
  dependencies?: Array<{ code?: { specifier: string }; type?: { specifier: string } }>;
}

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

/** The import edges between this repository's function modules (npm and node: imports left out). */
function edgesOf(modules: InfoModule[]): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const module of modules) {
    if (!module.specifier.startsWith(FUNCTIONS)) continue;
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        if (target?.startsWith(FUNCTIONS)) edges.push([module.specifier, target]);
      }
    }
  }
  return edges;
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
  // A circle: depth-first search, a module met again while it is still on the path.
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const to of next.get(node) ?? []) {
      if (state.get(to) === "open") {
        problems.push(`import circle: ${[...path.slice(path.indexOf(to)), to].map(short).join(" → ")}`);
      } else if (!state.has(to)) visit(to);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of nodes) if (!state.has(node)) visit(node);
  return problems;
}

async function denoInfo(name: string): Promise<InfoModule[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--config",
      `supabase/functions/${name}/deno.json`,
      `supabase/functions/${name}/index.ts`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout)).modules;
}

for (const [name, wing] of Object.entries(ENTRIES)) {
  Deno.test(`${name} imports core/ and the ${wing} wing only: no wing into another or core into one, no circle`, async () => {
    const edges = edgesOf(await denoInfo(name));
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
