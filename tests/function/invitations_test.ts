/**
 * The `invitations` function through its real handler, the Auth emulator mailing into a mailbox, and
 * Postgres: an owner invites an address, the invitee follows the mailed link, sets a password, sees and
 * accepts the invitation, exchanges into the tenant, is demoted, then removed, and the removal sticks.
 */
import assert from "node:assert/strict";
import { createTenant } from "../_db.ts";
import { followLink, mailsTo } from "../_mail.ts";
import {
  call,
  INVITE_REDIRECT,
  nextExchange,
  openManagementHarness,
  provenUser,
  send,
} from "./_management_setup.ts";

Deno.test("the invitations function", async (t) => {
  const h = await openManagementHarness();
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "acme");
    const owner = await provenUser(h.auth);
    await sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
              values (${acme}, ${owner.userId}, 'owner', true)`;

    await t.step(
      "an invitee follows the invite mail, sets a password, accepts, and the exchange follows",
      async () => {
        const email = `invitee-${crypto.randomUUID().slice(0, 8)}@example.com`;
        const invited = await send(
          h.tenants,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email, role: "admin" }),
        );
        assert.deepEqual([invited.status, invited.body.email_sent], [201, true]);
        const invitationId = (invited.body.invitation as Record<string, unknown>).id;

        const [mail] = await mailsTo(h.mailbox.url, email);
        assert.equal(mail.subject, "You've been invited");
        const { location, fragment } = await followLink(mail.link);
        assert.equal(location.split("#")[0], INVITE_REDIRECT);
        assert.ok(fragment.access_token, "following the invite signs the invitee in");
        const setPassword = await fetch(`${h.auth.url}/auth/v1/user`, {
          method: "PUT",
          headers: { authorization: `Bearer ${fragment.access_token}`, "content-type": "application/json" },
          body: JSON.stringify({ password: "a new password for the invitee" }),
        });
        assert.equal(setPassword.status, 200);
        await setPassword.body?.cancel();
        const token = fragment.access_token;

        const pending = await send(h.invitations, call(token, "GET", "/invitations"));
        assert.equal(pending.status, 200);
        const [invitation] = pending.body.invitations as Array<Record<string, unknown>>;
        assert.deepEqual(
          [
            invitation.id,
            invitation.tenant_id,
            invitation.tenant_name,
            invitation.role,
            invitation.invited_by_email,
          ],
          [invitationId, "acme", "Acme", "admin", owner.email],
        );
        assert.match(String(invitation.expires_at), /^\d{4}-\d\d-\d\dT/);

        const accepted = await send(
          h.invitations,
          call(token, "POST", `/invitations/${invitationId}/accept`),
        );
        assert.equal(accepted.status, 200);
        assert.deepEqual(accepted.body.tenant, {
          tenant_id: "acme",
          tenant_uuid: acme,
          name: "Acme",
          role: "admin",
          is_default: true,
        });
        assert.deepEqual(await nextExchange(h, token), { status: 200, tenant_id: "acme", role: "admin" });
        const twice = await send(h.invitations, call(token, "POST", `/invitations/${invitationId}/accept`));
        assert.deepEqual([twice.status, twice.body.error], [404, "not_found"]);

        const [{ user_id: inviteeId }] =
          await sql`select id as user_id from auth.users where email = ${email}`;
        const demoted = await send(
          h.tenants,
          call(owner.accessToken, "PATCH", `/tenants/acme/members/${inviteeId}`, { role: "user" }),
        );
        assert.equal(demoted.status, 200);
        assert.deepEqual(await nextExchange(h, token, "acme"), {
          status: 200,
          tenant_id: "acme",
          role: "user",
        });

        const removed = await send(
          h.tenants,
          call(owner.accessToken, "DELETE", `/tenants/acme/members/${inviteeId}`),
        );
        assert.equal(removed.status, 200);
        assert.deepEqual(await nextExchange(h, token, "acme"), { status: 403, error: "no_tenant" });
        // The removal sticks: the accepted invitation, and any from before it, give nothing back.
        assert.deepEqual(await nextExchange(h, token), { status: 403, error: "no_tenant" });
        assert.deepEqual((await send(h.invitations, call(token, "GET", "/invitations"))).body, {
          invitations: [],
          next_after: null,
        });

        const trail = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/audit"));
        assert.deepEqual((trail.body.entries as Array<Record<string, unknown>>).map((e) => e.action), [
          "member.removed",
          "member.role_changed",
          "invitation.accepted",
          "invitation.created",
        ]);
      },
    );

    await t.step("an existing user gets a magic link, and declines", async () => {
      const bob = await provenUser(h.auth);
      const invited = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: bob.email }),
      );
      assert.equal(invited.body.email_sent, true);
      const [mail] = await mailsTo(h.mailbox.url, bob.email);
      assert.equal(mail.subject, "Your sign-in link");
      const { fragment } = await followLink(mail.link);
      assert.ok(fragment.access_token);
      const [invitation] = (await send(h.invitations, call(fragment.access_token, "GET", "/invitations")))
        .body
        .invitations as Array<Record<string, unknown>>;
      const declined = await send(
        h.invitations,
        call(bob.accessToken, "POST", `/invitations/${invitation.id}/decline`),
      );
      assert.equal(declined.status, 200);
      assert.equal((declined.body.invitation as Record<string, unknown>).id, invitation.id);
      assert.deepEqual((await send(h.invitations, call(bob.accessToken, "GET", "/invitations"))).body, {
        invitations: [],
        next_after: null,
      });
      assert.deepEqual(await nextExchange(h, bob.accessToken, "acme"), { status: 403, error: "no_tenant" });
      const listed = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/invitations"));
      assert.ok(
        !(listed.body.invitations as Array<Record<string, unknown>>).some((i) => i.id === invitation.id),
      );
    });

    await t.step(
      "someone else's invitation is 404, and an address Auth does not vouch for sees none",
      async () => {
        const carol = await provenUser(h.auth);
        const mallory = await provenUser(h.auth);
        const invited = await send(
          h.tenants,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: carol.email }),
        );
        const id = (invited.body.invitation as Record<string, unknown>).id;
        for (const action of ["accept", "decline"]) {
          const res = await send(
            h.invitations,
            call(mallory.accessToken, "POST", `/invitations/${id}/${action}`),
          );
          assert.deepEqual([res.status, res.body.error], [404, "not_found"]);
        }
        const autoconfirming = h.appWith("invitations", {}, { emailTrusted: () => Promise.resolve(false) });
        assert.deepEqual((await send(autoconfirming, call(carol.accessToken, "GET", "/invitations"))).body, {
          invitations: [],
          next_after: null,
        });
        const refused = await send(
          autoconfirming,
          call(carol.accessToken, "POST", `/invitations/${id}/accept`),
        );
        assert.equal(refused.status, 404);
        assert.equal(
          (await send(h.invitations, call(carol.accessToken, "POST", `/invitations/${id}/accept`))).status,
          200,
        );
      },
    );
  } finally {
    await h.close();
  }
});
