/**
 * `deno task refresh-free-email-domains`: turns the pinned npm lists of public and disposable email providers,
 * plus the hand-kept paid and private providers of tools/private_email_providers.ts (which the npm lists miss),
 * into a migration that loads `tenancy.public_email_domains`, the table that refuses domain claims on them.
 *
 * Pushed migrations never change, so a refresh writes a new one (after the newest migration), which replaces
 * the table's rows with the lists of the versions pinned in deno.json and the hand-kept list. The task first
 * moves the pins to the packages' latest versions; run this file alone to regenerate from the current pins.
 * It writes nothing when the newest data migration already loads the pinned versions and every hand-kept
 * provider is loaded by it or a later migration. `tests/db/public_domain_claims_test.ts` checks that the
 * migrations load exactly what the pinned packages and the hand-kept list hold.
 *
 * @module
 */
import freeEmailDomains from "free-email-domains";
import { disposableEmailBlocklist } from "disposable-email-domains-js";
import { PRIVATE_EMAIL_PROVIDERS } from "./private_email_providers.ts";

/** The npm packages the lists come from: public webmail and disposable providers, then disposable only. */
export const EMAIL_DOMAIN_PACKAGES = ["free-email-domains", "disposable-email-domains-js"] as const;

/** A row of `tenancy.public_email_domains`. */
export interface ListedDomain {
  domain: string;
  kind: "public" | "disposable";
}

const MIGRATIONS = new URL("../supabase/migrations/", import.meta.url);
const DENO_JSON = new URL("../deno.json", import.meta.url);
const DATA_MIGRATION_SUFFIX = "_tenancy_public_email_domains_data.sql";
const SOURCES_LINE = /^-- Sources: (.+)$/m;
// The check constraint of tenancy.public_email_domains.domain.
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
// A row a migration inserts into tenancy.public_email_domains, as the migrations write them.
const INSERTED_ROW = /^\s*\('([a-z0-9.-]+)', '(?:public|disposable)'\)/gm;

/**
 * Merges the lists into the table's rows: every domain of any, lower-cased, `disposable` when the disposable
 * list has it, sorted; entries of the npm lists that the table's check would refuse are left out, and a
 * hand-kept one is an error.
 *
 * @param publicDomains free-email-domains' list (public webmail and disposable providers).
 * @param disposableDomains disposable-email-domains-js' list.
 * @param handKept The hand-kept paid and private providers (tools/private_email_providers.ts).
 * @returns The rows, sorted by domain.
 * @example
 * ```ts
 * listEmailDomains(["gmail.com", "mailinator.com"], ["mailinator.com"], ["hey.com"]);
 * // [{ domain: "gmail.com", kind: "public" }, { domain: "hey.com", kind: "public" },
 * //  { domain: "mailinator.com", kind: "disposable" }]
 * ```
 */
export function listEmailDomains(
  publicDomains: readonly string[],
  disposableDomains: readonly string[],
  handKept: readonly string[],
): ListedDomain[] {
  const refused = handKept.find((d) => !DOMAIN.test(d));
  if (refused !== undefined) throw new Error(`not a lower-case domain in the hand-kept list: ${refused}`);
  const disposable = new Set(disposableDomains.map((d) => d.trim().toLowerCase()));
  const npm = [...publicDomains.map((d) => d.trim().toLowerCase()), ...disposable];
  const all = new Set([...npm.filter((domain) => DOMAIN.test(domain)), ...handKept]);
  return [...all].sort().map((domain) => ({
    domain,
    kind: disposable.has(domain) ? "disposable" : "public",
  }));
}

/**
 * The pinned packages' lists with the hand-kept providers, as rows, and the packages' `name@version`s from
 * deno.json.
 *
 * @returns The rows and the packages they came from.
 * @example
 * ```ts
 * const { rows, sources } = await pinnedEmailDomains(); // sources: ["free-email-domains@1.12.6", ...]
 * ```
 */
export async function pinnedEmailDomains(): Promise<{ rows: ListedDomain[]; sources: string[] }> {
  const imports: Record<string, string> = JSON.parse(await Deno.readTextFile(DENO_JSON)).imports;
  const sources = EMAIL_DOMAIN_PACKAGES.map((name) => imports[name].replace(/^npm:/, ""));
  return {
    rows: listEmailDomains(freeEmailDomains, disposableEmailBlocklist(), PRIVATE_EMAIL_PROVIDERS),
    sources,
  };
}

/**
 * The SQL of a data migration: replaces every row of `tenancy.public_email_domains` with `rows`, then warns
 * about domain claims that the new list would have refused.
 *
 * @param rows The rows to load.
 * @param sources The packages and versions they came from (written in the header).
 * @returns The migration's text.
 * @example
 * ```ts
 * renderEmailDomainsMigration([{ domain: "gmail.com", kind: "public" }], ["free-email-domains@1.12.6"]);
 * ```
 */
