/**
 * Unit tests of the browser client (`client/mod.ts`) with a fake clock and a recording fake of the
 * supabase-js surface it uses. The end-to-end tests against the local stack live elsewhere.
 *
 * @module
 */
import assert from "node:assert/strict";
import { FunctionsFetchError, FunctionsRelayError, type SupabaseClient } from "@supabase/supabase-js";
import {
  BackendSessionError,
  type BackendSessionOptions,
  type BackendToken,
  createBackendSession,
  type SupabaseLike,
} from "../../client/mod.ts";
import { FakeClock, FakeSupabase, httpError, settle, successBody } from "./_fakes.ts";

// A real SupabaseClient must fit the structural type (checked by `deno check`, nothing runs).
type Fits<T extends SupabaseLike> = T;
export type _SupabaseClientFits = Fits<SupabaseClient>;

const HOUR = 3_600_000;
const MARGIN = 60_000;

function setup(options: BackendSessionOptions = {}, userId: string | null = "user-a") {
  const clock = new FakeClock();
  const supabase = new FakeSupabase(userId);
  const session = createBackendSession(supabase, { now: clock.now, timers: clock, ...options });
  const changes: (BackendToken | null)[] = [];
  session.onTokenChange((token) => changes.push(token));
  return {
    clock,
    supabase,
    session,
    changes,
    [Symbol.dispose]() {
      session.dispose();
      assert.equal(clock.pending, 0, "dispose() leaves no timer behind");
    },
  };
}

/** Records the requests the session sends to the backend and answers with the given statuses. */
function recordingFetch(statuses: number[], onRequest?: (index: number) => void) {
  const requests: { url: string; method: string; authorization: string | null; body: string }[] = [];
  const fetch = async (request: Request) => {
    const index = requests.length;
    requests.push({
      url: request.url,
      method: request.method,
      authorization: request.headers.get("authorization"),
      body: await request.text(),
    });
    onRequest?.(index);
    const status = statuses[Math.min(index, statuses.length - 1)];
    return new Response(JSON.stringify({ index }), { status });
  };
  return { fetch, requests };
}

/** The cached token, read through a call so that assertions on it do not narrow its type. */
function current(t: { session: { readonly current: BackendToken | null } }): BackendToken | null {
  return t.session.current;
}

async function rejection(promise: Promise<unknown>): Promise<BackendSessionError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BackendSessionError, `expected a BackendSessionError, got ${err}`);
    return err;
  }
  assert.fail("expected a rejection");
}

// --- single flight and caching ---------------------------------------------------------------------

Deno.test("getToken() shares one exchange among 20 concurrent callers", async () => {
  using t = setup();
  t.supabase.autoReply = null;
  const calls = Array.from({ length: 20 }, () => t.session.getToken());
  await settle();
  assert.equal(t.supabase.invocations.length, 1);
  const body = successBody("user-a");
  t.supabase.invocations[0].reply({ data: body, error: null });
  const tokens = await Promise.all(calls);
  assert.deepEqual(new Set(tokens), new Set([body.backend_token]));
  assert.equal(t.supabase.invocations.length, 1);
  assert.equal(t.supabase.invocations[0].name, "exchange-token");
  assert.deepEqual(t.supabase.invocations[0].body, {});
});

Deno.test("getToken() reuses the cached token until the refresh margin", async () => {
  using t = setup({ autoRefresh: false });
  const first = await t.session.getToken();
  await t.clock.advance(HOUR - MARGIN - 1);
  assert.equal(await t.session.getToken(), first);
  assert.equal(t.supabase.invocations.length, 1);
  assert.equal(current(t)?.token, first);
});

Deno.test("getToken() exchanges again once the refresh margin is reached", async () => {
  using t = setup({ autoRefresh: false });
  const first = await t.session.getToken();
  await t.clock.advance(HOUR - MARGIN);
  const second = await t.session.getToken();
  assert.notEqual(second, first);
  assert.equal(t.supabase.invocations.length, 2);
  assert.equal(current(t)?.token, second);
});

Deno.test("getToken() honours a custom refresh margin", async () => {
  using t = setup({ autoRefresh: false, refreshMarginMs: 5 * 60_000 });
  const first = await t.session.getToken();
  await t.clock.advance(HOUR - 5 * 60_000 - 1);
  assert.equal(await t.session.getToken(), first);
  await t.clock.advance(1);
  assert.notEqual(await t.session.getToken(), first);
  assert.equal(t.supabase.invocations.length, 2);
});

