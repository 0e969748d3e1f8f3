import assert from "node:assert/strict";
import {
  createInvitationMailer,
  type InviteeAccount,
} from "../../supabase/functions/_shared/management/invitation_mail.ts";

type Seen = {
  method?: string;
  url: string;
  body: unknown;
  apikey: string | null;
  authorization: string | null;
};

/** A fetch that records each call and answers from a script. */
function scripted(answers: Array<[number, unknown]>) {
  const seen: Seen[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    seen.push({
      method: init?.method,
      url: String(input),
      body: JSON.parse(String(init?.body)),
      apikey: headers.get("apikey"),
      authorization: headers.get("authorization"),
    });
    const [status, body] = answers.shift() ?? [500, {}];
    return Promise.resolve(Response.json(body, { status }));
  };
  return { seen, fetch: fetch as typeof globalThis.fetch };
}

const BASE = { supabaseUrl: "https://project.supabase.co/", timeoutMs: 1000 };
const NONE = () => Promise.resolve(null);

/** The account reads a route makes, answered in turn from a script. */
function accounts(...answers: Array<InviteeAccount | null>) {
  return () => Promise.resolve(answers.shift() ?? null);
}
const PRE_REGISTERED: InviteeAccount = { id: "u-1", confirmed: false, pristine: true, hasPassword: true };
const CONFIRMED: InviteeAccount = { id: "u-0", confirmed: true, pristine: false, hasPassword: true };
const FRESH: InviteeAccount = { id: "u", confirmed: false, pristine: true, hasPassword: false };

Deno.test("createInvitationMailer() sends Auth's invite to a new address, with the key and the redirect", async () => {
  const { seen, fetch } = scripted([[200, { id: "u" }]]);
  const send = createInvitationMailer({
    ...BASE,
    serviceKey: "sb_secret_x",
    redirectUrl: "https://app/in?a=1",
    fetch,
  });
  assert.deepEqual(await send({ email: "bob@example.com", account: accounts(null, FRESH) }), {
    sent: true,
  });
  assert.deepEqual(seen, [{
    method: "POST",
    url: "https://project.supabase.co/auth/v1/invite?redirect_to=https%3A%2F%2Fapp%2Fin%3Fa%3D1",
    body: { email: "bob@example.com" },
    apikey: "sb_secret_x",
    authorization: "Bearer sb_secret_x",
  }]);
});

Deno.test("createInvitationMailer() sends a magic link to a user, and after email_exists", async () => {
  const user = scripted([[200, {}]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch: user.fetch });
  assert.deepEqual(await send({ email: "ada@example.com", account: accounts(CONFIRMED) }), { sent: true });
  assert.deepEqual(user.seen.map((s) => [s.url, s.body]), [
    ["https://project.supabase.co/auth/v1/otp", { email: "ada@example.com", create_user: false }],
  ]);
  const raced = scripted([[422, { error_code: "email_exists" }], [200, {}]]);
  const again = createInvitationMailer({ ...BASE, serviceKey: "k", fetch: raced.fetch });
  assert.deepEqual(await again({ email: "ada@example.com", account: NONE }), {
    sent: true,
  });
  assert.deepEqual(raced.seen.map((s) => new URL(s.url).pathname), ["/auth/v1/invite", "/auth/v1/otp"]);
});

Deno.test("createInvitationMailer() never throws: a refusal, an outage or no key is a reason", async () => {
  const refused = scripted([[429, { error_code: "over_email_send_rate_limit" }]]);
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", fetch: refused.fetch })({
      email: "a@b.co",
      account: accounts(CONFIRMED),
    }),
    { sent: false, reason: "auth_429_over_email_send_rate_limit" },
  );
  const down = (() => Promise.reject(new TypeError("connection refused"))) as typeof fetch;
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", fetch: down })({
      email: "a@b.co",
      account: NONE,
    }),
    { sent: false, reason: "auth_unavailable" },
  );
  const slow = (() => new Promise<Response>(() => {})) as typeof fetch;
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", timeoutMs: 50, fetch: slow })({
      email: "a@b.co",
      account: NONE,
    }),
    { sent: false, reason: "auth_unavailable" },
  );
  assert.deepEqual(
    await createInvitationMailer(BASE)({ email: "a@b.co", account: NONE }),
    {
      sent: false,
      reason: "no_service_key",
    },
  );
});

