/**
 * The demo page in a real browser: headless Chromium (Debian's, driven by playwright-core) loads the page
 * from the demo server's origin, signs up and in at the Auth emulator and exchanges through the gateway,
 * cross-origin, with real CORS preflights; the same page served from an origin outside `ALLOWED_ORIGINS`
 * is refused by the browser.
 *
 * Preflights are read from the browser's DevTools protocol (playwright's own request events leave them
 * out) and from the function's log.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { BrowserContext } from "playwright-core";
import { jwtVerify } from "jose";
import { startStack } from "../../dev/stack.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { startDemoServer } from "../../demo/server.ts";
import { act, launchChromium, openPage, type PageRecord } from "./_browser.ts";
import { PASSWORD } from "../_fixtures.ts";

/** The exchange requests the page made, in order, with their methods. */
function exchangeRequests(record: PageRecord): string[] {
  return record.requests.filter((r) => r.url.endsWith("/functions/v1/exchange-token")).map((r) => r.method);
}

/** The HTTP methods of the requests the function logged (one JSON line each). */
function functionMethods(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const json = /^\[exchange-token\] (\{.*\})$/.exec(line)?.[1];
    if (!json) return [];
    const entry = JSON.parse(json);
    return typeof entry.method === "string" ? [entry.method] : [];
  });
}

/**
 * The methods the function logged after the first `before` entries, once `count` of them have arrived:
 * log lines travel through a pipe and may land after the page has already shown the answer.
 */
