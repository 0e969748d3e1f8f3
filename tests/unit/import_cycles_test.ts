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

const ROOT = new URL("../../", import.meta.url);
/** Folders that hold no module of the repository's own. */
const SKIPPED = new Set(["node_modules", ".git", ".dev", ".cache", ".temp"]);
const MODULE = /\.(ts|tsx|mts|js|mjs)$/;

/** `deno info --json`'s modules, as far as this check reads them. */
interface InfoModule {
  specifier: string;
  dependencies?: Array<{ code?: { specifier: string }; type?: { specifier: string } }>;
}

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

/** The import graph of `modules` and all they reach, from one `deno info --json` run. */
async function denoInfo(modules: string[]): Promise<InfoModule[]> {
  const dir = await Deno.makeTempDir({ prefix: "import-cycles-" });
  try {
    const root = `${dir}/root.ts`;
    await Deno.writeTextFile(root, modules.map((url) => `import ${JSON.stringify(url)};\n`).join(""));
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", new URL("deno.json", ROOT).pathname, root],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return JSON.parse(new TextDecoder().decode(stdout)).modules;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The import edges between the repository's own modules. */
function edgesOf(modules: InfoModule[]): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const module of modules) {
    if (!module.specifier.startsWith(ROOT.href)) continue;
    for (const dependency of module.dependencies ?? []) {
      const targets = new Set([dependency.code?.specifier, dependency.type?.specifier]);
      for (const target of targets) {
        if (target?.startsWith(ROOT.href)) edges.push([module.specifier, target]);
      }
    }
  }
  return edges;
}

/**
 * Each import circle, once: for every strongly connected set of modules (Tarjan's algorithm) larger than
 * one module, or one that imports itself, a circle through it, as paths relative to `base`.
 */
function importCircles(edges: Array<[string, string]>, base = ""): string[] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const nodes = [...new Set(edges.flat())].sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let member = ""; member !== node;) {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    }
    if (component.length > 1 || next.get(node)?.includes(node)) components.push(component);
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  const short = (specifier: string) => specifier.startsWith(base) ? specifier.slice(base.length) : specifier;
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    // A shortest way back to `start` inside the component (breadth first), as the circle to name.
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift()!;
      const to = (next.get(node) ?? []).filter((target) => members.has(target)).sort();
      if (to.includes(start)) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start].map(short).join(" → ");
      }
      for (const target of to) {
        if (!previous.has(target)) {
          previous.set(target, node);
          queue.push(target);
        }
      }
    }
    return component.map(short).join(", ");
  });
}

Deno.test("no import circle among the repository's own modules", async () => {
  const modules = await repositoryModules();
  for (
    const entry of ["dev/main.ts", "demo/server.ts", "bench/main.ts", "supabase/functions/tenants/index.ts"]
  ) {
    assert.ok(modules.includes(new URL(entry, ROOT).href), `${entry} is among the roots`);
  }
  const edges = edgesOf(await denoInfo(modules));
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
