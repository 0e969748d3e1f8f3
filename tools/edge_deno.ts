/**
 * The Deno the Edge Runtime is compatible with, as the tools and tests that check the functions for deploy
 * run it: `supabase functions serve` prints "Using supabase-edge-runtime-1.70.0 (compatible with Deno
 * v2.1.4)", and the hosted platform runs the same line. It comes from npm, as the tooling's own Deno does;
 * Deno 2.1.4 reaches the npm registry here only when told to trust the system's CA store.
 *
 * @module
 */

/** The Deno version the Edge Runtime is compatible with. */
export const EDGE_DENO_VERSION = "2.1.4";

/**
 * What {@linkcode EDGE_DENO_VERSION} runs with: the system's CA store, to reach npm, and a cache of its own
 * (`.cache/deno-2.1.4/`), apart from the tooling's Deno.
 */
export const EDGE_DENO_ENV: Readonly<Record<string, string>> = {
  DENO_TLS_CA_STORE: "system",
  DENO_DIR: new URL(`../.cache/deno-${EDGE_DENO_VERSION}/`, import.meta.url).pathname,
};

let executable: Promise<string> | undefined;

/**
 * The path of the Edge Runtime's Deno executable, fetched from npm (`npx -y deno@2.1.4`) on first use.
 *
 * @returns The absolute path of the `deno` binary, which then runs without npx in between.
 * @throws {Error} When npx cannot fetch or start it.
 * @example Print its version
 * ```ts ignore
 * const deno = await edgeDenoPath();
 * await new Deno.Command(deno, { args: ["--version"] }).output();
 * ```
 */
export function edgeDenoPath(): Promise<string> {
  executable ??= (async () => {
    const { code, stdout, stderr } = await new Deno.Command("npx", {
      args: ["-y", `deno@${EDGE_DENO_VERSION}`, "eval", "--no-config", "console.log(Deno.execPath())"],
      env: { ...EDGE_DENO_ENV, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    if (code !== 0) throw new Error(`npx deno@${EDGE_DENO_VERSION} failed: ${text.decode(stderr)}`);
    return text.decode(stdout).trim();
  })();
  return executable;
}
