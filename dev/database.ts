/**
 * Prepares a Postgres database the way a Supabase project looks after `supabase db push`: the Supabase
 * schema stand-in first (Supabase has it already), then our migrations through the real Supabase CLI.
 *
 * Only the stand-in runs as the superuser, `supabase_admin`. The migrations run as `postgres`, which is not
 * a superuser, as on a hosted project (where `supabase db push` logs in as a `cli_login_*` role and does
 * `SET SESSION ROLE postgres`: supabase/cli `internal/utils/connect.go`).
 *
 * @module
 */
import postgres from "postgres";

const ROOT = new URL("../", import.meta.url);
const STAND_IN = new URL("dev/supabase_stand_in.sql", ROOT);

/** The roles of the stand-in that log in, all with the local stack's password, as `supabase start` has them. */
export type LoginRole = "postgres" | "supabase_auth_admin";

/** The password of every {@linkcode LoginRole} (`supabase start` uses `postgres` too). */
const PASSWORD = "postgres";

/**
 * The same database as another role.
 *
 * @param url Any URL of the database (e.g. the superuser's).
 * @param role The role to log in as.
 * @returns `url` with `role`'s user name and password.
 * @example Connect as `postgres`, as migrations and the function do
 * ```ts
 * const url = urlAs("postgresql://supabase_admin:postgres@127.0.0.1:54322/postgres", "postgres");
 * ```
 */
export function urlAs(url: string, role: LoginRole): string {
  const as = new URL(url);
  as.username = role;
  as.password = PASSWORD;
  return as.href;
}

/** Options for {@linkcode prepareDatabase}. */
export interface PrepareDatabaseOptions {
  /** Also apply `supabase/seed.sql` (the local demo data). */
  seed?: boolean;
}

/**
 * Applies the Supabase stand-in as the superuser, then `supabase db push` as `postgres` (migrations, and
 * the seed when asked).
 *
 * @param url The database's URL as the superuser, `supabase_admin`.
 * @param options Whether to seed.
 * @returns The database's URL as `postgres`.
 * @throws {Error} With the CLI's output when `db push` fails.
 * @example Prepare the local stack's database
 * ```ts
 * const url = await prepareDatabase("postgresql://supabase_admin:postgres@127.0.0.1:54322/postgres");
 * ```
 */
export async function prepareDatabase(url: string, options: PrepareDatabaseOptions = {}): Promise<string> {
  await applyStandIn(url);
  const asPostgres = urlAs(url, "postgres");
  await supabaseDbPush(asPostgres, options);
  return asPostgres;
}

/**
 * Whether the cluster behind `url` was made with `supabase_admin` as its superuser. One made before that
 * (where `postgres` was the superuser) has no `supabase_admin` to log in as.
 *
 * @param url A database's URL as `supabase_admin`.
 * @returns False when `supabase_admin` cannot log in or is not a superuser.
 * @throws {Error} When the server cannot be reached at all.
 * @example Check a kept data directory before using it
 * ```ts
 * const url = "postgresql://supabase_admin:postgres@127.0.0.1:54322/postgres";
 * if (!await hasSupabaseSuperuser(url)) console.log("made before supabase_admin: rebuild it");
 * ```
 */
export async function hasSupabaseSuperuser(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select rolsuper from pg_roles where rolname = current_user`;
    return row.rolsuper === true;
  } catch (err) {
    // Postgres answers a role that does not exist as it answers a wrong password: authentication failed.
    if (err instanceof postgres.PostgresError && (err.code === "28P01" || err.code === "28000")) return false;
    throw err;
  } finally {
    await sql.end();
  }
}

/** A database name `--database` accepts: lower case, digits and `_`, not one Postgres or Supabase keeps. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a name for {@linkcode createStandInDatabase}.
 *
 * @param name The name asked for.
 * @returns The name.
 * @throws {Error} When it is not a plain lower-case identifier, or is `postgres`, `template0` or `template1`.
 * @example
 * ```ts
 * parseDatabaseName("my_app"); // "my_app"
 * ```
 */
export function parseDatabaseName(name: string): string {
  if (!DATABASE_NAME.test(name) || ["postgres", "template0", "template1"].includes(name)) {
    throw new Error(
      `the database name must be lower-case letters, digits and _ (not postgres, template0 or template1), not ${
        JSON.stringify(name)
      }`,
    );
  }
  return name;
}

/**
 * A database of the given name beside `postgres`, as a hosted project's database is before its first
 * `supabase db push`: created when missing, with the Supabase stand-in (the roles, the `auth` schema and the
 * grants) and nothing else: no migrations of this repository, no seed.
 *
 * @param url Any database's URL as the superuser, `supabase_admin`.
 * @param name The database (see {@linkcode parseDatabaseName}).
 * @returns Its URL as the superuser.
 * @example Make a database to push another project's migrations into
 * ```ts ignore
 * const url = await createStandInDatabase(postgres.url, "my_app");
 * await new Deno.Command("npx", { args: ["-y", "supabase@2.117.0", "db", "push", "--db-url", urlAs(url, "postgres")] }).output();
 * ```
 */
export async function createStandInDatabase(url: string, name: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${parseDatabaseName(name)}`;
    if (!found) await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  await applyStandIn(target.href);
  return target.href;
}

/** Applies `dev/supabase_stand_in.sql` as the superuser (idempotent). */
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
 * @param url The database's URL as `postgres`, the role migrations run as on a hosted project.
 * @returns The CLI's combined output.
 */
export async function supabaseDbPush(url: string, options: PrepareDatabaseOptions = {}): Promise<string> {
  const dbUrl = new URL(url);
  dbUrl.searchParams.set("sslmode", "disable");
  const args = ["db", "push", "--db-url", dbUrl.href, "--yes"];
  if (options.seed) args.push("--include-seed");
  return await supabaseCli(args);
}

/**
 * Runs the pinned Supabase CLI (`npm:supabase`, see deno.json) with `args`, in the repository root or in
 * another project's (`cwd`, e.g. one the installer wrote into).
 */
export async function supabaseCli(args: string[], cwd: string | URL = ROOT): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${new URL("deno.json", ROOT).pathname}`, "supabase", ...args],
    cwd,
    stdin: "null",
    env: { DO_NOT_TRACK: "1", SUPABASE_TELEMETRY_DISABLED: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code !== 0) throw new Error(`supabase ${args[0]} ${args[1]} failed (exit ${code}):\n${output}`);
  return output;
}