Deno.test("the session refreshes the token in the background when the margin is reached", async () => {
  using t = setup();
  const first = await t.session.getToken();
  assert.equal(t.clock.pending, 1);
  await t.clock.advance(HOUR - MARGIN - 1);
  assert.equal(t.supabase.invocations.length, 1);
  await t.clock.advance(1);
  assert.equal(t.supabase.invocations.length, 2);
  const second = current(t)?.token;
  assert.ok(second && second !== first);
  assert.deepEqual(t.changes.map((c) => c?.token), [first, second]);
  assert.equal(await t.session.getToken(), second);
  assert.equal(t.supabase.invocations.length, 2);
});

Deno.test("a token that lives shorter than the margin is refreshed at half its lifetime", async () => {
  using t = setup({ autoRefresh: false });
  t.supabase.autoReply = (inv) => ({ data: successBody(inv.userId!, { expires_in: 60 }), error: null });
  const first = await t.session.getToken();
  await t.clock.advance(29_999);
  assert.equal(await t.session.getToken(), first);
  await t.clock.advance(1);
  assert.notEqual(await t.session.getToken(), first);
  assert.equal(t.supabase.invocations.length, 2);
});

// --- sign-out and user switch -----------------------------------------------------------------------

Deno.test("getToken() rejects with not_signed_in and never calls the function without a session", async () => {
  using t = setup({}, null);
  const err = await rejection(t.session.getToken());
  assert.equal(err.code, "not_signed_in");
  assert.equal(err.status, 0);
  assert.equal(t.supabase.invocations.length, 0);
});

Deno.test("SIGNED_OUT clears the cached token at once and the next getToken() rejects", async () => {
  using t = setup();
  const first = await t.session.getToken();
  t.supabase.emit("SIGNED_OUT", null);
  assert.equal(current(t), null);
  assert.deepEqual(t.changes.map((c) => c?.token ?? null), [first, null]);
  assert.equal(t.clock.pending, 0, "no refresh timer is left for a signed-out user");
  assert.equal((await rejection(t.session.getToken())).code, "not_signed_in");
  assert.equal(t.supabase.invocations.length, 1);

  t.supabase.emit("SIGNED_IN", "user-a");
  const again = await t.session.getToken();
  assert.notEqual(again, first);
  assert.equal(t.supabase.invocations.length, 2);
});

Deno.test("a different user clears the cached token and getToken() exchanges for the new user", async () => {
  using t = setup();
  const first = await t.session.getToken();
  t.supabase.emit("SIGNED_IN", "user-b");
  assert.equal(current(t), null);
  assert.equal(t.changes.at(-1), null);
  const second = await t.session.getToken();
  assert.notEqual(second, first);
  assert.equal(current(t)?.userId, "user-b");
  assert.equal(t.supabase.invocations[1].userId, "user-b");
});

Deno.test("TOKEN_REFRESHED for the same user keeps the cached token", async () => {
  using t = setup();
  const first = await t.session.getToken();
  t.supabase.emit("TOKEN_REFRESHED", "user-a");
  t.supabase.emit("INITIAL_SESSION", "user-a");
  assert.equal(await t.session.getToken(), first);
  assert.equal(t.supabase.invocations.length, 1);
});

Deno.test("getToken() never returns the previous user's token when the user changes mid-exchange", async () => {
  using t = setup();
  t.supabase.autoReply = null;
  t.supabase.ignoreAbort = true; // the old answer still arrives, as if the abort came too late
  const pending = t.session.getToken();
  await settle();
  const [old] = t.supabase.invocations;
  assert.equal(old.userId, "user-a");

  t.supabase.emit("SIGNED_IN", "user-b");
  assert.ok(old.signal?.aborted, "the exchange in flight is aborted");
  old.reply({ data: successBody("user-a"), error: null });
  await settle();

  assert.equal(t.supabase.invocations.length, 2);
  const fresh = successBody("user-b");
  t.supabase.invocations[1].reply({ data: fresh, error: null });
  assert.equal(await pending, fresh.backend_token);
  assert.equal(current(t)?.userId, "user-b");
  assert.ok(t.changes.every((c) => c === null || c.userId === "user-b"), "A's token was never published");
});