async function loggedMethods(lines: string[], before: number, count: number): Promise<string[]> {
  const deadline = Date.now() + 5_000;
  while (functionMethods(lines).length < before + count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return functionMethods(lines).slice(before);
}

Deno.test("the demo page exchanges in Chromium; an origin outside ALLOWED_ORIGINS is refused", async (t) => {
  const functionLog: string[] = [];
  // The demo page on a port it binds itself; the function allows its origin alone.
  const stack = await startStack({
    demoPort: 0,
    allowedOrigins: (demoOrigin) => demoOrigin,
    log: (line) => functionLog.push(line),
  });
  const demoOrigin = new URL(stack.demoUrl!).origin;
  const elsewhere = await startDemoServer({ apiUrl: stack.apiUrl, publishableKey: stack.publishableKey });
  const profile = await Deno.makeTempDir({ prefix: "demo-chromium-" });
  let context: BrowserContext | undefined;
  try {
    assert.equal(stack.functionEnv.ALLOWED_ORIGINS, demoOrigin);
    context = await launchChromium(profile);
    const browser = context;

    await t.step("the allowed origin signs up, exchanges, and shows the claims and expiry", async () => {
      const record = await openPage(browser, stack.demoUrl!);
      const { page } = record;
      await page.fill("#email", "grace@example.com");
      await page.fill("#password", PASSWORD);
      assert.equal(await act(page, "#sign-up"), null);
      // Confirmations are on (config.toml): the page says so, the mail's link confirms, then sign in.
      assert.match((await page.textContent("#status"))!, /Confirm the email address, then sign in/);
      await followLink((await mailsTo(stack.mailboxUrl, "grace@example.com"))[0].link);
      assert.equal(await act(page, "#sign-in"), null);
      await page.waitForSelector('body[data-user="grace@example.com"]');
      assert.equal(await page.textContent("#user-email"), "grace@example.com");

      const before = functionMethods(functionLog).length;
      assert.equal(await act(page, "#exchange"), null);
      const claims = JSON.parse((await page.textContent("#claims"))!);
      assert.deepEqual(Object.keys(claims).sort(), ["email", "exp", "role", "tenant_id", "user_id"]);
      assert.deepEqual([claims.email, claims.tenant_id, claims.role], ["grace@example.com", "demo", "user"]);
      assert.ok(Math.abs(claims.exp - Date.now() / 1000 - 604_800) < 60, "expires in 7 days");
      assert.match((await page.textContent("#expiry"))!, /\(in 7 days\)$/);

      // The token on the page is the one the Python API accepts.
      const token = (await page.textContent("#raw-token"))!;
      const { payload } = await jwtVerify(token, new TextEncoder().encode(stack.backendJwtSecret), {
        algorithms: ["HS256"],
      });
      assert.equal(payload.user_id, claims.user_id);

      // Cross-origin with an Authorization header: the browser asked first. DevTools may report the
      // preflight after the request it guards, so the order is read from the function's own log.
      assert.deepEqual(exchangeRequests(record).sort(), ["OPTIONS", "POST"]);
      assert.deepEqual(await loggedMethods(functionLog, before, 2), ["OPTIONS", "POST"]);
      assert.deepEqual(record.console.filter((line) => /CORS|error/i.test(line)), []);
      await page.close();
    });

    await t.step(
      "a tenant is picked from the switcher, sign-out clears, and signing in again exchanges",
      async () => {
        const { page } = await openPage(browser, stack.demoUrl!);
        // The session survived the reload (supabase-js keeps it in localStorage).
        assert.equal(await page.textContent("#user-email"), "grace@example.com");

        // The switcher lists the user's tenants (read from the tenants function after the page loaded).
        await page.waitForSelector('#tenant-switcher option[value="demo"]', { state: "attached" });
        await page.selectOption("#tenant-switcher", "demo");
        assert.equal(await act(page, "#use-tenant"), null);
        assert.equal(JSON.parse((await page.textContent("#claims"))!).tenant_id, "demo");
        // A plain member sees the members, not the managers' controls.
        assert.equal(
          await page.getAttribute('#member-list tr[data-email="grace@example.com"]', "data-role"),
          "user",
        );
        assert.equal(await page.isHidden("#invite-form"), true);

        assert.equal(await act(page, "#sign-out"), null);
        assert.equal(await page.isHidden("#token"), true);
        assert.equal(await page.isVisible("#sign-in-form"), true);
        assert.equal(await page.textContent("#claims"), "");

        await page.fill("#email", "grace@example.com");
        await page.fill("#password", PASSWORD);
        assert.equal(await act(page, "#sign-in"), null);
        assert.equal(await act(page, "#exchange"), null);
        assert.equal(JSON.parse((await page.textContent("#claims"))!).email, "grace@example.com");
        await page.close();
      },
    );

    await t.step("the same page on another origin is refused by the browser", async () => {
      assert.notEqual(elsewhere.origin, demoOrigin);
      const record = await openPage(browser, elsewhere.url);
      const { page } = record;
      await page.fill("#email", "mallory@example.com");
      await page.fill("#password", PASSWORD);
      assert.equal(await act(page, "#sign-up"), null, "Auth answers any origin, as Supabase's does");
      await followLink((await mailsTo(stack.mailboxUrl, "mallory@example.com"))[0].link);
      // The functions do not: reading the user's tenants right after the sign-in is refused by the browser.
      assert.equal(await act(page, "#sign-in"), "network_error");
      assert.equal(await page.textContent("#user-email"), "mallory@example.com");

      const before = functionMethods(functionLog).length;
      assert.equal(await act(page, "#exchange"), "network_error");
      assert.equal(await page.isHidden("#token"), true);
      assert.ok(
        record.console.some((line) =>
          line.includes(`from origin '${elsewhere.origin}' has been blocked by CORS policy`)
        ),
        `the browser reports a CORS refusal; console: ${JSON.stringify(record.console)}`,
      );
      // The preflight went out and was answered without this origin; the POST never reached the function
      // (DevTools may list the blocked POST first, so the function's log is the witness).
      assert.ok(exchangeRequests(record).includes("OPTIONS"));
      assert.deepEqual(await loggedMethods(functionLog, before, 1), ["OPTIONS"]);
      await page.close();
    });
  } finally {
    await context?.close();
    await Deno.remove(profile, { recursive: true });
    await elsewhere.stop();
    await stack.stop();
  }
});
