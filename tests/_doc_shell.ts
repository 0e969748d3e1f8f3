/**
 * Test support: the shell blocks of the repository's Markdown, as tests/docs/shell_blocks_test.ts runs them.
 *
 * A shell block is a fenced block whose info string starts with `sh` (or `bash`, `shell`, `console`, `zsh`).
 * Every one is one of:
 * - runnable: run as printed, from the repository's root on a fresh local stack, in one bash session per
 *   file (variables carry from block to block, as in a reader's terminal), with `set -Eeuo pipefail`;
 * - ` ```sh background`: a long-running command (the stack itself): started in the background, in a
 *   process group of its own, and awaited until it prints a line starting with `Ready`; it runs until the
 *   next background block (which it gives way to, as a restart would: SIGINT to its process group, what
 *   Ctrl-C in its terminal sends) or the end of the run;
 * - ` ```sh illustrative`: not run, and its first line says why: `# Illustrative: <why it cannot run
 *   here>` (a hosted project, Docker, a 20-minute benchmark…).
 * Whatever the kind, a command says `npx -y deno@2.9.6 task …` as the quick start taught, never bare
 * `deno`; so does inline code that gives a task arguments or settings (inlineCommandProblems()).
 *
 * @module
 */
import { withoutFences } from "./_markdown.ts";

/** One shell block of a Markdown file. */
export interface ShellBlock {
  /** The file, relative to the repository's root. */
  file: string;
  /** The line of the opening fence (1-based); the body starts on the next line. */
  line: number;
  /** The body, without the fences and the indentation of a block inside a list item. */
  body: string;
  kind: "run" | "background" | "illustrative";
}

/** The info strings' first words that make a block a shell block. */
const SHELL_LANGUAGES = new Set(["sh", "bash", "shell", "console", "zsh"]);
/** The fence attributes the runner knows; anything else is a typo to report. */
const KINDS = new Set(["background", "illustrative"]);

/**
 * The shell blocks of `markdown`, in order, and what is wrong with any of them: an unknown attribute, an
 * illustrative block without its `# Illustrative: <why>` line (or such a line without the attribute), a
 * bare `deno` command.
 *
 * @param markdown The Markdown text.
 * @param file Its path relative to the repository's root, for the blocks and the problems.
 * @returns The blocks, and each problem as `file:line: what`.
 * @example
 * ```ts
 * const fence = "`".repeat(3);
 * shellBlocks(`${fence}sh\necho hi\n${fence}\n`, "a.md").blocks[0].kind; // "run"
 * ```
 */
export function shellBlocks(markdown: string, file: string): { blocks: ShellBlock[]; problems: string[] } {
  const blocks: ShellBlock[] = [];
  const problems: string[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (
      end < lines.length && !new RegExp(`^${indent}${fence[0]}{${fence.length},}\\s*$`).test(lines[end])
    ) {
      end++;
    }
    const [language, ...attributes] = info.trim().split(/\s+/);
    const body = lines.slice(i + 1, end).map((l) => l.startsWith(indent) ? l.slice(indent.length) : l)
      .join("\n").trimEnd();
    const line = i + 1;
    i = end;
    if (!SHELL_LANGUAGES.has(language)) continue;
    const at = `${file}:${line}`;
    for (const attribute of attributes) {
      if (!KINDS.has(attribute)) {
        problems.push(`${at}: unknown attribute "${attribute}" (known: ${[...KINDS]})`);
      }
    }
    const kind = attributes.includes("illustrative")
      ? "illustrative"
      : attributes.includes("background")
      ? "background"
      : "run";
    const says = /^# Illustrative: \S/.test(body);
    if (kind === "illustrative" && !says) {
      problems.push(`${at}: an illustrative block opens with "# Illustrative: <why it cannot run here>"`);
    }
    if (kind !== "illustrative" && /^#\s*Illustrative/i.test(body)) {
      problems.push(`${at}: a block that says it is illustrative is fenced as such (\`\`\`sh illustrative)`);
    }
    body.split("\n").forEach((text, n) => {
      if (bareDeno(text)) problems.push(`${file}:${line + 1 + n}: bare deno: say npx -y deno@2.9.6 …`);
    });
    blocks.push({ file, line, body, kind });
  }
  return { blocks, problems };
}

/**
 * Whether a shell line runs `deno` itself (at its start, after `;`, `&&`, `|`, `(` or `$(`, after
 * variable assignments), rather than through the quick start's `npx -y deno@2.9.6`. Comments are ignored.
 *
 * @param line One line of a shell block.
 * @returns True for a bare `deno` command.
 * @example
 * ```ts
 * bareDeno("BACKEND_JWT_ALGORITHM=ES256 deno task dev"); // true
 * bareDeno("npx -y deno@2.9.6 task dev   # not deno task dev"); // false
 * ```
 */
export function bareDeno(line: string): boolean {
  const code = line.replace(/(^|\s)#.*$/, "");
  return /(^|[;&|(]|\$\()\s*(\w+=\S*\s+)*deno(\s|$)/.test(code);
}

/**
 * The commands in a Markdown file's inline code that a reader cannot run as printed: `deno task …` with
 * arguments or settings before it (say `npx -y deno@2.9.6 task …`; a task's bare name, `deno task dev`, may
 * stay short where it only names the task, as README says the two are the same), and anywhere, fenced or
 * not, the `supabase` task, which a project of the reader's own does not have (say `npx -y supabase@2.117.0 …`).
 *
 * @param markdown The Markdown text.
 * @param file Its path relative to the repository's root, for the problems.
 * @returns Each problem as `file:line: what`.
 * @example
 * ```ts
 * inlineCommandProblems("Run `AUTO_CONFIRM=true deno task dev`.", "a.md").length; // 1
 * inlineCommandProblems("What `deno task dev` starts.", "a.md").length; // 0
 * ```
 */
export function inlineCommandProblems(markdown: string, file: string): string[] {
  const problems: string[] = [];
  const lineOf = (index: number) => markdown.slice(0, index).split("\n").length;
  for (const match of markdown.matchAll(/(^|\s)task supabase(\s|$)/gm)) {
    problems.push(
      `${file}:${
        lineOf(match.index)
      }: no supabase task in a project of your own: say npx -y supabase@2.117.0 …`,
    );
  }
  for (const match of withoutFences(markdown).matchAll(/`([^`]+)`/g)) {
    const code = match[1].replace(/\s+/g, " ").trim();
    if (/^(\w+=\S*\s+)*deno task\b/.test(code) && !/^deno task [\w:-]+$/.test(code)) {
      problems.push(`${file}:${lineOf(match.index)}: bare deno: say npx -y deno@2.9.6 task … (\`${code}\`)`);
    }
  }
  return problems;
}

/**
 * The Markdown files in the order a reader meets them: README.md, then the files in the order of README's
 * first link to each, then the rest by path.
 *
 * @param files Every Markdown file, relative to the repository's root.
 * @param readme README.md's text.
 * @returns `files`, ordered.
 * @example
 * ```ts
 * readingOrder(["b.md", "README.md", "docs/a.md"], "see [a](docs/a.md)"); // ["README.md", "docs/a.md", "b.md"]
 * ```
 */
export function readingOrder(files: string[], readme: string): string[] {
  const linked = [...readme.matchAll(/\]\((?:\.\/)?([^)#\s]+\.md)(?:#[^)]*)?\)/g)].map((m) => m[1]);
  const rank = (file: string) => {
    if (file === "README.md") return -1;
    const at = linked.indexOf(file);
    return at === -1 ? linked.length : at;
  };
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
