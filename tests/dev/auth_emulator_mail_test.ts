/**
 * The Auth emulator's mail flows, through supabase-js and plain HTTP, with a real mailbox catching what it
 * sends over SMTP: confirmation, magic link, recovery, invite and email change, `/verify` in both
 * flavours, the admin user API, anonymous sign-in and its upgrade, and what each leaves in `auth.users`,
 * `auth.identities` and `auth.one_time_tokens`, as GoTrue leaves it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt } from "jose";
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { DEFAULT_SENDER, type Mailbox, startMailbox } from "../../dev/mailbox/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

const SITE = "http://127.0.0.1:3000";

function client(auth: AuthEmulator, key = auth.anonKey): SupabaseClient {
  return createClient(auth.url, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

function email(): string {
  return `mail-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

/** The token of a mailed `/verify` link. */
function tokenOf(link: string): string {
  return new URL(link).searchParams.get("token")!;
}

Deno.test("Auth emulator mail flows", async (t) => {
  const db: TestDatabase = await openTestDatabase();
  const mailbox: Mailbox = await startMailbox();
  const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER };
  const emulators: AuthEmulator[] = [];
  const start = async (options: Partial<Parameters<typeof startAuthEmulator>[0]>) => {
    const emulator = await startAuthEmulator({ databaseUrl: db.authUrl, smtp, ...options });
    emulators.push(emulator);
    return emulator;
  };
  try {
    const confirming = await start({
      autoConfirm: false,
      anonymousSignIns: true,
      redirectUrls: ["https://app.example.com/**"],
      // No waiting between two mails of a kind, except in the step that shows max_frequency.
      maxFrequencySeconds: 0,
    });
    const autoConfirming = await start({ autoConfirm: true, anonymousSignIns: true, maxFrequencySeconds: 0 });

    await t.step("signUp() mails GoTrue's confirmation link, its token stored only as a hash", async () => {
      const address = email();
      const { data, error } = await client(confirming).auth.signUp({ email: address, password: PASSWORD });
      assert.equal(error, null);
      assert.equal(data.session, null);
      const [mail] = await mailsTo(mailbox.url, address);
      assert.equal(mail.subject, "Confirm your email address");
      assert.match(mail.html, /<a href="[^"]+">Confirm email address<\/a>/);
      const link = new URL(mail.link);
      assert.equal(`${link.origin}${link.pathname}`, `${confirming.url}/auth/v1/verify`);
      assert.deepEqual([...link.searchParams.keys()], ["token", "type", "redirect_to"]);
      assert.equal(link.searchParams.get("type"), "signup");
      assert.equal(link.searchParams.get("redirect_to"), SITE);
      const token = tokenOf(mail.link);
      assert.match(token, /^[0-9a-f]{56}$/, "the SHA-224 hex of the address and the code");
      const [user] = await db.sql`select confirmation_token, confirmation_sent_at, email_confirmed_at
                                    from auth.users where id = ${data.user!.id}`;
      assert.equal(user.confirmation_token, token);
      assert.ok(user.confirmation_sent_at);
      assert.equal(user.email_confirmed_at, null);
      const tokens = await db.sql`select token_type, token_hash, relates_to from auth.one_time_tokens
                                   where user_id = ${data.user!.id}`;
      assert.deepEqual(tokens.map((r) => ({ ...r })), [
        { token_type: "confirmation_token", token_hash: token, relates_to: address },
      ]);
    });

    await t.step(
      "following the link confirms the address and lands on the site with the session in the fragment",
      async () => {
        const address = email();
        const { data } = await client(confirming).auth.signUp({ email: address, password: PASSWORD });
        const [mail] = await mailsTo(mailbox.url, address);
        const followed = await followLink(mail.link);
        assert.equal(followed.status, 303);
        assert.equal(followed.location.split("#")[0], SITE);
        assert.deepEqual(Object.keys(followed.fragment), [
          "access_token",
          "expires_at",
          "expires_in",
          "refresh_token",
          "sb",
          "token_type",
          "type",
        ]);
        assert.equal(followed.fragment.type, "signup");
        assert.equal(decodeJwt(followed.fragment.access_token).sub, data.user!.id);
        const [user] = await db.sql`select email_confirmed_at, confirmation_token, raw_user_meta_data
                                      from auth.users where id = ${data.user!.id}`;
        assert.ok(user.email_confirmed_at);
        assert.equal(user.confirmation_token, "");
        assert.equal(user.raw_user_meta_data.email_verified, true);
        const [identity] = await db.sql`select identity_data from auth.identities where user_id = ${
          data.user!.id
        }`;
        assert.equal(identity.identity_data.email_verified, true, "the identity is verified by the link");
        const [{ count }] = await db.sql`select count(*)::int from auth.one_time_tokens
                                          where user_id = ${data.user!.id}`;
        assert.equal(count, 0);

        const again = await followLink(mail.link);
        assert.equal(again.status, 303);
        assert.deepEqual(again.fragment, {
          error: "access_denied",
          error_code: "otp_expired",
          error_description: "Email link is invalid or has expired",
          sb: "",
        });
        const signIn = await client(confirming).auth.signInWithPassword({
          email: address,
          password: PASSWORD,
        });
        assert.equal(signIn.error, null);
      },
    );

    await t.step("an allowed redirect_to is kept in the link, any other becomes the site URL", async () => {
      const allowed = email();
      await client(confirming).auth.signUp({
        email: allowed,
        password: PASSWORD,
        options: { emailRedirectTo: "https://app.example.com/welcome" },
      });
      const [kept] = await mailsTo(mailbox.url, allowed);
      assert.equal(new URL(kept.link).searchParams.get("redirect_to"), "https://app.example.com/welcome");
      assert.equal((await followLink(kept.link)).location.split("#")[0], "https://app.example.com/welcome");
      const foreign = email();
      await client(confirming).auth.signUp({
        email: foreign,
        password: PASSWORD,
        options: { emailRedirectTo: "https://evil.example.net/" },
      });
      const [replaced] = await mailsTo(mailbox.url, foreign);
      assert.equal(new URL(replaced.link).searchParams.get("redirect_to"), SITE);
    });

    await t.step("verifyOtp() with the link's token_hash answers with the session", async () => {
      const address = email();
      await client(confirming).auth.signUp({ email: address, password: PASSWORD });
      const [mail] = await mailsTo(mailbox.url, address);
      const supabase = client(confirming);
      const wrong = await supabase.auth.verifyOtp({ type: "signup", token_hash: "0".repeat(56) });
      assert.equal(wrong.error?.status, 403);
      assert.equal(wrong.error?.code, "otp_expired");
      const { data, error } = await supabase.auth.verifyOtp({
        type: "email",
        token_hash: tokenOf(mail.link),
      });
      assert.equal(error, null);
      assert.equal(data.user?.email, address);
      assert.ok(data.user?.email_confirmed_at);
      assert.equal((await supabase.auth.getUser()).data.user?.id, data.user?.id);
    });

    await t.step(
      "signInWithOtp() signs a new address up by mail; a confirmed one gets a magic link",
      async () => {
        const address = email();
        const supabase = client(confirming);
        assert.equal((await supabase.auth.signInWithOtp({ email: address })).error, null);
        const [first] = await mailsTo(mailbox.url, address);
        assert.equal(first.subject, "Confirm your email address", "the confirmation is the sign-in link");
        assert.equal((await followLink(first.link)).fragment.type, "signup");

        assert.equal((await supabase.auth.signInWithOtp({ email: address })).error, null);
        const [magic] = await mailsTo(mailbox.url, address, 2);
        assert.equal(magic.subject, "Your sign-in link");
        assert.equal(new URL(magic.link).searchParams.get("type"), "magiclink");
        const followed = await followLink(magic.link);
        assert.equal(followed.fragment.type, "magiclink");
        assert.equal(decodeJwt(followed.fragment.access_token).email, address);

        const unknown = await supabase.auth.signInWithOtp({
          email: email(),
          options: { shouldCreateUser: false },
        });
        assert.equal(unknown.error?.code, "otp_disabled");
      },
    );

    await t.step("under autoconfirm a magic link to a new address creates it confirmed", async () => {
      const address = email();
      assert.equal((await client(autoConfirming).auth.signInWithOtp({ email: address })).error, null);
      const [mail] = await mailsTo(mailbox.url, address);
      assert.equal(mail.subject, "Your sign-in link");
      const [user] = await db.sql`select email_confirmed_at from auth.users where email = ${address}`;
      assert.ok(user.email_confirmed_at);
    });

    await t.step(
      "resetPasswordForEmail() mails a recovery link; max_frequency refuses a second at once",
      async () => {
        const address = email();
        const signedUp = await client(autoConfirming).auth.signUp({ email: address, password: PASSWORD });
        const timed = await start({ autoConfirm: true, maxFrequencySeconds: 60 });
        const supabase = client(timed);
        assert.equal((await supabase.auth.resetPasswordForEmail(address)).error, null);
        const again = await supabase.auth.resetPasswordForEmail(address);
        assert.equal(again.error?.status, 429);
        assert.equal(again.error?.code, "over_email_send_rate_limit");
        assert.match(
          again.error!.message,
          /^For security purposes, you can only request this after 5\d seconds\.$/,
        );
        assert.equal((await supabase.auth.resetPasswordForEmail(email())).error, null, "no one: still {}");

        const [mail] = await mailsTo(mailbox.url, address);
        assert.equal(mail.subject, "Reset your password");
        const followed = await followLink(mail.link);
        assert.equal(followed.fragment.type, "recovery");
        const recovered = client(timed);
        await recovered.auth.setSession({
          access_token: followed.fragment.access_token,
          refresh_token: followed.fragment.refresh_token,
        });
        const same = await recovered.auth.updateUser({ password: PASSWORD });
        assert.equal(same.error?.code, "same_password");
        assert.equal((await recovered.auth.updateUser({ password: "a brand new one" })).error, null);
        const [{ count }] = await db.sql`select count(*)::int from auth.sessions where user_id = ${
          signedUp.data.user!.id
        }`;
        assert.equal(count, 1, "the other sessions ended with the password change");
        const old = await client(timed).auth.signInWithPassword({ email: address, password: PASSWORD });
        assert.equal(old.error?.code, "invalid_credentials");
        const renewed = await client(timed).auth.signInWithPassword({
          email: address,
          password: "a brand new one",
        });
        assert.equal(renewed.error, null);
      },
    );

    await t.step("updateUser({ email }) mails both addresses; both links switch it", async () => {
      const before = email();
      const after = email();
      const supabase = client(confirming);
      await supabase.auth.signUp({ email: before, password: PASSWORD });
      await followLink((await mailsTo(mailbox.url, before))[0].link);
      await supabase.auth.signInWithPassword({ email: before, password: PASSWORD });
      const taken = await supabase.auth.updateUser({
        email: (await db.sql`select email from auth.users
                                                                          where email is not null limit 1`)[0]
          .email,
      });
      assert.equal(taken.error?.code, "email_exists");

      const { data, error } = await supabase.auth.updateUser({ email: after.toUpperCase() });
      assert.equal(error, null);
      assert.equal(data.user?.email, before);
      assert.equal(data.user?.new_email, after);
      const [toNew] = await mailsTo(mailbox.url, after);
      const [toCurrent] = await mailsTo(mailbox.url, before, 2);
      for (const mail of [toNew, toCurrent]) {
        assert.equal(mail.subject, "Confirm your new email address");
        assert.ok(mail.html.includes(`confirm ${after} as your new email address`));
        assert.equal(new URL(mail.link).searchParams.get("type"), "email_change");
      }
      const userId = data.user!.id;
      const tokens = await db.sql`select token_type, relates_to from auth.one_time_tokens
                                   where user_id = ${userId} order by token_type::text`;
      assert.deepEqual(tokens.map((r) => ({ ...r })), [
        { token_type: "email_change_token_current", relates_to: before },
        { token_type: "email_change_token_new", relates_to: after },
      ]);

      const first = await followLink(toNew.link);
      assert.deepEqual(first.fragment, {
        message: "Confirmation link accepted. Please proceed to confirm link sent to the other email",
        sb: "",
      });
      const [half] = await db
        .sql`select email, email_change_confirm_status from auth.users where id = ${userId}`;
      assert.deepEqual({ ...half }, { email: before, email_change_confirm_status: 1 });
      assert.equal((await followLink(toNew.link)).fragment.error_code, "otp_expired", "each link works once");

      const second = await followLink(toCurrent.link);
      assert.equal(second.fragment.type, "email_change");
      assert.equal(decodeJwt(second.fragment.access_token).email, after);
      const [done] = await db.sql`select email, email_change, email_change_confirm_status from auth.users
                                   where id = ${userId}`;
      assert.deepEqual({ ...done }, { email: after, email_change: "", email_change_confirm_status: 0 });
      const [identity] = await db
        .sql`select identity_data, email from auth.identities where user_id = ${userId}`;
      assert.equal(identity.email, after);
      assert.equal(identity.identity_data.email_verified, true);
    });

    await t.step("with secure email change off, the new address's link alone switches it", async () => {
      const single = await start({ autoConfirm: false, secureEmailChange: false, maxFrequencySeconds: 0 });
      const before = email();
      const after = email();
      const supabase = client(single);
      await supabase.auth.signUp({ email: before, password: PASSWORD });
      await followLink((await mailsTo(mailbox.url, before))[0].link);
      await supabase.auth.signInWithPassword({ email: before, password: PASSWORD });
      await supabase.auth.updateUser({ email: after });
      const [toNew] = await mailsTo(mailbox.url, after);
      assert.equal((await mailsTo(mailbox.url, before)).length, 1, "no mail to the current address");
      const { data, error } = await client(single).auth.verifyOtp({
        type: "email_change",
        token_hash: tokenOf(toNew.link),
      });
      assert.equal(error, null);
      assert.equal(data.user?.email, after);
    });

    await t.step("the admin API needs a service_role token", async () => {
      const anon = await client(confirming).auth.admin.listUsers();
      assert.equal(anon.error?.status, 403);
      assert.equal(anon.error?.code, "not_admin");
      const res = await confirming.handler(new Request(`${confirming.url}/auth/v1/admin/users`));
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error_code, "no_authorization");
    });

    await t.step("admin createUser() and updateUserById() keep identities as GoTrue does", async () => {
      const admin = client(confirming, confirming.serviceRoleKey).auth.admin;
      const address = email();
      const created = await admin.createUser({
        email: address,
        password: PASSWORD,
        email_confirm: true,
        user_metadata: { name: "Ada" },
        app_metadata: { plan: "pro" },
      });
      assert.equal(created.error, null);
      const user = created.data.user!;
      assert.ok(user.email_confirmed_at);
      assert.deepEqual(user.app_metadata, { provider: "email", providers: ["email"], plan: "pro" });
      assert.deepEqual(user.user_metadata, { name: "Ada", email_verified: true });
      assert.deepEqual(user.identities?.[0].identity_data, {
        sub: user.id,
        email: address,
        email_verified: false,
        phone_verified: false,
      });
      assert.equal((await admin.createUser({ email: address })).error?.code, "email_exists");

      const changed = email();
      const updated = await admin.updateUserById(user.id, { email: changed });
      assert.equal(updated.error, null);
      assert.equal(updated.data.user?.email, changed);
      assert.equal(
        updated.data.user?.email_confirmed_at,
        user.email_confirmed_at,
        "email_confirmed_at stays",
      );
      const [identity] = await db
        .sql`select identity_data, email from auth.identities where user_id = ${user.id}`;
      assert.equal(identity.email, changed);
      assert.equal(identity.identity_data.email_verified, false, "email_confirm was not sent");
      assert.equal((await mailsTo(mailbox.url, changed, 0)).length, 0, "no mail");

      const fetched = await admin.getUserById(user.id);
      assert.equal(fetched.data.user?.email, changed);
      const listed = await admin.listUsers({ page: 1, perPage: 1 });
      assert.equal(listed.error, null);
      assert.equal(listed.data.users.length, 1);
      assert.ok((listed.data as { total?: number }).total! > 1);
      const bad = await confirming.handler(
        new Request(`${confirming.url}/auth/v1/admin/users/not-a-uuid`, {
          headers: { Authorization: `Bearer ${confirming.serviceRoleKey}` },
        }),
      );
      assert.equal(bad.status, 404);
      assert.equal((await bad.json()).msg, "user_id must be an UUID");

      const banned = await admin.updateUserById(user.id, { ban_duration: "1h" });
      assert.ok(new Date(banned.data.user!.banned_until!).getTime() > Date.now());
      const badBan = await admin.updateUserById(user.id, { ban_duration: "1 day" });
      assert.equal(badBan.error?.status, 400);

      assert.equal((await admin.deleteUser(user.id)).error, null);
      assert.equal((await admin.getUserById(user.id)).error?.code, "user_not_found");
      const left = await db.sql`select 1 from auth.identities where user_id = ${user.id}`;
      assert.equal(left.length, 0);
    });

    await t.step("a soft delete keeps an obfuscated row and ends the sessions", async () => {
      const admin = client(confirming, confirming.serviceRoleKey).auth.admin;
      const address = email();
      const { data } = await client(autoConfirming).auth.signUp({ email: address, password: PASSWORD });
      assert.equal((await admin.deleteUser(data.user!.id, true)).error, null);
      const [row] = await db.sql`select email, deleted_at, raw_user_meta_data from auth.users where id = ${
        data.user!.id
      }`;
      assert.notEqual(row.email, address);
      assert.ok(row.deleted_at);
      assert.deepEqual(row.raw_user_meta_data, {});
      const sessions = await db.sql`select 1 from auth.sessions where user_id = ${data.user!.id}`;
      assert.equal(sessions.length, 0);
    });

    await t.step("inviteUserByEmail() mails an invitation whose link signs the user in", async () => {
      const admin = client(confirming, confirming.serviceRoleKey).auth.admin;
      const address = email();
      const invited = await admin.inviteUserByEmail(address, { data: { team: "blue" } });
      assert.equal(invited.error, null);
      assert.ok(invited.data.user?.invited_at);
      const [mail] = await mailsTo(mailbox.url, address);
      assert.equal(mail.subject, "You've been invited");
      assert.equal(new URL(mail.link).searchParams.get("type"), "invite");
      const [before] = await db.sql`select encrypted_password from auth.users where email = ${address}`;
      assert.equal(before.encrypted_password, "");

      const followed = await followLink(mail.link);
      assert.equal(followed.fragment.type, "invite");
      const invitee = client(confirming);
      await invitee.auth.setSession({
        access_token: followed.fragment.access_token,
        refresh_token: followed.fragment.refresh_token,
      });
      assert.equal((await invitee.auth.updateUser({ password: PASSWORD })).error, null);
      const signIn = await client(confirming).auth.signInWithPassword({ email: address, password: PASSWORD });
      assert.equal(signIn.error, null);
      assert.equal(signIn.data.user?.user_metadata.team, "blue");
      assert.equal(signIn.data.user?.identities?.[0].identity_data?.email_verified, true);
      assert.equal((await admin.inviteUserByEmail(address)).error?.code, "email_exists");
    });

    await t.step("signInAnonymously() is refused unless enabled", async () => {
      const closed = await start({});
      const { error } = await client(closed).auth.signInAnonymously();
      assert.equal(error?.status, 422);
      assert.equal(error?.code, "anonymous_provider_disabled");
    });

    await t.step("an anonymous user adds an address by mail, and the link makes it permanent", async () => {
      const supabase = client(confirming);
      const { data, error } = await supabase.auth.signInAnonymously();
      assert.equal(error, null);
      const userId = data.user!.id;
      assert.equal(data.user?.is_anonymous, true);
      assert.deepEqual(data.user?.identities, []);
      assert.equal(decodeJwt(data.session!.access_token).is_anonymous, true);
      const noAddress = await supabase.auth.updateUser({ password: PASSWORD });
      assert.equal(noAddress.error?.code, "validation_failed");

      const address = email();
      const updated = await supabase.auth.updateUser({ email: address });
      assert.equal(updated.error, null);
      assert.equal(updated.data.user?.new_email, address);
      const [mail] = await mailsTo(mailbox.url, address);
      const followed = await followLink(mail.link);
      assert.equal(followed.fragment.type, "email_change");
      const claims = decodeJwt(followed.fragment.access_token);
      assert.deepEqual([claims.sub, claims.email, claims.is_anonymous], [userId, address, false]);
      const [user] = await db.sql`select email, is_anonymous, email_confirmed_at, raw_app_meta_data
                                    from auth.users where id = ${userId}`;
      assert.equal(user.email, address);
      assert.equal(user.is_anonymous, false);
      assert.ok(user.email_confirmed_at);
      assert.deepEqual(user.raw_app_meta_data, { provider: "email", providers: ["email"] });
      const [identity] = await db.sql`select provider, provider_id, identity_data from auth.identities
                                        where user_id = ${userId}`;
      assert.deepEqual({ ...identity }, {
        provider: "email",
        provider_id: userId,
        identity_data: { sub: userId, email: address, email_verified: true, phone_verified: false },
      });
    });

    await t.step("under autoconfirm an anonymous user gets the address at once, without mail", async () => {
      const supabase = client(autoConfirming);
      const { data } = await supabase.auth.signInAnonymously();
      const address = email();
      const updated = await supabase.auth.updateUser({ email: address });
      assert.equal(updated.error, null);
      assert.equal(updated.data.user?.email, address);
      assert.equal(updated.data.user?.is_anonymous, false);
      assert.equal(updated.data.user?.identities?.[0].identity_data?.email_verified, true);
      assert.equal((await mailsTo(mailbox.url, address, 0)).length, 0);
      const [user] = await db.sql`select is_anonymous from auth.users where id = ${data.user!.id}`;
      assert.equal(user.is_anonymous, false);
    });

    await t.step("a mail that cannot be sent is GoTrue's 500, and leaves no user behind", async () => {
      const unreachable = await start({ autoConfirm: false, smtp: { ...smtp, port: 1 } });
      const address = email();
      const res = await unreachable.handler(
        new Request(`${unreachable.url}/auth/v1/signup`, {
          method: "POST",
          body: JSON.stringify({ email: address, password: PASSWORD }),
        }),
      );
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), {
        code: 500,
        error_code: "unexpected_failure",
        msg: "Error sending confirmation email",
      });
      assert.equal((await db.sql`select 1 from auth.users where email = ${address}`).length, 0);
    });

    await t.step("bad /verify requests are GoTrue's 4xx", async () => {
      const get = (query: string) =>
        confirming.handler(new Request(`${confirming.url}/auth/v1/verify?${query}`));
      const noType = await get("token=abc");
      assert.equal(noType.status, 400);
      assert.equal((await noType.json()).msg, "Verify requires a verification type");
      const unknown = await followLink(`${confirming.url}/auth/v1/verify?token=abc&type=signup`);
      assert.equal(unknown.fragment.error_code, "otp_expired");
      const post = (body: unknown) =>
        confirming.handler(
          new Request(`${confirming.url}/auth/v1/verify`, { method: "POST", body: JSON.stringify(body) }),
        );
      const both = await post({ type: "signup", token: "123456", token_hash: "abc" });
      assert.equal((await both.json()).msg, "Verify requires either a token or a token hash");
      const badEmail = await post({ type: "signup", token: "123456", email: "nope" });
      assert.equal(badEmail.status, 422);
      await badEmail.body?.cancel();
      const wrongCode = await post({ type: "email", token: "123456", email: email() });
      assert.equal(wrongCode.status, 403);
      assert.equal((await wrongCode.json()).msg, "Token has expired or is invalid");
    });
  } finally {
    for (const emulator of emulators) await emulator.stop();
    await mailbox.stop();
    await db.close();
  }
});
