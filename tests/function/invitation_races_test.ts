/**
 * Invitations raced through the `tenants`, `invitations` and exchange handlers (issue 17, finding 6: "accept
 * racing a revoke answers 500"), counting HTTP statuses over 50 rounds each: an invitee accepting or
 * declining while the owner revokes, a first exchange while the owner revokes, an invitee accepting while
 * the owner removes them. No round answers 5xx, and the answers agree with what the database holds.
 *
 * Also: a transaction Postgres rolls back as a deadlock's victim is run once more, by the management
 * functions and by the exchange; a second one is 409 `conflict` for the former, 503 for the latter.
 */
import assert from "node:assert/strict";
import { createTenant, createUser } from "../_db.ts";
import { payloadOf } from "./_setup.ts";
import {
  call,
  type ManagementHarness,
  openManagementHarness,
  provenUser,
  send,
} from "./_management_setup.ts";
import { createTenancyResolver } from "../../supabase/functions/_shared/exchange/resolver.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

const ROUNDS = 50;

/** A user written straight into the database, with an access token Auth signed for their session. */
async function invitee(h: ManagementHarness, template: string) {
  const user = await createUser(h.db.sql);
  const token = await h.auth.signAccessToken({
    ...payloadOf(template),
    sub: user.id,
    email: user.email,
    session_id: user.sessionId,
  });
  return { ...user, token };
}

type Answer = { status: number; error?: string };

