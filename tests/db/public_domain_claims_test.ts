/**
 * Domain claims on public or disposable email providers are refused
 * (supabase/migrations/*_tenancy_public_email_domains*.sql), and the committed migrations load exactly what
 * the pinned npm packages and the hand-kept paid and private providers hold (`deno task
 * refresh-free-email-domains` writes them; 20261207120100 added the first hand-kept ones).
 */
import assert from "node:assert/strict";
import { createTenant, openTestDatabase } from "../_db.ts";
import { pinnedEmailDomains } from "../../tools/public_email_domains.ts";
import { PRIVATE_EMAIL_PROVIDERS } from "../../tools/private_email_providers.ts";

// Paid and private providers (and the big webmail ones) that must never be claimable, named here rather than
// taken from tools/private_email_providers.ts so that dropping one there fails this test.
const PAID_AND_PRIVATE_PROVIDERS = [
  "proton.me",
  "protonmail.com",
  "pm.me",
  "fastmail.com",
  "fastmail.fm",
  "hey.com",
  "tutanota.com",
  "tutanota.de",
  "tuta.io",
  "tuta.com",
  "mailbox.org",
  "posteo.de",
  "posteo.net",
  "zoho.com",
  "zohomail.com",
  "gmx.com",
  "gmx.de",
  "gmx.net",
  "web.de",
  "yandex.com",
  "yandex.ru",
  "mail.ru",
  "icloud.com",
  "me.com",
  "mac.com",
  "aol.com",
  "yahoo.com",
  "outlook.com",
  "hotmail.com",
  "live.com",
  "msn.com",
  "gmail.com",
  "googlemail.com",
  "qq.com",
  "163.com",
  "naver.com",
  "hushmail.com",
  "runbox.com",
  "startmail.com",
  "disroot.org",
  "riseup.net",
];

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

    await t.step(
      "paid and private providers cannot be claimed, even by the operator (postgres)",
      async () => {
        assert.equal(PAID_AND_PRIVATE_PROVIDERS.length, 41);
        const [{ role }] = await sql`select current_user as role`;
        assert.equal(role, "postgres");
        for (const domain of PAID_AND_PRIVATE_PROVIDERS) {
          await assert.rejects(
            sql`insert into tenancy.domain_claims (domain, tenant_id) values (${domain}, ${tenant})`,
            (err: { code?: string; message?: string }) => {
              assert.equal(err.code, "TNPUB", domain);
              assert.ok(err.message?.startsWith(`cannot claim the domain ${domain}: `), err.message);
              return true;
            },
            domain,
          );
          assert.ok(PRIVATE_EMAIL_PROVIDERS.includes(domain), `${domain} is in the hand-kept list`);
        }
        const claimed = await sql`
        select domain from tenancy.domain_claims where domain = any(${PAID_AND_PRIVATE_PROVIDERS})`;
        assert.deepEqual(claimed.map((r) => r.domain), []);
        await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('initech.com', ${tenant})`;
        const [accepted] =
          await sql`select tenant_id from tenancy.domain_claims where domain = 'initech.com'`;
        assert.equal(accepted.tenant_id, tenant);
      },
    );

    await t.step("an operator may unlist a domain that is really theirs, then claim it", async () => {
      await sql`delete from tenancy.public_email_domains where domain = 'zoho.com'`;
      await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('zoho.com', ${tenant})`;
    });

    await t.step(
      "the migrations load exactly the pinned packages' lists and the hand-kept providers",
      async () => {
        // pinnedEmailDomains(): the npm lists merged with tools/private_email_providers.ts (as a refresh writes).
        const { rows } = await pinnedEmailDomains();
        const loaded =
          await sql`select domain, kind from tenancy.public_email_domains order by domain collate "C"`;
        const listed = new Set(loaded.map((r) => r.domain));
        assert.deepEqual(PRIVATE_EMAIL_PROVIDERS.filter((d) => d !== "zoho.com" && !listed.has(d)), []);
        const expected = rows.filter((r) => r.domain !== "zoho.com");
        assert.equal(loaded.length, expected.length);
        assert.deepEqual(
          loaded.map((r) => `${r.domain} ${r.kind}`),
          expected.map((r) => `${r.domain} ${r.kind}`),
        );
      },
    );
  } finally {
    await db.close();
  }
});
