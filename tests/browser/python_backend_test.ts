/**
 * The whole loop in a real browser, as the seed's test plan has it ("log in to the frontend, connect to the
 * backend, check the backend's logs for successful exchanges"): headless Chromium signs in on the demo
 * page, exchanges, calls the example FastAPI backend's `GET /me` through the helper's `backend.fetch`
 * (cross-origin, with a real preflight) and shows its answer; the backend logs the call; after sign-out
 * the helper refuses the next call before any request leaves the page. With HS256 backend tokens and with
 * ES256 ones verified through the function's JWKS.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import type { BrowserContext } from "playwright-core";
import { startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { act, launchChromium, openPage } from "./_browser.ts";
import { PASSWORD } from "../_fixtures.ts";

/** The example backend's request lines (one JSON line per request, prefixed `[backend]`). */
function backendRequests(
  lines: string[],
): { method: string; path: string; status: number; user_id: string }[] {
  return lines.flatMap((line) => {
    const json = /^\[backend\] (\{.*\})$/.exec(line)?.[1];
    return json ? [JSON.parse(json)] : [];
  });
}

/** Waits until the backend has logged `count` requests (its lines travel through a pipe). */
async function loggedRequests(lines: string[], count: number) {
  const deadline = Date.now() + 5_000;
  while (backendRequests(lines).length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return backendRequests(lines);
}

for (const algorithm of ["HS256", "ES256"] as const) {
  Deno.test(`Chromium: sign in, exchange, GET /me on the Python backend, sign out, refused (${algorithm})`, async () => {
    const lines: string[] = [];
    const stack = await startStack({
      demoPort: 0,
      backendPort: 0,
      backendJwtAlgorithm: algorithm,
      allowedOrigins: (demoOrigin) => demoOrigin,
      log: (line) => lines.push(line),
    });
    const profile = await Deno.makeTempDir({ prefix: "loop-chromium-" });
    let context: BrowserContext | undefined;
    try {
      assert.ok(stack.backendUrl, `the example backend runs; log: ${lines.join("\n")}`);
      await signUpByMail(
        { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
        "lin@example.com",
        PASSWORD,
      );

      context = await launchChromium(profile);
      const record = await openPage(context, stack.demoUrl!);
      const { page } = record;
      await page.fill("#email", "lin@example.com");
      await page.fill("#password", PASSWORD);
      assert.equal(await act(page, "#sign-in"), null);
      assert.equal(await act(page, "#exchange"), null);
      const token = (await page.textContent("#raw-token"))!;
      assert.equal(decodeProtectedHeader(token).alg, algorithm);

      // Log in, connect to the backend: /me is the caller of the backend token.
      assert.equal(await act(page, "#call-backend"), null);
      assert.equal(await page.getAttribute("#backend-answer", "data-status"), "200");
      const answer = JSON.parse((await page.textContent("#backend-answer"))!.replace(/^HTTP 200\n/, ""));
      assert.deepEqual(
        [answer.tenant_id, answer.role, answer.email],
        ["demo", "user", "lin@example.com"],
      );
      const backendCalls = () => record.requests.filter((r) => r.url === `${stack.backendUrl}/me`);
      assert.deepEqual(backendCalls().map((r) => r.method).sort(), ["GET", "OPTIONS"]);

      // Check the backend's logs for the successful call.
      const logged = await loggedRequests(lines, 2);
      const ok = logged.find((entry) => entry.method === "GET" && entry.path === "/me");
      assert.deepEqual([ok?.status, ok?.user_id], [200, answer.user_id]);

      // Sign out: the helper refuses the next call; nothing reaches the backend.
      assert.equal(await act(page, "#sign-out"), null);
      const sent = backendCalls().length;
      assert.equal(await act(page, "#call-backend"), "not_signed_in");
      assert.equal(backendCalls().length, sent);
      assert.equal(backendRequests(lines).length, logged.length);

      // The backend token itself stays valid at the backend until its exp.
      const stillValid = await fetch(`${stack.backendUrl}/me`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(stillValid.status, 200);
      await stillValid.body?.cancel();
      await page.close();
    } finally {
      await context?.close();
      await Deno.remove(profile, { recursive: true });
      await stack.stop();
    }
  });
}
