/**
 * `deno task bench --scale`: the exchange and the management lists on an empty database and on a large one,
 * in one invocation, each row with its ratio. The large one is seeded in SQL (`scale_seed.sql`): 1,000,000
 * users with identities and sessions, 100,000 tenants, 1,500,000 memberships (one tenant of 50,000),
 * 200,000 pending invitations, 10,000 domain claims and 2,000,000 audit rows. `--smoke` seeds 10,000 users
 * and measures briefly, to keep it working in CI. Writes `bench/scale_results.json`.
 *
 * Also measured once on the large database, for the record: deleting a user without the covering indexes of
 * 20261207140100 ("before"), and the unpaged member list the function answered before 20261207140200.
 *
 * @module
 */
import postgres from "postgres";
import bcrypt from "bcryptjs";
import { type LocalStack, startStack } from "../dev/stack.ts";
import { createUser } from "../tests/_users.ts";
import { exchangeRequest } from "./_users.ts";
import { loadExchangeConfig } from "../supabase/functions/_shared/exchange/config.ts";
import { createExchangeApp } from "../supabase/functions/_shared/exchange/app.ts";
import { type Latency, latencyOf, measureLatency, runWrk } from "./_measure.ts";

/** What `runScaleBench` seeds and how long it measures. */
export interface ScaleOptions {
  /** Users seeded (the other sizes follow: see `scale_seed.sql`). */
  users: number;
  /** Short runs, for CI: figures are not meaningful. */
  smoke: boolean;
}

/** One row of the table: a figure on the empty and on the seeded database. */
interface Row {
  name: string;
  empty?: number;
  scale: number;
  unit: string;
  target?: (row: Row) => string;
}

// The indexes 20261207140100 added that a user's deletion reads: dropped for the "before" figure.
const DELETE_INDEXES = [
  "tenancy.invitations_invited_by_idx",
  "tenancy.invitations_accepted_by_idx",
  "tenancy.audit_log_actor_id_idx",
];

const progress = (line: string) => console.error(`… ${line}`);

/**
 * Seeds the large database and prints the table (see the module's summary).
 *
 * @param options The number of users and whether it is a smoke run.
 * @example
 * ```ts ignore
 * await runScaleBench({ users: 10_000, smoke: true });
 * ```
 */
