/**
 * Names for migrations added to a project: the Supabase CLI applies `supabase/migrations/<timestamp>_<name>.sql`
 * in timestamp order and `supabase db push` refuses one older than the remote's newest (unless
 * `--include-all`), so each added migration gets a timestamp after every one the project has.
 *
 * @module
 */
import { InstallError } from "./install_error.ts";

/** The package's own names: `YYYYMMDDHHMMSS_name.sql`. */
const NAME = /^(\d{14})_(.+\.sql)$/;
/** What the CLI takes as a migration: digits, `_`, a name (supabase/cli `pkg/migration/file.go`). */
const ANY_MIGRATION = /^(\d+)_.*\.sql$/;

/**
 * The version (the leading digits) of a migration file's name, as a number to compare.
 *
 * @param name A file name in `supabase/migrations/`.
 * @returns Its version, or undefined for a file the CLI would not take as a migration.
 */
export function migrationVersion(name: string): bigint | undefined {
  const digits = ANY_MIGRATION.exec(name)?.[1];
  return digits === undefined ? undefined : BigInt(digits);
}

/**
 * Names for new migrations, in order: each keeps its own timestamp when that is after the project's
 * newest (and the one named before it), else takes that newest plus one second.
 *
 * @param added The package's migration file names, oldest first.
 * @param existing The file names already in the project's `supabase/migrations/`.
 * @returns The name each of `added` gets in the project, in the same order.
 * @throws {Error} When an added name has no `YYYYMMDDHHMMSS_` prefix.
 * @throws {InstallError} When the project's newest migration has a version that is not `YYYYMMDDHHMMSS`.
 * @example After a project migration of 2027
 * ```ts
 * nameMigrations(["20261126000100_tenancy_schemas.sql"], ["20270101120000_app.sql"]);
 * // ["20270101120001_tenancy_schemas.sql"]
 * ```
 */
export function nameMigrations(added: string[], existing: string[]): string[] {
  let newest = existing.map(migrationVersion).reduce<bigint | undefined>(
    (max, v) => v === undefined || (max !== undefined && max >= v) ? max : v,
    undefined,
  );
  return added.map((name) => {
    const match = NAME.exec(name);
    if (!match) throw new Error(`${name} is not named YYYYMMDDHHMMSS_name.sql`);
    const [, own, rest] = match;
    const stamp = newest === undefined || BigInt(own) > newest ? own : nextSecond(String(newest));
    newest = BigInt(stamp);
    return `${stamp}_${rest}`;
  });
}

/** `YYYYMMDDHHMMSS` one second later, in UTC as the CLI's `migration new` writes it. */
function nextSecond(stamp: string): string {
  // The project's own file names: a clear refusal, not a stack trace.
  if (stamp.length !== 14) {
    throw new InstallError(
      `the project's newest migration, ${stamp}_…, is not named YYYYMMDDHHMMSS_name.sql`,
    );
  }
  const [y, mo, d, h, mi, s] = [0, 4, 6, 8, 10, 12].map((at, i) => Number(stamp.slice(at, i ? at + 2 : 4)));
  const next = new Date(Date.UTC(y, mo - 1, d, h, mi, s + 1));
  if (Number.isNaN(next.getTime())) {
    throw new InstallError(
      `the project's newest migration, ${stamp}_…, is not named YYYYMMDDHHMMSS_name.sql`,
    );
  }
  const two = (n: number) => String(n).padStart(2, "0");
  return `${next.getUTCFullYear()}${two(next.getUTCMonth() + 1)}${two(next.getUTCDate())}` +
    `${two(next.getUTCHours())}${two(next.getUTCMinutes())}${two(next.getUTCSeconds())}`;
}
