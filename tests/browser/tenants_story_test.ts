/**
 * Tenants run from the app, in Chromium, with two people on two isolated browser contexts: an owner invites
 * an address; the invitee opens the invite mail in the local mailbox, follows it, sets a password, sees and
 * accepts the invitation, and exchanges into the tenant; the owner demotes, then removes them; the removal
 * sticks. Every step goes through the demo page (`demo/app.ts`, the `tenants` and `invitations` functions
 * through `createTenantClient`), the Auth emulator's mail and `/verify` flow, and the real exchange.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { BackendSessionError, createBackendSession, createTenantClient } from "../../client/mod.ts";
import { startStack } from "../../dev/stack.ts";
import { mailsTo } from "../_mail.ts";
import { act, launchBrowser, openPage } from "./_browser.ts";
import { PASSWORD } from "../_fixtures.ts";

const OWNER = "olga@acme.test";
const INVITEE = "ivan@newcomer.test";
// Not the shared PASSWORD: the invitee sets his own on the invitation page, and signs in with it later.
const INVITEE_PASSWORD = "a password of ivan's own";

/** The backend token's claims the page shows, or null when it shows none. */
async function claims(page: Page): Promise<Record<string, unknown> | null> {
  if (await page.isHidden("#token")) return null;
  return JSON.parse((await page.textContent("#claims"))!);
}

/** The members the page lists, as `email role`. */
async function memberRows(page: Page): Promise<string[]> {
  return await page.$$eval(
    "#member-list tr",
    (rows) => rows.map((r) => `${r.dataset.email} ${r.dataset.role}`),
  );
}

/** The switcher's tenants (its first option, the default, left out). */
async function switcherTenants(page: Page): Promise<string[]> {
  return await page.$$eval("#tenant-switcher option", (options) => options.map((o) => o.value).slice(1));
}

