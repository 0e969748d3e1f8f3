/**
 * The demo page as a new user meets it, in Chromium at a desktop width (1280 px) and a phone's (390 px):
 * after the sign-up it points at the local mailbox; before the first exchange it says what will happen, not
 * "0 tenants"; the personal tenant is named for its owner ("Ada's workspace") in the switcher, the members'
 * legend and the invitee's invitation; an owner sees the roles they may give, their pending invitations and
 * revokes one; the "New password" form is there only for an invitee who came through the mail's link. At
 * both widths the page never scrolls sideways (the audit trail once made it 1,788 px wide) and the tenant
 * picker keeps its width as names arrive.
 *
 * It also takes the screenshots the docs show (`demo/screenshots/demo-1280.png`, `demo-390.png`, linked from
 * client/README.md), checked by the layout assertions here, not by pixels. They go to a temporary folder, so a
 * test run leaves the checkout clean; `DEMO_SCREENSHOTS=update` writes them over the committed ones:
 * `DEMO_SCREENSHOTS=update npx -y deno@2.9.6 test -A tests/browser/demo_layout_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startStack } from "../../dev/stack.ts";
import { mailsTo } from "../_mail.ts";
import { act, launchBrowser, openPage } from "./_browser.ts";
import { PASSWORD } from "../_fixtures.ts";

const SCREENSHOTS = Deno.env.get("DEMO_SCREENSHOTS") === "update"
  ? new URL("../../demo/screenshots/", import.meta.url)
  : new URL(`file://${await Deno.makeTempDir({ prefix: "demo-screenshots-" })}/`);

/** How far the page scrolls sideways (0 when it fits the window). */
async function sidewaysOverflow(page: Page): Promise<number> {
  return await page.$eval("html", (root) => root.scrollWidth - root.clientWidth);
}

/** The rendered width of an element, in CSS pixels. */
async function widthOf(page: Page, selector: string): Promise<number> {
  return await page.$eval(selector, (element) => element.getBoundingClientRect().width);
}

/** The visible texts of the elements `selector` matches. */
async function texts(page: Page, selector: string): Promise<string[]> {
  return await page.$$eval(selector, (elements) => elements.map((e) => (e.textContent ?? "").trim()));
}