export async function runScaleBench(options: ScaleOptions): Promise<void> {
  const { smoke, users } = options;
  const n = smoke ? 30 : 1_000;
  const seconds = smoke ? 1 : 10;
  const concurrency = smoke ? [1, 16] : [1, 16, 64];
  progress("starting the local stack");
  const stack = await startStack();
  const admin = postgres(stack.dbUrl, { max: 4, onnotice: () => {} });
  try {
    const config = loadExchangeConfig(stack.functionEnv);
    const app = createExchangeApp(config, { log: () => {} });
    const signed = async (claims: Record<string, unknown>) => ({
      claims,
      token: await stack.auth.signAccessToken({ ...claims, iss: stack.auth.issuer }),
    });
    const exchange = async (token: string) => {
      const res = await app.handler(exchangeRequest(token));
      if (res.status !== 200) throw new Error(`exchange answered ${res.status}: ${await res.text()}`);
      await res.body?.cancel();
    };
    /** The exchange's figures: in-process returning and first-time users, then wrk over HTTP. */
    const exchangeFigures = async (returning: { token: string }[]) => {
      const fresh = await Promise.all(
        Array.from({ length: n + 50 }, async () => signed((await createUser(admin)).claims)),
      );
      const figures: Record<string, Latency> = {};
      progress("in-process: returning users");
      figures.returning = await measureLatency((i) => exchange(returning[i % returning.length].token), n);
      progress("in-process: first-time users");
      figures.first_time = await measureLatency((i) => exchange(fresh[i].token), n);
      const tokensFile = await Deno.makeTempFile({ prefix: "bench-scale-tokens-" });
      await Deno.writeTextFile(tokensFile, returning.map((u) => u.token).join("\n") + "\n");
      const script = new URL("rotate_tokens.lua", import.meta.url).pathname;
      for (const connections of concurrency) {
        progress(`HTTP: wrk, ${connections} connection(s), ${seconds} s`);
        const run = await runWrk(stack.functionUrl, { connections, seconds, tokensFile, script });
        if (run.errors > 0) throw new Error(`wrk: ${run.errors} errors at c=${connections}`);
        figures[`http_c${connections}`] = {
          ops: run.requests,
          meanMs: NaN,
          p50Ms: run.p50Ms,
          p99Ms: run.p99Ms,
        };
      }
      await Deno.remove(tokensFile);
      return figures;
    };

    // --- The empty database ------------------------------------------------------------------------------
    progress("empty database: users");
    const emptyReturning = await Promise.all(
      Array.from({ length: 200 }, async () => signed((await createUser(admin)).claims)),
    );
    for (const user of emptyReturning) await exchange(user.token); // members of `demo` from now on
    const emptyExchange = await exchangeFigures(emptyReturning);
    const emptyDeleteIds = await Promise.all(
      Array.from({ length: smoke ? 6 : 21 }, async () => (await createUser(admin)).id),
    );
    const emptyDelete = await deletionMillis(stack, emptyDeleteIds, []);

    // --- The seeded database ------------------------------------------------------------------------------
    progress(`seeding ${users.toLocaleString("en-US")} users and the rest, in SQL`);
    const seedStarted = performance.now();
    const passwordHash = bcrypt.hashSync("a password for every seeded user", 10);
    await admin.begin(async (tx) => {
      await tx`select set_config('bench.users', ${String(users)}, true),
                      set_config('bench.password_hash', ${passwordHash}, true)`;
      // Several statements, no parameters: the simple protocol.
      await tx.unsafe(await Deno.readTextFile(new URL("scale_seed.sql", import.meta.url))).simple();
    });
    progress("analyze");
    await admin`analyze`;
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const [{ bytes }] = await admin`select pg_database_size(current_database())::bigint as bytes`;
    const counts = await tableCounts(admin);
    progress(
      `seeded in ${seedSeconds.toFixed(0)} s, ${(Number(bytes) / 2 ** 30).toFixed(2)} GiB: ${
        JSON.stringify(counts)
      }`,
    );

    const seeded = (ns: number[]) =>
      admin`select n, md5('scale-user-' || n)::uuid::text as id, md5('scale-session-' || n)::uuid::text as session_id,
                   u.email
              from unnest(${ns}::int[]) n join auth.users u on u.id = md5('scale-user-' || n)::uuid
             order by n`;
    const claimsOf = (row: postgres.Row) => ({
      sub: row.id,
      role: "authenticated",
      aud: "authenticated",
      email: row.email,
      session_id: row.session_id,
      is_anonymous: false,
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    // Returning users: plain members of their own tenant, past the owners (user t owns tenant t).
    const returningRows = await seeded(Array.from({ length: 200 }, (_, i) => users - i));
    const scaleReturning = await Promise.all(returningRows.map((row) => signed(claimsOf(row))));
    const scaleExchange = await exchangeFigures(scaleReturning);

    // Users 2 .. : owners of their tenant, members of the big one, senders of invitations, actors in the audit.
    const deleteIds = (await seeded(Array.from({ length: smoke ? 12 : 42 }, (_, i) => i + 2))).map((r) =>
      r.id
    );
    const half = deleteIds.length / 2;
    progress("deleting users, with the covering indexes and without");
    const scaleDelete = await deletionMillis(stack, deleteIds.slice(0, half), []);
    const beforeDelete = await deletionMillis(stack, deleteIds.slice(half), DELETE_INDEXES);

    progress("pages of the big tenant and of a small one");
    // User t owns tenant t: the big tenant is 1; the last tenant is a small one (ten members).
    const last = users / 10;
    const [bigOwner, smallOwner] = (await seeded([1, last])).map(claimsOf);
    const pages = await pageFigures(admin, {
      bigOwner,
      smallOwner,
      small: `scale-${last}`,
      n: smoke ? 20 : 200,
    });
    const plan = await memberPagePlan(admin);

    const ratio = (r: Row) => (r.empty === undefined ? NaN : r.scale / r.empty);
    const within = (limit: number) => (r: Row) =>
      `≤ ${limit}× empty: ${ratio(r) <= limit ? "met" : "MISSED"}`;
    const rows: Row[] = [];
    for (const name of Object.keys(emptyExchange)) {
      for (const q of ["p50Ms", "p99Ms"] as const) {
        rows.push({
          name: `exchange ${name.replace("_", "-")} ${q.slice(0, 3)}`,
          empty: emptyExchange[name][q],
          scale: scaleExchange[name][q],
          unit: "ms",
          target: within(1.2),
        });
      }
    }
    rows.push({
      name: "delete a user (median)",
      empty: emptyDelete.p50Ms,
      scale: scaleDelete.p50Ms,
      unit: "ms",
      target: (r) => `≤ 5 ms: ${r.scale <= 5 ? "met" : "MISSED"}`,
    });
    rows.push({
      name: "delete a user, before 20261207140100 (median)",
      scale: beforeDelete.p50Ms,
      unit: "ms",
    });
    for (const [name, figure] of Object.entries(pages.figures)) {
      rows.push({
        name,
        empty: pages.small[name]?.p50Ms,
        scale: figure.p50Ms,
        unit: "ms",
        target: pages.small[name]
          ? (r) => `≤ 2× small tenant: ${ratio(r) <= 2 ? "met" : "MISSED"}`
          : undefined,
      });
    }
    printTable(rows, ratio);
    console.log(`\nThe member page's plan on the big tenant: ${plan}`);
    console.log(
      `Seeded ${users.toLocaleString("en-US")} users in ${seedSeconds.toFixed(0)} s; the database is ${
        (Number(bytes) / 2 ** 30).toFixed(2)
      } GiB.${smoke ? " (smoke run: figures are not meaningful)" : ""}`,
    );
    await Deno.writeTextFile(
      new URL("scale_results.json", import.meta.url),
      JSON.stringify(
        {
          smoke,
          users,
          seedSeconds,
          databaseBytes: Number(bytes),
          counts,
          emptyExchange,
          scaleExchange,
          emptyDelete,
          scaleDelete,
          beforeDelete,
          pages,
          plan,
        },
        null,
        2,
      ) + "\n",
    );
    await app.close();
  } finally {
    await admin.end();
    await stack.stop();
  }
}

/**
 * Deletes each user as Auth's admin API does (`delete from auth.users`, which cascades and sets null), in one
 * transaction, with `dropped` indexes dropped in it first (then rolled back: the users stay). Times each
 * statement, not the commit, whose fsync is the disk's. The first deletion, which also prepares the foreign
 * keys' queries on the connection, is not counted.
 */
async function deletionMillis(stack: LocalStack, ids: string[], dropped: string[]): Promise<Latency> {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const rollback = Symbol("rollback");
  const times: number[] = [];
  try {
    await sql.begin(async (tx) => {
      for (const index of dropped) await tx.unsafe(`drop index ${index}`);
      for (const id of ids) {
        const started = performance.now();
        await tx`delete from auth.users where id = ${id}`;
        times.push(performance.now() - started);
      }
      if (dropped.length > 0) throw rollback;
    }).catch((err) => {
      if (err !== rollback) throw err;
    });
  } finally {
    await sql.end();
  }
  return latencyOf(times.slice(1));
}

/** A page of each list as its caller asks for it, for the big tenant and a small one. */
async function pageFigures(
  sql: postgres.Sql,
  { bigOwner, smallOwner, small, n }: {
    bigOwner: Record<string, unknown>;
    smallOwner: Record<string, unknown>;
    small: string;
    n: number;
  },
) {
  const asCaller = (
    claims: Record<string, unknown>,
    query: (tx: postgres.TransactionSql) => Promise<unknown>,
  ) =>
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return await query(tx);
    });
  const big = "scale-1";
  // A cursor from the middle of the big tenant's members, and an audit id from the middle of its trail.
  const [{ cursor }] = await sql`
    select tenancy_private.time_cursor(created_at, user_id) as cursor from tenancy.memberships
     where tenant_id = md5('scale-tenant-1')::uuid order by created_at, user_id
     offset (select count(*) / 2 from tenancy.memberships where tenant_id = md5('scale-tenant-1')::uuid) limit 1`;
  const [{ id: auditMiddle }] = await sql`
    select id from tenancy.audit_log where tenant_id = md5('scale-tenant-1')::uuid order by id desc
     offset (select count(*) / 2 from tenancy.audit_log where tenant_id = md5('scale-tenant-1')::uuid) limit 1`;
  const lists = (tenant: string, owner: Record<string, unknown>) => ({
    "members: first page": () =>
      asCaller(owner, (tx) => tx`select * from tenancy.list_members(${tenant}, null, 50)`),
    "invitations: first page": () =>
      asCaller(owner, (tx) => tx`select * from tenancy.list_invitations(${tenant}, null, 50)`),
    "audit: first page": () =>
      asCaller(owner, (tx) => tx`select * from tenancy.list_audit(${tenant}, null, 50)`),
  });
  const figures: Record<string, Latency> = {};
  const smallFigures: Record<string, Latency> = {};
  for (const [name, run] of Object.entries(lists(small, smallOwner))) {
    smallFigures[name] = await measureLatency(run, n);
  }
  for (const [name, run] of Object.entries(lists(big, bigOwner))) {
    figures[name] = await measureLatency(run, n);
  }
  figures["members: a page halfway through"] = await measureLatency(
    () => asCaller(bigOwner, (tx) => tx`select * from tenancy.list_members(${big}, ${cursor}, 50)`),
    n,
  );
  figures["audit: a page halfway through"] = await measureLatency(
    () => asCaller(bigOwner, (tx) => tx`select * from tenancy.list_audit(${big}, ${auditMiddle}, 50)`),
    n,
  );
  // What GET …/members answered before 20261207140200: every member, in one transaction.
  figures["members, before 20261207140200: the whole list"] = await measureLatency(
    () => sql`select * from tenancy_private.members_of(md5('scale-tenant-1')::uuid)`,
    Math.max(3, n / 20),
    1,
  );
  return { figures, small: smallFigures };
}

