/**
 * No import circle anywhere in the repository: among its own modules (the stand-in under `dev/`, the demo,
 * the example backend's runner, the tools, the client, the functions, the benchmark and the tests), no
 * module reaches itself through its imports. The graph is `deno info --json`'s, read once for a root that
 * imports every TypeScript and JavaScript module of the checkout, so that every entry point (`dev/main.ts`,
 * `demo/server.ts`, `tools/*.ts`, `bench/main.ts`, each `supabase/functions/<name>/index.ts`, every test
 * and test helper) and all it reaches is in it; type-only and dynamic imports count too, npm and `node:`
 * modules do not. (tests/unit/module_graph_test.ts checks the functions' layers, each with its own
 * `deno.json`.)
 */
import assert from "node:assert/strict";
import { denoInfo, edgesWithin, importCircles, ROOT } from "../_import_graph.ts";

/** Folders that hold no module of the repository's own. */
const SKIPPED = new Set(["node_modules", ".git", ".dev", ".cache", ".temp"]);
const MODULE = /\.(ts|tsx|mts|js|mjs)$/;

/** Every module file of the checkout, as file URLs. */
async function repositoryModules(dir = ROOT): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (SKIPPED.has(entry.name)) continue;
    const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
    if (entry.isDirectory) found.push(...await repositoryModules(url));
    else if (entry.isFile && MODULE.test(entry.name) && !entry.name.endsWith(".d.ts")) found.push(url.href);
  }
  return found.sort();
}

/** The import graph of `modules` and all they reach, from one `deno info --json` run on a root importing them. */
async function graphOf(modules: string[]): Promise<Array<[string, string]>> {
  const dir = await Deno.makeTempDir({ prefix: "import-cycles-" });
  try {
    const root = `${dir}/root.ts`;
    await Deno.writeTextFile(root, modules.map((url) => `import ${JSON.stringify(url)};\n`).join(""));
    return edgesWithin(await denoInfo(["--config", new URL("deno.json", ROOT).pathname, root]), ROOT.href);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("no import circle among the repository's own modules", async () => {
  const modules = await repositoryModules();
  for (
    const entry of ["dev/main.ts", "demo/server.ts", "bench/main.ts", "supabase/functions/tenants/index.ts"]
  ) {
    assert.ok(modules.includes(new URL(entry, ROOT).href), `${entry} is among the roots`);
  }
  const edges = await graphOf(modules);
  assert.ok(edges.length > modules.length, "the graph has the repository's imports");
  assert.deepEqual(importCircles(edges, ROOT.href), []);
});

Deno.test("the circle check names each circle once, by its modules in import order", () => {
  const edges: Array<[string, string]> = [
    ["dev/stack.ts", "dev/edge_runtime.ts"],
    ["dev/edge_runtime.ts", "dev/stack.ts"],
    ["dev/main.ts", "dev/stack.ts"],
    ["a.ts", "b.ts"],
    ["b.ts", "c.ts"],
    ["c.ts", "a.ts"],
    ["c.ts", "b.ts"],
    ["self.ts", "self.ts"],
    ["dev/main.ts", "a.ts"],
  ];
  assert.deepEqual(importCircles(edges).sort(), [
    "a.ts → b.ts → c.ts → a.ts",
    "dev/edge_runtime.ts → dev/stack.ts → dev/edge_runtime.ts",
    "self.ts → self.ts",
  ]);
});