Deno.test("the demo page reads like an app at 1280 and 390 px, and never scrolls sideways", async (t) => {
  const stack = await startStack({
    demoPort: 0,
    allowedOrigins: (demoOrigin) => demoOrigin,
    autoConfirm: false,
  });
  const browser = await launchBrowser();
  try {
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    for (const width of [1280, 390]) {
      const owner = `ada@analytical-engine-${width}.test`;
      const invitee = `charles@difference-engine-${width}.test`;
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const { page } = await openPage(context, stack.demoUrl!);
      const newcomer =
        (await openPage(await browser.newContext({ viewport: { width, height: 900 } }), stack.demoUrl!))
          .page;

      await t.step(`${width} px: after the sign-up the page points at the local mailbox`, async () => {
        await page.fill("#email", owner);
        await page.fill("#password", PASSWORD);
        assert.equal(await act(page, "#sign-up"), null);
        assert.equal(await page.isVisible("#mailbox-note"), true);
        assert.equal(await page.getAttribute("#mailbox-link", "href"), stack.mailboxUrl);
        assert.equal(await page.textContent("#mailbox-address"), owner);
        assert.equal(await sidewaysOverflow(page), 0);
      });

      let pickerWidth = 0;
      await t.step(`${width} px: before the first exchange it says what comes, not "0 tenants"`, async () => {
        const [mail] = await mailsTo(stack.mailboxUrl, owner);
        await page.goto(mail.link);
        await page.waitForSelector(`body[data-user="${owner}"][data-busy=false]`);
        const status = (await page.textContent("#status"))!;
        assert.doesNotMatch(status, /\b0 tenant/);
        assert.match(status, /your first exchange finds your tenant, or makes you one/);
        assert.equal(await page.isHidden("#mailbox-note"), true);
        assert.equal(await page.isHidden("#password-form"), true, "a user who signed up has a password");
        pickerWidth = await widthOf(page, "#tenant-switcher");
        assert.ok(pickerWidth > 0 && pickerWidth <= width);
      });

      await t.step(`${width} px: the personal tenant is "Ada's workspace" everywhere`, async () => {
        assert.equal(await act(page, "#exchange"), null);
        assert.match((await page.textContent("#status"))!, /you work in Ada's workspace as owner/);
        assert.equal(await page.textContent("#members-tenant"), "Ada's workspace");
        assert.deepEqual(await texts(page, "#tenant-switcher option"), [
          "Default tenant",
          "Ada's workspace (owner, default)",
        ]);
        assert.equal(await widthOf(page, "#tenant-switcher"), pickerWidth, "the picker keeps its width");
        assert.deepEqual(await texts(page, "#invite-role option"), ["admin", "owner", "user"]);
      });

      await t.step(`${width} px: the owner sees pending invitations and revokes one`, async () => {
        for (const [address, role] of [[invitee, "admin"], [`mary@somerville-${width}.test`, "user"]]) {
          await page.fill("#invite-email", address);
          await page.selectOption("#invite-role", role);
          assert.equal(await act(page, "#invite"), null);
        }
        assert.deepEqual(
          await page.$$eval("#sent-invitation-list li", (items) => items.map((i) => i.dataset.email)),
          [
            `mary@somerville-${width}.test`,
            invitee,
          ],
        );
        assert.match(
          (await texts(page, "#sent-invitation-list li"))[1],
          new RegExp(`as admin, from ${owner}`),
        );
        assert.equal(
          await act(page, `#sent-invitation-list li[data-email="mary@somerville-${width}.test"] .revoke`),
          null,
        );
        assert.deepEqual(
          await page.$$eval("#sent-invitation-list li", (items) => items.map((i) => i.dataset.email)),
          [
            invitee,
          ],
        );
      });

      await t.step(`${width} px: the audit trail wraps inside the page`, async () => {
        assert.equal(await act(page, "#show-audit"), null);
        const actions = await page.$$eval("#audit li", (items) => items.map((i) => i.dataset.action));
        assert.deepEqual(actions, [
          "invitation.revoked",
          "invitation.created",
          "invitation.created",
        ]);
        assert.match(
          (await texts(page, "#audit li"))[0],
          new RegExp(` · ${owner} · invitation\\.revoked mary@somerville-${width}\\.test · role user$`),
        );
        assert.equal(await sidewaysOverflow(page), 0);
        assert.ok(await widthOf(page, "#audit") <= width);
        await page.screenshot({ path: new URL(`demo-${width}.png`, SCREENSHOTS).pathname, fullPage: true });
      });

      await t.step(
        `${width} px: the invitee sees "Ada's workspace invites you" and sets a password`,
        async () => {
          const [mail] = await mailsTo(stack.mailboxUrl, invitee);
          await newcomer.goto(mail.link);
          await newcomer.waitForSelector(`body[data-user="${invitee}"][data-busy=false]`);
          await newcomer.waitForSelector("#invitation-list li");
          assert.match(
            (await texts(newcomer, "#invitation-list li"))[0],
            new RegExp(`^Ada's workspace invites you as admin, from ${owner}`),
          );
          assert.equal(await newcomer.isVisible("#password-form"), true, "the invitee has no password yet");
          await newcomer.fill("#new-password", `${PASSWORD} of charles`);
          assert.equal(await act(newcomer, "#set-password"), null);
          assert.equal(await newcomer.isHidden("#password-form"), true);
          assert.equal(await sidewaysOverflow(newcomer), 0);
        },
      );
      await context.close();
      await newcomer.context().close();
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
});
