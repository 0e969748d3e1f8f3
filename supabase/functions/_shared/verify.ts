/**
 * Verification of the caller's Supabase access token with supabase-js (`auth.getClaims(token)`).
 *
 * What the pinned supabase-js (auth-js 2.119.1) does, read from its source, and what this module adds:
 * - ES256/RS256 with a `kid` it finds in the JWKS (`SUPABASE_JWKS`, else `/auth/v1/.well-known/jwks.json`,
 *   cached 10 minutes): verified locally with WebCrypto. An unknown `kid` makes it fetch the JWKS again
 *   and, still not found, fall back to the Auth API (`GET /auth/v1/user`), which decides. `SUPABASE_JWKS`
 *   is what Supabase injected when the isolate started and is never refreshed: a key rotated in later is
 *   found by that fetch.
 * - HS256 (or no `kid`, or any other `alg`): the Auth API decides, so Auth's own rules apply (a deleted or
 *   banned user, a session that no longer exists).
 * - `exp` is checked before anything else, but only for truthiness (`validateExp`): an `exp` that is a
 *   string is compared loosely. A token that does not decode (bad base64url, JSON that is not an object)
 *   throws a plain `SyntaxError`/`TypeError` instead of returning `{ error }`, and a known `kid` with
 *   `alg: none` (or a key of another type) throws from `getAlgorithm`/`importKey`.
 * So before calling it, {@linkcode inspectAccessToken} decodes the token strictly and refuses what
 * Supabase never issues (`alg` other than ES256/RS256/HS256, `crit`, a non-numeric or past `exp`, a `role`
 * other than `authenticated`, which also keeps anon and service-role keys away from the Auth API), and
 * whatever supabase-js throws or returns is mapped: unreachable or failing Auth (`AuthRetryableFetchError`,
 * `AuthUnknownError`, 5xx, 429) is 503 `auth_unavailable`; any other refusal is 401 `invalid_token`.
 *
 * A locally verified token stays valid until it expires even after sign-out; the tenancy transaction then
 * checks its session in `auth.sessions` (docs/contract.md §5).
 *
 * @module
 */
import { createClient, isAuthApiError, isAuthError, isAuthRetryableFetchError } from "@supabase/supabase-js";
import { ExchangeError } from "./errors.ts";
import { withDeadline } from "./_deadline.ts";

/** A verified Supabase user access token. */
export interface AccessTokenClaims {
  /** The user id (`sub`). */
  userId: string;
  /** The Auth session the token belongs to (`session_id`). */
  sessionId: string;
  /** Expiry, in seconds since the epoch. */
  exp: number;
  /** Every verified claim, as PostgREST puts them in `request.jwt.claims`. */
  claims: Record<string, unknown>;
}

/** Verifies a Supabase access token; the injected collaborator of the handler. */
export type VerifyToken = (token: string) => Promise<AccessTokenClaims>;

/** Options for {@linkcode createSupabaseVerifier}. */
export interface SupabaseVerifierOptions {
  /** The project URL (`SUPABASE_URL`). */
  supabaseUrl: string;
  /** The anon or publishable key, sent as `apikey`. */
  supabaseKey: string;
  /** Time allowed for Auth (JWKS fetch or user lookup) before 503 `auth_unavailable`. */
  timeoutMs: number;
  /** A JWKS to verify with first (`SUPABASE_JWKS`), saving the JWKS request. */
  jwks?: { keys: JsonWebKey[] };
  /** The fetch supabase-js uses (a seam for tests); the global one by default. */
  fetch?: typeof fetch;
  /** The current time (for the pre-check of `exp`). */
  now?: () => Date;
}

/** The signing algorithms Supabase Auth issues access tokens with. */
export const SUPABASE_TOKEN_ALGORITHMS: readonly string[] = Object.freeze(["ES256", "RS256", "HS256"]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Builds the verifier: one supabase-js client for the isolate (no session storage, no refresh timer), and
 * a function that verifies one token with it.
 *
 * @param options The project, its key, the Auth timeout and seams.
 * @returns The verifier.
 * @example
 * ```ts ignore
 * const verifyToken = createSupabaseVerifier({ supabaseUrl, supabaseKey, timeoutMs: 5000 });
 * const { userId } = await verifyToken(token);
 * ```
 */
export function createSupabaseVerifier(options: SupabaseVerifierOptions): VerifyToken {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const timedFetch: typeof fetch = (input, init) =>
    baseFetch(input, {
      ...init,
      signal: init?.signal
        ? AbortSignal.any([init.signal, AbortSignal.timeout(options.timeoutMs)])
        : AbortSignal.timeout(options.timeoutMs),
    });
  const client = createClient(options.supabaseUrl, options.supabaseKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: timedFetch },
  });
  const now = options.now ?? (() => new Date());
  const getClaimsOptions = options.jwks ? { jwks: options.jwks as { keys: never[] } } : undefined;

  return async (token: string) => {
    inspectAccessToken(token, now());
    let result: Awaited<ReturnType<typeof client.auth.getClaims>>;
    try {
      result = await withDeadline(
        client.auth.getClaims(token, getClaimsOptions),
        options.timeoutMs,
        () => new ExchangeError("auth_unavailable", "Supabase Auth did not answer in time"),
      );
    } catch (err) {
      if (err instanceof ExchangeError) throw err;
      throw mapAuthError(err);
    }
    if (result.error) throw mapAuthError(result.error);
    if (!result.data) throw new ExchangeError("invalid_token", "The access token could not be verified");
    return checkVerifiedClaims(result.data.claims as Record<string, unknown>, now());
  };
}

