/**
 * docs/schema.sql is exactly what tools/schema_doc.ts renders from a freshly migrated database, so it cannot
 * drift from the migrations. The suite runs on Postgres 17 and, with PG_MAJOR=15, on 15: the one committed
 * file must match both.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { openTestDatabase } from "../_db.ts";
import { REGENERATE, renderSchema, SCHEMA_FILE } from "../../tools/schema_doc.ts";

/** Where two texts first differ, with a few lines around it, and what to do about it. */
function diffHint(committed: string, rendered: string, server: string): string {
  const a = committed.split("\n");
  const b = rendered.split("\n");
  let first = 0;
  while (first < a.length && first < b.length && a[first] === b[first]) first++;
  // Past the end of the change: the texts' common tail starts at lastA and lastB.
  let lastA = a.length, lastB = b.length;
  while (lastA > first && lastB > first && a[lastA - 1] === b[lastB - 1]) lastA--, lastB--;
  const show = (lines: string[], sign: string, end: number) =>
    lines.slice(first, Math.min(end, first + 6)).map((line) => `  ${sign} ${line}`).join("\n") +
    (end - first > 6 ? `\n  ${sign} … (${end - first - 6} more)` : "");
  return [
    `docs/schema.sql is stale: it differs from the schema the migrations give (${server}) from line ${
      first + 1
    }:`,
    `  … ${first > 0 ? a[first - 1] : "(start of file)"}`,
    show(a, "-", lastA) || "  - (nothing)",
    show(b, "+", lastB) || "  + (nothing)",
    `Regenerate it with \`${REGENERATE}\` and commit it with the migration.`,
  ].join("\n");
}

Deno.test("docs/schema.sql is the migrated schema as tools/schema_doc.ts renders it", async (t) => {
  const db = await openTestDatabase();
  try {
    const server = db.server ? `Postgres ${db.server.major}` : "DATABASE_URL's server";
    const rendered = await renderSchema(db.sql);

    await t.step("the committed file is the rendered text", async () => {
      const committed = await Deno.readTextFile(SCHEMA_FILE).catch((err) => {
        if (err instanceof Deno.errors.NotFound) return "";
        throw err;
      });
      if (committed !== rendered) throw new Error(diffHint(committed, rendered, server));
    });

    await t.step(
      "the text does not depend on the session's search_path, date or interval style",
      async () => {
        const other = postgres(db.url, {
          max: 1,
          onnotice: () => {},
          connection: {
            search_path: "tenancy, tenancy_private, auth, public",
            DateStyle: "SQL, DMY",
            IntervalStyle: "iso_8601",
            TimeZone: "Pacific/Chatham",
          },
        });
        try {
          assert.equal(await renderSchema(other), rendered);
        } finally {
          await other.end();
        }
      },
    );

    await t.step("every table, policy, trigger and function of the schemas is in it", async () => {
      // Each as the text spells its statement; the client's search_path has neither schema, so names come
      // qualified, as the renderer's empty one gives them.
      const statements = await db.sql`
        select format('create table %s (', c.oid::regclass) as statement
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('tenancy', 'tenancy_private') and c.relkind = 'r'
        union all
        select format('create policy %I on %s', p.polname, p.polrelid::regclass)
          from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('tenancy', 'tenancy_private')
        union all
        select pg_get_triggerdef(t.oid) || ';'
          from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('tenancy', 'tenancy_private') and not t.tgisinternal
        union all
        select format('comment on function %s is ', p.oid::regprocedure)
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname in ('tenancy', 'tenancy_private')`;
      assert.ok(statements.length > 50, `${statements.length} objects`);
      const missing = statements.map((r) => r.statement as string).filter((s) => !rendered.includes(s));
      assert.deepEqual(missing, []);
    });
  } finally {
    await db.close();
  }
});
