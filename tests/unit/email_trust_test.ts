import assert from "node:assert/strict";
import {
  createEmailTrust,
  SETTINGS_REFRESH_MS,
  SETTINGS_RETRY_MS,
} from "../../supabase/functions/_shared/core/email_trust.ts";
import type { EmailTrustLogEntry } from "../../supabase/functions/_shared/core/log.ts";

/** A fake Auth answering `GET /auth/v1/settings` from a queue of answers, and what it was asked. */
function fakeAuth(...answers: Array<() => Response | Promise<Response>>) {
  const requests: Request[] = [];
  const fetch: typeof globalThis.fetch = (input, init) => {
    requests.push(new Request(input, init));
    const answer = answers.length > 1 ? answers.shift()! : answers[0];
    return Promise.resolve().then(answer);
  };
  return { fetch, requests };
}

const settings = (autoconfirm: unknown) => () => Response.json({ mailer_autoconfirm: autoconfirm });

function build(fetch: typeof globalThis.fetch, timeoutMs = 1000) {
  let clock = 1_000_000;
  const lines: EmailTrustLogEntry[] = [];
  const emailTrusted = createEmailTrust({
    supabaseUrl: "https://project.supabase.co/",
    supabaseKey: "sb_publishable_test",
    timeoutMs,
    fetch,
    now: () => clock,
    log: (entry) => lines.push(entry),
  });
  return { emailTrusted, lines, advance: (ms: number) => (clock += ms) };
}

/** Lets a read started in the background settle. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("createEmailTrust() trusts addresses when Auth says mailer_autoconfirm is false, reading once", async () => {
  const auth = fakeAuth(settings(false));
  const { emailTrusted, lines } = build(auth.fetch);
  const answers = await Promise.all(Array.from({ length: 20 }, () => emailTrusted()));
  assert.deepEqual(new Set(answers), new Set([true]));
  assert.equal(await emailTrusted(), true);
  assert.equal(auth.requests.length, 1, "concurrent first exchanges share one read");
  assert.equal(auth.requests[0].url, "https://project.supabase.co/auth/v1/settings");
  assert.equal(auth.requests[0].headers.get("apikey"), "sb_publishable_test");
  assert.deepEqual(lines, []);
});

Deno.test("createEmailTrust() fails closed under autoconfirm, with one warning per read", async () => {
  const auth = fakeAuth(settings(true));
  const { emailTrusted, lines, advance } = build(auth.fetch);
  for (let i = 0; i < 50; i++) assert.equal(await emailTrusted(), false);
  assert.equal(auth.requests.length, 1);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.trusted, l.reason]), [[
    "warn",
    "email_trust",
    false,
    "mailer_autoconfirm",
  ]]);

  advance(SETTINGS_REFRESH_MS);
  assert.equal(await emailTrusted(), false);
  await settle();
  assert.equal(auth.requests.length, 2, "read again after the refresh interval");
  assert.equal(lines.length, 2, "one more line for the new read");
});

Deno.test("createEmailTrust() picks up a changed setting in the background after the refresh interval", async () => {
  const auth = fakeAuth(settings(true), settings(false));
  const { emailTrusted, advance } = build(auth.fetch);
  assert.equal(await emailTrusted(), false);
  advance(SETTINGS_REFRESH_MS - 1);
  assert.equal(await emailTrusted(), false);
  assert.equal(auth.requests.length, 1, "not before the interval");
  advance(1);
  assert.equal(await emailTrusted(), false, "the request that starts the read keeps the last value");
  await settle();
  assert.equal(await emailTrusted(), true);
  assert.equal(auth.requests.length, 2);
});

Deno.test("createEmailTrust() fails closed when the first read fails, and retries after 30 s", async () => {
  for (
    const [name, answer] of [
      ["HTTP 500", () => new Response("oops", { status: 500 })],
      ["a network error", () => Promise.reject(new TypeError("connection refused"))],
      ["no boolean mailer_autoconfirm", settings("false")],
      ["a body that is not JSON", () => new Response("<html>")],
    ] as const
  ) {
    const auth = fakeAuth(answer, settings(false));
    const { emailTrusted, lines, advance } = build(auth.fetch);
    assert.equal(await emailTrusted(), false, name);
    assert.deepEqual(lines.map((l) => l.reason), ["settings_unavailable"], name);
    advance(SETTINGS_RETRY_MS - 1);
    assert.equal(await emailTrusted(), false, name);
    assert.equal(auth.requests.length, 1, `${name}: no read before the retry`);
    advance(1);
    await emailTrusted();
    await settle();
    assert.equal(await emailTrusted(), true, `${name}: trusted once read`);
    assert.equal(auth.requests.length, 2, name);
  }
});

Deno.test("createEmailTrust() keeps the last value when a later read fails", async () => {
  const auth = fakeAuth(settings(false), () => new Response("down", { status: 503 }));
  const { emailTrusted, lines, advance } = build(auth.fetch);
  assert.equal(await emailTrusted(), true);
  advance(SETTINGS_REFRESH_MS);
  await emailTrusted();
  await settle();
  assert.equal(await emailTrusted(), true);
  assert.deepEqual(lines.map((l) => [l.reason, l.trusted, l.cause?.code]), [[
    "settings_unavailable",
    true,
    "503",
  ]]);
  assert.match(lines[0].effect, /last reading \(confirmations on\) stays/);
});

Deno.test("createEmailTrust() answers within its timeout when Auth hangs, never rejecting", async () => {
  const auth = fakeAuth(() => new Promise<Response>(() => {}));
  const { emailTrusted, lines } = build(auth.fetch, 50);
  const started = performance.now();
  assert.equal(await emailTrusted(), false);
  assert.ok(performance.now() - started < 1000);
  assert.deepEqual(lines.map((l) => l.reason), ["settings_unavailable"]);
});
