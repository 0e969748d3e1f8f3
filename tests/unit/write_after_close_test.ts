/**
 * One of the two uncaught errors the function's pools drop (`_shared/core/db.ts`; the other is in
 * `type_query_failure_test.ts`): postgres.js 3.4.9 writing `rollback` to a connection that closed
 * mid-transaction; `deno task chaos` replays it through the stack by stopping Postgres under load.
 */
import assert from "node:assert/strict";
import { isWriteAfterClose } from "../../supabase/functions/_shared/core/db.ts";

/** The TypeError postgres.js 3.4.9 throws from a deferred write to a closed connection, with a given stack. */
function nullWrite(stack: string): TypeError {
  const error = new TypeError("Cannot read properties of null (reading 'write')");
  error.stack = stack;
  return error;
}

Deno.test("isWriteAfterClose() knows postgres.js's deferred write to a closed connection", () => {
  // As Deno 2.9.6 prints it (node_modules layout) and as Deno 2.1.4 does (its npm cache).
  assert.equal(
    isWriteAfterClose(nullWrite(
      "TypeError: Cannot read properties of null (reading 'write')\n" +
        "    at Immediate.nextWrite (file:///app/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)\n" +
        "    at Immediate.callback (ext:deno_node/internal/timers.mjs:4:3069)",
    )),
    true,
  );
  assert.equal(
    isWriteAfterClose(nullWrite(
      "TypeError: Cannot read properties of null (reading 'write')\n" +
        "    at nextWrite (file:///root/.cache/deno/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)\n" +
        "    at ext:deno_web/02_timers.js:35:14",
    )),
    true,
  );
});

Deno.test("isWriteAfterClose() knows the deferred write to a socket Postgres ended (a restart)", () => {
  // As a `deno task ok` run caught it, unhandled, in tests/function/tenancy_resolver_test.ts's restart.
  const ended = new Error("This socket has been ended by the other party");
  ended.stack = "Error: This socket has been ended by the other party\n" +
    "    at Socket._writeAfterFIN [as write] (ext:deno_node/net.ts:1:10175)\n" +
    "    at Immediate.nextWrite (file:///app/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)";
  assert.equal(isWriteAfterClose(ended), true);
  const elsewhere = new Error("This socket has been ended by the other party");
  elsewhere.stack = "Error: This socket has been ended by the other party\n" +
    "    at Socket._writeAfterFIN [as write] (ext:deno_node/net.ts:1:10175)\n" +
    "    at send (file:///app/dev/mailbox/smtp.ts:10:3)";
  assert.equal(isWriteAfterClose(elsewhere), false);
});

Deno.test("isWriteAfterClose() leaves any other uncaught error alone", () => {
  const elsewhere =
    "TypeError: Cannot read properties of null (reading 'write')\n    at nextWrite (file:///app/mine.ts:3:1)";
  assert.equal(isWriteAfterClose(nullWrite(elsewhere)), false);
  const other = new TypeError("x is not a function");
  other.stack = "TypeError: x\n    at nextWrite (file:///app/node_modules/postgres/src/connection.js:1:1)";
  assert.equal(isWriteAfterClose(other), false);
  assert.equal(isWriteAfterClose(new Error("Cannot read properties of null (reading 'write')")), false);
  assert.equal(isWriteAfterClose(undefined), false);
});