/** The plan of the member page's query on the big tenant, in one line. */
async function memberPagePlan(sql: postgres.Sql): Promise<string> {
  const rows = await sql.unsafe(`
    explain (costs off)
    select m.user_id, u.email from tenancy.memberships m join auth.users u on u.id = m.user_id
     where m.tenant_id = md5('scale-tenant-1')::uuid
       and (m.created_at, m.user_id) > ('-infinity'::timestamptz, '00000000-0000-0000-0000-000000000000'::uuid)
     order by m.created_at, m.user_id limit 50`);
  return rows.map((r) => String(r["QUERY PLAN"]).trim()).join("; ");
}

async function tableCounts(sql: postgres.Sql): Promise<Record<string, number>> {
  const [row] = await sql`
    select (select count(*) from auth.users)::int as users, (select count(*) from auth.identities)::int as identities,
           (select count(*) from auth.sessions)::int as sessions, (select count(*) from tenancy.tenants)::int as tenants,
           (select count(*) from tenancy.memberships)::int as memberships,
           (select count(*) from tenancy.memberships where tenant_id = md5('scale-tenant-1')::uuid)::int as big_tenant,
           (select count(*) from tenancy.invitations)::int as invitations,
           (select count(*) from tenancy.domain_claims)::int as domain_claims,
           (select count(*) from tenancy.audit_log)::int as audit_rows`;
  return { ...row } as Record<string, number>;
}

function printTable(rows: Row[], ratio: (row: Row) => number): void {
  const f = (x: number | undefined) =>
    x === undefined || Number.isNaN(x)
      ? ""
      : x.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 });
  const table = [["row", "empty (or small tenant)", "scale", "ratio", "target"]];
  for (const row of rows) {
    table.push([
      row.name,
      row.empty === undefined ? "" : `${f(row.empty)} ${row.unit}`,
      `${f(row.scale)} ${row.unit}`,
      row.empty === undefined ? "" : `${f(ratio(row))}×`,
      row.target?.(row) ?? "",
    ]);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
  console.log(
    [line(table[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...table.slice(1).map(line)].join(
      "\n",
    ),
  );
}
