/**
 * Every way Supabase Auth (GoTrue) sets `email_confirmed_at`, reached from outside through the Auth
 * emulator (supabase-js, mailed links from a real mailbox, the admin API, the emulator's OAuth stand-in),
 * and what the exchange makes of each: which `auth.identities` flag it leaves, whether the invitation and
 * domain strategies admit the address, and whether the backend token carries it.
 *
 * Two Auth emulators share one database and one set of keys, as one project before and after a change of
 * its setting: one confirming addresses by mail, one autoconfirming (its `GET /auth/v1/settings` says
 * `mailer_autoconfirm: true`), each with the function built on it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { openTestDatabase } from "../_db.ts";
import { functionDatabase } from "../_pooler.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { DEFAULT_SENDER, startMailbox } from "../../dev/mailbox/mod.ts";
import { createExchangeApp } from "../../supabase/functions/_shared/exchange/app.ts";
import type { FunctionApp } from "../../supabase/functions/_shared/core/serve.ts";
import type { EmailTrustLogEntry } from "../../supabase/functions/_shared/core/log.ts";
import { exchangeRequest } from "./_setup.ts";
import { backendJwt, exchangeConfig, PASSWORD } from "../_fixtures.ts";

const ACME = "acme";

function client(auth: AuthEmulator): SupabaseClient {
  return createClient(auth.url, auth.anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
}

function unique(local: string): string {
  return `${local}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Calls Auth's admin API with the service_role key. */
