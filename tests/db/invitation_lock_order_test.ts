/**
 * Invitations raced in the database (issue 17, finding 6; supabase/migrations/*_tenancy_invitation_lock_order.sql):
 * an invitee accepting or declining while a manager revokes, an exchange accepting while a manager revokes,
 * and an invitee accepting while a manager removes them, each 50 rounds on separate connections.
 *
 * Every function takes the tenant's row lock before the invitation's, so no round deadlocks (40P01, which
 * the functions used to answer 500), no accept returns zero rows (a revoked invitation is TNFND, 404, where
 * `onlyRow` used to throw: 500), and the outcomes agree: exactly one of accept and revoke wins, and the
 * membership and the audit trail say which.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { createTenant, createUser, openTestDatabase, resolveAs } from "../_db.ts";
import type { UserWithSession } from "../_users.ts";
import { addMember, callAs } from "./_management.ts";

const ROUNDS = 50;

/** What one call came to: its rows, or the SQLSTATE it raised. */
type Outcome = { ok: true; rows: number } | { ok: false; code: string };

function settle(promise: Promise<readonly unknown[]>): Promise<Outcome> {
  return promise.then(
    (rows) => ({ ok: true, rows: rows.length }),
    (err: { code?: string }) => ({ ok: false, code: err.code ?? String(err) }),
  );
}

/**
 * Whether the function would answer 5xx: a SQLSTATE that is not one the functions map to 4xx (TNFND 404,
 * TNCFL 409, the exchange's TNNOT 403 no_tenant), or a success without exactly one row (`onlyRow` threw).
 */
function isServerError(outcome: Outcome): boolean {
  return outcome.ok ? outcome.rows !== 1 : !["TNFND", "TNCFL", "TNNOT"].includes(outcome.code);
}

const NOT_FOUND: Outcome = { ok: false, code: "TNFND" };
const ONE_ROW: Outcome = { ok: true, rows: 1 };

