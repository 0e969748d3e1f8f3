/**
 * The other uncaught error the function's pools drop: postgres.js 3.4.9's array-type query on a new connection
 * (`fetchArrayTypes()`), which nothing awaits, failing as the connection closes (`_shared/core/db.ts`). A pool
 * that has ended can still open such a connection (for a refused reservation left in its queue), so it is
 * dropped for the whole process, not only while a pool is open: `tests/function/tenancy_resolver_test.ts`'s
 * restart failed at random on it once its pool had closed.
 */
import assert from "node:assert/strict";
import { createDatabasePool } from "../../supabase/functions/_shared/core/db.ts";

// A pool connects lazily: these never do.
const NOWHERE = { databaseUrl: "postgres://u:p@127.0.0.1:1/db", timeoutMs: 1000, applicationName: "test" };

/** Leaves `reason` unhandled and tells whether a listener before ours prevented the default (a crash). */
async function droppedWhenUnhandled(reason: unknown): Promise<boolean> {
  const seen = Promise.withResolvers<boolean>();
  const listener = (event: PromiseRejectionEvent) => {
    if (event.reason !== reason) return;
    seen.resolve(event.defaultPrevented);
    event.preventDefault(); // Ours runs last: whatever it saw, the suite goes on.
  };
  globalThis.addEventListener("unhandledrejection", listener);
  try {
    Promise.reject(reason);
    return await seen.promise;
  } finally {
    globalThis.removeEventListener("unhandledrejection", listener);
  }
}

/** The error postgres.js rejects the type query with when its connection closes (connection.js `queryError`). */
function typeQueryFailure(): Error {
  return Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
    code: "CONNECTION_CLOSED",
    query: `
      select b.oid, b.typarray
      from pg_catalog.pg_type a
      left join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A'
      group by b.oid, b.typarray
      order by b.oid
    `,
  });
}

Deno.test("a failed type query is dropped while a pool is open, and after it has closed", async () => {
  const pool = createDatabasePool(NOWHERE);
  assert.equal(await droppedWhenUnhandled(typeQueryFailure()), true);
  await pool.close();
  assert.equal(await droppedWhenUnhandled(typeQueryFailure()), true);
});

Deno.test("any other unhandled rejection is left alone", async () => {
  const pool = createDatabasePool(NOWHERE);
  try {
    assert.equal(await droppedWhenUnhandled(new Error("write CONNECTION_CLOSED 127.0.0.1:5432")), false);
    const query = Object.assign(new Error("boom"), { query: "select * from tenancy.tenants" });
    assert.equal(await droppedWhenUnhandled(query), false);
  } finally {
    await pool.close();
  }
});