export function renderEmailDomainsMigration(
  rows: readonly ListedDomain[],
  sources: readonly string[],
): string {
  const values = rows.map((r) => `  ('${r.domain}', '${r.kind}')`).join(",\n");
  return `-- Tenancy: the public and disposable email providers no domain claim may name (generated).
--
-- Written by \`deno task refresh-free-email-domains\` (tools/public_email_domains.ts); do not edit. A refresh
-- writes a new migration like this one, which replaces the whole list.
-- Sources: ${sources.join(", ")}
-- With the hand-kept paid and private providers of tools/private_email_providers.ts.
-- Domains: ${rows.length}

delete from tenancy.public_email_domains;

insert into tenancy.public_email_domains (domain, kind) values
${values};

-- Claims made before their domain was listed stay; say so on push.
do $warn$
declare
  claimed text;
begin
  select string_agg(d.domain, ', ' order by d.domain) into claimed
    from tenancy.domain_claims d
   where tenancy_private.public_email_provider(d.domain) is not null;
  if claimed is not null then
    raise warning 'domain claims on public or disposable email providers (anyone can join them): %', claimed;
  end if;
end
$warn$;
`;
}

/**
 * The sources the newest data migration loaded, from its header.
 *
 * @param names The file names in supabase/migrations/.
 * @param read Reads a migration by name.
 * @returns Its `name@version`s, or null when there is no data migration yet.
 * @example
 * ```ts
 * const names = [...Deno.readDirSync("supabase/migrations")].map((e) => e.name);
 * await newestEmailDomainsSources(names, (n) => Deno.readTextFile(`supabase/migrations/${n}`));
 * ```
 */
export async function newestEmailDomainsSources(
  names: readonly string[],
  read: (name: string) => Promise<string>,
): Promise<string[] | null> {
  const newest = names.filter((n) => n.endsWith(DATA_MIGRATION_SUFFIX)).sort().at(-1);
  if (newest === undefined) return null;
  return SOURCES_LINE.exec(await read(newest))?.[1].split(", ") ?? null;
}

/**
 * Whether a refresh would write nothing: the newest data migration loads the pinned versions, and every
 * hand-kept provider is inserted by it or by a later migration (as 20261207120100, which added the first
 * hand-kept ones). Rows inserted before the newest data migration do not count: it deletes the whole list.
 *
 * @param names The file names in supabase/migrations/.
 * @param read Reads a migration by name.
 * @param sources The pinned `name@version`s.
 * @param handKept The hand-kept providers.
 * @returns True when the migrations already load all of it.
 * @example
 * ```ts
 * const names = [...Deno.readDirSync("supabase/migrations")].map((e) => e.name);
 * const read = (n: string) => Deno.readTextFile(`supabase/migrations/${n}`);
 * await emailDomainsUpToDate(names, read, ["free-email-domains@1.12.6"], ["hey.com"]);
 * ```
 */
export async function emailDomainsUpToDate(
  names: readonly string[],
  read: (name: string) => Promise<string>,
  sources: readonly string[],
  handKept: readonly string[],
): Promise<boolean> {
  const loaded = await newestEmailDomainsSources(names, read);
  if (loaded?.join(", ") !== sources.join(", ")) return false;
  const newest = names.filter((n) => n.endsWith(DATA_MIGRATION_SUFFIX)).sort().at(-1)!;
  const inserted = new Set<string>();
  for (const name of names.filter((n) => n.endsWith(".sql") && n >= newest)) {
    for (const [, domain] of (await read(name)).matchAll(INSERTED_ROW)) inserted.add(domain);
  }
  return handKept.every((d) => inserted.has(d));
}

/**
 * The version of a new migration: now (UTC, `YYYYMMDDHHMMSS`), or one second after the newest migration if
 * that is later, so the new one is always applied last.
 *
 * @param names The file names in supabase/migrations/.
 * @param now The clock.
 * @returns The 14-digit version.
 * @example
 * ```ts
 * nextMigrationVersion(["20261126000400_x.sql"], new Date("2026-11-27T12:00:00Z")); // "20261127120000"
 * ```
 */
export function nextMigrationVersion(names: readonly string[], now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const newest = names.map((n) => n.split("_")[0]).filter((v) => /^\d{14}$/.test(v)).sort().at(-1);
  if (newest === undefined || stamp > newest) return stamp;
  return (BigInt(newest) + 1n).toString();
}

if (import.meta.main) {
  const names = [...Deno.readDirSync(MIGRATIONS)].map((e) => e.name);
  const { rows, sources } = await pinnedEmailDomains();
  const read = (n: string) => Deno.readTextFile(new URL(n, MIGRATIONS));
  if (await emailDomainsUpToDate(names, read, sources, PRIVATE_EMAIL_PROVIDERS)) {
    console.log(`Up to date: the migrations already load ${sources.join(", ")} and the hand-kept providers.`);
  } else {
    const file = new URL(`${nextMigrationVersion(names, new Date())}${DATA_MIGRATION_SUFFIX}`, MIGRATIONS);
    await Deno.writeTextFile(file, renderEmailDomainsMigration(rows, sources));
    console.log(
      `Wrote ${file.pathname} (${rows.length} domains from ${sources.join(", ")} and the hand-kept list).`,
    );
    console.log("Review it, push it with `supabase db push`, and commit it.");
  }
}
