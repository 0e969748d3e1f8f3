/**
 * Test support: the fenced code blocks of a Markdown file, so tests run the documentation's snippets
 * themselves rather than copies that can drift; its headings' anchors, so links into it can be checked; and
 * the pages whose blocks the tests run.
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

/**
 * The GitHub anchor of a heading: lower case, code spans' backticks and other punctuation dropped (letters,
 * digits, `_` and `-` stay), each space a `-`.
 *
 * @param heading The heading's text, without its `#`s.
 * @returns The slug its `#anchor` uses (before any `-1` GitHub appends to a repeated one).
 * @example
 * ```ts
 * githubSlug("Rotating `BACKEND_JWT_SECRET`"); // "rotating-backend_jwt_secret"
 * githubSlug("1. The flow"); // "1-the-flow"
 * ```
 */
export function githubSlug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, "").replace(/ /g, "-");
}

/**
 * The anchors the headings of `markdown` get on GitHub, in order; a repeated one gets `-1`, `-2`, ...
 * Headings inside fenced code blocks are not headings.
 *
 * @param markdown The Markdown text.
 * @returns Each ATX heading's anchor.
 * @example
 * ```ts
 * headingAnchors("# A\n\n## Notes\n\n## Notes"); // ["a", "notes", "notes-1"]
 * ```
 */
export function headingAnchors(markdown: string): string[] {
  const seen = new Map<string, number>();
  const anchors: string[] = [];
  for (const line of withoutFences(markdown).split("\n")) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!heading) continue;
    const slug = githubSlug(heading[1]);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.push(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/**
 * `markdown` with every fenced code block's lines blanked (the line count kept), so what is left is prose.
 *
 * @param markdown The Markdown text.
 * @returns The text, fences and their bodies replaced by empty lines.
 * @example
 * ```ts
 * const fence = "`".repeat(3);
 * withoutFences(`a\n${fence}sh\n# not a heading\n${fence}\nb`); // "a\n\n\n\nb"
 * ```
 */
export function withoutFences(markdown: string): string {
  return markdown.replace(
    /^( *)(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\2[ \t]*$/gm,
    (block) => block.replace(/[^\n]/g, ""),
  );
}

/** The repository's README.md: the quick start, the deploy steps. */
export const README = new URL("../README.md", import.meta.url);
/** docs/contract.md: the HTTP API, the backend JWT, the settings, the tenancy model. */
export const CONTRACT = new URL("../docs/contract.md", import.meta.url);
/** docs/tenancy.md: the operator's SQL, run block by block by tests/db/tenancy_doc_sql_test.ts. */
export const TENANCY_DOC = new URL("../docs/tenancy.md", import.meta.url);
/** docs/operations.md: settings, session limits, rotating secrets and keys. */
export const OPERATIONS_DOC = new URL("../docs/operations.md", import.meta.url);
