/**
 * The installer's file system side: reads a project into a {@linkcode ProjectState} and carries a
 * {@linkcode Plan} out. Nothing is written before the whole plan is known, and a refused plan writes nothing.
 *
 * @module
 */
import { appendFile, copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { sha256 } from "./hash.ts";
import { InstallError, type Manifest, MANIFEST_PATH, type Plan, type ProjectState } from "./plan.ts";
import { type Payload, PAYLOAD_FILE } from "./payload.ts";

/** The project's `config.toml`, which `supabase init` writes. */
const CONFIG = "supabase/config.toml";

/**
 * Reads the payload folder's description.
 *
 * @param payloadDir The package's `payload/` folder.
 * @returns The payload.
 */
export async function readPayload(payloadDir: string): Promise<Payload> {
  return JSON.parse(await readFile(join(payloadDir, PAYLOAD_FILE), "utf8"));
}

/**
 * Reads what a plan needs of a project.
 *
 * @param root The project's root (holding `supabase/config.toml`).
 * @param payload What would be installed (its files are hashed where the project has them).
 * @returns The project's state.
 * @throws {InstallError} Without `supabase/config.toml`, or with a manifest that is not one.
 */
export async function readProject(root: string, payload: Payload): Promise<ProjectState> {
  let configText: string;
  try {
    configText = await readFile(join(root, CONFIG), "utf8");
  } catch (err) {
    if (isMissing(err)) {
      throw new InstallError(
        `no ${CONFIG} in ${root}: run this in a Supabase project's root (npx -y supabase@${payload.supabaseCliVersion} init makes one)`,
      );
    }
    throw err;
  }
  const manifest = await readManifest(root);
  const migrationFiles = await readdir(join(root, "supabase/migrations")).catch((err) => {
    if (isMissing(err)) return [];
    throw err;
  });
  const paths = new Set([
    ...Object.keys(payload.files),
    ...Object.keys(manifest?.files ?? {}),
    ...migrationFiles.map((name) => `supabase/migrations/${name}`),
  ]);
  const hashes: Record<string, string | undefined> = {};
  for (const path of paths) hashes[path] = await hashOf(join(root, path));
  return { manifest, hashes, migrationFiles, configText };
}

/**
 * Carries a plan out: the files, the removals, the `config.toml` appendix, then the manifest. First, every
 * path it would touch is checked to have no symbolic link below the root (see {@linkcode assertNoLink}), so
 * that a refused plan writes nothing.
 *
 * @param root The project's root.
 * @param payloadDir The package's `payload/` folder.
 * @param plan A plan without conflicts.
 * @throws {InstallError} When a path the plan writes, removes or appends to goes through a symbolic link.
 */
export async function applyPlan(root: string, payloadDir: string, plan: Plan): Promise<void> {
  if (plan.conflicts.length > 0) throw new Error("a plan with conflicts is not applied");
  if (plan.noop) return;
  const touched = [
    ...plan.writes.map((w) => w.path),
    ...plan.removals,
    ...(plan.configAppend ? [CONFIG] : []),
    MANIFEST_PATH,
  ];
  for (const path of touched) await assertNoLink(root, path);
  for (const { path, source } of plan.writes) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await copyFile(join(payloadDir, source), join(root, path));
  }
  for (const path of plan.removals) await rm(join(root, path));
  if (plan.configAppend) await appendFile(join(root, CONFIG), plan.configAppend);
  await writeFile(join(root, MANIFEST_PATH), JSON.stringify(plan.manifest, null, 2) + "\n");
}

/**
 * Refuses a path with a symbolic link on it below the project's root. The project may be someone else's
 * (a cloned repository): a linked folder named by its manifest would have `upgrade --force` remove the
 * user's files elsewhere, and a linked function folder, file, manifest or `config.toml` would have the
 * installer write or append there. The root itself may be a link: `--dir` is the user's own choice.
 *
 * @param root The project's root.
 * @param path A path from the root, `/`-separated.
 * @throws {InstallError} Naming the first linked part of the path.
 */
async function assertNoLink(root: string, path: string): Promise<void> {
  const parts = path.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const part = parts.slice(0, i).join("/");
    let isLink: boolean;
    try {
      isLink = (await lstat(join(root, part))).isSymbolicLink();
    } catch (err) {
      if (isMissing(err)) return; // Nothing further down exists either: it will be made as a real folder.
      throw err;
    }
    if (isLink) {
      throw new InstallError(
        `${part} is a symbolic link: the installer writes and removes only real files and folders inside the project; nothing was written`,
      );
    }
  }
}

async function readManifest(root: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, MANIFEST_PATH), "utf8");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
  try {
    const manifest = JSON.parse(text);
    if (manifest?.package === "supabase-exchange-token" && typeof manifest.version === "string") {
      return manifest;
    }
  } catch {
    // Reported below.
  }
  throw new InstallError(`${MANIFEST_PATH} is not this package's manifest; restore it from version control`);
}

async function hashOf(path: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(path));
  } catch (err) {
    if (isMissing(err) || errorCode(err) === "EISDIR") return undefined;
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  return errorCode(err) === "ENOENT";
}

/** A Node file system error's `code` (`ENOENT`, ...). */
function errorCode(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}
