import assert from "node:assert/strict";
import {
  emailDomainsUpToDate,
  listEmailDomains,
  newestEmailDomainsSources,
  nextMigrationVersion,
  pinnedEmailDomains,
  renderEmailDomainsMigration,
} from "../../tools/public_email_domains.ts";
import { PRIVATE_EMAIL_PROVIDERS } from "../../tools/private_email_providers.ts";

Deno.test("listEmailDomains() merges the lists, marks the disposable ones, and drops what the table refuses", () => {
  assert.deepEqual(
    listEmailDomains(
      [" Gmail.com", "mailinator.com", "not a domain", "localhost"],
      ["mailinator.com", "trash.example", "hey.example"],
      ["gmail.com", "hey.com", "hey.example"],
    ),
    [
      { domain: "gmail.com", kind: "public" },
      { domain: "hey.com", kind: "public" },
      { domain: "hey.example", kind: "disposable" },
      { domain: "mailinator.com", kind: "disposable" },
      { domain: "trash.example", kind: "disposable" },
    ],
  );
});

Deno.test("listEmailDomains() refuses a hand-kept entry the table would refuse, rather than drop it", () => {
  for (const bad of ["Hey.com", " hey.com", "localhost"]) {
    assert.throws(() => listEmailDomains([], [], [bad]), /not a lower-case domain in the hand-kept list/);
  }
});

Deno.test("the hand-kept providers are sorted, unique domains the table takes", () => {
  assert.deepEqual(PRIVATE_EMAIL_PROVIDERS, [...new Set(PRIVATE_EMAIL_PROVIDERS)].sort());
  assert.deepEqual(
    listEmailDomains([], [], PRIVATE_EMAIL_PROVIDERS).map((r) => r.domain),
    PRIVATE_EMAIL_PROVIDERS,
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

Deno.test("emailDomainsUpToDate(): the pinned versions, and every hand-kept provider loaded since", async () => {
  const data = (sources: string[], domains: string[]) =>
    renderEmailDomainsMigration(domains.map((domain) => ({ domain, kind: "public" })), sources);
  const handKept = `insert into tenancy.public_email_domains (domain, kind) values
  ('hey.com', 'public'),
  ('tuta.com', 'public')
on conflict (domain) do nothing;
`;
  const files: Record<string, string> = {
    "20261127120201_tenancy_public_email_domains_data.sql": data(["a@1.0.0"], ["gmail.com"]),
    "20261207120100_tenancy_private_email_providers.sql": handKept,
  };
  const read = (name: string) => Promise.resolve(files[name]);
  const upToDate = (sources: string[], providers: string[]) =>
    emailDomainsUpToDate(Object.keys(files), read, sources, providers);

  assert.equal(await upToDate(["a@1.0.0"], ["hey.com", "tuta.com"]), true);
  assert.equal(await upToDate(["a@1.1.0"], ["hey.com", "tuta.com"]), false, "a new pinned version");
  assert.equal(await upToDate(["a@1.0.0"], ["hey.com", "mailbox.org"]), false, "a new hand-kept provider");
  assert.equal(await upToDate(["a@1.0.0"], ["gmail.com"]), true, "loaded by the data migration itself");

  // A newer data migration replaces the whole list: rows inserted before it no longer count.
  files["20261210000000_tenancy_public_email_domains_data.sql"] = data(["a@1.0.0"], ["gmail.com", "hey.com"]);
  assert.equal(await upToDate(["a@1.0.0"], ["hey.com"]), true);
  assert.equal(await upToDate(["a@1.0.0"], ["hey.com", "tuta.com"]), false);
  assert.equal(await emailDomainsUpToDate([], read, ["a@1.0.0"], []), false, "no data migration yet");
});

Deno.test("the committed migrations are up to date: a refresh at the current pins would write nothing", async () => {
  const migrations = new URL("../../supabase/migrations/", import.meta.url);
  const names = [...Deno.readDirSync(migrations)].map((e) => e.name);
  const { sources } = await pinnedEmailDomains();
  const read = (n: string) => Deno.readTextFile(new URL(n, migrations));
  assert.equal(await emailDomainsUpToDate(names, read, sources, PRIVATE_EMAIL_PROVIDERS), true);
});
