import assert from "node:assert/strict";
import {
  createAuthApiBudget,
  hashToken,
  NEGATIVE_CACHE_MAX_ENTRIES,
  NEGATIVE_CACHE_TTL_MS,
} from "../../supabase/functions/_shared/core/auth_api_budget.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

function refusal(fn: () => void): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    return err;
  }
  throw new Error("expected a refusal");
}

Deno.test("admit() lets perSecond calls through at once, then answers 503 with Retry-After", () => {
  let now = 0;
  const budget = createAuthApiBudget({ perSecond: 5, now: () => now });
  for (let i = 0; i < 5; i++) budget.admit(`token-${i}`);
  const spent = refusal(() => budget.admit("token-5"));
  assert.equal(spent.code, "auth_unavailable");
  assert.equal(spent.status, 503);
  assert.equal(spent.headers["Retry-After"], "1");
  now += 200;
  budget.admit("token-6");
  assert.equal(refusal(() => budget.admit("token-7")).code, "auth_unavailable");
});

Deno.test("admit() refills at perSecond, never above the burst", () => {
  let now = 0;
  const budget = createAuthApiBudget({ perSecond: 3, now: () => now });
  now += 60_000;
  let admitted = 0;
  for (let i = 0; i < 10; i++) {
    try {
      budget.admit(`t${i}`);
      admitted++;
    } catch {
      // counted below
    }
  }
  assert.equal(admitted, 3);
});

Deno.test("admit() refuses a token Auth refused, for a minute, without spending the budget", () => {
  let now = 0;
  const budget = createAuthApiBudget({ perSecond: 1, now: () => now });
  budget.admit("forged");
  budget.refused("forged");
  now += 1_000;
  for (let i = 0; i < 100; i++) assert.equal(refusal(() => budget.admit("forged")).code, "invalid_token");
  budget.admit("another");
  now += NEGATIVE_CACHE_TTL_MS;
  budget.admit("forged");
});

Deno.test("refused() forgets the oldest refusal once it holds the most it may", () => {
  const now = 0;
  const budget = createAuthApiBudget({ perSecond: 1, now: () => now });
  for (let i = 0; i <= NEGATIVE_CACHE_MAX_ENTRIES; i++) budget.refused(`t${i}`);
  budget.admit("t0");
  assert.equal(refusal(() => budget.admit("t1")).code, "invalid_token");
});

Deno.test("hashToken() is the hex SHA-256 of the token", async () => {
  assert.equal(
    await hashToken("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