async function admin(auth: AuthEmulator, method: string, path: string, body: unknown) {
  const res = await fetch(`${auth.url}/auth/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${auth.serviceRoleKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("which GoTrue paths prove an address to the exchange", async (t) => {
  const db = await openTestDatabase();
  const mailbox = await startMailbox();
  const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER };
  const common = { databaseUrl: db.authUrl, smtp, anonymousSignIns: true, maxFrequencySeconds: 0 };
  const confirming = await startAuthEmulator({ ...common, autoConfirm: false });
  // The same project's keys under the other setting, so that one token can be tried against each.
  const autoconfirming = await startAuthEmulator({
    ...common,
    autoConfirm: true,
    jwtSecret: confirming.jwtSecret,
    signingKeys: confirming.signingKeys,
  });
  // Directly, or through the transaction pooler with DB_POOLER=transaction.
  const target = await functionDatabase(db);
  const warnings: EmailTrustLogEntry[] = [];
  const appOn = (auth: AuthEmulator): FunctionApp =>
    createExchangeApp(
      exchangeConfig(auth, target, {
        backendJwt: backendJwt({ ttlSeconds: 600 }),
        allowedOrigins: "*",
        // Both emulators' issuers, as AUTH_ISSUERS would list them.
        authIssuers: [confirming.issuer, autoconfirming.issuer],
      }),
      { log: () => {}, logEmailTrust: (entry) => warnings.push(entry) },
    );
  const confirmingApp = appOn(confirming);
  const autoconfirmingApp = appOn(autoconfirming);

  /** Exchanges a session's access token with the function of a project. */
  const exchange = async (app: FunctionApp, accessToken: string) => {
    const res = await app.handler(exchangeRequest(accessToken));
    const body = await res.json();
    return { status: res.status, tenant: body.tenant_id as string | undefined, email: body.email, body };
  };
  /** What Auth left for the user: `email_confirmed_at` and each identity's `email_verified`. */
  const stateOf = async (userId: string) => {
    const [user] = await db.sql`select email, email_confirmed_at is not null as confirmed, is_anonymous
                                  from auth.users where id = ${userId}`;
    const identities = await db.sql`select provider, email, identity_data -> 'email_verified' as verified
                                      from auth.identities where user_id = ${userId} order by created_at`;
    return {
      email: user.email,
      confirmed: user.confirmed,
      anonymous: user.is_anonymous,
      identities: identities.map((i) => [i.provider, i.email, i.verified]),
    };
  };
  const accessTokenOf = async (supabase: SupabaseClient) =>
    (await supabase.auth.getSession()).data.session!.access_token;

  try {
    const acme = (await db.sql`insert into tenancy.tenants (name, external_id) values ('Acme', ${ACME})
                               returning id`)[0].id;
    await db.sql`insert into tenancy.domain_claims (domain, tenant_id) values ('acme.test', ${acme})`;
    await db
      .sql`insert into tenancy.provisioning_policy (position, strategy, role) values (3, 'personal', 'owner')`;

    await t.step("/settings says whether each project autoconfirms", async () => {
      for (const [auth, autoconfirm] of [[confirming, false], [autoconfirming, true]] as const) {
        const res = await fetch(`${auth.url}/auth/v1/settings`);
        const body = await res.json();
        assert.equal(res.status, 200);
        assert.equal(body.mailer_autoconfirm, autoconfirm);
        assert.equal(body.external.email, true);
        assert.equal(body.external.anonymous_users, true);
      }
    });

    await t.step("autoconfirm sign-up: confirmed, identity unverified; no domain, email null", async () => {
      const address = `${unique("walk-in")}@acme.test`;
      const supabase = client(autoconfirming);
      const { data } = await supabase.auth.signUp({ email: address, password: PASSWORD });
      assert.ok(data.session, "a session at once, no mail");
      assert.deepEqual(await stateOf(data.user!.id), {
        email: address,
        confirmed: true,
        anonymous: false,
        identities: [["email", address, false]],
      });
      const before = warnings.length;
      const got = await exchange(autoconfirmingApp, data.session.access_token);
      assert.equal(got.status, 200);
      assert.notEqual(got.tenant, ACME);
      assert.equal(got.email, null);
      assert.deepEqual(warnings.slice(before).map((w) => w.reason), ["mailer_autoconfirm"]);
      // The identity alone keeps it out even where the function trusts the project's settings.
      const second = client(autoconfirming);
      const other = `${unique("walk-in")}@acme.test`;
      const { data: again } = await second.auth.signUp({ email: other, password: PASSWORD });
      const there = await exchange(confirmingApp, again.session!.access_token);
      assert.deepEqual([there.status, there.email], [200, null]);
      assert.notEqual(there.tenant, ACME);
    });

    await t.step("the autoconfirming isolate warns once per read, not per exchange", async () => {
      const before = warnings.length;
      for (let i = 0; i < 3; i++) {
        const { data } = await client(autoconfirming).auth.signUp({
          email: `${unique("many")}@elsewhere.test`,
          password: PASSWORD,
        });
        assert.equal((await exchange(autoconfirmingApp, data.session!.access_token)).status, 200);
      }
      assert.equal(warnings.length, before);
    });

    await t.step("sign-up confirmed by the mailed link: identity verified; joins by domain", async () => {
      const address = `${unique("ada")}@acme.test`;
      const { data } = await client(confirming).auth.signUp({ email: address, password: PASSWORD });
      assert.equal(data.session, null);
      const [mail] = await mailsTo(mailbox.url, address);
      const { fragment } = await followLink(mail.link);
      assert.deepEqual((await stateOf(data.user!.id)).identities, [["email", address, true]]);
      const got = await exchange(confirmingApp, fragment.access_token);
      assert.deepEqual([got.status, got.tenant, got.email], [200, ACME, address]);
    });

    await t.step("a recovery link confirms an unconfirmed user but verifies no identity", async () => {
      const address = `${unique("forgot")}@acme.test`;
      const supabase = client(confirming);
      const { data } = await supabase.auth.signUp({ email: address, password: PASSWORD });
      assert.equal((await supabase.auth.resetPasswordForEmail(address)).error, null);
      const mails = await mailsTo(mailbox.url, address, 2);
      const recovery = mails.find((m) => m.link.includes("type=recovery"))!;
      const { fragment } = await followLink(recovery.link);
      assert.deepEqual(await stateOf(data.user!.id), {
        email: address,
        confirmed: true,
        anonymous: false,
        identities: [["email", address, false]],
      });
      const got = await exchange(confirmingApp, fragment.access_token);
      assert.deepEqual([got.status, got.email], [200, null], "fails closed");
      assert.notEqual(got.tenant, ACME);
    });

    await t.step(
      "admin create with email_confirm: confirmed, identity unverified; until an admin vouches",
      async () => {
        const address = `${unique("made")}@acme.test`;
        const created = await admin(confirming, "POST", "/admin/users", {
          email: address,
          password: PASSWORD,
          email_confirm: true,
        });
        assert.equal(created.status, 200);
        assert.deepEqual((await stateOf(created.body.id)).identities, [["email", address, false]]);
        const supabase = client(confirming);
        await supabase.auth.signInWithPassword({ email: address, password: PASSWORD });
        const got = await exchange(confirmingApp, await accessTokenOf(supabase));
        assert.deepEqual([got.status, got.email], [200, null]);
        assert.notEqual(got.tenant, ACME);

        const vouched = await admin(confirming, "PUT", `/admin/users/${created.body.id}`, {
          email: address,
          email_confirm: true,
        });
        assert.equal(vouched.status, 200);
        assert.deepEqual((await stateOf(created.body.id)).identities, [["email", address, true]]);
        const after = await exchange(confirmingApp, await accessTokenOf(supabase));
        assert.equal(after.email, address, "the same session now carries the proven address");
      },
    );

    await t.step(
      "admin email change: email moves, stays confirmed, identity unverified; no domain",
      async () => {
        const before = `${unique("moved")}@elsewhere.test`;
        const created = await admin(confirming, "POST", "/admin/users", {
          email: before,
          password: PASSWORD,
        });
        await admin(confirming, "PUT", `/admin/users/${created.body.id}`, {
          email: before,
          email_confirm: true,
        });
        const target = `${unique("boss")}@acme.test`;
        const changed = await admin(confirming, "PUT", `/admin/users/${created.body.id}`, { email: target });
        assert.equal(changed.status, 200);
        assert.deepEqual(await stateOf(created.body.id), {
          email: target,
          confirmed: true,
          anonymous: false,
          identities: [["email", target, false]],
        });
        const supabase = client(confirming);
        await supabase.auth.signInWithPassword({ email: target, password: PASSWORD });
        const got = await exchange(confirmingApp, await accessTokenOf(supabase));
        assert.deepEqual([got.status, got.email], [200, null]);
        assert.notEqual(got.tenant, ACME);
      },
    );

    await t.step("PUT /user email change, confirmed from both addresses: the new one is proven", async () => {
      const before = `${unique("mover")}@elsewhere.test`;
      const supabase = client(confirming);
      const { data } = await supabase.auth.signUp({ email: before, password: PASSWORD });
      await followLink((await mailsTo(mailbox.url, before))[0].link);
      await supabase.auth.signInWithPassword({ email: before, password: PASSWORD });
      const target = `${unique("mover")}@acme.test`;
      assert.equal((await supabase.auth.updateUser({ email: target })).error, null);
      const [toOld] = (await mailsTo(mailbox.url, before, 2)).filter((m) => m.link.includes("email_change"));
      const [toNew] = await mailsTo(mailbox.url, target);
      await followLink(toOld.link);
      assert.equal((await stateOf(data.user!.id)).email, before, "one link is not enough");
      await followLink(toNew.link);
      assert.deepEqual(await stateOf(data.user!.id), {
        email: target,
        confirmed: true,
        anonymous: false,
        identities: [["email", target, true]],
      });
      await supabase.auth.refreshSession();
      const got = await exchange(confirmingApp, await accessTokenOf(supabase));
      assert.deepEqual([got.status, got.tenant, got.email], [200, ACME, target]);
    });

    await t.step(
      "anonymous upgrade under autoconfirm: identity marked verified with no mail; no tenant",
      async () => {
        const supabase = client(autoconfirming);
        const { data } = await supabase.auth.signInAnonymously();
        const target = `${unique("anon")}@acme.test`;
        assert.equal((await supabase.auth.updateUser({ email: target })).error, null);
        assert.deepEqual(await stateOf(data.user!.id), {
          email: target,
          confirmed: true,
          anonymous: false,
          identities: [["email", target, true]],
        });
        // Only the project's setting tells this identity from a proven one.
        await supabase.auth.refreshSession();
        const got = await exchange(autoconfirmingApp, await accessTokenOf(supabase));
        assert.deepEqual([got.status, got.email], [200, null]);
        assert.notEqual(got.tenant, ACME);
      },
    );

    await t.step(
      "anonymous upgrade with confirmations on: proven once the mailed link is followed",
      async () => {
        const supabase = client(confirming);
        const { data } = await supabase.auth.signInAnonymously();
        const target = `${unique("anon")}@acme.test`;
        assert.equal((await supabase.auth.updateUser({ email: target })).error, null);
        assert.equal((await stateOf(data.user!.id)).email, null, "not before the link");
        const { fragment } = await followLink((await mailsTo(mailbox.url, target))[0].link);
        assert.deepEqual((await stateOf(data.user!.id)).identities, [["email", target, true]]);
        const got = await exchange(confirmingApp, fragment.access_token);
        assert.deepEqual([got.status, got.tenant, got.email], [200, ACME, target]);
      },
    );

    const oauth = (auth: AuthEmulator, email: string, verified: boolean) =>
      admin(auth, "POST", "/_emulator/oauth_sign_in", {
        provider: "github",
        sub: crypto.randomUUID(),
        email,
        email_verified: verified,
      });

    await t.step("OAuth with a verified email: confirmed, provider identity verified; joins", async () => {
      const address = `${unique("octo")}@acme.test`;
      const session = await oauth(confirming, address, true);
      assert.equal(session.status, 200);
      assert.deepEqual((await stateOf(session.body.user.id)).identities, [["github", address, true]]);
      const got = await exchange(confirmingApp, session.body.access_token);
      assert.deepEqual([got.status, got.tenant, got.email], [200, ACME, address]);
    });

    await t.step("OAuth with an unverified email: mailed, then proven by the link", async () => {
      const address = `${unique("octo")}@acme.test`;
      const refused = await oauth(confirming, address, false);
      assert.deepEqual([refused.status, refused.body.error_code], [422, "provider_email_needs_verification"]);
      const [user] = await db.sql`select id from auth.users where email = ${address}`;
      assert.deepEqual(await stateOf(user.id), {
        email: address,
        confirmed: false,
        anonymous: false,
        identities: [["github", address, false]],
      });
      const { fragment } = await followLink((await mailsTo(mailbox.url, address))[0].link);
      assert.deepEqual((await stateOf(user.id)).identities, [["github", address, true]]);
      const got = await exchange(confirmingApp, fragment.access_token);
      assert.deepEqual([got.status, got.tenant, got.email], [200, ACME, address]);
    });

    await t.step(
      "OAuth with an unverified email under autoconfirm: confirmed, unverified; no tenant",
      async () => {
        const address = `${unique("octo")}@acme.test`;
        const session = await oauth(autoconfirming, address, false);
        assert.equal(session.status, 200);
        assert.deepEqual(await stateOf(session.body.user.id), {
          email: address,
          confirmed: true,
          anonymous: false,
          identities: [["github", address, false]],
        });
        for (const app of [autoconfirmingApp, confirmingApp]) {
          const got = await exchange(app, session.body.access_token);
          assert.deepEqual([got.status, got.email], [200, null]);
          assert.notEqual(got.tenant, ACME);
        }
      },
    );

    await t.step(
      "OAuth with a verified email links to the user holding it, whose address it proves",
      async () => {
        const address = `${unique("linked")}@elsewhere.test`;
        const created = await admin(confirming, "POST", "/admin/users", {
          email: address,
          password: PASSWORD,
          email_confirm: true,
        });
        const session = await oauth(confirming, address, true);
        assert.equal(session.body.user.id, created.body.id);
        assert.deepEqual((await stateOf(created.body.id)).identities, [
          ["email", address, false],
          ["github", address, true],
        ]);
        assert.equal((await exchange(confirmingApp, session.body.access_token)).email, address);
      },
    );
  } finally {
    await confirmingApp.close();
    await autoconfirmingApp.close();
    await confirming.stop();
    await autoconfirming.stop();
    await target.close();
    await mailbox.stop();
    await db.close();
  }
});
