/**
 * `tenancy.resolve_tenant()` refuses a session Supabase Auth would refuse to refresh: past the timebox,
 * inactive too long, or superseded by a newer session under single-session-per-user, with the limits the
 * function passes in transaction-local settings. The clock is the database's `now()`, so sessions are made
 * old by moving their timestamps into the past, never by waiting.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  asRole,
  createTenant,
  createUser,
  openTestDatabase,
  type ResolvedTenant,
  type TestDatabase,
} from "../_db.ts";
import type { UserWithSession } from "../_users.ts";

interface Limits {
  timebox?: string;
  inactivityTimeout?: string;
  singlePerUser?: boolean;
  /** The transaction's time zone, which must not change how `refreshed_at` (UTC, no zone) is read. */
  timeZone?: string;
  /** The settings' prefix: `tenancy` as the functions set them, `exchange` as the last release did. */
  prefix?: "tenancy" | "exchange";
}

/** resolve_tenant as the user, with the limits set as the function sets them; the SQLSTATE on failure. */
async function resolveWith(
  db: TestDatabase,
  claims: Record<string, unknown>,
  limits: Limits,
): Promise<string> {
  try {
    await asRole(db.sql, "authenticated", claims, async (tx) => {
      const prefix = limits.prefix ?? "tenancy";
      await tx`select set_config(${`${prefix}.session_timebox`}, ${limits.timebox ?? ""}, true),
                      set_config(${`${prefix}.session_inactivity_timeout`}, ${
        limits.inactivityTimeout ?? ""
      }, true),
                      set_config(${`${prefix}.session_single_per_user`}, ${
        limits.singlePerUser ? "on" : ""
      }, true),
                      set_config('timezone', ${limits.timeZone ?? "UTC"}, true)`;
      const [row] = await tx<ResolvedTenant[]>`select * from tenancy.resolve_tenant()`;
      assert.ok(row.tenant_id);
    });
    return "accepted";
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === undefined) throw err;
    return code;
  }
}

/** A user with a session (started now) and a membership of the tenant. */
async function member(db: TestDatabase, tenant: string): Promise<UserWithSession> {
  const user = await createUser(db.sql);
  await db.sql`insert into tenancy.memberships (tenant_id, user_id) values (${tenant}, ${user.id})`;
  return user;
}

/** Moves a session's start, and its last refresh (written as GoTrue writes it: UTC, no zone), back. */
async function age(db: TestDatabase, sessionId: string, created: string, refreshed: string | null = null) {
  await db.sql`
    update auth.sessions
       set created_at = now() - ${created}::interval,
           refreshed_at = ${
    refreshed === null ? null : db.sql`(now() - ${refreshed}::interval) at time zone 'UTC'`
  }
     where id = ${sessionId}`;
}

/** Another session of the same user, started `created` ago; returns its access token's claims. */
async function anotherSession(db: TestDatabase, user: UserWithSession, created: string) {
  const id = crypto.randomUUID();
  await db.sql`insert into auth.sessions (id, user_id, created_at, updated_at, aal)
               values (${id}, ${user.id}, now() - ${created}::interval, now(), 'aal1')`;
  return { ...user.claims, session_id: id };
}

