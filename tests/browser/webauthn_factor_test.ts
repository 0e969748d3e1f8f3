/**
 * WebAuthn factors in the Auth emulator, through supabase-js `auth.mfa.webauthn` running in Chromium with
 * its virtual authenticator (the DevTools protocol's WebAuthn domain): `register()` enrols, challenges and
 * verifies a new credential, `listFactors()` shows it, `authenticate()` raises a fresh aal1 session to aal2
 * with `mfa/webauthn` in `amr`, and an assertion made for another challenge is refused, as is a replayed
 * one; `unenroll()` removes the verified factor from an aal2 session only, and the session falls back to
 * aal1. With `[auth.mfa.web_authn]` off, enrolment gets GoTrue's 422.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { createClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { openTestDatabase } from "../_db.ts";
import { PASSWORD } from "../_fixtures.ts";
import { bundleForBrowser } from "../../demo/server.ts";
import { generateApiKey } from "../../dev/api_keys.ts";
import { createAuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { createGateway } from "../../dev/gateway.ts";
import { launchBrowser } from "./_browser.ts";

type PageGlobals = { createClient: typeof createClient };

/** What the page reports back: plain JSON only. */
interface Outcome {
  error: { status?: number; code?: string; message: string } | null;
  accessToken?: string;
  factors?: Array<{ id: string; factor_type: string; status: string; friendly_name?: string }>;
}

/** What the unenrol step reports back. */
interface UnenrollOutcome {
  setup?: string;
  fromAal1: { status?: number; code?: string; message: string } | null;
  removed?: string;
  error?: string;
  factors?: unknown[];
  refreshedToken?: string;
}

