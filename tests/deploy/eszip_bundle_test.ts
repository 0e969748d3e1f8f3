/**
 * Each function bundles into an eszip as `supabase functions deploy` builds it: with `@deno/eszip` (the
 * eszip library the Edge Runtime's bundler is built on), from the function's folder as the CLI uploads it
 * (the folder and `_shared/`, copied as the installer leaves them), the function's `deno.json` as
 * its import map, `_shared/` reached by relative imports, and `npm:` specifiers left to the runtime. The
 * bundle must hold only that function's folder, `_shared/` and `npm:` specifiers: nothing of `dev/`,
 * `tests/` or the repository's root, and no module fetched from anywhere else.
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { build, type LoadResponse, Parser } from "@deno/eszip";
import { functionNames } from "../../tools/function_locks.ts";
import { copyAsDeployed } from "../_deployed_copy.ts";
import { functionGraph, ROOT } from "../_import_graph.ts";

/**
 * The module list of the eszip of `entry` with `importMap`, loading files under `within` from disk and
 * leaving `npm:` specifiers to the runtime.
 *
 * @returns The eszip's specifiers, and every specifier the loader was asked for.
 * @throws {Error} When a module the graph needs lies outside `within` or is not a file or `npm:` one.
 */
async function eszipModules(entry: string, importMap: string, within: string) {
  const asked: string[] = [];
  const load = async (specifier: string): Promise<LoadResponse | undefined> => {
    asked.push(specifier);
    if (specifier.startsWith("npm:")) return { kind: "external", specifier };
    if (!specifier.startsWith(within)) {
      throw new Error(`${specifier} is needed, but not in what the CLI uploads (${within})`);
    }
    return { kind: "module", specifier, content: await Deno.readTextFile(new URL(specifier)) };
  };
  const bytes = await build([entry], load, importMap);
  const parser = await Parser.createInstance();
  const specifiers: string[] = await parser.parseBytes(bytes);
  await parser.load();
  return { specifiers, asked };
}

/** The function's local modules, as `deno info` resolves them in the repository, relative to supabase/functions/. */
async function localGraph(name: string): Promise<string[]> {
  const functions = new URL("supabase/functions/", ROOT).href;
  return (await functionGraph(name)).map((m) => m.specifier).filter((s) => s.startsWith(functions)).map((s) =>
    s.slice(functions.length)
  );
}

for (const name of await functionNames()) {
  Deno.test(`the ${name} function bundles into an eszip of its own folder, _shared/ and npm: specifiers only`, async () => {
    const copy = await copyAsDeployed(name);
    try {
      const functions = pathToFileURL(`${copy.project}/supabase/functions/`).href;
      const { specifiers, asked } = await eszipModules(
        pathToFileURL(`${copy.folder}index.ts`).href,
        pathToFileURL(`${copy.folder}deno.json`).href,
        functions,
      );
      const outside = specifiers.filter((s) =>
        !s.startsWith(`${functions}${name}/`) && !s.startsWith(`${functions}_shared/`) &&
        !s.startsWith("npm:")
      );
      assert.deepEqual(outside, [], "modules outside the function's folder, _shared/ and npm:");
      assert.deepEqual(asked.filter((s) => !s.startsWith(functions)), [], "fetched from elsewhere");

      // Everything the function runs is in it: the modules `deno info` finds, and the import map.
      const local = specifiers.filter((s) => s.startsWith(functions)).map((s) => s.slice(functions.length));
      assert.deepEqual(local.sort(), [...await localGraph(name), `${name}/deno.json`].sort());
      assert.ok(local.some((s) => s.startsWith("_shared/core/")), "it reaches _shared/core/");
    } finally {
      await copy.remove();
    }
  });
}