Deno.test("resolve_tenant() and Auth's session limits", async (t) => {
  const db = await openTestDatabase();
  try {
    const tenant = await createTenant(db.sql, "Sessions");

    await t.step("a session past the timebox is refused with TNAUT; one within it is accepted", async () => {
      const old = await member(db, tenant);
      await age(db, old.sessionId, "25 hours", "1 minute");
      const young = await member(db, tenant);
      await age(db, young.sessionId, "23 hours", "1 minute");
      const timebox = String(24 * 3600);
      assert.equal(await resolveWith(db, old.claims, { timebox }), "TNAUT");
      assert.equal(await resolveWith(db, young.claims, { timebox }), "accepted");
      // The limit is Auth's setting, not the row's: without it the same session still exchanges.
      assert.equal(await resolveWith(db, old.claims, {}), "accepted");
      const [row] = await db.sql`select not_after from auth.sessions where id = ${old.sessionId}`;
      assert.equal(row.not_after, null, "nothing is written to the session");
    });

    await t.step("a session inactive too long is refused; activity, not age, counts", async () => {
      const idle = await member(db, tenant);
      await age(db, idle.sessionId, "30 hours", "9 hours");
      const active = await member(db, tenant);
      await age(db, active.sessionId, "30 hours", "1 hour");
      const neverRefreshed = await member(db, tenant);
      await age(db, neverRefreshed.sessionId, "9 hours");
      const inactivityTimeout = String(8 * 3600);
      assert.equal(await resolveWith(db, idle.claims, { inactivityTimeout }), "TNAUT");
      assert.equal(await resolveWith(db, active.claims, { inactivityTimeout }), "accepted");
      // Never refreshed: GoTrue counts from the session's start.
      assert.equal(await resolveWith(db, neverRefreshed.claims, { inactivityTimeout }), "TNAUT");
    });

    await t.step("refreshed_at is read as UTC whatever the transaction's time zone", async () => {
      const user = await member(db, tenant);
      await age(db, user.sessionId, "30 hours", "1 hour");
      // Read as Tokyo time (UTC+9), the last refresh would look 10 hours old and the session would end.
      const limits = { inactivityTimeout: String(8 * 3600), timeZone: "Asia/Tokyo" };
      assert.equal(await resolveWith(db, user.claims, limits), "accepted");
      assert.equal(
        await resolveWith(db, user.claims, { ...limits, timeZone: "America/Los_Angeles" }),
        "accepted",
      );
    });

    await t.step("under single-session-per-user a newer session supersedes an older one", async () => {
      const user = await member(db, tenant);
      await age(db, user.sessionId, "2 hours");
      const newer = await anotherSession(db, user, "1 hour");
      assert.equal(await resolveWith(db, user.claims, { singlePerUser: true }), "TNAUT");
      assert.equal(await resolveWith(db, newer, { singlePerUser: true }), "accepted");
      assert.equal(await resolveWith(db, user.claims, {}), "accepted", "only with the setting on");
    });

    await t.step("the most recently refreshed session is the one that counts, not the newest", async () => {
      const user = await member(db, tenant);
      await age(db, user.sessionId, "2 hours", "1 minute");
      const newer = await anotherSession(db, user, "1 hour");
      assert.equal(await resolveWith(db, user.claims, { singlePerUser: true }), "accepted");
      assert.equal(await resolveWith(db, newer, { singlePerUser: true }), "TNAUT");
    });

    await t.step("a newer session that is itself past a limit supersedes nothing", async () => {
      const user = await member(db, tenant);
      await age(db, user.sessionId, "20 hours", "1 minute");
      const newer = await anotherSession(db, user, "30 hours");
      await db.sql`update auth.sessions set refreshed_at = (now() - interval '10 seconds') at time zone 'UTC'
                    where id = ${newer.session_id}`;
      const limits = { singlePerUser: true, timebox: String(24 * 3600) };
      assert.equal(await resolveWith(db, user.claims, limits), "accepted");
      assert.equal(await resolveWith(db, newer, limits), "TNAUT");
      // Without the timebox, the newer session is valid and does supersede the older one.
      assert.equal(await resolveWith(db, user.claims, { singlePerUser: true }), "TNAUT");
    });

    await t.step(
      "the last release's exchange.* names still apply, for functions deployed before the push",
      async () => {
        const old = await member(db, tenant);
        await age(db, old.sessionId, "25 hours", "1 minute");
        const timebox = String(24 * 3600);
        assert.equal(await resolveWith(db, old.claims, { timebox, prefix: "exchange" }), "TNAUT");
        assert.equal(await resolveWith(db, old.claims, { timebox, prefix: "tenancy" }), "TNAUT");
        assert.equal(await resolveWith(db, old.claims, { prefix: "exchange" }), "accepted");
      },
    );
  } finally {
    await db.close();
  }
});
