/**
 * Prepares a Postgres database the way a Supabase project looks after `supabase db push`: the Supabase
 * schema stand-in first (Supabase has it already), then our migrations through the real Supabase CLI.
 *
 * @module
 */
import postgres from "postgres";

const ROOT = new URL("../", import.meta.url);
const STAND_IN = new URL("dev/supabase_stand_in.sql", ROOT);

/** Options for {@linkcode prepareDatabase}. */
export interface PrepareDatabaseOptions {
  /** Also apply `supabase/seed.sql` (the local demo data). */
  seed?: boolean;
}

/**
 * Applies the Supabase stand-in, then `supabase db push` (migrations, and the seed when asked).
 *
 * @param url Superuser URL of the database.
 * @param options Whether to seed.
 * @throws {Error} With the CLI's output when `db push` fails.
 * @example
 * ```ts
 * await prepareDatabase("postgresql://postgres:postgres@127.0.0.1:54322/postgres");
 * ```
 */
export async function prepareDatabase(url: string, options: PrepareDatabaseOptions = {}): Promise<void> {
  await applyStandIn(url);
  await supabaseDbPush(url, options);
}

/** Applies `dev/supabase_stand_in.sql` (idempotent). */
export async function applyStandIn(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(await Deno.readTextFile(STAND_IN));
  } finally {
    await sql.end();
  }
}

/**
 * Runs the real Supabase CLI: `supabase db push --db-url URL --yes` from the repository root.
 *
 * @returns The CLI's combined output.
 */
export async function supabaseDbPush(url: string, options: PrepareDatabaseOptions = {}): Promise<string> {
  const dbUrl = new URL(url);
  dbUrl.searchParams.set("sslmode", "disable");
  const args = ["db", "push", "--db-url", dbUrl.href, "--yes"];
  if (options.seed) args.push("--include-seed");
  return await supabaseCli(args);
}

/** Runs the pinned Supabase CLI (`npm:supabase`, see deno.json) with `args` in the repository root. */
export async function supabaseCli(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "supabase", ...args],
    cwd: ROOT,
    stdin: "null",
    env: { DO_NOT_TRACK: "1", SUPABASE_TELEMETRY_DISABLED: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`supabase ${args[0]} ${args[1]} failed (exit ${code}):\n${output}`);
  return output;
}
