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
    // The workers that got no connection answer every request of theirs 503; the others may serve.
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