Deno.test("an owner invites by mail; the invitee joins, is demoted, then removed, and the removal sticks", async (t) => {
  const stack = await startStack({
    demoPort: 0,
    allowedOrigins: (demoOrigin) => demoOrigin,
    // Addresses are proven by mail. The sign-up link lands on the page (its emailRedirectTo), and so does
    // the invite (the stack sets INVITE_REDIRECT_URL to the demo page); Auth allows loopback URLs.
    autoConfirm: false,
  });
  const demoUrl = stack.demoUrl!;
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const owner = (await openPage(await browser.newContext(), demoUrl)).page;
    const invitee = (await openPage(await browser.newContext(), demoUrl)).page;
    let tenant = "";

    await t.step(
      "the owner signs up, confirms by mail and exchanges into a tenant of their own",
      async () => {
        await owner.fill("#email", OWNER);
        await owner.fill("#password", PASSWORD);
        assert.equal(await act(owner, "#sign-up"), null);
        assert.match((await owner.textContent("#status"))!, /Confirm the email address/);
        const [mail] = await mailsTo(stack.mailboxUrl, OWNER);
        await owner.goto(mail.link);
        await owner.waitForSelector(`body[data-user="${OWNER}"][data-busy=false]`);
        assert.equal(await act(owner, "#exchange"), null);
        const ownerClaims = (await claims(owner))!;
        assert.equal(ownerClaims.role, "owner");
        tenant = String(ownerClaims.tenant_id);
        assert.deepEqual(await memberRows(owner), [`${OWNER} owner`]);
        assert.equal(await owner.isVisible("#invite-form"), true, "an owner may invite");
      },
    );

    await t.step("the owner invites an address that has no account yet, as admin", async () => {
      await owner.fill("#invite-email", INVITEE.toUpperCase());
      await owner.selectOption("#invite-role", "admin");
      assert.equal(await act(owner, "#invite"), null);
      assert.equal(
        await owner.textContent("#status"),
        `Invited ${INVITEE} as admin: the mail is on its way.`,
      );
    });

    await t.step(
      "the invitee follows the invite mail, sets a password, and sees the invitation",
      async () => {
        const [mail] = await mailsTo(stack.mailboxUrl, INVITEE);
        assert.equal(mail.subject, "You've been invited");
        await invitee.goto(mail.link);
        await invitee.waitForSelector(`body[data-user="${INVITEE}"]`);
        assert.equal(await invitee.isVisible("#invited-note"), true);
        await invitee.waitForSelector("body[data-busy=false]");

        await invitee.fill("#new-password", INVITEE_PASSWORD);
        assert.equal(await act(invitee, "#set-password"), null);
        assert.equal(await invitee.isHidden("#invited-note"), true);

        await invitee.waitForSelector(`#invitation-list li[data-tenant="${tenant}"]`);
        assert.match(
          (await invitee.textContent("#invitation-list li"))!,
          new RegExp(`as admin, from ${OWNER}`),
        );
      },
    );

    await t.step("the invitee accepts and exchanges into the tenant as admin", async () => {
      assert.equal(await act(invitee, `#invitation-list li[data-tenant="${tenant}"] button.accept`), null);
      assert.equal(await invitee.isHidden("#invitations"), true, "no invitation is left");
      assert.ok((await switcherTenants(invitee)).includes(tenant));
      await invitee.selectOption("#tenant-switcher", tenant);
      assert.equal(await act(invitee, "#use-tenant"), null);
      const c = (await claims(invitee))!;
      assert.deepEqual([c.tenant_id, c.role, c.email], [tenant, "admin", INVITEE]);
      assert.deepEqual((await memberRows(invitee)).sort(), [`${INVITEE} admin`, `${OWNER} owner`]);
    });

    await t.step("the owner demotes the invitee; the invitee's next exchange says user", async () => {
      assert.equal(await act(owner, "#refresh-tenants"), null);
      assert.deepEqual((await memberRows(owner)).sort(), [`${INVITEE} admin`, `${OWNER} owner`]);
      await owner.selectOption(`tr[data-email="${INVITEE}"] select.role`, "user");
      assert.equal(await act(owner, `tr[data-email="${INVITEE}"] button.save-role`), null);
      assert.deepEqual((await memberRows(owner)).sort(), [`${INVITEE} user`, `${OWNER} owner`]);

      // Before the next exchange the cached token still says admin: the page shows the members, without
      // the managers' lists the database now refuses.
      assert.equal(await act(invitee, "#refresh-tenants"), null);
      assert.equal(await invitee.isVisible("#member-list"), true);
      assert.equal(await invitee.isHidden("#sent-invitations"), true);

      assert.equal(await act(invitee, "#fresh-token"), null);
      assert.deepEqual([(await claims(invitee))!.tenant_id, (await claims(invitee))!.role], [tenant, "user"]);
      assert.equal(await invitee.isHidden("#invite-form"), true, "a user may not invite");
      assert.equal(await invitee.locator("#member-list button.remove").count(), 0, "nor remove anyone");
    });

    await t.step(
      "the owner removes the invitee; their next exchange for the tenant is refused",
      async () => {
        assert.equal(await act(owner, `tr[data-email="${INVITEE}"] button.remove`), null);
        assert.deepEqual(await memberRows(owner), [`${OWNER} owner`]);

        // The switcher still offers the tenant (the page read it before); the exchange for it is refused
        // (removals stick). A removal from another tenant does not cost them a personal tenant of their own.
        assert.equal(await invitee.inputValue("#tenant-switcher"), tenant);
        assert.equal(await act(invitee, "#fresh-token"), "not_a_member");
        assert.equal(await claims(invitee), null);
        assert.equal(await invitee.isHidden("#members"), true, "nor are the members shown any longer");
      },
    );

    await t.step(
      "the removal sticks: signing in again gives their own tenant, never the one they were removed from",
      async () => {
        assert.equal(await act(invitee, "#sign-out"), null);
        await invitee.fill("#email", INVITEE);
        await invitee.fill("#password", INVITEE_PASSWORD);
        assert.equal(await act(invitee, "#sign-in"), null);
        await invitee.waitForSelector("body[data-busy=false]");
        assert.deepEqual(
          await switcherTenants(invitee),
          [],
          "the tenant they were removed from is not offered",
        );
        assert.equal(
          await invitee.isHidden("#invitations"),
          true,
          "the accepted invitation is not offered again",
        );
        assert.equal(await act(invitee, "#exchange"), null);
        const c = (await claims(invitee))!;
        assert.notEqual(c.tenant_id, tenant);
        assert.equal(c.role, "owner", "their first exchange since makes them a personal tenant");

        // Asking for the tenant by name (the exchange accepts an invitation to a tenant it is asked for, and
        // an app may remember the id) is refused too.
        const supabase = createClient(stack.apiUrl, stack.publishableKey, {
          auth: { persistSession: false },
        });
        const { error } = await supabase.auth.signInWithPassword({
          email: INVITEE,
          password: INVITEE_PASSWORD,
        });
        assert.equal(error, null);
        const backend = createBackendSession(supabase, { tenantId: tenant, autoRefresh: false });
        try {
          const refused = await backend.getToken().then(() => null, (err) => err);
          assert.ok(refused instanceof BackendSessionError);
          assert.deepEqual([refused.code, refused.status], ["not_a_member", 403]);
          assert.deepEqual(await createTenantClient(supabase).pendingInvitations(), {
            items: [],
            nextAfter: null,
          });
        } finally {
          backend.dispose();
          await supabase.auth.signOut({ scope: "local" });
        }

        assert.equal(await act(owner, "#refresh-tenants"), null);
        assert.deepEqual(await memberRows(owner), [`${OWNER} owner`]);
      },
    );

    await t.step("the owner's audit trail tells the story, newest first", async () => {
      assert.equal(await act(owner, "#show-audit"), null);
      const actions = await owner.$$eval("#audit li", (items) => items.map((i) => i.dataset.action));
      assert.deepEqual(actions, [
        "member.removed",
        "member.role_changed",
        "invitation.accepted",
        "invitation.created",
      ]);
    });

    await t.step("a tenant of 56 shows its first 50 members, and More members the other 6", async () => {
      const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
      try {
        // The operator adds 55 people, who joined after the owner.
        await sql`
          with added as (
            insert into auth.users (id, aud, role, email, created_at, updated_at)
            select gen_random_uuid(), 'authenticated', 'authenticated', 'member-' || n || '@acme.test', now(), now()
              from generate_series(1, 55) n
            returning id)
          insert into tenancy.memberships (tenant_id, user_id, role, created_at)
          select t.id, added.id, 'user', now() from added, tenancy.tenants t
           where coalesce(t.external_id, t.id::text) = ${tenant}`;
      } finally {
        await sql.end();
      }
      assert.equal(await act(owner, "#refresh-tenants"), null);
      const first = await memberRows(owner);
      assert.deepEqual([first.length, first[0]], [50, `${OWNER} owner`]);
      assert.equal(await owner.isVisible("#more-members"), true);
      assert.equal(await act(owner, "#more-members"), null);
      const all = await memberRows(owner);
      assert.equal(all.length, 56);
      assert.equal(new Set(all).size, 56, "no member twice");
      assert.equal(await owner.isHidden("#more-members"), true);
    });
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
