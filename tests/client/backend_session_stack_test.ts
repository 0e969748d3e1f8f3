/**
 * The browser client (`client/mod.ts`) against the local stack: a real supabase-js client signs in at the
 * Auth emulator through the gateway, and `createBackendSession` exchanges through the real function and
 * Postgres. The only seams are supabase-js's own `global.fetch` option (to count exchanges and to hold one
 * back) and the session's `now` and `timers` options (to reach the refresh margin without waiting 7 days).
 * A small HTTP server stands in for the Python API and verifies the backend tokens (HS256, the shared
 * secret) as PyJWT would.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { jwtVerify } from "jose";
import { type BackendToken, createBackendSession } from "../../client/mod.ts";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

const ADA = "ada@example.com"; // joins the seed's `demo` tenant
const BOB = "bob@elsewhere.test"; // gets a personal tenant

/** The backend token's claims, verified as the Python API does (HS256 and the shared secret). */
async function claimsOf(stack: LocalStack, token: string): Promise<Record<string, unknown>> {
  const { payload } = await jwtVerify(token, new TextEncoder().encode(stack.backendJwtSecret), {
    algorithms: ["HS256"],
  });
  return payload;
}

/** A supabase-js client whose requests to the function are counted and, on demand, held back. */
function clientFor(stack: LocalStack) {
  const exchanges: { authorization: string | null }[] = [];
  let gate: Promise<void> | null = null;
  const supabase = createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: {
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const request = new Request(input, init);
        if (!new URL(request.url).pathname.endsWith("/functions/v1/exchange-token")) {
          return await fetch(request);
        }
        exchanges.push({ authorization: request.headers.get("authorization") });
        if (gate) {
          // Held back: the exchange reaches the function later, and its answer comes back even if the
          // caller aborted (a slow network does not honour aborts either).
          const held = gate;
          const unsignaled = new Request(request, { signal: null });
          await held;
          return await fetch(unsignaled);
        }
        return await fetch(request);
      },
    },
  });
  return {
    supabase,
    exchanges,
    /** Holds exchanges until the returned function is called. */
    hold(): () => void {
      const { promise, resolve } = Promise.withResolvers<void>();
      gate = promise;
      return () => {
        gate = null;
        resolve();
      };
    },
  };
}

async function signIn(supabase: SupabaseClient, email: string): Promise<string> {
  const { data, error } = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(error, null);
  return data.user!.id;
}

/** Timers the test fires by hand. */
class ManualTimers {
  #next = 1;
  readonly scheduled = new Map<number, { callback: () => void; ms: number }>();
  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.scheduled.set(id, { callback, ms });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.scheduled.delete(handle as number);
  };
  fireAll(): void {
    const due = [...this.scheduled.values()];
    this.scheduled.clear();
    for (const { callback } of due) callback();
  }
}

/** A stand-in for the Python API: verifies the backend token, and answers 401 as told. */
function startPythonApi(stack: LocalStack, reject: (index: number) => boolean) {
  const seen: { userId: unknown; body: string; status: number }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const index = seen.length;
    const body = await req.text();
    const token = req.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    let userId: unknown = null;
    try {
      userId = (await claimsOf(stack, token)).user_id;
    } catch {
      // Not a valid backend token: 401 below.
    }
    const status = userId === null || reject(index) ? 401 : 200;
    seen.push({ userId, body, status });
    return Response.json({ index }, { status });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, stop: () => server.shutdown() };
}

