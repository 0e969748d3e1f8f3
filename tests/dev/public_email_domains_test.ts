import assert from "node:assert/strict";
import {
  listEmailDomains,
  newestEmailDomainsSources,
  nextMigrationVersion,
  renderEmailDomainsMigration,
} from "../../dev/public_email_domains.ts";

Deno.test("listEmailDomains() merges both lists, marks the disposable ones, and drops what the table refuses", () => {
  assert.deepEqual(
    listEmailDomains([" Gmail.com", "mailinator.com", "not a domain", "localhost"], [
      "mailinator.com",
      "trash.example",
    ]),
    [
      { domain: "gmail.com", kind: "public" },
      { domain: "mailinator.com", kind: "disposable" },
      { domain: "trash.example", kind: "disposable" },
    ],
  );
});

Deno.test("nextMigrationVersion() is now, or one second after the newest migration when that is later", () => {
  const names = ["20261126000400_a.sql", "20261127120300_b.sql", "README"];
  assert.equal(nextMigrationVersion(names, new Date("2026-12-01T08:09:10Z")), "20261201080910");
  assert.equal(nextMigrationVersion(names, new Date("2026-11-27T00:00:00Z")), "20261127120301");
});

Deno.test("newestEmailDomainsSources() reads the newest data migration's header", async () => {
  const files: Record<string, string> = {
    "20261127120201_tenancy_public_email_domains_data.sql": renderEmailDomainsMigration([], [
      "a@1.0.0",
      "b@2.0.0",
    ]),
    "20261201000000_tenancy_public_email_domains_data.sql": renderEmailDomainsMigration([], [
      "a@1.1.0",
      "b@2.0.0",
    ]),
    "20261202000000_other.sql": "-- Sources: nothing",
  };
  const read = (name: string) => Promise.resolve(files[name]);
  assert.deepEqual(await newestEmailDomainsSources(Object.keys(files), read), ["a@1.1.0", "b@2.0.0"]);
  assert.equal(await newestEmailDomainsSources(["20261202000000_other.sql"], read), null);
});