Deno.test("invitations raced against revokes and removals", async (t) => {
  const db = await openTestDatabase();
  const { sql } = db;
  // Separate connections, so that both calls of a round really run at the same time in Postgres.
  const pool = postgres(db.url, { max: 20, onnotice: () => {} });
  try {
    const acme = await createTenant(sql, "Acme", "races");
    const owner = await createUser(sql);
    await addMember(sql, acme, owner, "owner");
    const invite = async (email: string) => {
      const [row] = await sql`insert into tenancy.invitations (tenant_id, email, role, invited_by)
                              values (${acme}, ${email}, 'admin', ${owner.id}) returning id`;
      return row.id as string;
    };
    const isMember = async (userId: string) =>
      (await sql`select 1 from tenancy.memberships where tenant_id = ${acme} and user_id = ${userId}`)
        .length === 1;
    const trail = async (invitationId: string) =>
      (await sql`select action from tenancy.audit_log where invitation_id = ${invitationId} order by id`)
        .map((r) => r.action);
    const revoke = (id: string) =>
      settle(callAs(pool, owner, (tx) => tx`select * from tenancy.revoke_invitation('races', ${id})`));

    /**
     * Runs `ROUNDS` rounds of two calls started in the same tick (in an order that alternates), and
     * asserts no would-be 5xx and, for the others, what `check` says of the round.
     */
    const rounds = async (
      mine: (invitee: UserWithSession, id: string) => Promise<Outcome>,
      theirs: (invitee: UserWithSession, id: string) => Promise<Outcome>,
      check: (mine: Outcome, theirs: Outcome, invitee: UserWithSession, id: string) => Promise<void>,
    ) => {
      const serverErrors: Outcome[] = [];
      const inconsistent: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const invitee = await createUser(sql);
        const id = await invite(invitee.email);
        const [a, b] = round % 2 === 0
          ? await Promise.all([mine(invitee, id), theirs(invitee, id)])
          : await Promise.all([theirs(invitee, id), mine(invitee, id)]).then(([b, a]) => [a, b]);
        const errors = [a, b].filter(isServerError);
        serverErrors.push(...errors);
        if (errors.length > 0) continue;
        await check(a, b, invitee, id).catch((err) => inconsistent.push(`round ${round}: ${err.message}`));
      }
      assert.deepEqual(
        { serverErrors: serverErrors.length, inconsistent: inconsistent.length },
        { serverErrors: 0, inconsistent: 0 },
        `over ${ROUNDS} rounds: ${JSON.stringify(serverErrors)} ${inconsistent.join("; ")}`,
      );
    };

    await t.step(`accept against revoke, ${ROUNDS} rounds: no 5xx, one winner`, async () => {
      await rounds(
        (invitee, id) =>
          settle(callAs(pool, invitee, (tx) => tx`select * from tenancy.accept_invitation(${id})`)),
        (_, id) => revoke(id),
        async (accepted, revoked, invitee, id) => {
          if (accepted.ok) {
            // The accept won: a member, and the revoke found no pending invitation (404).
            assert.deepEqual(revoked, NOT_FOUND);
            assert.ok(await isMember(invitee.id), "accepted, so a member");
            assert.deepEqual(await trail(id), ["invitation.accepted"]);
          } else {
            // The revoke won: not a member, and the accept found no invitation (404).
            assert.deepEqual([accepted, revoked], [NOT_FOUND, ONE_ROW]);
            assert.ok(!(await isMember(invitee.id)), "revoked, so not a member");
            assert.deepEqual(await trail(id), ["invitation.revoked"]);
          }
        },
      );
    });

    await t.step(`decline against revoke, ${ROUNDS} rounds: no 5xx, one winner`, async () => {
      await rounds(
        (invitee, id) =>
          settle(callAs(pool, invitee, (tx) => tx`select * from tenancy.decline_invitation(${id})`)),
        (_, id) => revoke(id),
        async (declined, revoked, _, id) => {
          // Both used to answer 200, the loser deleting nothing and writing its audit row all the same.
          assert.deepEqual(declined.ok ? [declined, revoked] : [revoked, declined], [ONE_ROW, NOT_FOUND]);
          assert.deepEqual(await trail(id), [declined.ok ? "invitation.declined" : "invitation.revoked"]);
          assert.equal((await sql`select 1 from tenancy.invitations where id = ${id}`).length, 0);
        },
      );
    });

    await t.step(`the exchange's acceptance against revoke, ${ROUNDS} rounds: no 5xx`, async () => {
      await rounds(
        (invitee) => settle(resolveAs(pool, invitee).then((row) => [row])),
        (_, id) => revoke(id),
        async (exchanged, revoked, invitee) => {
          if (exchanged.ok) {
            assert.deepEqual(revoked, NOT_FOUND);
            assert.ok(await isMember(invitee.id));
          } else {
            // The default policy (invitation, domain) has nothing else for them: 403 no_tenant.
            assert.deepEqual([exchanged, revoked], [{ ok: false, code: "TNNOT" }, ONE_ROW]);
            assert.ok(!(await isMember(invitee.id)));
          }
        },
      );
    });

    await t.step(`accept against the invitee's removal, ${ROUNDS} rounds: no 5xx`, async () => {
      await rounds(
        (invitee, id) =>
          settle(callAs(pool, invitee, (tx) => tx`select * from tenancy.accept_invitation(${id})`)),
        (invitee) =>
          settle(
            callAs(pool, owner, (tx) => tx`select * from tenancy.remove_member('races', ${invitee.id})`),
          ),
        async (accepted, removed, invitee) => {
          // Removed before the accept: not a member yet (404), and the accept then makes them one. Removed
          // after it: not a member, and the removal sticks.
          assert.deepEqual(accepted, ONE_ROW);
          assert.equal(await isMember(invitee.id), !removed.ok);
        },
      );
    });
  } finally {
    await pool.end();
    await db.close();
  }
});
