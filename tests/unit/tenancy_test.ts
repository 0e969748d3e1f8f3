import assert from "node:assert/strict";
import { mapDatabaseError } from "../../supabase/functions/_shared/core/db.ts";

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

Deno.test("mapDatabaseError() maps the management functions' SQLSTATEs, TNLIM with Retry-After", () => {
  const pg = (code: string, message = "", detail?: string) =>
    Object.assign(new Error(message), { code, detail });
  assert.deepEqual(
    [
      mapDatabaseError(pg("TNFND", "no such tenant among the caller's")).code,
      mapDatabaseError(pg("TNFND")).message,
    ],
    ["not_found", "Not found"],
  );
  const conflict = mapDatabaseError(
    pg("TNCFL", "the last owner cannot leave; make someone else owner first"),
  );
  assert.deepEqual([conflict.code, conflict.status, conflict.message], [
    "conflict",
    409,
    "The last owner cannot leave; make someone else owner first",
  ]);
  assert.equal(mapDatabaseError(pg("TNFBD", "only an owner invites an owner")).status, 403);
  assert.equal(mapDatabaseError(pg("TNBAD", "not an email address")).code, "invalid_request");
  const limited = mapDatabaseError(pg("TNLIM", "too many invitations sent in the last hour", "1799"));
  assert.deepEqual([limited.code, limited.status, limited.headers], ["rate_limited", 429, {
    "Retry-After": "1799",
  }]);
  assert.deepEqual(mapDatabaseError(pg("TNLIM", "x", "soon")).headers, {});
});
