import assert from "node:assert/strict";
import { describeCause, logLevel, redact } from "../../supabase/functions/_shared/core/log.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

Deno.test("logLevel() warns on outages, errors on other 5xx, and is info for everything else", () => {
  assert.equal(logLevel(503, "auth_unavailable"), "warn");
  assert.equal(logLevel(503, "database_unavailable"), "warn");
  assert.equal(logLevel(500, "internal_error"), "error");
  assert.equal(logLevel(500, "server_misconfigured"), "error");
  assert.equal(logLevel(401, "invalid_token"), "info");
  assert.equal(logLevel(403, "not_a_member"), "info");
  assert.equal(logLevel(200, "ok"), "info");
  assert.equal(logLevel(204, "preflight"), "info");
});

Deno.test("describeCause() keeps class and code, and the redacted message only of an unexpected error", () => {
  assert.deepEqual(describeCause(new ApiError("no_tenant", "No tenant for a@example.com")), {
    name: "ApiError",
    code: "no_tenant",
  });
  assert.deepEqual(
    describeCause(Object.assign(new Error("connect refused by a@example.com"), { code: "ECONNREFUSED" })),
    { name: "Error", code: "ECONNREFUSED" },
  );
  assert.deepEqual(describeCause(new TypeError("bad eyJhbGc.eyJzdWIi.c2ln")), {
    name: "TypeError",
    message: "bad [token]",
  });
  assert.deepEqual(describeCause("a string"), { name: "string" });
  assert.equal(describeCause(new Error("x".repeat(1000))).message?.length, 300);
});

Deno.test("redact() removes tokens, emails and Supabase keys", () => {
  assert.equal(
    redact("bad eyJhbGc.eyJzdWIi.c2ln for a.b@example.com key sb_secret_abc"),
    "bad [token] for [email] key [key]",
  );
});