Deno.test("getToken() rejects when the user signs out mid-exchange", async () => {
  using t = setup();
  t.supabase.autoReply = null;
  const pending = t.session.getToken();
  await settle();
  t.supabase.emit("SIGNED_OUT", null);
  assert.equal((await rejection(pending)).code, "not_signed_in");
  assert.equal(current(t), null);
  assert.equal(t.supabase.invocations.length, 1);
});

Deno.test("getToken() does not hand out a token dropped before its caller resumed", async () => {
  using t = setup();
  // A listener signs the user out as soon as the token arrives, before getToken()'s caller runs.
  const unsubscribe = t.session.onTokenChange((token) => {
    if (token) t.supabase.emit("SIGNED_OUT", null);
  });
  const err = await rejection(t.session.getToken());
  unsubscribe();
  assert.equal(err.code, "not_signed_in");
  assert.equal(current(t), null);
});

Deno.test("getToken() discards an answer for another user than the session it read", async () => {
  using t = setup();
  // The session switches to B between getSession() and the request, before B's auth event arrives.
  t.supabase.autoReply = (inv) => {
    if (t.supabase.invocations.length === 1) {
      t.supabase.session = { user: { id: "user-b", email: "user-b@example.com" } };
      return { data: successBody("user-b"), error: null };
    }
    return { data: successBody(inv.userId!), error: null };
  };
  t.supabase.getSessionHook = () => {
    // getSession() of the first exchange still saw A.
    if (t.supabase.getSessionCalls === 1) return { user: { id: "user-a", email: null } };
  };
  const token = await t.session.getToken();
  assert.equal(t.supabase.invocations.length, 2);
  assert.equal(current(t)?.token, token);
  assert.equal(current(t)?.userId, "user-b");
  assert.equal(t.changes.filter((c) => c !== null).length, 1, "the mismatched answer was not cached");
});

// --- fetch ------------------------------------------------------------------------------------------

Deno.test("fetch() sends the backend token as a bearer Authorization header", async () => {
  const backend = recordingFetch([200]);
  using t = setup({ fetch: backend.fetch });
  const res = await t.session.fetch("https://api.example.test/items", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"a":1}',
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const token = await t.session.getToken();
  assert.deepEqual(backend.requests, [{
    url: "https://api.example.test/items",
    method: "POST",
    authorization: `Bearer ${token}`,
    body: '{"a":1}',
  }]);
});

Deno.test("fetch() exchanges once more and retries once after a 401 from the backend", async () => {
  const backend = recordingFetch([401, 200]);
  using t = setup({ fetch: backend.fetch });
  const res = await t.session.fetch("https://api.example.test/items", { method: "PUT", body: "payload" });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { index: 1 });
  assert.equal(t.supabase.invocations.length, 2);
  assert.equal(backend.requests.length, 2);
  const [first, second] = backend.requests;
  assert.notEqual(first.authorization, second.authorization);
  assert.equal(second.authorization, `Bearer ${current(t)?.token}`);
  assert.equal(second.body, "payload", "the body is sent again");
});

Deno.test("fetch() returns a second 401 without retrying again", async () => {
  const backend = recordingFetch([401]);
  using t = setup({ fetch: backend.fetch });
  const res = await t.session.fetch("https://api.example.test/items");
  assert.equal(res.status, 401);
  await res.body?.cancel();
  assert.equal(backend.requests.length, 2);
  assert.equal(t.supabase.invocations.length, 2);
});

Deno.test("fetch() shares one exchange among concurrent requests that get a 401", async () => {
  let rejected = "";
  const seen: (string | null)[] = [];
  const fetch = (request: Request) => {
    const authorization = request.headers.get("authorization");
    seen.push(authorization);
    return Promise.resolve(
      new Response(null, { status: authorization === `Bearer ${rejected}` ? 401 : 204 }),
    );
  };
  using t = setup({ fetch });
  rejected = await t.session.getToken();
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => t.session.fetch("https://api.example.test/")),
  );
  assert.deepEqual(responses.map((r) => r.status), [204, 204, 204, 204, 204]);
  assert.equal(seen.length, 10);
  assert.equal(t.supabase.invocations.length, 2, "one exchange for the first token, one for all five 401s");
});

Deno.test("fetch() does not replay a request as another user after a 401", async () => {
  let duringRequest = () => {};
  const backend = recordingFetch([401, 200], () => duringRequest());
  using t = setup({ fetch: backend.fetch });
  duringRequest = () => t.supabase.emit("SIGNED_IN", "user-b");
  const res = await t.session.fetch("https://api.example.test/items");
  assert.equal(res.status, 401);
  await res.body?.cancel();
  assert.equal(backend.requests.length, 1);
  assert.equal(current(t)?.userId, "user-b");
});

