/**
 * What `init` and `upgrade` do to a project, decided from what is there without touching it: which files
 * to write or remove, which the user changed (refused unless forced), the `config.toml` text to append and
 * the manifest to record. The shell (`project.ts`) reads the project and carries the plan out.
 *
 * @module
 */
import { configAppendix } from "./config_blocks.ts";
import { InstallError } from "./install_error.ts";
import { nameMigrations } from "./migration_names.ts";
import type { Payload } from "./payload.ts";

/** `supabase/supabase-exchange-token.json`: what the package installed, and each file's SHA-256 as written. */
export interface Manifest {
  package: "supabase-exchange-token";
  version: string;
  /** Each installed file (path from the project root) and its SHA-256 as installed. */
  files: Record<string, string>;
  /** Each of the package's migrations (its own name) and the path it was installed at. */
  migrations: Record<string, string>;
}

/** The manifest's path from the project root. */
export const MANIFEST_PATH = "supabase/supabase-exchange-token.json";

/** What a plan is made from: the project as it is. */
export interface ProjectState {
  /** The manifest of an earlier install, if any. */
  manifest?: Manifest;
  /** The SHA-256 of each file the payload or the manifest names (absent: no such file). */
  hashes: Record<string, string | undefined>;
  /** The file names in `supabase/migrations/`. */
  migrationFiles: string[];
  /** `supabase/config.toml`. */
  configText: string;
}

/** `init` installs into a project without a manifest; `upgrade` moves an install to the payload's version. */
export type Command = "init" | "upgrade";

/** A file to write: where in the project, and which payload file (path under the payload folder). */
export interface Write {
  path: string;
  source: string;
}

/** A file the plan would replace or remove, but the user changed (or the package did not install). */
export interface Conflict {
  path: string;
  reason: "changed" | "not_installed_by_package";
}

/** What to do. */
export interface Plan {
  writes: Write[];
  /** Files of an older version that this one no longer has, unchanged by the user. */
  removals: string[];
  /** Files of an older version that this one no longer has, changed by the user: left in place. */
  kept: string[];
  /** The files the plan refuses to touch without `--force` (empty once forced: they are in `writes`). */
  conflicts: Conflict[];
  /** Text to append to `supabase/config.toml` ("" for none). */
  configAppend: string;
  /** The manifest after the plan. */
  manifest: Manifest;
  /** Whether the plan changes nothing at all (the manifest included). */
  noop: boolean;
}

export { InstallError };

/**
 * Plans `init` or `upgrade` of `payload` into a project.
 *
 * A payload file is written when it is missing, or when the package brings new contents for it and the
 * project's copy is the one the manifest recorded (an older version's, untouched), or with `force`; a copy the
 * user changed is a conflict then, and left alone while the package has nothing new for it. Migrations the manifest records are never written again (a migration
 * that ran is history); new ones get names after the project's newest (`migration_names.ts`).
 *
 * @param payload What the package installs.
 * @param state The project as it is.
 * @param options The command, and whether to overwrite changed files.
 * @returns The plan.
 * @throws {InstallError} `init` over an install of another version, `upgrade` where nothing is installed, a
 *   manifest naming a path outside `supabase/functions/` and `supabase/migrations/`.
 * @example A first install
 * ```ts ignore
 * const plan = planInstall(payload, { hashes: {}, migrationFiles: [], configText: "" }, { command: "init" });
 * ```
 */
export function planInstall(
  payload: Payload,
  state: ProjectState,
  options: { command: Command; force?: boolean },
): Plan {
  const { manifest } = state;
  if (options.command === "init" && manifest && manifest.version !== payload.version) {
    throw new InstallError(
      `supabase-exchange-token ${manifest.version} is installed here (${MANIFEST_PATH}); run upgrade`,
    );
  }
  if (options.command === "upgrade" && !manifest) {
    throw new InstallError(`nothing to upgrade: no ${MANIFEST_PATH} here; run init`);
  }
  if (manifest) assertManifestPaths(manifest);
  const recorded = manifest?.files ?? {};
  const writes: Write[] = [];
  const conflicts: Conflict[] = [];
  const files: Record<string, string> = {};

  const place = (path: string, source: string, hash: string) => {
    files[path] = hash;
    const current = state.hashes[path];
    // Nothing new from the package for a file it installed: the project's copy, changed or not, stays.
    if (current === hash || (current !== undefined && recorded[path] === hash)) return;
    if (current === undefined || current === recorded[path] || options.force) {
      writes.push({ path, source });
    } else {
      conflicts.push({ path, reason: recorded[path] === undefined ? "not_installed_by_package" : "changed" });
    }
  };
  for (const [path, hash] of Object.entries(payload.files)) place(path, path, hash);

  const migrations: Record<string, string> = {};
  const fresh: string[] = [];
  for (const name of Object.keys(payload.migrations)) {
    const installed = manifest?.migrations[name];
    if (installed !== undefined) {
      migrations[name] = installed;
      if (recorded[installed] !== undefined) files[installed] = recorded[installed];
    } else if (state.migrationFiles.includes(name)) {
      // Copied by hand under its own name before there was an installer: adopted as it is.
      migrations[name] = `supabase/migrations/${name}`;
    } else {
      fresh.push(name);
    }
  }
  nameMigrations(fresh, state.migrationFiles).forEach((target, i) => {
    const path = `supabase/migrations/${target}`;
    migrations[fresh[i]] = path;
    place(path, `supabase/migrations/${fresh[i]}`, payload.migrations[fresh[i]]);
  });

  const removals: string[] = [];
  const kept: string[] = [];
  for (const [path, hash] of Object.entries(recorded)) {
    if (path in files || Object.values(migrations).includes(path)) continue;
    const current = state.hashes[path];
    if (current === undefined) continue;
    if (current === hash || options.force) removals.push(path);
    else kept.push(path);
  }

  const configAppend = configAppendix(state.configText, payload.configBlocks, payload.version);
  const next: Manifest = {
    package: "supabase-exchange-token",
    version: payload.version,
    files: sortedRecord(files),
    migrations: sortedRecord(migrations),
  };
  const noop = writes.length === 0 && removals.length === 0 && configAppend === "" &&
    manifest !== undefined && JSON.stringify(manifest) === JSON.stringify(next);
  return { writes, removals, kept, conflicts, configAppend, manifest: next, noop };
}

/** The same record with its keys in order, so that a manifest's text depends only on its contents. */
function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/** Where the installer may write or remove: inside these folders, with no `..`, `.` or empty segment. */
const INSTALLED_PATH = /^supabase\/(functions|migrations)\/(?!.*(^|\/)\.{1,2}(\/|$))(?!.*\/\/)[^\\]+$/;

/**
 * Refuses a manifest that names a file outside the folders the installer writes: `upgrade` removes files the
 * manifest lists, and an edited manifest must not lead it to delete anything else.
 *
 * @param manifest A project's manifest.
 * @throws {InstallError} Naming the first such path.
 */
export function assertManifestPaths(manifest: Manifest): void {
  for (const path of [...Object.keys(manifest.files ?? {}), ...Object.values(manifest.migrations ?? {})]) {
    if (!INSTALLED_PATH.test(path)) {
      throw new InstallError(
        `${MANIFEST_PATH} names ${
          JSON.stringify(path)
        }, outside supabase/functions/ and supabase/migrations/`,
      );
    }
  }
}
