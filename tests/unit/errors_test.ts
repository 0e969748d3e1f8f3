import assert from "node:assert/strict";
import {
  ApiError,
  bearerChallenge,
  OAuthRequestError,
  RETRY_AFTER_SECONDS,
  STATUS_BY_CODE,
  toErrorResponse,
} from "../../supabase/functions/_shared/core/errors.ts";

// The exchange's realm and methods, which its errors are rendered for.
const EXCHANGE = { realm: "exchange-token", allow: "POST, OPTIONS" };

Deno.test("STATUS_BY_CODE matches the tables of docs/contract.md §2 and docs/tenants.md", () => {
  assert.deepEqual({ ...STATUS_BY_CODE }, {
    invalid_request: 400,
    invalid_token: 401,
    insufficient_user_authentication: 401,
    no_tenant: 403,
    not_a_member: 403,
    forbidden: 403,
    not_found: 404,
    method_not_allowed: 405,
    request_timeout: 408,
    conflict: 409,
    payload_too_large: 413,
    unsupported_media_type: 415,
    rate_limited: 429,
    server_misconfigured: 500,
    auth_unavailable: 503,
    database_unavailable: 503,
    internal_error: 500,
  });
});

Deno.test("toErrorResponse() renders { error, message } with the status of the code", () => {
  const rendered = toErrorResponse(new ApiError("not_a_member", "Tenant is not one of yours"), EXCHANGE);
  assert.equal(rendered.status, 403);
  assert.deepEqual(rendered.body, { error: "not_a_member", message: "Tenant is not one of yours" });
  assert.deepEqual(rendered.headers, {});
});

Deno.test("toErrorResponse() adds WWW-Authenticate to invalid_token, Retry-After to 503s and Allow to 405", () => {
  assert.deepEqual(toErrorResponse(new ApiError("invalid_token", "x"), EXCHANGE).headers, {
    "WWW-Authenticate": 'Bearer realm="exchange-token", error="invalid_token"',
  });
  // A request without credentials gets the challenge without an error code (RFC 6750 §3.1).
  const bare = new ApiError("invalid_token", "x", {
    headers: { "WWW-Authenticate": bearerChallenge("exchange-token") },
  });
  assert.deepEqual(toErrorResponse(bare, EXCHANGE).headers, {
    "WWW-Authenticate": 'Bearer realm="exchange-token"',
  });
  // RFC 9470 §3: the step-up challenge.
  const stepUp = toErrorResponse(new ApiError("insufficient_user_authentication", "x"), EXCHANGE);
  assert.equal(stepUp.status, 401);
  assert.deepEqual(stepUp.headers, {
    "WWW-Authenticate": 'Bearer realm="exchange-token", error="insufficient_user_authentication"',
  });
  for (const code of ["auth_unavailable", "database_unavailable"] as const) {
    const rendered = toErrorResponse(new ApiError(code, "x"), EXCHANGE);
    assert.equal(rendered.status, 503);
    assert.deepEqual(rendered.headers, { "Retry-After": String(RETRY_AFTER_SECONDS) });
  }
  assert.deepEqual(toErrorResponse(new ApiError("method_not_allowed", "x"), EXCHANGE).headers, {
    Allow: "POST, OPTIONS",
  });
});

Deno.test("toErrorResponse() answers an unknown error with a bare 500 and never its message", () => {
  const rendered = toErrorResponse(
    new TypeError("select secret from vault where token = 'eyJ...'"),
    EXCHANGE,
  );
  assert.equal(rendered.status, 500);
  assert.equal(rendered.body.error, "internal_error");
  assert.ok(!JSON.stringify(rendered.body).includes("secret"));
  assert.equal(toErrorResponse("a string", EXCHANGE).status, 500);
});

Deno.test("toErrorResponse() follows RFC 6749 §5.2 and RFC 8693 §2.2.2 for the token-exchange form", () => {
  const rows = [
    [new ApiError("invalid_request", "m"), 400, "invalid_request"],
    [new ApiError("invalid_token", "m"), 400, "invalid_request"],
    [new ApiError("insufficient_user_authentication", "m"), 400, "insufficient_user_authentication"],
    [new ApiError("not_a_member", "m"), 400, "invalid_target"],
    [new ApiError("no_tenant", "m"), 400, "invalid_target"],
    [new OAuthRequestError("unsupported_grant_type", "m"), 400, "unsupported_grant_type"],
    [new ApiError("payload_too_large", "m"), 413, "invalid_request"],
    [new ApiError("database_unavailable", "m"), 503, "temporarily_unavailable"],
    [new ApiError("server_misconfigured", "m"), 500, "server_error"],
    [new Error("boom"), 500, "server_error"],
  ] as const;
  for (const [err, status, error] of rows) {
    const rendered = toErrorResponse(err, { ...EXCHANGE, format: "oauth" });
    assert.equal(rendered.status, status, error);
    assert.equal(rendered.body.error, error);
    assert.equal(typeof rendered.body.error_description, "string");
    assert.equal("message" in rendered.body, false);
  }
  assert.equal(
    toErrorResponse(new ApiError("invalid_token", "m"), { ...EXCHANGE, format: "oauth" })
      .headers["WWW-Authenticate"],
    undefined,
  );
});

Deno.test("ApiError keeps its cause for the logs and sets its name", () => {
  const cause = new Error("underneath");
  const err = new ApiError("database_unavailable", "Try again", { cause, headers: { "X-A": "1" } });
  assert.equal(err.name, "ApiError");
  assert.equal(err.cause, cause);
  assert.equal(err.status, 503);
  assert.equal(toErrorResponse(err, EXCHANGE).headers["X-A"], "1");
});
