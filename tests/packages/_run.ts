/**
 * Test support for the packaging tests: run a command to completion, as a user would type it, and pack the npm
 * package as its README says.
 *
 * @module
 */

/** Where and with what a command runs. */
export interface RunOptions {
  cwd?: string | URL;
  env?: Record<string, string>;
  /** Drop the parent's environment (the command gets `env` and `PATH`, `HOME` only). */
  clearEnv?: boolean;
}

/**
 * Runs a command and returns what it printed.
 *
 * @param command The program.
 * @param args Its arguments.
 * @param options Working folder and environment.
 * @returns Its stdout and stderr, as text.
 * @throws {Error} When it exits with a status other than 0, with the tail of its output.
 * @example
 * ```ts ignore
 * const { stdout } = await run("npm", ["pack", "--json"], { cwd: "packages/supabase-exchange-token" });
 * ```
 */
export async function run(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const env = options.clearEnv
    ? { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/root", ...options.env }
    : options.env;
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env,
    clearEnv: options.clearEnv,
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-30).join("\n");
    throw new Error(`${command} ${args.join(" ")} exited with ${output.code}:\n${tail}`);
  }
  return { stdout, stderr };
}

/** The npm package's folder. */
export const PACKAGE = new URL("../../packages/supabase-exchange-token/", import.meta.url);
const NPM_CACHE = new URL("../../.cache/npm", import.meta.url).pathname;

/**
 * Packs the npm package (`npm ci`, then `npm pack`, whose `prepack` builds it) into a folder.
 *
 * @param into The folder the tarball goes to.
 * @returns The tarball's path and the paths of the files it holds.
 */
export async function packPackage(into: string): Promise<{ tarball: string; paths: string[] }> {
  const npm = ["--no-audit", "--no-fund", "--prefer-offline", "--cache", NPM_CACHE];
  await run("npm", ["ci", ...npm], { cwd: PACKAGE });
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", into, ...npm], {
    cwd: PACKAGE,
  });
  const [{ filename, files }] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: `${into}/${filename}`, paths: files.map((f) => f.path) };
}
