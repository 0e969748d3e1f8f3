/**
 * Hostile replay of issue 17's finding 6, "accept racing a revoke answers 500", from outside: invitees
 * signed up and confirmed by mail through the local stack's gateway, then, 50 times each, an invitee's
 * `POST /functions/v1/invitations/{id}/accept` (or `/decline`) sent in the same tick as the owner's
 * `DELETE /functions/v1/tenants/{tenant}/invitations/{id}`, over HTTP as supabase-js sends them.
 *
 * It used to answer 500 `internal_error` in about half of the rounds: a deadlock (the revoke locked the
 * tenant and then the invitation, the accept the other way round), or an accept whose invitation the revoke
 * had just deleted returning no tenant. Declining against a revoke could answer 200 to both. Now no round
 * answers 5xx, exactly one side wins, and the other is 404 `not_found`.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

const ROUNDS = 50;

/** A function call through the gateway, with the headers supabase-js `functions.invoke` sends. */
async function invoke(stack: LocalStack, token: string, method: string, path: string) {
  const res = await fetch(`${stack.apiUrl}/functions/v1/${path}`, {
    method,
    headers: { apikey: stack.publishableKey, authorization: `Bearer ${token}` },
  });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, error: (body.error ?? body.code) as string | undefined };
}

Deno.test("finding 6 replayed: an invitation accepted or declined while it is revoked is never a 5xx", async (t) => {
  const stack = await startStack({ autoConfirm: false, seed: false });
  const sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
  try {
    const owner = await signUpByMail(mailed, "owner@races.example", PASSWORD);
    // The operator's SQL, as the README's: the tenant and its owner.
    await sql`insert into tenancy.tenants (name, external_id) values ('Races', 'races')`;
    await sql`insert into tenancy.memberships (tenant_id, user_id, role)
              select id, ${owner.userId}, 'owner' from tenancy.tenants where external_id = 'races'`;
    const isMember = async (userId: string) =>
      (await sql`select 1 from tenancy.memberships m join tenancy.tenants t on t.id = m.tenant_id
                  where t.external_id = 'races' and m.user_id = ${userId}`).length === 1;

    for (const action of ["accept", "decline"] as const) {
      await t.step(`${action} against revoke, ${ROUNDS} rounds: no 5xx, one winner`, async () => {
        const statuses: Record<number, number> = {};
        const inconsistent: string[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const email = `${action}-${round}-${crypto.randomUUID().slice(0, 6)}@races.example`;
          const invitee = await signUpByMail(mailed, email, PASSWORD);
          // The operator invites (the owner's sends are limited to 20 an hour, and mail is not the point).
          const [{ id }] = await sql`insert into tenancy.invitations (tenant_id, email, role, invited_by)
                                     select t.id, ${email}, 'admin', ${owner.userId}
                                       from tenancy.tenants t where t.external_id = 'races' returning id`;
          const mine = () => invoke(stack, invitee.accessToken, "POST", `invitations/${id}/${action}`);
          const revoke = () => invoke(stack, owner.accessToken, "DELETE", `tenants/races/invitations/${id}`);
          const [answered, revoked] = round % 2 === 0
            ? await Promise.all([mine(), revoke()])
            : await Promise.all([revoke(), mine()]).then(([r, m]) => [m, r]);
          for (const s of [answered, revoked]) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
          if (answered.status >= 500 || revoked.status >= 500) continue;
          try {
            const [winner, loser] = answered.status === 200 ? [answered, revoked] : [revoked, answered];
            assert.deepEqual([winner.status, loser], [200, { status: 404, error: "not_found" }]);
            // A revoke that answered 200 means the invitee did not become a member, and the other way round.
            assert.equal(await isMember(invitee.userId), action === "accept" && answered.status === 200);
          } catch (err) {
            inconsistent.push(`round ${round}: ${(err as Error).message}`);
          }
        }
        const serverErrors = Object.entries(statuses).filter(([s]) => Number(s) >= 500);
        assert.deepEqual(
          { serverErrors, inconsistent },
          { serverErrors: [], inconsistent: [] },
          `statuses over ${ROUNDS} rounds: ${JSON.stringify(statuses)}`,
        );
      });
    }
  } finally {
    await sql.end();
    await stack.stop();
  }
});