// --- tenants ----------------------------------------------------------------------------------------

Deno.test("selectTenant() changes the exchange body and drops the cached token", async () => {
  using t = setup();
  const first = await t.session.getToken();
  t.session.selectTenant("acme");
  assert.equal(current(t), null);
  assert.equal(t.changes.at(-1), null);
  const second = await t.session.getToken();
  assert.notEqual(second, first);
  assert.deepEqual(t.supabase.invocations.map((i) => i.body), [{}, { tenant_id: "acme" }]);
  assert.equal(current(t)?.tenantId, "acme");

  t.session.selectTenant("acme");
  assert.equal(current(t)?.token, second, "choosing the same tenant keeps the token");

  t.session.selectTenant(null);
  await t.session.getToken();
  assert.deepEqual(t.supabase.invocations.at(-1)?.body, {});
  assert.throws(() => t.session.selectTenant(""), TypeError);
});

Deno.test("selectTenant() during an exchange never hands out the previous tenant's token", async () => {
  using t = setup();
  t.supabase.autoReply = null;
  t.supabase.ignoreAbort = true;
  const pending = t.session.getToken();
  await settle();
  t.session.selectTenant("acme");
  t.supabase.invocations[0].reply({ data: successBody("user-a"), error: null });
  await settle();
  assert.deepEqual(t.supabase.invocations[1].body, { tenant_id: "acme" });
  const acme = successBody("user-a", { tenant_id: "acme" });
  t.supabase.invocations[1].reply({ data: acme, error: null });
  assert.equal(await pending, acme.backend_token);
});

Deno.test("a user switch resets the tenant to the initial choice", async () => {
  using t = setup({ tenantId: "home" });
  await t.session.getToken();
  t.session.selectTenant("acme");
  await t.session.getToken();
  t.supabase.emit("SIGNED_IN", "user-b");
  await t.session.getToken();
  assert.deepEqual(t.supabase.invocations.map((i) => i.body), [
    { tenant_id: "home" },
    { tenant_id: "acme" },
    { tenant_id: "home" },
  ]);
});

// --- errors -----------------------------------------------------------------------------------------

Deno.test("getToken() rejects with a BackendSessionError carrying the contract's code and status", async () => {
  const cases = [
    {
      result: httpError(403, { error: "not_a_member", message: "Not yours" }),
      code: "not_a_member",
      status: 403,
    },
    { result: httpError(403, { error: "no_tenant", message: "None" }), code: "no_tenant", status: 403 },
    {
      result: httpError(401, { error: "invalid_token", message: "Expired" }),
      code: "invalid_token",
      status: 401,
    },
    { result: httpError(401, { code: 401, message: "Invalid JWT" }), code: "invalid_token", status: 401 },
    {
      result: httpError(401, { error: "insufficient_user_authentication", message: "Verify a factor" }),
      code: "insufficient_user_authentication",
      status: 401,
    },
    { result: httpError(502, "<html>Bad gateway</html>"), code: "unexpected_response", status: 502 },
    {
      result: httpError(500, { error: "server_misconfigured", message: "x" }),
      code: "server_misconfigured",
      status: 500,
    },
    {
      result: { data: null, error: new FunctionsRelayError(new Response("", { status: 502 })) },
      code: "relay_error",
      status: 502,
    },
    {
      result: { data: null, error: new FunctionsFetchError(new TypeError("Failed to fetch")) },
      code: "network_error",
      status: 0,
    },
    { result: { data: { user_id: "user-a" }, error: null }, code: "unexpected_response", status: 200 },
  ];
  for (const { result, code, status } of cases) {
    using t = setup({ retryDelaysMs: [] });
    t.supabase.autoReply = () => result;
    const err = await rejection(t.session.getToken());
    assert.equal(err.code, code, `code for ${JSON.stringify({ code, status })}`);
    assert.equal(err.status, status);
    assert.equal(err.name, "BackendSessionError");
    assert.ok(err.cause !== undefined || code === "unexpected_response");
  }
});

