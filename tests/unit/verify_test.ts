import assert from "node:assert/strict";
import {
  AuthApiError,
  AuthInvalidJwtError,
  AuthRetryableFetchError,
  AuthUnknownError,
} from "@supabase/supabase-js";
import {
  authIssuer,
  checkVerifiedClaims,
  inspectAccessToken,
  mapAuthError,
} from "../../supabase/functions/_shared/core/verify.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";
import { SESSION_ID as SESSION, USER_ID as USER } from "../_fixtures.ts";

const NOW = new Date("2026-01-02T03:04:05Z");
const EXP = Math.floor(NOW.getTime() / 1000) + 3600;

function b64url(value: unknown): string {
  return btoa(typeof value === "string" ? value : JSON.stringify(value)).replaceAll("=", "").replaceAll(
    "+",
    "-",
  )
    .replaceAll("/", "_");
}
function token(header: unknown, payload: unknown, signature = "c2ln"): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}
const ISSUER = "https://abcdefghijklmnop.supabase.co/auth/v1";
const ISSUERS = [ISSUER];
const CLAIMS = {
  iss: ISSUER,
  aud: "authenticated",
  sub: USER,
  role: "authenticated",
  session_id: SESSION,
  exp: EXP,
  email: "a@example.com",
};

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    return err.code;
  }
  return "accepted";
}

Deno.test("inspectAccessToken() accepts what Supabase Auth issues to a signed-in user", () => {
  for (const alg of ["ES256", "RS256", "HS256"]) {
    const { header, payload } = inspectAccessToken(
      token({ alg, kid: "k", typ: "JWT" }, CLAIMS),
      NOW,
      ISSUERS,
    );
    assert.equal(header.alg, alg);
    assert.equal(payload.sub, USER);
  }
});

Deno.test("inspectAccessToken() refuses alg none and every algorithm Supabase does not use", () => {
  for (const alg of ["none", "None", "HS512", "PS256", "EdDSA", 1, undefined]) {
    assert.equal(
      refused(() => inspectAccessToken(token({ alg, typ: "JWT" }, CLAIMS), NOW, ISSUERS)),
      "invalid_token",
      String(alg),
    );
  }
  // An unsigned token (empty signature) does not even have JWT shape.
  assert.equal(
    refused(() => inspectAccessToken(`${b64url({ alg: "none" })}.${b64url(CLAIMS)}.`, NOW, ISSUERS)),
    "invalid_token",
  );
});

Deno.test("inspectAccessToken() refuses garbage, truncated and non-object tokens", () => {
  const good = token({ alg: "ES256", kid: "k" }, CLAIMS);
  for (
    const bad of [
      "",
      "garbage",
      "a.b",
      "a.b.c.d",
      good.slice(0, good.lastIndexOf(".")),
      good.slice(0, 20),
      `${b64url("[1]")}.${b64url(CLAIMS)}.sig`,
      `${b64url({ alg: "ES256" })}.${b64url("null")}.sig`,
      `${b64url({ alg: "ES256" })}.${btoa("\xff\xfe")}.sig`,
      `${b64url({ alg: "ES256" })}.e30=.sig`,
      "sb_publishable_abc123",
    ]
  ) {
    assert.equal(refused(() => inspectAccessToken(bad, NOW, ISSUERS)), "invalid_token", bad);
  }
});

Deno.test("inspectAccessToken() refuses expired tokens, non-numeric exp, crit headers and non-user roles", () => {
  const header = { alg: "ES256", kid: "k" };
  assert.equal(
    refused(() => inspectAccessToken(token(header, { ...CLAIMS, exp: EXP - 3600 }), NOW, ISSUERS)),
    "invalid_token",
  );
  assert.equal(
    refused(() => inspectAccessToken(token(header, { ...CLAIMS, exp: String(EXP) }), NOW, ISSUERS)),
    "invalid_token",
  );
  assert.equal(
    refused(() => inspectAccessToken(token(header, { ...CLAIMS, exp: undefined }), NOW, ISSUERS)),
    "invalid_token",
  );
  assert.equal(
    refused(() => inspectAccessToken(token({ ...header, crit: ["b64"] }, CLAIMS), NOW, ISSUERS)),
    "invalid_token",
  );
  for (const role of ["anon", "service_role", undefined]) {
    assert.equal(
      refused(() => inspectAccessToken(token(header, { ...CLAIMS, role }), NOW, ISSUERS)),
      "invalid_token",
      String(role),
    );
  }
});

