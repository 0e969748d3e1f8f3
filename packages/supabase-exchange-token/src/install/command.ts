/**
 * The installer's commands, `init` and `upgrade`: reads the project, plans, refuses or applies, and says
 * what it did and what to do next. `cli.ts` runs it with the process's arguments.
 *
 * Exit codes: 0 done (or nothing to do), 1 refused (a changed file, no project, another version), 2 usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { nextSteps } from "./instructions.ts";
import { InstallError, MANIFEST_PATH, type Plan, planInstall } from "./plan.ts";
import { applyPlan, readPayload, readProject } from "./project.ts";

const USAGE = `Usage: supabase-exchange-token <init|upgrade> [--force] [--dir <project root>]

  init      install the migrations, the functions (with _shared/) and their config.toml blocks
  upgrade   move an install to this version; files you changed are refused unless --force`;

/** What {@linkcode runCommand} talks to. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  cwd: string;
  payloadDir: string;
}

/**
 * Runs one command and returns its exit code; every line goes to `out` or `err`.
 *
 * @param argv The arguments after the program's name.
 * @param io Where lines go, the folder to install into by default, and the package's `payload/` folder.
 * @returns The exit code.
 */
export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { force: { type: "boolean" }, dir: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...extra] = parsed.positionals;
  if (parsed.values.help) {
    io.out(USAGE);
    return 0;
  }
  if ((command !== "init" && command !== "upgrade") || extra.length > 0) {
    io.err(USAGE);
    return 2;
  }
  const root = parsed.values.dir ?? io.cwd;
  try {
    const payload = await readPayload(io.payloadDir);
    const state = await readProject(root, payload);
    const plan = planInstall(payload, state, { command, force: parsed.values.force });
    if (plan.conflicts.length > 0) {
      io.err(
        `Refused: nothing was written. These files differ from what version ${
          state.manifest?.version ?? "(none)"
        } installed:`,
      );
      for (const { path, reason } of plan.conflicts) {
        io.err(
          `  ${path}  (${
            reason === "changed" ? "changed since installed" : "not installed by this package"
          })`,
        );
      }
      io.err("Keep your changes elsewhere and run again, or pass --force to overwrite them.");
      return 1;
    }
    if (plan.noop) {
      io.out(`supabase-exchange-token ${payload.version} is installed and unchanged: nothing to do.`);
      return 0;
    }
    await applyPlan(root, io.payloadDir, plan);
    report(plan, payload.version, io.out);
    for (const line of nextSteps(payload)) io.out(line);
    return 0;
  } catch (err) {
    if (!(err instanceof InstallError)) throw err;
    io.err(`supabase-exchange-token: ${err.message}`);
    return 1;
  }
}

/** One line per folder written to (one per file when few), and one per file removed or kept. */
function report(plan: Plan, version: string, out: (line: string) => void) {
  out(`supabase-exchange-token ${version}:`);
  if (plan.writes.length <= 10) {
    for (const { path } of plan.writes) out(`  wrote    ${path}`);
  } else {
    const folders = new Map<string, string[]>();
    for (const { path } of plan.writes) {
      const folder = path.split("/").slice(0, path.startsWith("supabase/functions/") ? 3 : 2).join("/");
      folders.set(folder, [...folders.get(folder) ?? [], path.slice(folder.length + 1)]);
    }
    for (const [folder, names] of folders) {
      const span = names.length > 1 ? `${names[0]} … ${names.at(-1)}` : names[0];
      out(`  wrote    ${folder}/: ${names.length} file${names.length > 1 ? "s" : ""} (${span})`);
    }
  }
  for (const path of plan.removals) out(`  removed  ${path}  (no longer part of the package)`);
  for (const path of plan.kept) {
    out(`  kept     ${path}  (no longer part of the package, but changed by you)`);
  }
  if (plan.configAppend) {
    out(
      `  appended ${plan.configAppend.match(/^\[functions\.[^\]]+\]/gm)?.join(" ")} to supabase/config.toml`,
    );
  }
  out(`  recorded ${MANIFEST_PATH} (each file's hash; keep it in version control)`);
  out("");
}
