/**
 * The functions' import maps agree with the root's: every function folder of supabase/functions/ has its own
 * `deno.json` (as `supabase functions deploy` bundles it), and every specifier it names maps to exactly the
 * target the root `deno.json` pins, so that the functions run on the versions the tests ran.
 */
import assert from "node:assert/strict";
import { functionNames } from "../../tools/function_locks.ts";

const FUNCTIONS = new URL("../../supabase/functions/", import.meta.url);
const ROOT_CONFIG = new URL("../../deno.json", import.meta.url);

type ImportMap = Record<string, string>;

/** The `imports` of a `deno.json`. */
async function importsOf(url: URL): Promise<ImportMap> {
  const config = JSON.parse(await Deno.readTextFile(url));
  assert.equal(typeof config.imports, "object", `${url.pathname}: no "imports" object`);
  return config.imports;
}

/**
 * Where a function's import map parts from the root's: each specifier the root lacks, or maps elsewhere.
 *
 * @returns One line per mismatch, empty when the maps agree.
 */
function mismatches(name: string, root: ImportMap, own: ImportMap): string[] {
  return Object.entries(own).flatMap(([specifier, target]) =>
    root[specifier] === target
      ? []
      : [`${name}: "${specifier}" → ${target}, the root: ${root[specifier] ?? "(not mapped)"}`]
  );
}

Deno.test("mismatches() names each specifier a function maps elsewhere than the root, or the root lacks", () => {
  const root = { jose: "npm:jose@6.2.18", postgres: "npm:postgres@3.4.9" };
  assert.deepEqual(mismatches("f", root, { jose: "npm:jose@6.2.18" }), []);
  assert.deepEqual(mismatches("f", root, { jose: "npm:jose@6.2.17", left: "npm:left-pad@1.3.0" }), [
    'f: "jose" → npm:jose@6.2.17, the root: npm:jose@6.2.18',
    'f: "left" → npm:left-pad@1.3.0, the root: (not mapped)',
  ]);
});

Deno.test("every function folder has a deno.json whose imports pin the root deno.json's versions", async () => {
  const root = await importsOf(ROOT_CONFIG);
  const folders = await functionNames();
  assert.ok(folders.length >= 3, `functions found: ${folders.join(", ")}`);
  const problems: string[] = [];
  for (const name of folders) {
    const url = new URL(`${name}/deno.json`, FUNCTIONS);
    try {
      problems.push(...mismatches(name, root, await importsOf(url)));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      problems.push(`${name}: no deno.json`);
    }
  }
  assert.deepEqual(
    problems,
    [],
    `function import maps that part from the root deno.json:\n${problems.join("\n")}`,
  );
});
