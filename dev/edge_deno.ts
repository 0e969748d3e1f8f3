/**
 * The Deno the functions' workers run on: the version Supabase's Edge runtime is compatible with, not the
 * tooling's. `supabase functions serve` prints "Using supabase-edge-runtime-1.70.0 (compatible with Deno
 * v2.1.4)", and the hosted platform runs the same Deno 2.1, so a function that only works on a newer Deno
 * must fail here too. The binary comes from npm, as the tooling's own Deno does (`npx -y deno@<version>`).
 *
 * @module
 */

/** The Deno version the Edge runtime is compatible with (supabase/cli#4738), the workers' default. */
export const EDGE_DENO_DEFAULT_VERSION = "2.1.4";

/**
 * The environment a worker's Deno needs besides the function's: Deno 2.1 reaches the npm registry here only
 * through the system's certificate store (its bundled roots lack this network's), and a newer Deno is not
 * hurt by it.
 */
export const EDGE_DENO_ENV: Readonly<Record<string, string>> = { DENO_TLS_CA_STORE: "system" };

/**
 * Reads the `EDGE_DENO_VERSION` setting.
 *
 * @param value The setting, or undefined for the default.
 * @returns A version such as `2.1.4`.
 * @throws {Error} When it is not `major.minor.patch`.
 * @example The default
 * ```ts
 * import { parseEdgeDenoVersion } from "./edge_deno.ts";
 * console.log(parseEdgeDenoVersion(undefined)); // "2.1.4"
 * ```
 */
export function parseEdgeDenoVersion(value: string | undefined): string {
  if (value === undefined || value === "") return EDGE_DENO_DEFAULT_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(value)) {
    throw new Error(`EDGE_DENO_VERSION must be a Deno version such as 2.1.4, not ${value}`);
  }
  return value;
}

/**
 * The `DENO_DIR` of a Deno other than the tooling's: `.cache/deno-<version>/` in the repository. Two Deno
 * versions writing one cache is not a setup Deno supports.
 *
 * @param version A Deno version, e.g. `2.1.4`.
 * @returns The folder's path.
 */
export function edgeDenoDir(version: string): string {
  return new URL(`../.cache/deno-${version}`, import.meta.url).pathname;
}

/**
 * The environment a Deno other than the tooling's runs with here: {@linkcode EDGE_DENO_ENV} and its own
 * {@linkcode edgeDenoDir}.
 *
 * @param version A Deno version, e.g. `2.1.4`.
 * @returns The variables to add to its environment.
 */
export function edgeDenoEnv(version: string): Record<string, string> {
  return { ...EDGE_DENO_ENV, DENO_DIR: edgeDenoDir(version) };
}

const resolved = new Map<string, Promise<string>>();

/**
 * The path of the Deno binary of `version`: this process's own when it is that version, else npm's
 * `deno@<version>` as `npx` installs it (once per machine, in npm's cache), asked once per process.
 *
 * @param version A Deno version, e.g. `2.1.4`.
 * @returns The absolute path of its `deno` binary.
 * @throws {Error} When npx cannot install or run it (offline, an unknown version).
 * @example The workers' Deno
 * ```ts ignore
 * const deno = await resolveEdgeDeno("2.1.4"); // …/node_modules/@deno/linux-x64-glibc/deno
 * ```
 */
export function resolveEdgeDeno(version: string): Promise<string> {
  if (version === Deno.version.deno) return Promise.resolve(Deno.execPath());
  let path = resolved.get(version);
  if (!path) {
    path = askNpx(version);
    resolved.set(version, path);
    // A failure (offline) is not remembered: the next boot asks again.
    path.catch(() => resolved.delete(version));
  }
  return path;
}

async function askNpx(version: string): Promise<string> {
  // npm's `deno` package runs its platform binary; that binary names itself.
  const { success, stdout, stderr } = await new Deno.Command("npx", {
    args: ["-y", `deno@${version}`, "eval", "--no-config", "console.log(Deno.execPath())"],
    env: { ...EDGE_DENO_ENV, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const out = new TextDecoder().decode(stdout).trim();
  if (!success || !out.startsWith("/")) {
    throw new Error(`could not get Deno ${version} from npm (npx -y deno@${version}): ${errorLine(stderr)}`);
  }
  return out;
}

/**
 * The line that says what went wrong in a Deno's or npm's stderr (`error: …`, else the first line), without
 * the stack backtrace Deno 2.1 prints after it.
 *
 * @param stderr A failed command's stderr.
 * @returns One line.
 */
export function errorLine(stderr: Uint8Array): string {
  const lines = new TextDecoder().decode(stderr).trim().split("\n");
  return lines.find((line) => /^(npm )?error/i.test(line)) ?? lines[0] ?? "";
}