Deno.test("createBackendSession() with supabase-js against the local stack", async (t) => {
  const stack = await startStack();
  try {
    const ids: Record<string, string> = {};
    for (const email of [ADA, BOB]) {
      // Confirmations are on (config.toml): each address is confirmed through the stack's mailbox.
      const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
      ids[email] = (await signUpByMail(mailed, email, PASSWORD)).userId;
    }

    await t.step("getToken() from 20 concurrent callers makes one exchange", async () => {
      const { supabase, exchanges } = clientFor(stack);
      await signIn(supabase, ADA);
      const backend = createBackendSession(supabase);
      try {
        const tokens = await Promise.all(Array.from({ length: 20 }, () => backend.getToken()));
        assert.equal(exchanges.length, 1);
        assert.equal(new Set(tokens).size, 1);
        const claims = await claimsOf(stack, tokens[0]);
        assert.equal(claims.user_id, ids[ADA]);
        assert.equal(claims.tenant_id, "demo");

        assert.equal(await backend.getToken(), tokens[0], "a later call is served from the cache");
        assert.equal(exchanges.length, 1);
      } finally {
        backend.dispose();
      }
    });

    await t.step("the token is reused up to the refresh margin and then exchanged again", async () => {
      const { supabase, exchanges } = clientFor(stack);
      await signIn(supabase, ADA);
      let skew = 0;
      const now = () => Date.now() + skew;
      const timers = new ManualTimers();
      const backend = createBackendSession(supabase, { now, timers, refreshMarginMs: 60_000 });
      const changes: (BackendToken | null)[] = [];
      backend.onTokenChange((token) => changes.push(token));
      try {
        await backend.getToken();
        const first = backend.current!;
        assert.equal(exchanges.length, 1);
        const refreshAt = first.expiresAt - 60_000;
        const [timer] = [...timers.scheduled.values()];
        assert.ok(Math.abs(now() + timer.ms - refreshAt) < 1_000, "one refresh timer, due at the margin");
        assert.ok(timer.ms > 604_800_000 - 61_000 - 5_000, "7 days minus the margin away");

        skew = refreshAt - Date.now() - 1_000;
        assert.equal(await backend.getToken(), first.token, "1 s before the margin: the cached token");
        assert.equal(exchanges.length, 1);

        // The background timer fires past the margin: one exchange, listeners get the new token.
        skew = refreshAt - Date.now() + 1;
        timers.fireAll();
        await waitFor(() => changes.length === 2);
        assert.equal(exchanges.length, 2);
        const second = changes[1]!;
        assert.ok(second.expiresAt > first.expiresAt);
        assert.equal((await claimsOf(stack, second.token)).user_id, ids[ADA]);
        assert.equal(await backend.getToken(), second.token);
        assert.equal(exchanges.length, 2);

        // Without the timer, getToken() itself exchanges once the margin is reached.
        timers.scheduled.clear();
        skew = second.expiresAt - 60_000 - Date.now() + 1;
        await backend.getToken();
        assert.equal(exchanges.length, 3);
      } finally {
        backend.dispose();
      }
    });

    await t.step("signing out drops the token and later calls need a new sign-in", async () => {
      const { supabase, exchanges } = clientFor(stack);
      await signIn(supabase, ADA);
      const backend = createBackendSession(supabase);
      const changes: (BackendToken | null)[] = [];
      backend.onTokenChange((token) => changes.push(token));
      try {
        await backend.getToken();
        assert.ok(backend.current);
        const { error } = await supabase.auth.signOut();
        assert.equal(error, null);
        assert.equal(backend.current, null);
        assert.equal(changes.at(-1), null, "listeners are told at once");
        await assert.rejects(backend.getToken(), { name: "BackendSessionError", code: "not_signed_in" });
        assert.equal(exchanges.length, 1);
      } finally {
        backend.dispose();
      }
    });

    await t.step("after a switch of user the previous user's token is never handed out", async () => {
      const { supabase, exchanges, hold } = clientFor(stack);
      await signIn(supabase, ADA);
      const backend = createBackendSession(supabase);
      const changes: (BackendToken | null)[] = [];
      backend.onTokenChange((token) => changes.push(token));
      try {
        const adaToken = await backend.getToken();
        assert.equal((await claimsOf(stack, adaToken)).user_id, ids[ADA]);

        // Signing in as someone else on the same client: the next token is theirs.
        await signIn(supabase, BOB);
        assert.equal(backend.current, null);
        const bobClaims = await claimsOf(stack, await backend.getToken());
        assert.equal(bobClaims.user_id, ids[BOB]);
        assert.notEqual(bobClaims.tenant_id, "demo", "Bob's personal tenant");

        // Ada's exchange is on the wire when Bob signs in, and its answer arrives afterwards.
        await signIn(supabase, ADA);
        const release = hold();
        const asked = exchanges.length;
        const early = backend.getToken().then((token) => token, (err) => err);
        await waitFor(() => exchanges.length === asked + 1);
        changes.length = 0;
        await signIn(supabase, BOB);
        const late = backend.getToken();
        release();
        const lateClaims = await claimsOf(stack, await late);
        assert.equal(lateClaims.user_id, ids[BOB]);
        const earlyResult = await early;
        if (typeof earlyResult === "string") {
          assert.equal((await claimsOf(stack, earlyResult)).user_id, ids[BOB]);
        } else {
          assert.equal(earlyResult.code, "session_changed");
        }
        assert.ok(exchanges.length >= asked + 2, "Ada's exchange was answered, then Bob's was made");
        for (const token of changes) assert.notEqual(token?.userId, ids[ADA], "no listener saw Ada's token");
        assert.equal(currentOf(backend)?.userId, ids[BOB]);
      } finally {
        backend.dispose();
      }
    });

    await t.step("fetch() exchanges again and retries once when the API answers 401", async () => {
      const { supabase, exchanges } = clientFor(stack);
      await signIn(supabase, ADA);
      const backend = createBackendSession(supabase);
      const once = startPythonApi(stack, (index) => index === 0);
      const always = startPythonApi(stack, () => true);
      try {
        const ok = await backend.fetch(`${once.url}/items`, { method: "POST", body: '{"name":"x"}' });
        assert.equal(ok.status, 200);
        assert.deepEqual(await ok.json(), { index: 1 });
        assert.equal(exchanges.length, 2, "one exchange, then one more after the 401");
        assert.deepEqual(once.seen.map((s) => [s.status, s.userId, s.body]), [
          [401, ids[ADA], '{"name":"x"}'],
          [200, ids[ADA], '{"name":"x"}'],
        ]);

        const refused = await backend.fetch(`${always.url}/items`);
        assert.equal(refused.status, 401, "a second 401 is returned as is");
        await refused.body?.cancel();
        assert.equal(always.seen.length, 2, "retried once, not more");
        assert.equal(exchanges.length, 3);
      } finally {
        backend.dispose();
        await once.stop();
        await always.stop();
      }
    });
  } finally {
    await stack.stop();
  }
});

