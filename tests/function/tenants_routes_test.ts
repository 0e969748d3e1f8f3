/**
 * The `tenants` function through its real handler, the Auth emulator (with a mailbox) and Postgres: every
 * route, its errors, the roles' powers, the invitation mails, the limits and the audit trail, and that a
 * role change or a removal shows in the next exchange.
 */
import assert from "node:assert/strict";
import { allowRoles, createTenant } from "../_db.ts";
import { mailsTo } from "../_mail.ts";
import { ORIGIN } from "../_fixtures.ts";
import {
  call,
  INVITE_REDIRECT,
  type ManagementHarness,
  type Member,
  nextExchange,
  openManagementHarness,
  provenUser,
  send,
} from "./_management_setup.ts";

async function member(h: ManagementHarness, tenant: string, user: Member, role: string, isDefault = false) {
  await h.db.sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                 values (${tenant}, ${user.userId}, ${role}, ${isDefault})`;
}

async function auditOf(h: ManagementHarness, tenant: string): Promise<string[]> {
  const rows = await h.db.sql`select action from tenancy.audit_log where tenant_id = ${tenant} order by id`;
  return rows.map((r) => r.action);
}

Deno.test("the tenants function", async (t) => {
  const h = await openManagementHarness();
  await allowRoles(h.db.sql, "editor");
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "acme");
    const [owner, admin, user, outsider] = await Promise.all([1, 2, 3, 4].map(() => provenUser(h.auth)));
    await member(h, acme, owner, "owner", true);
    await member(h, acme, admin, "admin", true);
    await member(h, acme, user, "user", true);

    await t.step("GET /tenants lists the caller's tenants with role and default", async () => {
      const other = await createTenant(sql, "Beta");
      await member(h, other, owner, "user");
      const { status, body, headers } = await send(h.tenants, call(owner.accessToken, "GET", "/tenants"));
      assert.equal(status, 200);
      assert.equal(headers.get("access-control-allow-origin"), ORIGIN);
      assert.equal(headers.get("cache-control"), "no-store");
      assert.deepEqual(body.tenants, [
        { tenant_id: "acme", tenant_uuid: acme, name: "Acme", role: "owner", is_default: true },
        { tenant_id: other, tenant_uuid: other, name: "Beta", role: "user", is_default: false },
      ]);
      assert.equal(body.next_after, null);
      assert.deepEqual((await send(h.tenants, call(outsider.accessToken, "GET", "/tenants"))).body, {
        tenants: [],
        next_after: null,
      });
    });

    await t.step(
      "POST /tenants is 403 forbidden until the operator allows it, then 201 with the caller owner",
      async () => {
        const refused = await send(
          h.tenants,
          call(outsider.accessToken, "POST", "/tenants", { name: "Mine" }),
        );
        assert.deepEqual([refused.status, refused.body.error], [403, "forbidden"]);
        await sql`update tenancy.management_settings set self_service_tenants = true`;
        try {
          const created = await send(
            h.tenants,
            call(outsider.accessToken, "POST", "/tenants", { name: "Mine" }),
          );
          assert.equal(created.status, 201);
          const tenant = created.body.tenant as Record<string, unknown>;
          assert.deepEqual([tenant.name, tenant.role, tenant.is_default], ["Mine", "owner", true]);
          assert.deepEqual(await auditOf(h, tenant.tenant_uuid as string), ["tenant.created"]);
          const exchanged = await nextExchange(h, outsider.accessToken);
          assert.deepEqual([exchanged.tenant_id, exchanged.role], [tenant.tenant_id, "owner"]);
        } finally {
          await sql`update tenancy.management_settings set self_service_tenants = false`;
        }
      },
    );

    await t.step("PATCH /tenants/{tenant} renames for an owner only", async () => {
      const renamed = await send(
        h.tenants,
        call(owner.accessToken, "PATCH", "/tenants/acme", { name: "Acme Ltd" }),
      );
      assert.equal(renamed.status, 200);
      assert.equal((renamed.body.tenant as Record<string, unknown>).name, "Acme Ltd");
      const byAdmin = await send(h.tenants, call(admin.accessToken, "PATCH", "/tenants/acme", { name: "X" }));
      assert.deepEqual([byAdmin.status, byAdmin.body.error], [403, "forbidden"]);
      const byOutsider = await send(
        h.tenants,
        call(outsider.accessToken, "PATCH", `/tenants/${acme}`, { name: "X" }),
      );
      assert.deepEqual([byOutsider.status, byOutsider.body.error], [404, "not_found"]);
      const blank = await send(h.tenants, call(owner.accessToken, "PATCH", "/tenants/acme", { name: "  " }));
      assert.deepEqual([blank.status, blank.body.error], [400, "invalid_request"]);
      assert.deepEqual(await auditOf(h, acme), ["tenant.renamed"]);
    });

    await t.step(
      "PUT /tenants/{tenant}/default moves the caller's default, and the next exchange follows",
      async () => {
        const beta = await createTenant(sql, "Gamma", "gamma");
        await member(h, beta, user, "user");
        assert.equal((await nextExchange(h, user.accessToken)).tenant_id, "acme");
        const { status, body } = await send(
          h.tenants,
          call(user.accessToken, "PUT", "/tenants/gamma/default"),
        );
        assert.equal(status, 200);
        assert.equal((body.tenant as Record<string, unknown>).is_default, true);
        assert.equal((await nextExchange(h, user.accessToken)).tenant_id, "gamma");
        await send(h.tenants, call(user.accessToken, "PUT", "/tenants/acme/default"));
      },
    );

    await t.step("GET /tenants/{tenant}/members is for any member, 404 for anyone else", async () => {
      const { status, body } = await send(h.tenants, call(user.accessToken, "GET", "/tenants/acme/members"));
      assert.equal(status, 200);
      const members = body.members as Array<Record<string, unknown>>;
      assert.deepEqual(members.map((m) => [m.user_id, m.email, m.role]), [
        [owner.userId, owner.email, "owner"],
        [admin.userId, admin.email, "admin"],
        [user.userId, user.email, "user"],
      ]);
      assert.match(String(members[0].joined_at), /^\d{4}-\d\d-\d\dT/);
      const hidden = await send(h.tenants, call(outsider.accessToken, "GET", "/tenants/acme/members"));
      assert.deepEqual([hidden.status, hidden.body.error], [404, "not_found"]);
      const missing = await send(h.tenants, call(outsider.accessToken, "GET", "/tenants/no-such/members"));
      assert.deepEqual(missing.body, hidden.body);
    });

    await t.step(
      "PATCH …/members/{user_id} follows the roles, and the next exchange carries the new role",
      async () => {
        const path = `/tenants/acme/members/${user.userId}`;
        assert.equal((await nextExchange(h, user.accessToken, "acme")).role, "user");
        const promoted = await send(h.tenants, call(admin.accessToken, "PATCH", path, { role: "admin" }));
        assert.equal(promoted.status, 200);
        assert.deepEqual((promoted.body.member as Record<string, unknown>).role, "admin");
        assert.equal((await nextExchange(h, user.accessToken, "acme")).role, "admin");

        const toOwner = await send(h.tenants, call(admin.accessToken, "PATCH", path, { role: "owner" }));
        assert.deepEqual([toOwner.status, toOwner.body.error], [403, "forbidden"]);
        const onOwner = await send(
          h.tenants,
          call(admin.accessToken, "PATCH", `/tenants/acme/members/${owner.userId}`, { role: "user" }),
        );
        assert.deepEqual([onOwner.status, onOwner.body.error], [403, "forbidden"]);
        const lastOwner = await send(
          h.tenants,
          call(owner.accessToken, "PATCH", `/tenants/acme/members/${owner.userId}`, { role: "admin" }),
        );
        assert.deepEqual([lastOwner.status, lastOwner.body.error], [409, "conflict"]);
        const byUser = await send(
          h.tenants,
          call(user.accessToken, "PATCH", `/tenants/acme/members/${admin.userId}`, { role: "user" }),
        );
        assert.equal(byUser.status, 200, "the user is an admin now");
        const demoted = await send(h.tenants, call(owner.accessToken, "PATCH", path, { role: "user" }));
        assert.equal(demoted.status, 200);
        assert.equal((await nextExchange(h, user.accessToken, "acme")).role, "user");
        const readOnly = await send(
          h.tenants,
          call(user.accessToken, "PATCH", `/tenants/acme/members/${admin.userId}`, { role: "admin" }),
        );
        assert.deepEqual([readOnly.status, readOnly.body.error], [403, "forbidden"]);
        await send(
          h.tenants,
          call(owner.accessToken, "PATCH", `/tenants/acme/members/${admin.userId}`, { role: "admin" }),
        );
        const bad = await send(h.tenants, call(owner.accessToken, "PATCH", path, { role: "Not A Role" }));
        assert.deepEqual([bad.status, bad.body.error], [400, "invalid_request"]);
        const gone = await send(
          h.tenants,
          call(owner.accessToken, "PATCH", `/tenants/acme/members/${outsider.userId}`, { role: "user" }),
        );
        assert.deepEqual([gone.status, gone.body.error], [404, "not_found"]);
      },
    );

    await t.step(
      "DELETE …/members/{user_id} removes, or leaves; the next exchange refuses the tenant",
      async () => {
        const leaver = await provenUser(h.auth);
        const removed = await provenUser(h.auth);
        await member(h, acme, leaver, "user", true);
        await member(h, acme, removed, "user", true);
        assert.equal((await nextExchange(h, removed.accessToken, "acme")).status, 200);

        const byUser = await send(
          h.tenants,
          call(leaver.accessToken, "DELETE", `/tenants/acme/members/${removed.userId}`),
        );
        assert.deepEqual([byUser.status, byUser.body.error], [403, "forbidden"]);
        const out = await send(
          h.tenants,
          call(admin.accessToken, "DELETE", `/tenants/acme/members/${removed.userId}`),
        );
        assert.equal(out.status, 200);
        assert.equal((out.body.member as Record<string, unknown>).user_id, removed.userId);
        assert.deepEqual(await nextExchange(h, removed.accessToken, "acme"), {
          status: 403,
          error: "no_tenant",
        });

        const left = await send(
          h.tenants,
          call(leaver.accessToken, "DELETE", `/tenants/acme/members/${leaver.userId}`),
        );
        assert.equal(left.status, 200);
        assert.equal((await nextExchange(h, leaver.accessToken)).status, 403);

        const ownerOut = await send(
          h.tenants,
          call(admin.accessToken, "DELETE", `/tenants/acme/members/${owner.userId}`),
        );
        assert.deepEqual([ownerOut.status, ownerOut.body.error], [403, "forbidden"]);
        const lastOwner = await send(
          h.tenants,
          call(owner.accessToken, "DELETE", `/tenants/acme/members/${owner.userId}`),
        );
        assert.deepEqual([lastOwner.status, lastOwner.body.error], [409, "conflict"]);
        assert.deepEqual((await auditOf(h, acme)).slice(-2), ["member.removed", "member.left"]);
      },
    );

    await t.step("POST …/invitations mails an invite to a new address, a magic link to a user", async () => {
      const fresh = `new-${crypto.randomUUID().slice(0, 8)}@example.com`;
      const invited = await send(
        h.tenants,
        call(admin.accessToken, "POST", "/tenants/acme/invitations", {
          email: ` ${fresh.toUpperCase()} `,
          role: "editor",
        }),
      );
      assert.equal(invited.status, 201);
      assert.equal(invited.body.email_sent, true);
      const invitation = invited.body.invitation as Record<string, unknown>;
      assert.deepEqual([
        invitation.email,
        invitation.role,
        invitation.invited_by,
        invitation.invited_by_email,
      ], [
        fresh,
        "editor",
        admin.userId,
        admin.email,
      ]);
      const [mail] = await mailsTo(h.mailbox.url, fresh);
      assert.equal(mail.subject, "You've been invited");
      assert.equal(new URL(mail.link).searchParams.get("redirect_to"), INVITE_REDIRECT);

      const again = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: fresh }),
      );
      assert.deepEqual([again.status, again.body.error], [409, "conflict"]);
      const aMember = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: user.email }),
      );
      assert.deepEqual([aMember.status, aMember.body.error], [409, "conflict"]);

      const toUser = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: outsider.email }),
      );
      assert.deepEqual([toUser.status, toUser.body.email_sent], [201, true]);
      const [magic] = await mailsTo(h.mailbox.url, outsider.email);
      assert.equal(magic.subject, "Your sign-in link");
      assert.equal((toUser.body.invitation as Record<string, unknown>).role, "user");

      const ownerByAdmin = await send(
        h.tenants,
        call(admin.accessToken, "POST", "/tenants/acme/invitations", {
          email: "boss@example.com",
          role: "owner",
        }),
      );
      assert.deepEqual([ownerByAdmin.status, ownerByAdmin.body.error], [403, "forbidden"]);
      const byUser = await send(
        h.tenants,
        call(user.accessToken, "POST", "/tenants/acme/invitations", { email: "x@example.com" }),
      );
      assert.deepEqual([byUser.status, byUser.body.error], [403, "forbidden"]);
      const notAnAddress = await send(
        h.tenants,
        call(owner.accessToken, "POST", "/tenants/acme/invitations", { email: "not an address" }),
      );
      assert.deepEqual([notAnAddress.status, notAnAddress.body.error], [400, "invalid_request"]);
    });

    await t.step("GET …/invitations lists pending ones for managers; DELETE revokes", async () => {
      const listed = await send(h.tenants, call(admin.accessToken, "GET", "/tenants/acme/invitations"));
      assert.equal(listed.status, 200);
      const invitations = listed.body.invitations as Array<Record<string, unknown>>;
      assert.equal(invitations.length, 2);
      const forUser = await send(h.tenants, call(user.accessToken, "GET", "/tenants/acme/invitations"));
      assert.deepEqual([forUser.status, forUser.body.error], [403, "forbidden"]);

      const revoked = await send(
        h.tenants,
        call(admin.accessToken, "DELETE", `/tenants/acme/invitations/${invitations[0].id}`),
      );
      assert.equal(revoked.status, 200);
      assert.equal((revoked.body.invitation as Record<string, unknown>).id, invitations[0].id);
      const twice = await send(
        h.tenants,
        call(admin.accessToken, "DELETE", `/tenants/acme/invitations/${invitations[0].id}`),
      );
      assert.deepEqual([twice.status, twice.body.error], [404, "not_found"]);
      const after = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/invitations"));
      assert.equal((after.body.invitations as unknown[]).length, 1);
    });

    await t.step(
      "a mail Auth does not send leaves the invitation, says email_sent: false, and is audited",
      async () => {
        const broken = h.appWith("tenants", { serviceKey: "not-a-key" });
        const email = `unmailed-${crypto.randomUUID().slice(0, 8)}@example.com`;
        const res = await send(
          broken,
          call(owner.accessToken, "POST", "/tenants/acme/invitations", { email }),
        );
        assert.deepEqual([res.status, res.body.email_sent], [201, false]);
        const [row] =
          await sql`select action, after from tenancy.audit_log where tenant_id = ${acme} order by id desc limit 1`;
        assert.equal(row.action, "invitation.mail_failed");
        assert.match(row.after.reason, /^auth_40[13]/);
        const listed = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/invitations"));
        assert.ok((listed.body.invitations as Array<Record<string, unknown>>).some((i) => i.email === email));
        assert.equal(
          h.logs.findLast((l) => l.route === "POST /tenants/:tenant/invitations")?.email_sent,
          false,
        );
      },
    );

    await t.step("limits answer 429 rate_limited with Retry-After", async () => {
      const limited = await createTenant(sql, "Limited", "limited");
      const manager = await provenUser(h.auth);
      await member(h, limited, manager, "owner");
      await sql`update tenancy.management_settings set max_pending_invitations_per_tenant = 1`;
      try {
        const invite = (email: string) =>
          send(h.tenants, call(manager.accessToken, "POST", "/tenants/limited/invitations", { email }));
        assert.equal((await invite("one@example.com")).status, 201);
        const over = await invite("two@example.com");
        assert.deepEqual([over.status, over.body.error], [429, "rate_limited"]);
        const wait = Number(over.headers.get("retry-after"));
        assert.ok(
          wait > 6 * 86400 && wait <= 7 * 86400,
          `Retry-After ${wait} is until the invitation expires`,
        );
        assert.equal(over.headers.get("access-control-expose-headers"), "Retry-After, WWW-Authenticate");

        await sql`update tenancy.management_settings
                     set max_pending_invitations_per_tenant = 100, max_invitations_per_manager_per_hour = 2`;
        assert.equal((await invite("two@example.com")).status, 201);
        const hourly = await invite("three@example.com");
        assert.deepEqual([hourly.status, hourly.body.error], [429, "rate_limited"]);
        const hourWait = Number(hourly.headers.get("retry-after"));
        assert.ok(hourWait > 3500 && hourWait <= 3600, `Retry-After ${hourWait}`);
      } finally {
        await sql`update tenancy.management_settings
                     set max_pending_invitations_per_tenant = 100, max_invitations_per_manager_per_hour = 20`;
      }
    });

    await t.step("GET …/audit pages the trail newest first, for managers only", async () => {
      const first = await send(h.tenants, call(admin.accessToken, "GET", "/tenants/acme/audit?limit=3"));
      assert.equal(first.status, 200);
      const entries = first.body.entries as Array<Record<string, unknown>>;
      assert.equal(entries.length, 3);
      assert.ok((entries[0].id as number) > (entries[1].id as number));
      assert.equal(first.body.next_before, entries[2].id);
      assert.equal(entries[0].action, "invitation.mail_failed");
      assert.equal(entries[0].actor_email, owner.email);
      const next = await send(
        h.tenants,
        call(admin.accessToken, "GET", `/tenants/acme/audit?limit=100&before=${first.body.next_before}`),
      );
      const rest = next.body.entries as Array<Record<string, unknown>>;
      assert.equal(next.body.next_before, null);
      assert.equal(rest.at(-1)?.action, "tenant.renamed");
      assert.deepEqual(rest.at(-1)?.before, { name: "Acme" });
      assert.deepEqual(rest.at(-1)?.after, { name: "Acme Ltd" });
      const forUser = await send(h.tenants, call(user.accessToken, "GET", "/tenants/acme/audit"));
      assert.deepEqual([forUser.status, forUser.body.error], [403, "forbidden"]);
      const badLimit = await send(h.tenants, call(admin.accessToken, "GET", "/tenants/acme/audit?limit=0"));
      assert.deepEqual([badLimit.status, badLimit.body.error], [400, "invalid_request"]);
    });

    await t.step("GET …/roles lists the listed roles a manager may give, for managers only", async () => {
      const roles = async (member: Member) =>
        await send(h.tenants, call(member.accessToken, "GET", "/tenants/acme/roles"));
      const forOwner = await roles(owner);
      assert.equal(forOwner.status, 200);
      assert.deepEqual(
        (forOwner.body.roles as Array<{ role: string }>).map((r) => r.role),
        ["admin", "editor", "owner", "user"],
      );
      assert.deepEqual((forOwner.body.roles as unknown[])[0], {
        role: "admin",
        description: "Manages members and invitations, never owners",
      });
      const forAdmin = await roles(admin);
      assert.deepEqual((forAdmin.body.roles as Array<{ role: string }>).map((r) => r.role), [
        "admin",
        "editor",
        "user",
      ]);
      assert.deepEqual([(await roles(user)).status, (await roles(user)).body.error], [403, "forbidden"]);
      assert.deepEqual([(await roles(outsider)).status, (await roles(outsider)).body.error], [
        404,
        "not_found",
      ]);
    });

    await t.step("routes, methods, preflights and tokens", async () => {
      const preflight = await h.tenants.handler(
        new Request("http://localhost/functions/v1/tenants/acme/members", {
          method: "OPTIONS",
          headers: { origin: ORIGIN, "access-control-request-method": "PATCH" },
        }),
      );
      assert.equal(preflight.status, 204);
      assert.equal(
        preflight.headers.get("access-control-allow-methods"),
        "GET, POST, PATCH, PUT, DELETE, OPTIONS",
      );
      assert.equal(preflight.headers.get("access-control-allow-origin"), ORIGIN);

      const unknown = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/nothing-here"));
      assert.deepEqual([unknown.status, unknown.body.error], [404, "not_found"]);
      const wrong = await send(h.tenants, call(owner.accessToken, "DELETE", "/tenants/acme"));
      assert.deepEqual([wrong.status, wrong.body.error, wrong.headers.get("allow")], [
        405,
        "method_not_allowed",
        "PATCH, OPTIONS",
      ]);
      const anonymous = await send(h.tenants, call(null, "GET", "/tenants"));
      assert.deepEqual([anonymous.status, anonymous.body.error], [401, "invalid_token"]);
      assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="tenants"');
      // The Edge runtime hands the function its path without /functions/v1.
      const bare = await h.tenants.handler(
        new Request("http://localhost/tenants", {
          headers: { authorization: `Bearer ${owner.accessToken}` },
        }),
      );
      assert.equal(bare.status, 200);
      await bare.body?.cancel();
      const line = h.logs.find((l) => l.route === "GET /tenants/:tenant/members" && l.outcome === "ok")!;
      assert.deepEqual([line.msg, line.status, typeof line.user_id], ["tenants", 200, "string"]);
      assert.ok(!JSON.stringify(h.logs).includes("@example.com"), "no address in the logs");
    });
  } finally {
    await h.close();
  }
});