Deno.test("invitations raced through the functions", async (t) => {
  const h = await openManagementHarness();
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "races");
    const owner = await provenUser(h.auth);
    await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${acme}, ${owner.userId}, 'owner')`;
    // As the operator: 200 invitations through POST would meet the per-hour limit.
    const invite = async (email: string) => {
      const [row] = await sql`insert into tenancy.invitations (tenant_id, email, role, invited_by)
                              values (${acme}, ${email}, 'admin', ${owner.userId}) returning id`;
      return row.id as string;
    };
    const isMember = async (userId: string) =>
      (await sql`select 1 from tenancy.memberships where tenant_id = ${acme} and user_id = ${userId}`)
        .length === 1;
    const answer = async (app: { handler: (req: Request) => Promise<Response> }, req: Request) => {
      const { status, body } = await send(app, req);
      return { status, error: body.error as string | undefined };
    };
    const revoke = (id: string) =>
      answer(h.tenants, call(owner.accessToken, "DELETE", `/tenants/races/invitations/${id}`));
    const invitations = (token: string, id: string, action: "accept" | "decline") =>
      answer(h.invitations, call(token, "POST", `/invitations/${id}/${action}`));

    /** `ROUNDS` rounds of two requests sent in the same tick; the statuses, and what `check` says. */
    const rounds = async (
      mine: (user: Awaited<ReturnType<typeof invitee>>, id: string) => Promise<Answer>,
      theirs: (user: Awaited<ReturnType<typeof invitee>>, id: string) => Promise<Answer>,
      check: (mine: Answer, theirs: Answer, user: Awaited<ReturnType<typeof invitee>>) => Promise<void>,
    ) => {
      const statuses: Record<string, number> = {};
      const inconsistent: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const user = await invitee(h, owner.accessToken);
        const id = await invite(user.email);
        const [a, b] = round % 2 === 0
          ? await Promise.all([mine(user, id), theirs(user, id)])
          : await Promise.all([theirs(user, id), mine(user, id)]).then(([b, a]) => [a, b]);
        for (const s of [a, b]) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
        if (a.status >= 500 || b.status >= 500) continue;
        await check(a, b, user).catch((err) => inconsistent.push(`round ${round}: ${err.message}`));
      }
      const serverErrors = Object.entries(statuses).filter(([s]) => Number(s) >= 500);
      assert.deepEqual(
        { serverErrors, inconsistent },
        { serverErrors: [], inconsistent: [] },
        `statuses over ${ROUNDS} rounds: ${JSON.stringify(statuses)}`,
      );
    };
    const OK = { status: 200, error: undefined };
    const NOT_FOUND = { status: 404, error: "not_found" };

    await t.step(`accept against revoke, ${ROUNDS} rounds: no 5xx, one winner`, async () => {
      await rounds(
        (user, id) => invitations(user.token, id, "accept"),
        (_, id) => revoke(id),
        async (accepted, revoked, user) => {
          assert.deepEqual(
            accepted.status === 200 ? [accepted, revoked] : [revoked, accepted],
            [OK, NOT_FOUND],
          );
          // A revoke that answered 200 means the invitee did not become a member, and the other way round.
          assert.equal(await isMember(user.id), accepted.status === 200);
        },
      );
    });

    await t.step(`decline against revoke, ${ROUNDS} rounds: no 5xx, one winner`, async () => {
      await rounds(
        (user, id) => invitations(user.token, id, "decline"),
        (_, id) => revoke(id),
        async (declined, revoked, user) => {
          assert.deepEqual(
            declined.status === 200 ? [declined, revoked] : [revoked, declined],
            [OK, NOT_FOUND],
          );
          assert.equal(await isMember(user.id), false);
        },
      );
    });

    await t.step(`a first exchange against revoke, ${ROUNDS} rounds: no 5xx`, async () => {
      await rounds(
        (user) => answer(h.exchange, call(user.token, "POST", "/exchange-token")),
        (_, id) => revoke(id),
        async (exchanged, revoked, user) => {
          // The exchange accepted first (200, a member; the revoke 404), or the revoke did (200; the
          // exchange has no tenant for them: 403 no_tenant).
          assert.deepEqual(
            exchanged.status === 200 ? [exchanged, revoked] : [revoked, exchanged],
            [OK, exchanged.status === 200 ? NOT_FOUND : { status: 403, error: "no_tenant" }],
          );
          assert.equal(await isMember(user.id), exchanged.status === 200);
        },
      );
    });

    await t.step(`accept against the invitee's removal, ${ROUNDS} rounds: no 5xx`, async () => {
      await rounds(
        (user, id) => invitations(user.token, id, "accept"),
        (user) => answer(h.tenants, call(owner.accessToken, "DELETE", `/tenants/races/members/${user.id}`)),
        async (accepted, removed, user) => {
          // Removed before the accept: not a member yet (404), then one. Removed after it: not a member.
          assert.deepEqual(accepted, OK);
          assert.ok([200, 404].includes(removed.status), JSON.stringify(removed));
          assert.equal(await isMember(user.id), removed.status === 404);
        },
      );
    });

    await t.step(
      "a deadlock's victim is run once more; a second one is 409 here, 503 from the exchange",
      async () => {
        // Postgres raising 40P01 as often as armed (a sequence: it does not roll back with the victim), in
        // the function both transactions run first when REQUIRE_AAL2 is on.
        await sql`create sequence public.deadlocks_to_raise minvalue -100 start 1`;
        await sql`create or replace function tenancy.require_aal2() returns void
                  language plpgsql volatile security definer set search_path = '' as $$
                  begin
                    if nextval('public.deadlocks_to_raise') < 0 then
                      raise exception 'deadlock detected (a test''s)' using errcode = '40P01';
                    end if;
                  end $$`;
        const arm = (times: number) => sql`select setval('public.deadlocks_to_raise', ${-times}, false)`;
        const left = async () => (await sql`select last_value from public.deadlocks_to_raise`)[0].last_value;
        const tenants = h.appWith("tenants", { requireAal2: true });

        await arm(1);
        const once = await send(tenants, call(owner.accessToken, "GET", "/tenants"));
        assert.equal(once.status, 200);
        assert.equal(Number(await left()), 0, "raised once, then run again");
        await arm(2);
        const twice = await send(tenants, call(owner.accessToken, "GET", "/tenants"));
        assert.deepEqual([twice.status, twice.body.error], [409, "conflict"]);
        assert.equal(Number(await left()), -1, "run twice, not three times");

        const resolver = createTenancyResolver({
          databaseUrl: h.config.databaseUrl,
          transactionPooler: h.config.transactionPooler,
          timeoutMs: 3000,
          emailTrusted: () => Promise.resolve(true),
          requireAal2: true,
        });
        try {
          const claims = payloadOf(owner.accessToken);
          await arm(1);
          assert.equal((await resolver.resolveTenant(claims, "races")).tenantUuid, acme);
          await arm(2);
          await assert.rejects(
            resolver.resolveTenant(claims, "races"),
            (err) => err instanceof ApiError && err.code === "database_unavailable" && err.status === 503,
          );
          assert.equal(Number(await left()), -1);
        } finally {
          await arm(-1);
          await resolver.close(1);
        }
      },
    );
  } finally {
    await h.close();
  }
});
