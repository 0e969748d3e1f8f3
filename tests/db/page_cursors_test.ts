import assert from "node:assert/strict";
import { openTestDatabase } from "../_db.ts";
import { assertSqlState } from "./_management.ts";

Deno.test("the lists' cursors and page size", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    await t.step("a (time, uuid) cursor spells its key to the microsecond and reads back", async () => {
      const [row] = await sql`
        select tenancy_private.time_cursor('2026-12-07 19:04:27.123456+00', 'a0000000-0000-4000-8000-00000000000f') as cursor,
               k.at = '2026-12-07 19:04:27.123456+00'::timestamptz as same_time, k.id::text as id
          from tenancy_private.time_cursor_key('1796670267123456.a0000000-0000-4000-8000-00000000000f') k`;
      assert.deepEqual({ ...row }, {
        cursor: "1796670267123456.a0000000-0000-4000-8000-00000000000f",
        same_time: true,
        id: "a0000000-0000-4000-8000-00000000000f",
      });
    });

    await t.step("a tenant cursor carries the name in UTF-8 hex and reads back", async () => {
      const name = "Émile & 東京 🚀";
      const [row] = await sql`
        select tenancy_private.tenant_cursor(false, ${name}, 'a0000000-0000-4000-8000-00000000000f') as cursor`;
      assert.match(row.cursor, /^1\.a0000000-0000-4000-8000-00000000000f\.[0-9a-f]+$/);
      const [key] = await sql`select * from tenancy_private.tenant_cursor_key(${row.cursor})`;
      assert.deepEqual({ ...key }, { other: true, name, id: "a0000000-0000-4000-8000-00000000000f" });
      const [none] = await sql`select * from tenancy_private.tenant_cursor_key(null)`;
      assert.deepEqual({ ...none }, { other: null, name: null, id: null });
    });

    await t.step("anything else is TNBAD", async () => {
      for (
        const bad of [
          "",
          "12.34",
          "1796670267123456.not-a-uuid",
          "12345678901234567.a0000000-0000-4000-8000-00000000000f",
          "-1.a0000000-0000-4000-8000-00000000000f",
        ]
      ) {
        await assertSqlState(sql`select * from tenancy_private.time_cursor_key(${bad})`, "TNBAD");
      }
      for (
        const bad of [
          "1.a0000000-0000-4000-8000-00000000000f.ff", // not UTF-8
          "1.a0000000-0000-4000-8000-00000000000f.00", // NUL
          "1.a0000000-0000-4000-8000-00000000000f.4", // half a byte
          "2.a0000000-0000-4000-8000-00000000000f.41",
          `0.a0000000-0000-4000-8000-00000000000f.${"41".repeat(801)}`, // longer than any name
        ]
      ) {
        await assertSqlState(sql`select * from tenancy_private.tenant_cursor_key(${bad})`, "TNBAD");
      }
      for (const bad of [0, 101, null]) {
        await assertSqlState(sql`select tenancy_private.checked_limit(${bad})`, "TNBAD");
      }
      assert.deepEqual((await sql`select tenancy_private.checked_limit(100) as n`)[0].n, 100);
    });
  } finally {
    await db.close();
  }
});
