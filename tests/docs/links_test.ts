/**
 * Every relative link of every Markdown file in the repository leads somewhere: the file or folder exists,
 * and a `#anchor` names a heading of the target page (or of the page itself), as GitHub spells anchors.
 * Pages move (the README's sections became docs/*.md); this keeps the links that pointed into them honest.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { headingAnchors, withoutFences } from "../_markdown.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Not the repository's own pages: installed packages, and the state and caches of tools (`.dev/`, `.cache/`, `.git/`, ...). */
const SKIP = (name: string) => name === "node_modules" || name.startsWith(".");

/** The paths, relative to the root, of the repository's Markdown files. */
async function markdownFiles(dir = ROOT): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (SKIP(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) found.push(...await markdownFiles(path));
    else if (entry.isFile && entry.name.endsWith(".md")) found.push(relative(ROOT, path));
  }
  return found.sort();
}

/** The targets of the inline links and images of `markdown`'s prose (not code blocks or code spans). */
function linkTargets(markdown: string): string[] {
  const prose = withoutFences(markdown).replace(/(`+)[\s\S]*?\1/g, "code");
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

/** Whether `target` leaves the repository: a URL with a scheme, or a protocol-relative one. */
function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

const anchorsOf = new Map<string, Set<string>>();
async function anchors(path: string): Promise<Set<string>> {
  if (!anchorsOf.has(path)) {
    anchorsOf.set(path, new Set(headingAnchors(await Deno.readTextFile(join(ROOT, path)))));
  }
  return anchorsOf.get(path)!;
}

Deno.test("every relative link and anchor in the Markdown files leads to a file and a heading", async () => {
  const files = await markdownFiles();
  assert.ok(files.includes("README.md") && files.includes("docs/contract.md"), files.join(", "));
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    for (const target of linkTargets(await Deno.readTextFile(join(ROOT, file)))) {
      if (isExternal(target)) continue;
      checked++;
      const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
      const path = pathPart === "" ? file : relative(
        ROOT,
        join(pathPart.startsWith("/") ? ROOT : join(ROOT, dirname(file)), decodeURI(pathPart)),
      );
      const stat = await Deno.stat(join(ROOT, path)).catch(() => null);
      if (!stat || path.startsWith("..")) {
        broken.push(`${file}: ${target} (no ${path})`);
      } else if (anchor !== undefined && path.endsWith(".md") && !(await anchors(path)).has(anchor)) {
        broken.push(`${file}: ${target} (no heading #${anchor} in ${path})`);
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} relative links found: is the link pattern right?`);
  assert.deepEqual(broken, []);
});
