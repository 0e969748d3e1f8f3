/**
 * docs/tenancy.md's SQL blocks, the operator's, taken from the page itself and run in order, each as the page
 * says (`supabase db query --db-url …`, which takes one statement), on a database seeded like the local stack.
 * After each block whose effect the page describes, that effect is checked. (docs/tenants.md's blocks have
 * their own test, tenants_doc_sql_test.ts.)
 */
import assert from "node:assert/strict";
import { createUser, openTestDatabase, resolveAs, type TestDatabase } from "../_db.ts";
import type { UserWithSession } from "../_users.ts";
import { supabaseCli } from "../../dev/database.ts";
import { codeBlocks, TENANCY_DOC } from "../_markdown.ts";
import { callAs } from "./_management.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A check that runs after the page's block containing `after`. */
interface Check {
  after: string;
  name: string;
  run(db: TestDatabase): Promise<void>;
}

/** A local user who signed up with AUTO_CONFIRM=false, made before the blocks run. */
let localAda: UserWithSession;

const CHECKS: Check[] = [
  {
    after: "insert into tenancy.tenants",
    name: "(arranged) Acme has a pending invitation that expires tomorrow",
    async run({ sql }) {
      await sql`insert into tenancy.invitations (tenant_id, email, expires_at)
                select id, 'fay@acme.com', now() + interval '1 day' from tenancy.tenants where external_id = 'acme-42'`;
    },
  },
  {
    after: "'ada@acme.com', 'admin'",
    name: "the invitee joins Acme as admin once confirmed, with its external id as tenant_id",
    async run({ sql }) {
      const row = await resolveAs(sql, await createUser(sql, { email: "ada@acme.com" }));
      assert.deepEqual([row.tenant_id, row.role], ["acme-42", "admin"]);
    },
  },
  {
    after: "'acme.com', id, 'user'",
    name: "a confirmed @acme.com address joins Acme as user; an unconfirmed one does not",
    async run({ sql }) {
      const row = await resolveAs(sql, await createUser(sql, { email: "bob@acme.com" }));
      assert.deepEqual([row.tenant_id, row.role], ["acme-42", "user"]);
      const unconfirmed = await resolveAs(
        sql,
        await createUser(sql, { email: "eve@acme.com", confirmed: false }),
      );
      assert.notEqual(unconfirmed.tenant_id, "acme-42");
    },
  },
  {
    after: "'personal', 'owner'",
    name: "the seeded policy is unchanged, and anyone else gets a personal tenant with a uuid tenant_id",
    async run({ sql }) {
      const policy =
        await sql`select position, strategy, role from tenancy.provisioning_policy order by position`;
      assert.deepEqual(policy.map((r) => ({ ...r })), [
        { position: 1, strategy: "invitation", role: null },
        { position: 2, strategy: "domain", role: null },
        { position: 3, strategy: "personal", role: "owner" },
      ]);
      const row = await resolveAs(sql, await createUser(sql, { email: "carol@elsewhere.test" }));
      assert.match(row.tenant_id, UUID);
      assert.deepEqual([row.tenant_id, row.role], [row.tenant_uuid, "owner"]);
    },
  },
  {
    after: "set strategy = 'default'",
    name: "anyone else now joins the fixed tenant",
    async run({ sql }) {
      const row = await resolveAs(sql, await createUser(sql, { email: "dave@elsewhere.test" }));
      assert.deepEqual([row.tenant_id, row.role], ["acme-42", "user"]);
    },
  },
  {
    after: "update tenancy.invitations set expires_at",
    name: "pending invitations of the tenant are extended",
    async run({ sql }) {
      const [row] =
        await sql`select expires_at > now() + interval '29 days' as extended from tenancy.invitations
                               where email = 'fay@acme.com'`;
      assert.equal(row.extended, true);
    },
  },
  {
    after: "update tenancy.memberships set role = 'owner'",
    name: "the named owner runs Acme from the app",
    async run({ sql }) {
      const [ada] = await sql`select id from auth.users where email = 'ada@acme.com'`;
      const [{ session_id }] =
        await sql`select id as session_id from auth.sessions where user_id = ${ada.id}`;
      const claims = { sub: ada.id, role: "authenticated", session_id };
      const [renamed] = await callAs(
        sql,
        { id: ada.id, email: "ada@acme.com", sessionId: session_id, claims },
        (tx) => tx`select * from tenancy.rename_tenant('acme-42', 'Acme Inc')`,
      );
      assert.deepEqual([renamed.name, renamed.role], ["Acme Inc", "owner"]);
    },
  },
  {
    after: "update auth.users set email_confirmed_at",
    name: "the address is confirmed, and its owner joins the seeded demo tenant",
    async run({ sql }) {
      const row = await resolveAs(sql, localAda);
      assert.deepEqual([row.tenant_id, row.email], ["demo", "ada@example.com"]);
    },
  },
];

Deno.test("docs/tenancy.md's SQL runs, in order, on a seeded database and does what the page says", async (t) => {
  const blocks = codeBlocks(await Deno.readTextFile(TENANCY_DOC), "sql");
  for (const check of CHECKS) {
    assert.equal(
      blocks.filter((b) => b.includes(check.after)).length,
      1,
      `one block of docs/tenancy.md has ${check.after}`,
    );
  }
  const db = await openTestDatabase({ seed: true });
  const url = new URL(db.url);
  url.searchParams.set("sslmode", "disable");
  try {
    localAda = await createUser(db.sql, { email: "ada@example.com", confirmed: false });
    for (const [i, block] of blocks.entries()) {
      await t.step(`block ${i + 1}: ${block.split("\n")[0]}`, async () => {
        await supabaseCli(["db", "query", "--db-url", url.href, block]);
      });
      for (const check of CHECKS.filter((c) => block.includes(c.after))) {
        await t.step(check.name, () => check.run(db));
      }
    }
  } finally {
    await db.close();
  }
});
