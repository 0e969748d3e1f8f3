/**
 * The caller's transactions run once more when Postgres rolled them back for a concurrent one's sake
 * (40P01 deadlock detected, 40001 serialization failure), within the deadline; a second time is 409
 * `conflict`. A fake pool stands in for postgres.js: `begin()` runs the work with a `tx` that answers every
 * statement with no rows, and counts the transactions.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { createCallerTransactions } from "../../supabase/functions/_shared/core/caller.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";
import {
  type DatabasePool,
  isTransactionConflict,
  mapDatabaseError,
} from "../../supabase/functions/_shared/core/db.ts";
import { onlyRow } from "../../supabase/functions/_shared/management/input.ts";

function pgError(code: string, message = "from postgres"): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR" });
}

/** A pool whose transactions run `work` with a `tx` that returns no rows; `begun` counts them. */
function fakePool() {
  const state = { begun: 0 };
  const tx = (() => Promise.resolve([])) as unknown as postgres.TransactionSql;
  const pool = {
    sql: {
      begin: async (fn: (tx: postgres.TransactionSql) => Promise<unknown>) => {
        state.begun++;
        return await fn(tx);
      },
    },
    close: () => Promise.resolve(),
  } as unknown as DatabasePool;
  return { pool, state };
}

/** Work that throws the given errors, one per run, then answers `done`. */
function failing(...errors: Error[]) {
  return () => {
    const err = errors.shift();
    return err ? Promise.reject(err) : Promise.resolve("done");
  };
}

const claims = { sub: "00000000-0000-4000-8000-000000000000", role: "authenticated" };

Deno.test("a transaction that was a deadlock's victim once is run once more, and succeeds", async () => {
  const { pool, state } = fakePool();
  const run = createCallerTransactions({ pool, timeoutMs: 1000 });
  assert.equal(await run(claims, failing(pgError("40P01", "deadlock detected"))), "done");
  assert.equal(state.begun, 2);
});

Deno.test("a serialization failure (40001) is run once more too", async () => {
  const { pool, state } = fakePool();
  const run = createCallerTransactions({ pool, timeoutMs: 1000 });
  assert.equal(await run(claims, failing(pgError("40001"))), "done");
  assert.equal(state.begun, 2);
});

Deno.test("a second deadlock is 409 conflict, not a 500, and not a third try", async () => {
  const { pool, state } = fakePool();
  const run = createCallerTransactions({ pool, timeoutMs: 1000 });
  const second = pgError("40P01", "deadlock detected");
  await assert.rejects(run(claims, failing(pgError("40P01"), second, pgError("40P01"))), (err) => {
    assert.ok(err instanceof ApiError);
    assert.deepEqual([err.code, err.status], ["conflict", 409]);
    assert.equal(err.cause, second, "the cause is kept for the log");
    assert.doesNotMatch(err.message, /deadlock/, "no SQL detail reaches the caller");
    return true;
  });
  assert.equal(state.begun, 2);
});

Deno.test("other failures are not run again, and keep their mapping", async () => {
  const { pool, state } = fakePool();
  const run = createCallerTransactions({ pool, timeoutMs: 1000 });
  await assert.rejects(
    run(claims, failing(pgError("TNFND", "no such pending invitation"))),
    (err) => err instanceof ApiError && err.code === "not_found",
  );
  await assert.rejects(
    run(claims, failing(pgError("23505"))),
    (err) => err instanceof ApiError && err.code === "internal_error",
  );
  assert.equal(state.begun, 2, "one transaction each");
});

Deno.test("a deadlock after the deadline is not run again: the answer was 503", async () => {
  const { pool, state } = fakePool();
  const run = createCallerTransactions({ pool, timeoutMs: 30 });
  const slowDeadlock = () =>
    new Promise<string>((_, reject) => setTimeout(() => reject(pgError("40P01")), 60));
  await assert.rejects(
    run(claims, slowDeadlock),
    (err) => err instanceof ApiError && err.code === "database_unavailable",
  );
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(state.begun, 1);
});

Deno.test("isTransactionConflict() and mapDatabaseError(): 40P01 and 40001 are transient, 503 for the exchange", () => {
  assert.equal(isTransactionConflict(pgError("40P01")), true);
  assert.equal(isTransactionConflict(pgError("40001")), true);
  assert.equal(isTransactionConflict(pgError("40002")), false);
  assert.equal(isTransactionConflict(new Error("no code")), false);
  assert.equal(isTransactionConflict(null), false);
  for (const code of ["40P01", "40001"]) {
    const mapped = mapDatabaseError(pgError(code));
    assert.deepEqual([mapped.code, mapped.status], ["database_unavailable", 503], code);
  }
});

Deno.test("onlyRow() makes no row 404 not_found, never a 500", () => {
  assert.throws(() => onlyRow([]), (err) => err instanceof ApiError && err.status === 404);
  const row = { id: 1 } as unknown as postgres.Row;
  assert.equal(onlyRow([row]), row);
  assert.throws(() => onlyRow([row, row]), (err) => !(err instanceof ApiError));
});

Deno.test("the caller's one statement sets the session limits under tenancy.* and, for one release, exchange.*", async () => {
  // Each call of the tag answers a query object of its own, so a fragment nested in a statement is known.
  const statements: Array<{ text: string; values: unknown[]; query: object }> = [];
  const tx = ((strings: TemplateStringsArray, ...values: unknown[]) => {
    const query = Promise.resolve([]);
    statements.push({ text: strings.join("$"), values, query });
    return query;
  }) as unknown as postgres.TransactionSql;
  const pool = {
    sql: { begin: (fn: (tx: postgres.TransactionSql) => Promise<unknown>) => fn(tx) },
    close: () => Promise.resolve(),
  } as unknown as DatabasePool;
  const run = createCallerTransactions({
    pool,
    timeoutMs: 1000,
    sessions: { timeboxSeconds: 3600, inactivityTimeoutSeconds: 600, singlePerUser: true },
  });
  await run(claims, () => Promise.resolve("done"));
  // The settings are a fragment (the exchange puts them in its own statement), nested in the one statement.
  assert.equal(statements.length, 2, "one statement and its fragment of settings");
  const [fragment, statement] = statements;
  assert.ok(statement.values.includes(fragment.query), "one statement makes the transaction the caller's");
  assert.match(statement.text, /^select set_config\('statement_timeout', \$, true\), \$$/);
  assert.deepEqual(statement.values[0], "1000");
  const { text, values } = fragment;
  // Each set_config's value: a parameter (in order) or a literal.
  let parameter = 0;
  const settings = new Map(
    [...text.matchAll(/set_config\('([^']+)', (\$|'[^']*')/g)].map(([, name, value]) =>
      [name, value === "$" ? values[parameter++] : value.slice(1, -1)] as const
    ),
  );
  for (
    const [limit, value] of [
      ["session_timebox", "3600"],
      ["session_inactivity_timeout", "600"],
      ["session_single_per_user", "on"],
    ]
  ) {
    assert.equal(settings.get(`tenancy.${limit}`), value, limit);
    assert.equal(settings.get(`exchange.${limit}`), value, `${limit}, the old name`);
  }
  assert.equal(settings.has("tenancy.requested_tenant"), false, "the exchange passes it as an argument");
  assert.equal(settings.get("role"), "authenticated");
  assert.equal(settings.get("request.jwt.claims"), JSON.stringify(claims));
});
