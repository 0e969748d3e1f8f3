/**
 * Test support: `DB_POOLER=transaction` runs the function suite and the end-to-end suite through the
 * transaction pooler (`dev/pooler.ts`, PgBouncer with TLS), as `deno task test` does once more after the
 * direct run; unset, the function connects to Postgres directly.
 *
 * @module
 */
import { parsePoolerMode, type Pooler, startPooler } from "../dev/pooler.ts";
import type { TestDatabase } from "./_db.ts";

/** `DB_POOLER` from the environment. */
export const DB_POOLER = parsePoolerMode(Deno.env.get("DB_POOLER"));

/** Where the function connects: the database's URL and whether it is a transaction pooler. */
export interface FunctionDatabase {
  url: string;
  transactionPooler: boolean;
  /** The pooler in front of the database, with `DB_POOLER=transaction`. */
  pooler?: Pooler;
  /** Stops the pooler, if any. */
  close(): Promise<void>;
}

/**
 * The function's database for a suite: `db` itself, or `db` through a pooler of its own when
 * `DB_POOLER=transaction`.
 *
 * @param db The suite's database.
 * @returns Where the function connects, and how.
 * @example
 * ```ts ignore
 * const target = await functionDatabase(db);
 * const tenancy = createTenancyResolver({ databaseUrl: target.url, transactionPooler: target.transactionPooler, timeoutMs: 5000 });
 * ```
 */
export async function functionDatabase(db: TestDatabase): Promise<FunctionDatabase> {
  if (!DB_POOLER) return { url: db.url, transactionPooler: false, close: () => Promise.resolve() };
  const pooler = await startPooler({ serverUrl: db.serverUrl });
  return { url: pooler.urlFor(db.url), transactionPooler: true, pooler, close: () => pooler.stop() };
}
