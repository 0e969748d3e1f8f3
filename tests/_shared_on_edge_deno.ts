/**
 * `deno task test:edge-deno`: the unit tests of `supabase/functions/_shared/` run on the Edge runtime's Deno
 * (`EDGE_DENO_VERSION`, 2.1.4 by default; `dev/edge_deno.ts`), type check included, so that an API, a type or
 * a resolution rule newer than the runtime's fails here and not in production.
 *
 * A test qualifies when every local module in its import graph, besides itself, is under
 * `supabase/functions/_shared/`. They run with the functions' import map (their `deno.json`), without the
 * root lockfile (version 5, which Deno 2.1 refuses) and in a `DENO_DIR` of that Deno's own.
 *
 * @module
 */
import { denoInfo, ROOT } from "./_import_graph.ts";
import { edgeDenoEnv, parseEdgeDenoVersion, resolveEdgeDeno } from "../dev/edge_deno.ts";

const SHARED = new URL("supabase/functions/_shared/", ROOT).href;
const UNIT = new URL("tests/unit/", ROOT);

const candidates: string[] = [];
for await (const entry of Deno.readDir(UNIT)) {
  if (entry.isFile && entry.name.endsWith("_test.ts")) candidates.push(new URL(entry.name, UNIT).href);
}
const qualifying: string[] = [];
for (const test of candidates.sort()) {
  const modules = await denoInfo([test]);
  const local = modules.map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith("file:") && specifier !== test);
  if (local.length > 0 && local.every((specifier) => specifier.startsWith(SHARED))) qualifying.push(test);
}
if (qualifying.length === 0) throw new Error("no unit test imports only supabase/functions/_shared/");

const version = parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION"));
const files = qualifying.map((test) => new URL(test).pathname);
console.log(`On Deno ${version}: ${files.map((file) => file.split("/").at(-1)).join(", ")}`);
const { code } = await new Deno.Command(await resolveEdgeDeno(version), {
  args: [
    "test",
    "--allow-all",
    "--no-lock",
    `--config=${new URL("supabase/functions/exchange-token/deno.json", ROOT).pathname}`,
    ...files,
  ],
  cwd: ROOT,
  env: edgeDenoEnv(version),
}).spawn().status;
Deno.exit(code);
