/**
 * Test support: a copy of the checkout in a fresh folder, as a user's clone would be, for the tests that run
 * `deno task dev` the way a user does (tests/dev/lifecycle_test.ts, tests/docs/shell_blocks_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The checkout's files, relative to its root: tracked and new, not ignored ones (no node_modules/, no .dev/).
 *
 * @returns Their paths.
 */
export async function checkoutFiles(): Promise<string[]> {
  const { success, stdout, stderr } = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
  }).output();
  assert.ok(success, `git ls-files, to list the checkout: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout).split("\0").filter(Boolean);
}

/**
 * Copies the checkout's files ({@linkcode checkoutFiles}) to `to`.
 *
 * @param to The new folder.
 */
export async function copyCheckout(to: string): Promise<void> {
  for (const file of await checkoutFiles()) {
    const target = `${to}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(`${ROOT}${file}`, target).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // Deleted but not yet committed.
    });
  }
}

/**
 * Removes `folder` (a copy's home) and the database a stack kept in `checkout`/.dev kept outside it: as
 * root its `.dev/postgres` links to a folder under `/var/lib/exchange-token/` (dev/postgres.ts).
 *
 * @param folder The folder to remove.
 * @param checkout The folder whose `.dev/` the stack used: the copy inside `folder`, or `folder` itself.
 */
export async function removeCopy(folder: string, checkout: string): Promise<void> {
  const data = await Deno.readLink(`${checkout}/.dev/postgres`).catch(() => undefined);
  if (data) await Deno.remove(data, { recursive: true });
  await Deno.remove(folder, { recursive: true });
}

/**
 * The environment of a user's terminal for a command run in a copy: this process's, without the `npm_*`
 * variables an enclosing `npx` exported (`npm_config_local_prefix`, `npm_config_script_shell`, ...), which
 * would otherwise override the copy's own `.npmrc` and project folder.
 *
 * @param extra Variables to set on top.
 * @returns The variables, for a `Deno.Command` with `clearEnv: true`.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const own = Object.entries(Deno.env.toObject()).filter(([name]) => !/^npm_/i.test(name));
  return { ...Object.fromEntries(own), ...extra };
}
