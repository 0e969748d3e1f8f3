import assert from "node:assert/strict";
import postgres from "postgres";
import { createUser, openTestDatabase, resolveAs, setPolicy } from "../_db.ts";

Deno.test("tenancy.resolve_tenant() under concurrency", async (t) => {
  const db = await openTestDatabase();
  // Separate connections, so the calls really run at the same time in Postgres.
  const pool = postgres(db.url, { max: 50, onnotice: () => {} });
  try {
    await setPolicy(db.sql, [{ strategy: "personal" }]);

    await t.step(
      "50 simultaneous first exchanges of one user give one tenant and one membership",
      async () => {
        const user = await createUser(db.sql);
        const rows = await Promise.all(Array.from({ length: 50 }, () => resolveAs(pool, user)));
        assert.equal(new Set(rows.map((r) => r.tenant_uuid)).size, 1);
        assert.equal(rows.filter((r) => r.provisioned).length, 1);
        const [{ tenants, memberships }] = await db.sql`
        select (select count(*)::int from tenancy.tenants t
                 where t.id in (select tenant_id from tenancy.memberships where user_id = ${user.id})) as tenants,
               (select count(*)::int from tenancy.memberships where user_id = ${user.id}) as memberships`;
        assert.deepEqual({ tenants, memberships }, { tenants: 1, memberships: 1 });
      },
    );

    await t.step("200 different users at once get 200 tenants, without error or deadlock", async () => {
      const users = await Promise.all(Array.from({ length: 200 }, () => createUser(db.sql)));
      const [{ before }] = await db.sql`select count(*)::int as before from tenancy.tenants`;
      const rows = await Promise.all(users.map((user) => resolveAs(pool, user)));
      assert.equal(new Set(rows.map((r) => r.tenant_uuid)).size, 200);
      assert.ok(rows.every((r) => r.provisioned));
      const [{ after }] = await db.sql`select count(*)::int as after from tenancy.tenants`;
      assert.equal(after - before, 200);
    });
  } finally {
    await pool.end();
    await db.close();
  }
});
