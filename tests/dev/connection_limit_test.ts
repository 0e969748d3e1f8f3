/**
 * Many isolates against a project's connection limit, through the local stack: `exchange-token` served by
 * several workers (`functionWorkers`, as the platform runs a busy function in several isolates), each with
 * its own pool of 3 connections, and Postgres's `max_connections` lowered below workers × pool size. Connected
 * directly, the connections that do not fit are refused by Postgres ("sorry, too many clients already",
 * SQLSTATE 53300), and the exchanges that needed them answer 503 `database_unavailable` with `Retry-After`:
 * never a 500, never a hang. Through the transaction pooler, which holds a few server connections for every
 * client, every exchange succeeds. How to size pools on a project: docs/operations.md.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import type { PoolerMode } from "../../dev/pooler.ts";
import { createUser } from "../_users.ts";
import { RETRY_AFTER_SECONDS } from "../../supabase/functions/_shared/core/errors.ts";

/** Workers of the function, each with the pool of 3 a function isolate opens (`_shared/core/db.ts`). */
const WORKERS = 4;
const POOL_SIZE = 3;
/**
 * Postgres keeps 3 of these for superusers (`superuser_reserved_connections`), so 3 are left for everyone
 * else: the Auth emulator's pool holds 1 at rest, and at most 2 of the 4 workers ever get a connection (12
 * wanted). Through the pooler, PgBouncer gets the same 2 as its server connections (its pool of 5 waits on
 * Postgres's refusals and tries again) and serves every worker on them.
 */
const MAX_CONNECTIONS = 6;
/** Concurrent exchanges per round: enough for every worker to want its whole pool at once. */
const BURST = WORKERS * POOL_SIZE * 4;
const ROUNDS = 3;
/**
 * A bound on each request, far past the function's own database deadline (5 s), so that a hang fails the
 * test with a `TimeoutError` instead of stalling it; not a measure of speed.
 */
const HANG_MS = 30_000;

/** What the exchanges answered: the count of each status, and every refusal's `error` and `Retry-After`. */
interface Answers {
  byStatus: Record<number, number>;
  refusals: Array<{ status: number; error: unknown; retryAfter: string | null }>;
}

/**
 * Starts the stack with `WORKERS` workers per function and `MAX_CONNECTIONS`, runs `fn`, stops it. Through
 * the pooler the workers run on the tooling's Deno, as `deno task test`'s pooled suites do: on Deno 2.1.4,
 * postgres.js's TLS upgrade to PgBouncer (`sslmode=require`) never completes, and every exchange times out.
 */
async function withLimitedStack(dbPooler: PoolerMode | undefined, fn: (stack: LocalStack) => Promise<void>) {
  const stack = await startStack({
    functionWorkers: WORKERS,
    dbMaxConnections: MAX_CONNECTIONS,
    dbPooler,
    ...(dbPooler ? { edgeDenoVersion: Deno.version.deno } : {}),
  });
  try {
    await fn(stack);
  } finally {
    await stack.stop();
  }
}

/** `BURST` exchanges at once, `ROUNDS` times, through the gateway, for the users' tokens in turn. */
async function exchangeInBursts(stack: LocalStack, tokens: string[]): Promise<Answers> {
  const answers: Answers = { byStatus: {}, refusals: [] };
  for (let round = 0; round < ROUNDS; round++) {
    await Promise.all(Array.from({ length: BURST }, async (_, i) => {
      const res = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
        method: "POST",
        headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(HANG_MS),
      });
      answers.byStatus[res.status] = (answers.byStatus[res.status] ?? 0) + 1;
      const body = await res.json();
      if (res.status !== 200) {
        answers.refusals.push({
          status: res.status,
          error: body.error,
          retryAfter: res.headers.get("retry-after"),
        });
      }
    }));
  }
  return answers;
}

/**
 * Users with sessions and their access tokens, none exchanged yet: the first burst provisions them into the
 * seed's `demo` tenant, the next ones are returning users' exchanges.
 */
async function newUsers(stack: LocalStack, count: number): Promise<string[]> {
  // As the superuser, whose connection Postgres takes from its reserved ones when the rest are full.
  const admin = postgres(stack.postgres.url, { max: 1, onnotice: () => {} });
  try {
    const tokens = [];
    for (let i = 0; i < count; i++) {
      const user = await createUser(admin);
      tokens.push(await stack.auth.signAccessToken({ ...user.claims, iss: stack.auth.issuer }));
    }
    return tokens;
  } finally {
    await admin.end();
  }
}

Deno.test("over max_connections, direct workers answer 503 database_unavailable with Retry-After, never 500", async () => {
  await withLimitedStack(undefined, async (stack) => {
    const answers = await exchangeInBursts(stack, await newUsers(stack, BURST));
    // The workers that got no connection answer 503, and a refused connection retires a worker's pool, its
    // open connection with it (db.ts, reserve()): how many are served varies from run to run, none included.
    assert.ok(answers.byStatus[503] > 0, JSON.stringify(answers.byStatus));
    assert.deepEqual(
      Object.keys(answers.byStatus).filter((status) => status !== "200" && status !== "503"),
      [],
      JSON.stringify(answers.byStatus),
    );
    for (const refusal of answers.refusals) {
      assert.deepEqual(refusal, {
        status: 503,
        error: "database_unavailable",
        retryAfter: String(RETRY_AFTER_SECONDS),
      });
    }
    assert.equal((answers.byStatus[200] ?? 0) + answers.byStatus[503], BURST * ROUNDS);
  });
});

Deno.test("over max_connections, workers through the transaction pooler answer every exchange", async () => {
  await withLimitedStack("transaction", async (stack) => {
    const answers = await exchangeInBursts(stack, await newUsers(stack, BURST));
    assert.deepEqual(answers.byStatus, { 200: BURST * ROUNDS });
  });
});

/**
 * Opens connections as `postgres` (not a superuser, as the function's role) until Postgres refuses one
 * (53300, too many clients): the refusal the function's next new connection meets.
 */
async function takeFreeSlots(stack: LocalStack): Promise<postgres.Sql[]> {
  const held: postgres.Sql[] = [];
  for (;;) {
    const client = postgres(stack.dbUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      await client`select 1`;
      held.push(client);
    } catch (err) {
      await client.end({ timeout: 0 });
      assert.equal((err as { code?: string }).code, "53300", String(err));
      return held;
    }
  }
}

Deno.test("a worker whose new connections Postgres refused serves again once the refusal ends", async () => {
  const stack = await startStack({ functionWorkers: 1, dbMaxConnections: 12 });
  try {
    const tokens = await newUsers(stack, BURST);
    const exchange = async (token: string) => {
      const res = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(HANG_MS),
      });
      await res.body?.cancel();
      return res.status;
    };
    // One connection open in the worker, then every other slot taken: its pool's next ones are refused.
    assert.equal(await exchange(tokens[0]), 200);
    const held = await takeFreeSlots(stack);
    const during: Record<number, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const status of await Promise.all(tokens.map(exchange))) {
        during[status] = (during[status] ?? 0) + 1;
      }
    }
    assert.ok(during[503] > 0, JSON.stringify(during));
    await Promise.all(held.map((client) => client.end()));
    // Within 2 s of the slots coming back, and from then on, every exchange is served.
    const back = Date.now();
    while ((await exchange(tokens[0])) !== 200) {
      assert.ok(Date.now() - back < 2_000, "the worker still refuses 2 s after the refusal ended");
    }
    const after = await Promise.all(tokens.map(exchange));
    assert.deepEqual(after.filter((status) => status !== 200), [], JSON.stringify(during));
  } finally {
    await stack.stop();
  }
});
