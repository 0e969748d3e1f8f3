import assert from "node:assert/strict";
import { mapDatabaseError } from "../../supabase/functions/_shared/tenancy.ts";

function pgError(code: string): Error {
  return Object.assign(new Error("from postgres"), { code, severity: "ERROR" });
}
function connectionError(code: string): Error {
  return Object.assign(new Error("socket"), { code });
}

Deno.test("mapDatabaseError() maps the SQLSTATEs of tenancy.resolve_tenant() to 401 and 403", () => {
  assert.equal(mapDatabaseError(pgError("TNAUT")).code, "invalid_token");
  assert.equal(mapDatabaseError(pgError("TNNOT")).code, "no_tenant");
  assert.equal(mapDatabaseError(pgError("TNMEM")).code, "not_a_member");
});

Deno.test("mapDatabaseError() makes connection failures, shutdowns and timeouts 503 database_unavailable", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "ENOTFOUND"]) {
    assert.equal(mapDatabaseError(connectionError(code)).code, "database_unavailable", code);
  }
  for (const code of ["57P01", "57P03", "57014", "53300", "08006"]) {
    assert.equal(mapDatabaseError(pgError(code)).code, "database_unavailable", code);
  }
});

Deno.test("mapDatabaseError() makes a broken deployment server_misconfigured and anything else internal_error", () => {
  for (const code of ["28P01", "3D000", "42883", "42501", "3F000"]) {
    assert.equal(mapDatabaseError(pgError(code)).code, "server_misconfigured", code);
  }
  assert.equal(mapDatabaseError(pgError("23505")).code, "internal_error");
  assert.equal(mapDatabaseError(new TypeError("bug")).code, "internal_error");
  const err = pgError("TNMEM");
  assert.equal(mapDatabaseError(err).cause, err, "the cause is kept for the log");
});