Deno.test("createInvitationMailer() deletes a pre-registered, never-used account before the invite", async () => {
  const { seen, fetch } = scripted([[200, {}], [200, { id: "u-2" }]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  const fresh = { id: "u-2", confirmed: false, pristine: true, hasPassword: false };
  const outcome = await send({
    email: "new.hire@corp.test",
    account: accounts(PRE_REGISTERED, fresh),
  });
  assert.deepEqual(outcome, { sent: true });
  assert.deepEqual(seen.map((s) => [new URL(s.url).pathname, s.body]), [
    ["/auth/v1/admin/users/u-1", { should_soft_delete: false }],
    ["/auth/v1/invite", { email: "new.hire@corp.test" }],
  ]);
});

Deno.test("createInvitationMailer() mails no account someone was ever let into", async () => {
  const { seen, fetch } = scripted([]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  const used = { id: "u-1", confirmed: false, pristine: false, hasPassword: false };
  assert.deepEqual(await send({ email: "a@corp.test", account: accounts(used) }), {
    sent: false,
    reason: "unconfirmed_account_in_use",
  });
  assert.equal(seen.length, 0);
});

Deno.test("createInvitationMailer() kills the link when a sign-up raced the invite", async () => {
  const { seen, fetch } = scripted([[200, {}], [200, { id: "u-3" }], [200, {}]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  const raced = { id: "u-3", confirmed: false, pristine: true, hasPassword: true };
  assert.deepEqual(
    await send({ email: "a@corp.test", account: accounts(PRE_REGISTERED, raced) }),
    { sent: false, reason: "preregistered_account" },
  );
  assert.deepEqual(
    seen.map((s) => `${s.method} ${new URL(s.url).pathname}`),
    [
      "DELETE /auth/v1/admin/users/u-1",
      "POST /auth/v1/invite",
      "DELETE /auth/v1/admin/users/u-3",
    ],
  );
});

Deno.test("createInvitationMailer() sends nothing it could not check", async () => {
  const { seen, fetch } = scripted([]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  const broken = () => Promise.reject(new Error("database down"));
  assert.deepEqual(await send({ email: "a@corp.test", account: broken }), {
    sent: false,
    reason: "invitee_lookup_failed",
  });
  const refused = scripted([[403, { error_code: "not_admin" }]]);
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", fetch: refused.fetch })({
      email: "a@corp.test",
      account: accounts(PRE_REGISTERED),
    }),
    { sent: false, reason: "preregistered_account_not_removed" },
  );
  assert.equal(seen.length, 0);
  assert.equal(refused.seen.length, 1, "no invite after a failed delete");
});

Deno.test("createInvitationMailer() re-uses an unconfirmed account without a password: nothing to hijack", async () => {
  const { seen, fetch } = scripted([[200, { id: "u-4" }]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  const operatorMade = { id: "u-4", confirmed: false, pristine: true, hasPassword: false };
  assert.deepEqual(await send({ email: "a@corp.test", account: accounts(operatorMade, operatorMade) }), {
    sent: true,
  });
  assert.deepEqual(seen.map((s) => `${s.method} ${new URL(s.url).pathname}`), ["POST /auth/v1/invite"]);
});

Deno.test("createInvitationMailer() removes what it invited when the database finds another user", async () => {
  const { seen, fetch } = scripted([[200, { id: "u-5" }], [200, {}]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch });
  // Auth re-used a user the database's lookup does not see (say, an address Auth and Postgres case differently).
  assert.deepEqual(await send({ email: "a@corp.test", account: accounts(null, null) }), {
    sent: false,
    reason: "preregistered_account",
  });
  assert.deepEqual(seen.map((s) => `${s.method} ${new URL(s.url).pathname}`), [
    "POST /auth/v1/invite",
    "DELETE /auth/v1/admin/users/u-5",
  ]);
});
