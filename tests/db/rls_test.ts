import assert from "node:assert/strict";
import { asRole, createTenant, createUser, openTestDatabase } from "../_db.ts";

const TABLES = ["tenants", "memberships", "invitations", "domain_claims", "provisioning_policy"];

Deno.test("row-level security: a user sees only their own rows and writes none", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    const alice = await createUser(sql, { email: "alice@a.example" });
    const bob = await createUser(sql, { email: "bob@b.example" });
    const aliceTenant = await createTenant(sql, "Alice's", "a");
    const bobTenant = await createTenant(sql, "Bob's", "b");
    await sql`insert into tenancy.memberships (tenant_id, user_id, is_default)
              values (${aliceTenant}, ${alice.id}, true), (${bobTenant}, ${bob.id}, true)`;
    await sql`insert into tenancy.invitations (tenant_id, email) values (${bobTenant}, 'carol@b.example'),
                                                                      (${aliceTenant}, 'dave@a.example')`;
    await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('b.example', ${bobTenant})`;

    /** Each statement, run as Alice, fails for lack of privilege (42501). */
    const assertEachRefusedForAlice = async (statements: string[]) => {
      for (const statement of statements) {
        await assert.rejects(
          asRole(sql, "authenticated", alice.claims, (tx) => tx.unsafe(statement)),
          { code: "42501" },
          statement,
        );
      }
    };

    await t.step("as A: only A's membership and tenant are visible", async () => {
      await asRole(sql, "authenticated", alice.claims, async (tx) => {
        assert.deepEqual((await tx`select user_id from tenancy.memberships`).map((r) => r.user_id), [
          alice.id,
        ]);
        assert.deepEqual((await tx`select id from tenancy.tenants`).map((r) => r.id), [aliceTenant]);
        assert.equal((await tx`select 1 from tenancy.tenants where id = ${bobTenant}`).length, 0);
      });
    });

    for (const table of ["invitations", "domain_claims", "provisioning_policy"]) {
      await t.step(`as A: ${table} cannot be read, not even A's tenant's rows`, async () => {
        await assert.rejects(
          asRole(sql, "authenticated", alice.claims, (tx) => tx.unsafe(`select * from tenancy.${table}`)),
          { code: "42501" },
        );
      });
    }

    await t.step("as A: B's rows cannot be changed or deleted, nor A's own", async () => {
      await assertEachRefusedForAlice([
        `update tenancy.tenants set name = 'pwned' where id = '${bobTenant}'`,
        `update tenancy.memberships set role = 'admin' where user_id = '${alice.id}'`,
        `delete from tenancy.memberships where user_id = '${bob.id}'`,
        `delete from tenancy.tenants where id = '${aliceTenant}'`,
        `update tenancy.invitations set accepted_at = now()`,
        `delete from tenancy.domain_claims`,
        `update tenancy.provisioning_policy set strategy = 'personal'`,
      ]);
    });

    await t.step("as A: direct inserts into any table are refused", async () => {
      await assertEachRefusedForAlice([
        `insert into tenancy.tenants (name) values ('mine')`,
        `insert into tenancy.memberships (tenant_id, user_id, role) values ('${bobTenant}', '${alice.id}', 'admin')`,
        `insert into tenancy.invitations (tenant_id, email) values ('${bobTenant}', 'alice@a.example')`,
        `insert into tenancy.domain_claims (domain, tenant_id) values ('a.example', '${bobTenant}')`,
        `insert into tenancy.provisioning_policy (position, strategy) values (9, 'personal')`,
      ]);
    });

    await t.step("as A: the private helpers cannot be called directly", async () => {
      await assert.rejects(
        asRole(
          sql,
          "authenticated",
          alice.claims,
          (tx) => tx`select tenancy_private.add_membership(${alice.id}, ${bobTenant}, 'admin')`,
        ),
        { code: "42501" },
      );
    });

    await t.step("anon sees nothing and cannot resolve", async () => {
      const anonClaims = { role: "anon" };
      for (const table of TABLES) {
        await assert.rejects(
          asRole(sql, "anon", anonClaims, (tx) => tx.unsafe(`select * from tenancy.${table}`)),
          { code: "42501" },
          table,
        );
      }
      await assert.rejects(
        asRole(sql, "anon", anonClaims, (tx) => tx`select * from tenancy.resolve_tenant()`),
        { code: "42501" },
      );
      // Even with a user's claims, the anon role has no way in.
      await assert.rejects(
        asRole(sql, "anon", alice.claims, (tx) => tx`select * from tenancy.resolve_tenant()`),
        { code: "42501" },
      );
    });

    await t.step("without claims, authenticated sees no rows", async () => {
      await asRole(sql, "authenticated", null, async (tx) => {
        assert.equal((await tx`select * from tenancy.memberships`).length, 0);
        assert.equal((await tx`select * from tenancy.tenants`).length, 0);
      });
    });
  } finally {
    await db.close();
  }
});
