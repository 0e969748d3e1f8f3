/**
 * The `prepack` step: copies what the installer installs from the repository into `payload/` (the
 * migrations, each function's folder of `supabase/functions/` and `_shared/` without their hidden files, the
 * functions' `config.toml` blocks) and describes it in `payload/payload.json`. The repository stays the one
 * copy in git; `payload/` is built, never committed.
 *
 * `node dist/install/pack_payload.js [--source <repository root>] [--out <folder>] [--version <version>]`;
 * by default the repository this package sits in, `payload/` beside `dist/`, and `package.json`'s version.
 *
 * @module
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { extractConfigBlocks } from "./config_blocks.ts";
import { sha256 } from "./hash.ts";
import { type Payload, PAYLOAD_FILE } from "./payload.ts";

const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Writes the payload of the repository at `source` into `out` (emptied first).
 *
 * @param source The repository's root.
 * @param out The payload folder.
 * @param version The package version it is recorded as.
 * @returns The payload's description.
 */
export async function packPayload(source: string, out: string, version: string): Promise<Payload> {
  await rm(out, { recursive: true, force: true });
  const functions = await functionFolders(join(source, "supabase/functions"));
  const files: Record<string, string> = {};
  for (const folder of [...functions, "_shared"]) {
    const from = join(source, "supabase/functions", folder);
    for (const path of await listFiles(from)) {
      const name = `supabase/functions/${folder}/${relative(from, path)}`;
      await mkdir(dirname(join(out, name)), { recursive: true });
      await copyFile(path, join(out, name));
      files[name] = sha256(await readFile(path));
    }
  }
  const migrations: Record<string, string> = {};
  const names = (await readdir(join(source, "supabase/migrations"))).filter((name) => name.endsWith(".sql"))
    .sort();
  await mkdir(join(out, "supabase/migrations"), { recursive: true });
  for (const name of names) {
    const text = await readFile(join(source, "supabase/migrations", name));
    await writeFile(join(out, "supabase/migrations", name), text);
    migrations[name] = sha256(text);
  }
  const config = await readFile(join(source, "supabase/config.toml"), "utf8");
  const payload: Payload = {
    version,
    supabaseCliVersion: await pinnedCliVersion(source),
    functions,
    files,
    migrations,
    configBlocks: extractConfigBlocks(config, functions),
  };
  await writeFile(join(out, PAYLOAD_FILE), JSON.stringify(payload, null, 2) + "\n");
  return payload;
}

/** The Supabase CLI version the repository's `deno.json` pins (`"supabase": "npm:supabase@X"`). */
async function pinnedCliVersion(source: string): Promise<string> {
  const { imports } = JSON.parse(await readFile(join(source, "deno.json"), "utf8"));
  const match = /^npm:supabase@(\d+\.\d+\.\d+)$/.exec(imports?.supabase ?? "");
  if (!match) throw new Error(`${source}/deno.json pins no npm:supabase@<version>`);
  return match[1];
}

/** The repository's functions: each folder of `supabase/functions/` with an `index.ts` (not `_shared/`), by name. */
async function functionFolders(dir: string): Promise<string[]> {
  const folders = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory());
  const names: string[] = [];
  for (const { name } of folders) {
    if (await readdir(join(dir, name)).then((inside) => inside.includes("index.ts"))) names.push(name);
  }
  return names.sort();
}

/**
 * The files under `dir` that are published, sorted: not a hidden one, nor one in a hidden folder. A
 * maintainer's `.env` beside a function (the Supabase CLI reads function secrets from such files), an editor's
 * swap file or `.DS_Store` is in the working tree, not in git, and must not reach npm and every project.
 */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !relative(dir, path).split(/[\\/]/).some((part) => part.startsWith(".")))
    .sort();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { source: { type: "string" }, out: { type: "string" }, version: { type: "string" } },
  });
  const version = values.version ??
    JSON.parse(await readFile(join(PACKAGE_DIR, "package.json"), "utf8")).version;
  const payload = await packPayload(
    values.source ?? join(PACKAGE_DIR, "../.."),
    values.out ?? join(PACKAGE_DIR, "payload"),
    version,
  );
  // stderr: `npm pack --json` prints the lifecycle scripts' stdout before its JSON.
  console.error(
    `payload ${version}: ${Object.keys(payload.files).length} function files, ${
      Object.keys(payload.migrations).length
    } migrations`,
  );
}
