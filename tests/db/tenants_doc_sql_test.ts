/**
 * docs/tenants.md's SQL blocks, taken from the file itself and run in order as the operator would
 * (`supabase db query --db-url …`), each followed by a check that it does what the page says.
 */
import assert from "node:assert/strict";
import { createUser, openTestDatabase } from "../_db.ts";
import { supabaseCli } from "../../dev/database.ts";
import { codeBlocks } from "../_markdown.ts";
import { assertSqlState, callAs, roleOf } from "./_management.ts";

const TENANTS_DOC = new URL("../../docs/tenants.md", import.meta.url);

Deno.test("docs/tenants.md's SQL runs, in order, and does what the page says", async (t) => {
  const blocks = codeBlocks(await Deno.readTextFile(TENANTS_DOC), "sql");
  assert.equal(blocks.length, 3);
  const db = await openTestDatabase();
  const { sql } = db;
  const url = new URL(db.url);
  url.searchParams.set("sslmode", "disable");
  try {
    // Arranged: Acme, owned by an anonymous user (made before anonymous users were kept from managing), with
    // Ada, who has a proven address, as a member.
    const [acme] =
      await sql`insert into tenancy.tenants (name, external_id) values ('Acme', 'acme-42') returning id`;
    const anon = await createUser(sql, { anonymous: true });
    const ada = await createUser(sql, { email: "ada@acme.com" });
    await sql`insert into tenancy.memberships (tenant_id, user_id, role)
              values (${acme.id}, ${anon.id}, 'owner'), (${acme.id}, ${ada.id}, 'user')`;
    await assertSqlState(
      callAs(sql, anon, (tx) => tx`select * from tenancy.rename_tenant('acme-42', 'Mine')`),
      "TNFBD",
    );
    const run = (block: string) => supabaseCli(["db", "query", "--db-url", url.href, block]);

    await t.step("the operator hands the anonymous user's tenant over to Ada, who runs it", async () => {
      await run(blocks[0]);
      const [renamed] = await callAs(
        sql,
        ada,
        (tx) => tx`select * from tenancy.rename_tenant('acme-42', 'Acme Inc')`,
      );
      assert.equal(renamed.role, "owner");
    });

    await t.step("a custom role, once added, is one Ada may give", async () => {
      const bob = await createUser(sql);
      await sql`insert into tenancy.memberships (tenant_id, user_id) values (${acme.id}, ${bob.id})`;
      await assertSqlState(
        callAs(sql, ada, (tx) => tx`select * from tenancy.set_member_role('acme-42', ${bob.id}, 'billing')`),
        "TNBAD",
      );
      await run(blocks[1]);
      await callAs(
        sql,
        ada,
        (tx) => tx`select * from tenancy.set_member_role('acme-42', ${bob.id}, 'billing')`,
      );
      assert.equal(await roleOf(sql, acme.id, bob.id), "billing");
    });

    await t.step("self-service on: a signed-in user creates a tenant, as its owner", async () => {
      const carol = await createUser(sql);
      await assertSqlState(
        callAs(sql, carol, (tx) => tx`select * from tenancy.create_tenant('Mine')`),
        "TNFBD",
      );
      await run(blocks[2]);
      const [tenant] = await callAs(sql, carol, (tx) => tx`select * from tenancy.create_tenant('Mine')`);
      assert.equal(tenant.role, "owner");
    });
  } finally {
    await db.close();
  }
});