Deno.test("a WebAuthn factor registers, authenticates, refuses a foreign assertion and unenrols, in Chromium", async (t) => {
  const db = await openTestDatabase();
  const js = await bundleForBrowser(new URL("./_webauthn_page.ts", import.meta.url));
  // The page's origin is localhost, which Chromium treats as secure, so WebAuthn is allowed over http.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/app.js") {
      return new Response(js, { headers: { "content-type": "text/javascript" } });
    }
    return new Response(
      '<!doctype html><title>WebAuthn</title><script type="module" src="/app.js"></script>',
      {
        headers: { "content-type": "text/html" },
      },
    );
  });
  const origin = `http://localhost:${server.addr.port}`;
  // The page's supabase-js reaches Auth through the gateway, which answers the browser's preflights.
  let gateway: (req: Request) => Promise<Response> = () =>
    Promise.resolve(new Response(null, { status: 503 }));
  const api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => gateway(req));
  const auth = await createAuthEmulator({
    url: `http://127.0.0.1:${api.addr.port}`,
    databaseUrl: db.authUrl,
    webAuthn: {
      enrollEnabled: true,
      verifyEnabled: true,
      rpId: "localhost",
      rpOrigins: [origin],
      rpDisplayName: "exchange-token tests",
    },
  });
  gateway = createGateway({
    auth: auth.handler,
    functions: {},
    keys: {
      publishable: generateApiKey("publishable"),
      secret: generateApiKey("secret"),
      anon: auth.anonKey,
      serviceRole: auth.serviceRoleKey,
    },
  });
  const disabled = await startAuthEmulator({ databaseUrl: db.authUrl });
  const enrollOnly = await startAuthEmulator({ databaseUrl: db.authUrl, webAuthn: { enrollEnabled: true } });
  let browser: Browser | undefined;
  try {
    const email = `webauthn-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const signUp = createClient(auth.url, auth.anonKey, { auth: { persistSession: false } });
    assert.equal((await signUp.auth.signUp({ email, password: PASSWORD })).error, null);

    browser = await launchBrowser();
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", {});
    // A USB security key: supabase-js asks for a cross-platform authenticator with direct attestation.
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "usb",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => "createClient" in globalThis);
    const session = { url: auth.url, key: auth.anonKey, email, password: PASSWORD };
    let factorId = "";

    await t.step("register() enrols and verifies a credential, raising the session to aal2", async () => {
      const outcome: Outcome = await page.evaluate(async ({ url, key, email, password }) => {
        const supabase = (globalThis as unknown as PageGlobals).createClient(url, key, {
          auth: { persistSession: false },
        });
        await supabase.auth.signInWithPassword({ email, password });
        const { data, error } = await supabase.auth.mfa.webauthn.register({ friendlyName: "Laptop" });
        const listed = await supabase.auth.mfa.listFactors();
        return {
          error: error && { status: (error as { status?: number }).status, message: error.message },
          accessToken: data?.access_token,
          factors: listed.data?.all,
        };
      }, session);
      assert.equal(outcome.error, null);
      const claims = decodeJwt(outcome.accessToken!);
      assert.equal(claims.aal, "aal2");
      assert.deepEqual((claims.amr as Array<{ method: string }>).map((entry) => entry.method), [
        "mfa/webauthn",
        "password",
      ]);
      assert.equal(outcome.factors?.length, 1);
      const [factor] = outcome.factors!;
      assert.deepEqual(
        { type: factor.factor_type, status: factor.status, name: factor.friendly_name },
        { type: "webauthn", status: "verified", name: "Laptop" },
      );
      factorId = factor.id;
      const [row] = await db.sql`select web_authn_credential from auth.mfa_factors where id = ${factorId}`;
      assert.match(row.web_authn_credential.publicKey, /^[A-Za-z0-9+/]+=*$/, "the public key is kept");
    });

    await t.step("authenticate() raises a fresh aal1 session to aal2", async () => {
      const outcome: Outcome = await page.evaluate(async ({ url, key, email, password, factorId }) => {
        const supabase = (globalThis as unknown as PageGlobals).createClient(url, key, {
          auth: { persistSession: false },
        });
        const signedIn = await supabase.auth.signInWithPassword({ email, password });
        if (signedIn.data.session) {
          const aal = await supabase.auth.mfa.getAuthenticatorAssuranceLevel();
          if (aal.data?.currentLevel !== "aal1" || aal.data.nextLevel !== "aal2") {
            return { error: { message: `before: ${JSON.stringify(aal.data)}` } };
          }
        }
        const { data, error } = await supabase.auth.mfa.webauthn.authenticate({ factorId });
        return { error: error && { message: error.message }, accessToken: data?.access_token };
      }, { ...session, factorId });
      assert.equal(outcome.error, null);
      assert.equal(decodeJwt(outcome.accessToken!).aal, "aal2");
    });

    await t.step(
      "an assertion made for another challenge is refused, and a used challenge is gone",
      async () => {
        const outcome = await page.evaluate(async ({ url, key, email, password, factorId, origin }) => {
          const supabase = (globalThis as unknown as PageGlobals).createClient(url, key, {
            auth: { persistSession: false },
          });
          await supabase.auth.signInWithPassword({ email, password });
          const webauthn = { rpId: "localhost", rpOrigins: [origin] };
          // Challenge A, answered by the authenticator; then challenge B, given A's answer.
          const a = await supabase.auth.mfa.webauthn.challenge({ factorId, webauthn });
          const b = await supabase.auth.mfa.challenge({ factorId, webauthn });
          if (!a.data || !b.data) return { setup: `${a.error?.message} ${b.error?.message}` };
          const answer = { ...webauthn, ...a.data.webauthn };
          const foreign = await supabase.auth.mfa.webauthn.verify({
            factorId,
            challengeId: b.data.id,
            webauthn: answer,
          });
          const own = await supabase.auth.mfa.webauthn.verify({
            factorId,
            challengeId: a.data.challengeId,
            webauthn: answer,
          });
          const replay = await supabase.auth.mfa.webauthn.verify({
            factorId,
            challengeId: a.data.challengeId,
            webauthn: answer,
          });
          const status = (e: unknown): { status?: number; code?: string } | null =>
            e ? { status: (e as { status: number }).status, code: (e as { code: string }).code } : null;
          return {
            foreign: status(foreign.error),
            own: own.error?.message ?? own.data?.access_token,
            replay: status(replay.error),
          };
        }, { ...session, factorId, origin });
        assert.equal(outcome.setup, undefined);
        // GoTrue answers a failed assertion with a 500 ("Failed to validate WebAuthn MFA response"), which
        // supabase-js reports by status only.
        assert.equal(outcome.foreign?.status, 500);
        assert.equal(decodeJwt(outcome.own!).aal, "aal2", "the assertion still counts for its own challenge");
        assert.deepEqual(outcome.replay, { status: 422, code: "mfa_factor_not_found" });
      },
    );

    await t.step("unenroll() needs aal2 for the verified factor, then removes it", async () => {
      const outcome: UnenrollOutcome = await page.evaluate(
        async ({ url, key, email, password, factorId }) => {
          const supabase = (globalThis as unknown as PageGlobals).createClient(url, key, {
            auth: { persistSession: false },
          });
          const signedIn = await supabase.auth.signInWithPassword({ email, password });
          if (signedIn.error) return { setup: signedIn.error.message, fromAal1: null };
          const refused = await supabase.auth.mfa.unenroll({ factorId });
          const fromAal1 = refused.error && {
            status: (refused.error as { status?: number }).status,
            code: (refused.error as { code?: string }).code,
            message: refused.error.message,
          };
          const raised = await supabase.auth.mfa.webauthn.authenticate({ factorId });
          if (raised.error) return { setup: raised.error.message, fromAal1 };
          const { data, error } = await supabase.auth.mfa.unenroll({ factorId });
          const listed = await supabase.auth.mfa.listFactors();
          const refreshed = await supabase.auth.refreshSession();
          return {
            fromAal1,
            removed: data?.id,
            error: error?.message,
            factors: listed.data?.all,
            refreshedToken: refreshed.data.session?.access_token,
          };
        },
        { ...session, factorId },
      );
      assert.equal(outcome.setup, undefined);
      // GoTrue's UnenrollFactor: a verified factor needs an aal2 session.
      assert.deepEqual(outcome.fromAal1, {
        status: 422,
        code: "insufficient_aal",
        message: "AAL2 required to unenroll verified factor",
      });
      assert.equal(outcome.error, undefined);
      assert.equal(outcome.removed, factorId);
      assert.deepEqual(outcome.factors, []);
      // DowngradeSessionsToAAL1: the sessions the factor raised are aal1 again.
      assert.equal(decodeJwt(outcome.refreshedToken!).aal, "aal1");
      const rows = await db.sql`select id from auth.mfa_factors where id = ${factorId}`;
      assert.equal(rows.length, 0, "the factor's row is gone");
    });

    await t.step(
      "with [auth.mfa.web_authn] off, enrolment and verification are refused as GoTrue refuses them",
      async () => {
        const supabase = createClient(disabled.url, disabled.anonKey, { auth: { persistSession: false } });
        await supabase.auth.signInWithPassword({ email, password: PASSWORD });
        const { error } = await supabase.auth.mfa.enroll({ factorType: "webauthn" });
        assert.equal(error?.status, 422);
        assert.equal(error?.code, "mfa_webauthn_enroll_not_enabled");
        assert.equal(error?.message, "MFA enroll is disabled for WebAuthn");

        // Enrolment on, verification off: the challenge and the verify are refused, each with GoTrue's code.
        const client = createClient(enrollOnly.url, enrollOnly.anonKey, { auth: { persistSession: false } });
        // A user with no verified factor yet, who needs no aal2 to enrol one.
        const fresh = `webauthn-off-${crypto.randomUUID().slice(0, 8)}@example.com`;
        assert.equal((await client.auth.signUp({ email: fresh, password: PASSWORD })).error, null);
        const enrolled = await client.auth.mfa.enroll({ factorType: "webauthn", friendlyName: "Key" });
        assert.equal(enrolled.error, null);
        const factorId = enrolled.data!.id;
        const challenge = await client.auth.mfa.challenge({ factorId });
        assert.equal(challenge.error?.code, "mfa_webauthn_verify_not_enabled");
        const verify = await fetch(`${enrollOnly.url}/auth/v1/factors/${factorId}/verify`, {
          method: "POST",
          headers: {
            apikey: enrollOnly.anonKey,
            authorization: `Bearer ${(await client.auth.getSession()).data.session!.access_token}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ challenge_id: crypto.randomUUID() }),
        });
        assert.equal(verify.status, 422);
        assert.deepEqual(await verify.json(), {
          code: 422,
          error_code: "mfa_webauthn_enroll_not_enabled",
          msg: "MFA verification is disabled for WebAuthn",
        });
      },
    );
  } finally {
    await browser?.close();
    await auth.stop();
    await disabled.stop();
    await enrollOnly.stop();
    await api.shutdown();
    await server.shutdown();
    await db.close();
  }
});