/** The cached token, read through a call so that an earlier assertion does not narrow its type. */
function currentOf(backend: { readonly current: BackendToken | null }): BackendToken | null {
  return backend.current;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("a worker past its wall clock answers 546, and the session's retry reaches a fresh one", async () => {
  // A wall clock of 1 s instead of the runtime's 400 s, and an exchange whose body is held back: the
  // function waits for it until its worker is ended.
  const stack = await startStack({ functionWallClockLimitMs: 1000 });
  try {
    // Confirmations are on (config.toml): the address is confirmed through the stack's mailbox.
    await signUpByMail(
      { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
      ADA,
      PASSWORD,
    );
    const statuses: number[] = [];
    let stall = true;
    const supabase = createClient(stack.apiUrl, stack.publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: {
        fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
          const request = new Request(input, init);
          if (!new URL(request.url).pathname.endsWith("/functions/v1/exchange-token")) {
            return await fetch(request);
          }
          let response: Response;
          if (stall) {
            stall = false;
            const bytes = new Uint8Array(await request.arrayBuffer());
            const answered = Promise.withResolvers<void>();
            const body = new ReadableStream<Uint8Array>({
              async pull(controller) {
                // Until the answer is in (or 5 s, should fetch wait for the whole body first).
                await Promise.race([answered.promise, new Promise((resolve) => setTimeout(resolve, 5000))]);
                controller.enqueue(bytes);
                controller.close();
              },
            });
            response = await fetch(request.url, { method: request.method, headers: request.headers, body });
            answered.resolve();
          } else {
            response = await fetch(request);
          }
          statuses.push(response.status);
          return response;
        },
      },
    });
    const userId = await signIn(supabase, ADA);
    const firstWorker = stack.functionPid;
    const backend = createBackendSession(supabase, { retryDelaysMs: [50] });
    try {
      const token = await backend.getToken();
      assert.deepEqual(statuses, [546, 200]);
      assert.equal((await claimsOf(stack, token)).user_id, userId);
      assert.notEqual(stack.functionPid, firstWorker, "served by a fresh worker");
    } finally {
      backend.dispose();
    }
  } finally {
    await stack.stop();
  }
});
