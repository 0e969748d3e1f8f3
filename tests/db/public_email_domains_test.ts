/**
 * Domain claims on public or disposable email providers are refused
 * (supabase/migrations/*_tenancy_public_email_domains*.sql), and the committed data migrations load exactly
 * what the pinned npm packages hold (`deno task refresh-free-email-domains` writes them).
 */
import assert from "node:assert/strict";
import { createTenant, openTestDatabase } from "../_db.ts";
import { pinnedEmailDomains } from "../../dev/public_email_domains.ts";

Deno.test("domain claims on public or disposable email providers are refused", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  try {
    const tenant = await createTenant(sql, "Acme", "acme-claims");

    await t.step("gmail.com, outlook.com and a throwaway domain cannot be claimed (TNPUB)", async () => {
      for (
        const [domain, kind] of [
          ["gmail.com", "public"],
          ["outlook.com", "public"],
          ["mailinator.com", "disposable"],
          ["yopmail.com", "disposable"],
        ]
      ) {
        await assert.rejects(
          sql`insert into tenancy.domain_claims (domain, tenant_id) values (${domain}, ${tenant})`,
          (err: { code?: string; message?: string; hint?: string }) => {
            assert.equal(err.code, "TNPUB", domain);
            assert.equal(
              err.message,
              `cannot claim the domain ${domain}: ${domain} is a ${kind} email provider, where anyone can get an address`,
            );
            assert.match(err.hint ?? "", /tenancy\.invitations/);
            return true;
          },
        );
      }
    });

    await t.step("nor a subdomain of a listed provider, nor by changing a claim's domain", async () => {
      await assert.rejects(
        sql`insert into tenancy.domain_claims (domain, tenant_id) values ('anything.cu.cc', ${tenant})`,
        { code: "TNPUB", message: /cu\.cc is a disposable email provider/ },
      );
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('acme-claims.example', ${tenant})`;
      await assert.rejects(
        sql`update tenancy.domain_claims set domain = 'hotmail.com' where domain = 'acme-claims.example'`,
        { code: "TNPUB" },
      );
    });

    await t.step("a company's own domain, even one resembling a provider's, is accepted", async () => {
      for (const domain of ["acme.com", "gmail.com.acme.example", "notgmail.com"]) {
        await sql`insert into tenancy.domain_claims (domain, tenant_id) values (${domain}, ${tenant})`;
      }
    });

    await t.step("an operator may unlist a domain that is really theirs, then claim it", async () => {
      await sql`delete from tenancy.public_email_domains where domain = 'zoho.com'`;
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('zoho.com', ${tenant})`;
    });

    await t.step("the migrations load exactly the pinned packages' lists", async () => {
      const { rows } = await pinnedEmailDomains();
      const loaded =
        await sql`select domain, kind from tenancy.public_email_domains order by domain collate "C"`;
      const expected = rows.filter((r) => r.domain !== "zoho.com");
      assert.equal(loaded.length, expected.length);
      assert.deepEqual(
        loaded.map((r) => `${r.domain} ${r.kind}`),
        expected.map((r) => `${r.domain} ${r.kind}`),
      );
    });
  } finally {
    await db.close();
  }
});
