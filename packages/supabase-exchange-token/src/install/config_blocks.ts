/**
 * The functions' blocks of `supabase/config.toml`, handled as text: taken from the repository's file at pack
 * time, appended to the project's file at install. The project's file is never parsed and written back, so
 * its comments, order and layout stay as they are.
 *
 * @module
 */
import type { ConfigBlock } from "./payload.ts";

/** A table header line, `[name]` or `[[name]]`, with optional spaces and a trailing comment. */
const HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;

/** `functions.<name>` of a header's key, with the name's quotes (TOML allows `"exchange-token"`) removed. */
function functionOfKey(key: string): string | undefined {
  const match = /^functions\s*\.\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))$/.exec(key);
  return match ? match[1] ?? match[2] ?? match[3] : undefined;
}

/**
 * The `[functions.<name>]` blocks of a `config.toml`, each from the comment lines right above its header
 * to the line before the next header (blank lines at its end dropped).
 *
 * @param text A `config.toml`.
 * @param names The functions wanted.
 * @returns One block per name, in the order of `names`.
 * @throws {Error} When one of `names` has no block.
 * @example
 * ```ts
 * extractConfigBlocks("[functions.a]\nverify_jwt = false\n", ["a"]);
 * // [{ name: "a", text: "[functions.a]\nverify_jwt = false\n" }]
 * ```
 */
export function extractConfigBlocks(text: string, names: string[]): ConfigBlock[] {
  const lines = text.split("\n");
  return names.map((name) => {
    const start = lines.findIndex((line) => functionOfKey(HEADER.exec(line)?.[1] ?? "") === name);
    if (start < 0) throw new Error(`config.toml has no [functions.${name}] block`);
    let first = start;
    while (first > 0 && lines[first - 1].trim().startsWith("#")) first--;
    let end = start + 1;
    while (end < lines.length && !HEADER.test(lines[end])) end++;
    // The comment lines above the next header belong to it.
    while (end > start + 1 && (lines[end - 1].trim() === "" || lines[end - 1].trim().startsWith("#"))) end--;
    return { name, text: lines.slice(first, end).join("\n") + "\n" };
  });
}

/**
 * The functions that already have a block in a project's `config.toml`.
 *
 * @param text The project's `config.toml`.
 * @returns The names of its `[functions.<name>]` tables.
 */
export function configuredFunctions(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const name = functionOfKey(HEADER.exec(line)?.[1] ?? "");
    if (name) names.add(name);
  }
  return names;
}

/**
 * The text to append to a project's `config.toml`: the blocks of the functions it has none for, after a
 * comment that says where they came from.
 *
 * @param text The project's `config.toml`.
 * @param blocks The package's blocks.
 * @param version The package's version.
 * @returns The text to append (empty when every function has its block).
 */
export function configAppendix(text: string, blocks: ConfigBlock[], version: string): string {
  const have = configuredFunctions(text);
  const missing = blocks.filter((block) => !have.has(block.name));
  if (missing.length === 0) return "";
  const lead = text === "" || text.endsWith("\n") ? "\n" : "\n\n";
  return lead + `# Added by supabase-exchange-token ${version}.\n` +
    missing.map((block) => block.text).join("\n");
}
