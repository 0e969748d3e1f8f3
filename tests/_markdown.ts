/**
 * Test support: the fenced code blocks of a Markdown file, so tests run the README's snippets themselves
 * rather than copies that can drift.
 *
 * @module
 */

/**
 * The bodies of the fenced code blocks of `markdown` whose info string starts with `lang`, in order.
 *
 * @param markdown The Markdown text.
 * @param lang The language (`sql`, `python`, ...).
 * @returns Each block's text, without the fences.
 * @example
 * ```ts
 * const fence = "`".repeat(3);
 * codeBlocks(`${fence}sql\nselect 1;\n${fence}`, "sql"); // ["select 1;"]
 * ```
 */
export function codeBlocks(markdown: string, lang: string): string[] {
  const blocks: string[] = [];
  // A fence may be indented (a block inside a list item); its body is indented as much.
  const fence = /^( *)```([^\n]*)\n([\s\S]*?)^\1```$/gm;
  for (const [, indent, info, body] of markdown.matchAll(fence)) {
    if (info.trim().split(/\s+/)[0] !== lang) continue;
    blocks.push(
      body.split("\n").map((line) => line.startsWith(indent) ? line.slice(indent.length) : line).join("\n")
        .trimEnd(),
    );
  }
  return blocks;
}

/** The repository's README.md. */
export const README = new URL("../README.md", import.meta.url);
