/**
 * Test support: a function as `supabase functions deploy` gets it in a user's project where the installer
 * (`supabase-exchange-token init`) put it: `supabase/functions/<name>/` and `supabase/functions/_shared/`,
 * and nothing else of this repository (no root `deno.json`, `deno.lock`, `node_modules/`, `dev/` or `tests/`).
 *
 * @module
 */
import { cp } from "node:fs/promises";

const FUNCTIONS = new URL("../supabase/functions/", import.meta.url);

/** A copy of one function's deploy folder in a temporary project. */
export interface DeployedCopy {
  /** The temporary project's root (its `supabase/functions/` holds the copy). */
  project: string;
  /** The function's folder in the copy, ending in `/`. */
  folder: string;
  /** Deletes the temporary project. */
  remove(): Promise<void>;
}

/**
 * Copies `supabase/functions/<name>/` and `supabase/functions/_shared/` into a new temporary project.
 *
 * @param name The function.
 * @returns Where the copy is.
 */
export async function copyAsDeployed(name: string): Promise<DeployedCopy> {
  const project = await Deno.makeTempDir({ prefix: `deployed-${name}-` });
  for (const folder of [name, "_shared"]) {
    await cp(new URL(folder, FUNCTIONS), `${project}/supabase/functions/${folder}`, { recursive: true });
  }
  return {
    project,
    folder: `${project}/supabase/functions/${name}/`,
    remove: () => Deno.remove(project, { recursive: true }),
  };
}
