import assert from "node:assert/strict";
import { createInvitationMailer } from "../../supabase/functions/_shared/invitation_mail.ts";

type Seen = { url: string; body: unknown; apikey: string | null; authorization: string | null };

/** A fetch that records each call and answers from a script. */
function scripted(answers: Array<[number, unknown]>) {
  const seen: Seen[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    seen.push({
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

Deno.test("createInvitationMailer() sends Auth's invite to a new address, with the key and the redirect", async () => {
  const { seen, fetch } = scripted([[200, { id: "u" }]]);
  const send = createInvitationMailer({
    ...BASE,
    serviceKey: "sb_secret_x",
    redirectUrl: "https://app/in?a=1",
    fetch,
  });
  assert.deepEqual(await send({ email: "bob@example.com", hasAccount: false }), { sent: true });
  assert.deepEqual(seen, [{
    url: "https://project.supabase.co/auth/v1/invite?redirect_to=https%3A%2F%2Fapp%2Fin%3Fa%3D1",
    body: { email: "bob@example.com" },
    apikey: "sb_secret_x",
    authorization: "Bearer sb_secret_x",
  }]);
});

Deno.test("createInvitationMailer() sends a magic link to a user, and after email_exists", async () => {
  const user = scripted([[200, {}]]);
  const send = createInvitationMailer({ ...BASE, serviceKey: "k", fetch: user.fetch });
  assert.deepEqual(await send({ email: "ada@example.com", hasAccount: true }), { sent: true });
  assert.deepEqual(user.seen.map((s) => [s.url, s.body]), [
    ["https://project.supabase.co/auth/v1/otp", { email: "ada@example.com", create_user: false }],
  ]);
  const raced = scripted([[422, { error_code: "email_exists" }], [200, {}]]);
  const again = createInvitationMailer({ ...BASE, serviceKey: "k", fetch: raced.fetch });
  assert.deepEqual(await again({ email: "ada@example.com", hasAccount: false }), { sent: true });
  assert.deepEqual(raced.seen.map((s) => new URL(s.url).pathname), ["/auth/v1/invite", "/auth/v1/otp"]);
});

Deno.test("createInvitationMailer() never throws: a refusal, an outage or no key is a reason", async () => {
  const refused = scripted([[429, { error_code: "over_email_send_rate_limit" }]]);
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", fetch: refused.fetch })({
      email: "a@b.co",
      hasAccount: true,
    }),
    { sent: false, reason: "auth_429_over_email_send_rate_limit" },
  );
  const down = (() => Promise.reject(new TypeError("connection refused"))) as typeof fetch;
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", fetch: down })({
      email: "a@b.co",
      hasAccount: false,
    }),
    { sent: false, reason: "auth_unavailable" },
  );
  const slow = (() => new Promise<Response>(() => {})) as typeof fetch;
  assert.deepEqual(
    await createInvitationMailer({ ...BASE, serviceKey: "k", timeoutMs: 50, fetch: slow })({
      email: "a@b.co",
      hasAccount: false,
    }),
    { sent: false, reason: "auth_unavailable" },
  );
  assert.deepEqual(await createInvitationMailer(BASE)({ email: "a@b.co", hasAccount: false }), {
    sent: false,
    reason: "no_service_key",
  });
});
