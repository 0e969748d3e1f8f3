/**
 * `deno task lock-functions`: writes each function's `deno.lock` as the Edge Runtime's Deno reads it.
 *
 * `supabase functions deploy` uploads a function's folder with its `deno.lock`, and the platform's Deno
 * (2.1.4, {@linkcode EDGE_DENO_VERSION}) refuses a lockfile newer than version 4 ("Unsupported lockfile
 * version '5'"); without a lockfile, transitive npm dependencies float at deploy time. So each lockfile is
 * written afresh by that Deno, from the function's own `deno.json`. Deno 2.9.6 reads a version 4 lockfile and
 * leaves it as it is while nothing changes. Run this after changing a function's `deno.json`;
 * `tests/deploy/function_lockfiles_test.ts` checks the result on 2.1.4.
 *
 * @module
 */
import {
  EDGE_DENO_DEFAULT_VERSION as EDGE_DENO_VERSION,
  edgeDenoEnv,
  resolveEdgeDeno,
} from "../dev/edge_deno.ts";

const FUNCTIONS = new URL("../supabase/functions/", import.meta.url);

/**
 * The function folders of supabase/functions/: every folder but the shared ones (`_shared/`, …).
 *
 * @returns Their names, sorted.
 * @example List them
 * ```ts ignore
 * console.log(await functionNames()); // ["exchange-token", "invitations", "tenants"]
 * ```
 */
export async function functionNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(FUNCTIONS)) {
    if (entry.isDirectory && !entry.name.startsWith("_")) names.push(entry.name);
  }
  return names.sort();
}

/**
 * Writes `supabase/functions/<name>/deno.lock` anew with the Edge Runtime's Deno.
 *
 * @param name The function.
 * @throws {Error} When that Deno cannot resolve the function's graph.
 */
async function lockFunction(name: string): Promise<void> {
  const folder = new URL(`${name}/`, FUNCTIONS);
  await Deno.remove(new URL("deno.lock", folder)).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  const { code, stderr } = await new Deno.Command(await resolveEdgeDeno(EDGE_DENO_VERSION), {
    // Node's types as a root of their own: Deno 2.1.4 type-checks with `npm:@types/node@*` and a frozen
    // `deno check` of the deployed folder demands it in the lockfile, yet neither its `cache` nor its
    // `check` writes it there unasked.
    args: ["cache", "--config", "deno.json", "index.ts", "npm:@types/node@*"],
    cwd: folder,
    env: { ...edgeDenoEnv(EDGE_DENO_VERSION), NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`${name}: deno ${EDGE_DENO_VERSION} cache failed\n${new TextDecoder().decode(stderr)}`);
  }
}

if (import.meta.main) {
  for (const name of await functionNames()) {
    await lockFunction(name);
    console.log(`supabase/functions/${name}/deno.lock written by Deno ${EDGE_DENO_VERSION}`);
  }
}
