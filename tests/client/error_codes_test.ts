import assert from "node:assert/strict";
import { EXCHANGE_ERROR_CODES, isExchangeErrorCode } from "../../client/mod.ts";
import { STATUS_BY_CODE } from "../../supabase/functions/_shared/core/errors.ts";

// The client is a standalone browser module and keeps its own list; this keeps the two in step.
Deno.test("EXCHANGE_ERROR_CODES lists exactly the function's error codes", () => {
  assert.deepEqual([...EXCHANGE_ERROR_CODES].sort(), Object.keys(STATUS_BY_CODE).sort());
});

Deno.test("isExchangeErrorCode() knows every error code the function answers with, and no other", () => {
  for (const code of Object.keys(STATUS_BY_CODE)) assert.ok(isExchangeErrorCode(code), code);
  for (const code of ["not_signed_in", "network_error", "unsupported_grant_type", "Invalid JWT", 401]) {
    assert.equal(isExchangeErrorCode(code), false, String(code));
  }
});