Deno.test("getToken() passes on the function's message and Retry-After", async () => {
  using t = setup();
  t.supabase.autoReply = () =>
    httpError(503, { error: "database_unavailable", message: "Try again shortly" }, { "retry-after": "5" });
  const err = await rejection(t.session.getToken());
  assert.equal(err.code, "database_unavailable");
  assert.equal(err.status, 503);
  assert.equal(err.retryAfter, 5);
  assert.equal(err.message, "Try again shortly");
});

for (const code of ["invalid_token", "insufficient_user_authentication"]) {
  Deno.test(`a refresh refused with ${code} drops the token`, async () => {
    using t = setup({ autoRefresh: false });
    await t.session.getToken();
    await t.clock.advance(HOUR - MARGIN);
    t.supabase.autoReply = () => httpError(401, { error: code, message: "Session revoked" });
    assert.equal((await rejection(t.session.getToken())).code, code);
    assert.equal(current(t), null);
    assert.equal(t.changes.at(-1), null);
  });
}

// --- the Edge runtime's own answers ------------------------------------------------------------------

/** The answers the Edge runtime sends for a function it could not run (no CORS, no Retry-After). */
const RUNTIME_ANSWERS = [
  [503, "BOOT_ERROR", "Worker failed to boot (please check logs)"],
  [500, "WORKER_ERROR", "Function exited due to an error (please check logs)"],
  [546, "WORKER_LIMIT", "Worker failed to respond due to a resource limit (please check logs)"],
] as const;

