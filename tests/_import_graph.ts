/**
 * Test support: the import graph as `deno info --json` resolves it (a function's own, too), the edges among a
 * set of modules, and the import circles in it, for the checks that keep the repository's shape
 * (tests/unit/module_graph_test.ts, tests/unit/import_cycles_test.ts) and the deploy checks (tests/deploy/).
 *
 * @module
 */
import assert from "node:assert/strict";

/** The repository's root. */
export const ROOT = new URL("../", import.meta.url);

/** `deno info --json`'s modules, as far as these checks read them. */
export interface InfoModule {
  specifier: string;
  dependencies?: Array<{ code?: { specifier: string }; type?: { specifier: string } }>;
}

/** The modules of `deno info --json <args>` run in the repository's root. */
export async function denoInfo(args: string[]): Promise<InfoModule[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout)).modules;
}

/**
 * The modules of a function's graph, as `supabase functions deploy` and the stack resolve it: its
 * `index.ts` with its own `deno.json`.
 */
export function functionGraph(name: string): Promise<InfoModule[]> {
  return denoInfo([
    "--config",
    `supabase/functions/${name}/deno.json`,
    `supabase/functions/${name}/index.ts`,
  ]);
}

/** The import edges, code and type-only, between modules whose specifiers start with `prefix`. */
export function edgesWithin(modules: InfoModule[], prefix: string): Array<[string, string]> {
  const edges: Array<[string, string]> = [];
  for (const module of modules) {
    if (!module.specifier.startsWith(prefix)) continue;
    for (const dependency of module.dependencies ?? []) {
      const targets = new Set([dependency.code?.specifier, dependency.type?.specifier]);
      for (const target of targets) {
        if (target?.startsWith(prefix)) edges.push([module.specifier, target]);
      }
    }
  }
  return edges;
}

/**
 * Each import circle, once: for every strongly connected set of modules (Tarjan's algorithm) larger than
 * one module, or one that imports itself, a circle through it, as paths relative to `base`.
 */
export function importCircles(edges: Array<[string, string]>, base = ""): string[] {
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
