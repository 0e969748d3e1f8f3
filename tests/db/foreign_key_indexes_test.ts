import assert from "node:assert/strict";
import type postgres from "postgres";
import { openTestDatabase } from "../_db.ts";

// A foreign key is covered when an index of its table leads with exactly its columns (in any order) and
// holds every row the key can match: no predicate, or only "column IS NOT NULL" (a key that matches is not
// null). The delete of a referenced row then finds its referencing rows without scanning the table.
async function unindexedForeignKeys(sql: postgres.Sql | postgres.TransactionSql): Promise<string[]> {
  const rows = await sql`
    select format('%s.%s (%s)', n.nspname, c.relname,
                  (select string_agg(a.attname, ', ' order by k.ord) from unnest(fk.conkey) with ordinality k(attnum, ord)
                     join pg_attribute a on a.attrelid = fk.conrelid and a.attnum = k.attnum)) as key
      from pg_constraint fk
      join pg_class c on c.oid = fk.conrelid
      join pg_namespace n on n.oid = c.relnamespace
     where fk.contype = 'f' and n.nspname in ('tenancy', 'tenancy_private')
       and not exists (
         select 1 from pg_index i
          where i.indrelid = fk.conrelid and i.indisvalid
            and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(fk.conkey)] @> fk.conkey
            and (i.indpred is null
                 or (cardinality(fk.conkey) = 1
                     and pg_get_expr(i.indpred, i.indrelid) = format('(%I IS NOT NULL)',
                       (select a.attname from pg_attribute a where a.attrelid = fk.conrelid and a.attnum = fk.conkey[1])))))
     order by 1`;
  return rows.map((r) => r.key);
}

Deno.test("every foreign key in tenancy has a covering index", async (t) => {
  const db = await openTestDatabase();
  try {
    await t.step("none of the migrations' foreign keys lacks one", async () => {
      assert.deepEqual(await unindexedForeignKeys(db.sql), []);
    });

    await t.step("the check names a key without one, and one whose only index is partial", async () => {
      const rollback = Symbol("rollback");
      await db.sql.begin(async (tx) => {
        await tx`create table tenancy.fk_probe (
                   id int primary key,
                   user_id uuid references auth.users (id),
                   tenant_id uuid references tenancy.tenants (id),
                   done boolean)`;
        await tx`create index on tenancy.fk_probe (tenant_id) where done`;
        const probe = async () =>
          (await unindexedForeignKeys(tx)).filter((key) => key.includes(".fk_probe "));
        assert.deepEqual(await probe(), [
          "tenancy.fk_probe (tenant_id)",
          "tenancy.fk_probe (user_id)",
        ]);
        await tx`create index on tenancy.fk_probe (user_id) where user_id is not null`;
        await tx`create index on tenancy.fk_probe (tenant_id, done)`;
        assert.deepEqual(await probe(), []);
        throw rollback;
      }).catch((err) => {
        if (err !== rollback) throw err;
      });
    });
  } finally {
    await db.close();
  }
});