Deno.test("inspectAccessToken() refuses another issuer and an audience without authenticated", () => {
  const header = { alg: "ES256", kid: "k" };
  for (
    const iss of [
      "https://another.supabase.co/auth/v1",
      `${ISSUER}/`,
      "https://abcdefghijklmnop.supabase.co",
      undefined,
      1,
    ]
  ) {
    assert.equal(
      refused(() => inspectAccessToken(token(header, { ...CLAIMS, iss }), NOW, ISSUERS)),
      "invalid_token",
      String(iss),
    );
  }
  for (const aud of ["anon", "", ["anon"], undefined, "Authenticated"]) {
    assert.equal(
      refused(() => inspectAccessToken(token(header, { ...CLAIMS, aud }), NOW, ISSUERS)),
      "invalid_token",
      String(aud),
    );
  }
  const local = "http://127.0.0.1:54321/auth/v1";
  const both = [authIssuer("http://kong:8000"), local];
  assert.equal(inspectAccessToken(token(header, { ...CLAIMS, iss: local }), NOW, both).payload.iss, local);
  const audiences = { ...CLAIMS, aud: ["authenticated", "https://api.example.com"] };
  assert.deepEqual(inspectAccessToken(token(header, audiences), NOW, ISSUERS).payload.aud, audiences.aud);
});

Deno.test("authIssuer() is the project URL followed by /auth/v1", () => {
  assert.equal(authIssuer("http://kong:8000"), "http://kong:8000/auth/v1");
  assert.equal(authIssuer("https://abcdefghijklmnop.supabase.co/"), ISSUER);
});

Deno.test("checkVerifiedClaims() needs a user, a session and role authenticated", () => {
  const caller = checkVerifiedClaims(CLAIMS, NOW);
  assert.deepEqual(caller, {
    userId: USER,
    sessionId: SESSION,
    exp: EXP,
    claims: CLAIMS,
  });
  assert.equal(refused(() => checkVerifiedClaims({ ...CLAIMS, role: "anon" }, NOW)), "invalid_token");
  assert.equal(refused(() => checkVerifiedClaims({ ...CLAIMS, sub: "admin" }, NOW)), "invalid_token");
  assert.equal(
    refused(() => checkVerifiedClaims({ ...CLAIMS, session_id: undefined }, NOW)),
    "invalid_token",
  );
});

Deno.test("mapAuthError() makes Auth outages 503 auth_unavailable and every refusal 401 invalid_token", () => {
  assert.equal(mapAuthError(new AuthRetryableFetchError("fetch failed", 0)).code, "auth_unavailable");
  assert.equal(mapAuthError(new AuthRetryableFetchError("bad gateway", 502)).code, "auth_unavailable");
  assert.equal(
    mapAuthError(new AuthApiError("slow down", 429, "over_request_rate_limit")).code,
    "auth_unavailable",
  );
  assert.equal(mapAuthError(new AuthUnknownError("not json", new SyntaxError("x"))).code, "auth_unavailable");
  assert.equal(mapAuthError(new AuthApiError("invalid JWT", 403, "bad_jwt")).code, "invalid_token");
  assert.equal(mapAuthError(new AuthApiError("user not found", 404, "user_not_found")).code, "invalid_token");
  assert.equal(mapAuthError(new AuthInvalidJwtError("Invalid JWT signature")).code, "invalid_token");
  assert.equal(mapAuthError(new SyntaxError("Unexpected token")).code, "invalid_token");
  assert.equal(mapAuthError(new DOMException("bad key", "DataError")).code, "invalid_token");
});