/**
 * Decodes a token strictly and refuses, without any network call, what Supabase Auth never issues to a
 * signed-in user. It does not check the signature: supabase-js does that next.
 *
 * @param token The compact JWT.
 * @param now The current time.
 * @returns The decoded header and payload.
 * @throws {ExchangeError} `invalid_token` for a malformed token, `alg: none` or any algorithm other than
 *   ES256/RS256/HS256, a `crit` header, a missing or past `exp`, or a `role` other than `authenticated`.
 * @example
 * ```ts ignore
 * inspectAccessToken(token, new Date());
 * ```
 */
export function inspectAccessToken(
  token: string,
  now: Date,
): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) {
    throw new ExchangeError("invalid_token", "The access token is not a JWT");
  }
  const header = _decodeSegment(parts[0]);
  const payload = _decodeSegment(parts[1]);
  if (typeof header.alg !== "string" || !SUPABASE_TOKEN_ALGORITHMS.includes(header.alg)) {
    throw new ExchangeError(
      "invalid_token",
      "The access token is not signed with an algorithm Supabase uses",
    );
  }
  if ("crit" in header) throw new ExchangeError("invalid_token", "The access token has critical extensions");
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) {
    throw new ExchangeError("invalid_token", "The access token has no expiry");
  }
  if (payload.exp <= Math.floor(now.getTime() / 1000)) {
    throw new ExchangeError("invalid_token", "The access token has expired");
  }
  if (payload.role !== "authenticated") {
    throw new ExchangeError("invalid_token", "The token is not a signed-in user's access token");
  }
  return { header, payload };
}

/**
 * Checks the claims of a token supabase-js has verified: a signed-in user's (`role: authenticated`),
 * with a user id and a session, not expired.
 *
 * @param claims The verified claims.
 * @param now The current time.
 * @returns The caller's identity and the claims for `request.jwt.claims`.
 * @throws {ExchangeError} `invalid_token` otherwise.
 * @example
 * ```ts ignore
 * const caller = checkVerifiedClaims(data.claims, new Date());
 * ```
 */
export function checkVerifiedClaims(claims: Record<string, unknown>, now: Date): AccessTokenClaims {
  if (claims.role !== "authenticated") {
    throw new ExchangeError("invalid_token", "The token is not a signed-in user's access token");
  }
  if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) {
    throw new ExchangeError("invalid_token", "The access token names no user");
  }
  if (typeof claims.session_id !== "string" || !UUID.test(claims.session_id)) {
    throw new ExchangeError("invalid_token", "The access token belongs to no session");
  }
  if (typeof claims.exp !== "number" || claims.exp <= Math.floor(now.getTime() / 1000)) {
    throw new ExchangeError("invalid_token", "The access token has expired");
  }
  return { userId: claims.sub.toLowerCase(), sessionId: claims.session_id, exp: claims.exp, claims };
}

/**
 * Maps what supabase-js returned or threw to the contract: Auth unreachable, failing or rate limiting is
 * `auth_unavailable`; every other refusal (bad signature, unknown session, deleted or banned user, a token
 * that does not decode) is `invalid_token`.
 *
 * @param error The `error` of `getClaims()`, or what it threw.
 * @returns The error to throw.
 * @example
 * ```ts ignore
 * if (result.error) throw mapAuthError(result.error);
 * ```
 */
export function mapAuthError(error: unknown): ExchangeError {
  if (
    isAuthRetryableFetchError(error) ||
    (isAuthError(error) && error.name === "AuthUnknownError") ||
    (isAuthApiError(error) && (error.status === 429 || error.status >= 500))
  ) {
    return new ExchangeError("auth_unavailable", "Supabase Auth is unavailable; try again shortly", {
      cause: error,
    });
  }
  return new ExchangeError("invalid_token", "The access token is invalid, expired or revoked", {
    cause: error,
  });
}

function _decodeSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    const binary = atob(segment.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ExchangeError("invalid_token", "The access token is not a JWT", { cause: err });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ExchangeError("invalid_token", "The access token is not a JWT");
  }
  return value as Record<string, unknown>;
}