/** Waits, in real time, for the retry's timer: the session reads an error answer's body asynchronously. */
async function retryScheduled(clock: FakeClock) {
  for (let i = 0; clock.pending === 0; i++) {
    assert.ok(i < 500, "no retry was scheduled");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("the Edge runtime's BOOT_ERROR, WORKER_ERROR and WORKER_LIMIT are relay_error", async () => {
  for (const [status, code, message] of RUNTIME_ANSWERS) {
    using t = setup({ retryDelaysMs: [] });
    t.supabase.autoReply = () => httpError(status, { code, message });
    const err = await rejection(t.session.getToken());
    assert.equal(err.code, "relay_error", code);
    assert.equal(err.status, status);
    assert.equal(err.message, message);
    assert.equal(err.retryAfter, undefined);
  }
});

Deno.test("after a runtime error the session tries again after its own backoff, and gets the token", async () => {
  using t = setup();
  const answers = [httpError(546, { code: "WORKER_LIMIT", message: "limit" })];
  t.supabase.autoReply = (inv) => answers.shift() ?? { data: successBody(inv.userId!), error: null };
  const pending = t.session.getToken();
  await retryScheduled(t.clock);
  await t.clock.advance(499);
  assert.equal(t.supabase.invocations.length, 1, "no second try before the first delay");
  await t.clock.advance(1);
  assert.equal(t.supabase.invocations.length, 2);
  const token = await pending;
  assert.equal(token, current(t)?.token);
});

Deno.test("a runtime error on every try is relay_error after the backoff's tries", async () => {
  using t = setup();
  t.supabase.autoReply = () => httpError(500, { code: "WORKER_ERROR", message: "crashed" });
  let settled: BackendSessionError | undefined;
  t.session.getToken().catch((err) => settled = err);
  await retryScheduled(t.clock);
  await t.clock.advance(500);
  assert.equal(t.supabase.invocations.length, 2);
  await retryScheduled(t.clock);
  await t.clock.advance(1999);
  assert.equal(t.supabase.invocations.length, 2);
  assert.equal(settled as unknown, undefined, "not before the last try");
  await t.clock.advance(1);
  assert.equal(t.supabase.invocations.length, 3);
  while (!settled) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(settled?.code, "relay_error");
  assert.equal(settled?.status, 500);
});

Deno.test("a Retry-After on a relay error sets the wait and is passed on", async () => {
  using t = setup({ retryDelaysMs: [100] });
  t.supabase.autoReply = () =>
    httpError(503, { code: "BOOT_ERROR", message: "Worker failed to boot" }, { "retry-after": "3" });
  let settled: BackendSessionError | undefined;
  t.session.getToken().catch((err) => settled = err);
  await retryScheduled(t.clock);
  await t.clock.advance(2999);
  assert.equal(t.supabase.invocations.length, 1, "Retry-After, not the 100 ms backoff");
  await t.clock.advance(1);
  assert.equal(t.supabase.invocations.length, 2);
  while (!settled) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(settled?.code, "relay_error");
  assert.equal(settled?.retryAfter, 3);
});

Deno.test("only relay_error is retried: the function's own 503 is not", async () => {
  using t = setup();
  t.supabase.autoReply = () =>
    httpError(503, { error: "database_unavailable", message: "x" }, { "retry-after": "5" });
  assert.equal((await rejection(t.session.getToken())).code, "database_unavailable");
  assert.equal(t.supabase.invocations.length, 1);
  assert.equal(t.clock.pending, 0, "no retry is scheduled");
});

Deno.test("a user change during the backoff ends the wait, and the new user's exchange starts at once", async () => {
  using t = setup();
  t.supabase.autoReply = (inv) =>
    inv.userId === "user-a"
      ? httpError(546, { code: "WORKER_LIMIT", message: "limit" })
      : { data: successBody(inv.userId!), error: null };
  const pending = t.session.getToken();
  await retryScheduled(t.clock);
  t.supabase.emit("SIGNED_IN", "user-b");
  const token = await pending;
  assert.equal(current(t)?.userId, "user-b");
  assert.equal(token, current(t)?.token);
  assert.deepEqual(t.supabase.invocations.map((i) => i.userId), ["user-a", "user-b"]);
});

Deno.test("retryDelaysMs must be a list of non-negative milliseconds", () => {
  for (const retryDelaysMs of [[-1], [Number.NaN], "500" as unknown as number[]]) {
    assert.throws(
      () => createBackendSession(new FakeSupabase(), { retryDelaysMs }),
      TypeError,
      JSON.stringify(retryDelaysMs),
    );
  }
});

Deno.test("a refresh refused with invalid_token drops the token", async () => {
  using t = setup({ autoRefresh: false });
  await t.session.getToken();
  await t.clock.advance(HOUR - MARGIN);
  t.supabase.autoReply = () => httpError(401, { error: "invalid_token", message: "Session revoked" });
  assert.equal((await rejection(t.session.getToken())).code, "invalid_token");
  assert.equal(current(t), null);
  assert.equal(t.changes.at(-1), null);
});

Deno.test("a refresh that fails for a passing reason keeps serving the still-valid token", async () => {
  using t = setup({ autoRefresh: false });
  const first = await t.session.getToken();
  await t.clock.advance(HOUR - MARGIN);
  t.supabase.autoReply = () => httpError(503, { error: "auth_unavailable", message: "Later" });
  assert.equal(await t.session.getToken(), first);
  assert.equal(t.supabase.invocations.length, 2);
  await t.clock.advance(MARGIN);
  assert.equal((await rejection(t.session.getToken())).code, "auth_unavailable", "not once it has expired");
});

// --- listeners, clear, dispose ----------------------------------------------------------------------

Deno.test("onTokenChange() notifies new tokens and clearing until unsubscribed", async () => {
  using t = setup();
  const seen: (string | null)[] = [];
  const unsubscribe = t.session.onTokenChange((token) => seen.push(token?.token ?? null));
  const first = await t.session.getToken();
  t.session.clear();
  const second = await t.session.getToken();
  unsubscribe();
  t.supabase.emit("SIGNED_OUT", null);
  assert.deepEqual(seen, [first, null, second]);
  assert.equal(t.changes.at(-1), null, "other listeners still hear about it");
});

Deno.test("clear() drops the token and aborts an exchange in flight", async () => {
  using t = setup();
  const first = await t.session.getToken();
  t.session.clear();
  assert.equal(current(t), null);
  assert.deepEqual(t.changes.map((c) => c?.token ?? null), [first, null]);

  t.supabase.autoReply = null;
  const pending = t.session.getToken();
  await settle();
  const inFlight = t.supabase.invocations[1];
  t.session.clear();
  assert.ok(inFlight.signal?.aborted);
  await settle();
  // The waiting caller started over with a fresh exchange.
  assert.equal(t.supabase.invocations.length, 3);
  const fresh = successBody("user-a");
  t.supabase.invocations[2].reply({ data: fresh, error: null });
  assert.equal(await pending, fresh.backend_token);
});

Deno.test("dispose() unsubscribes from auth, cancels the timer and refuses later calls", async () => {
  const t = setup();
  await t.session.getToken();
  assert.equal(t.supabase.listenerCount, 1);
  assert.equal(t.clock.pending, 1);
  t.session.dispose();
  assert.equal(t.supabase.listenerCount, 0);
  assert.equal(t.clock.pending, 0);
  assert.equal(current(t), null);
  assert.equal((await rejection(t.session.getToken())).code, "disposed");
});
