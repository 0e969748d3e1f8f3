/**
 * Verification of the caller's Supabase access token: locally for ES256/RS256, through the Auth API for
 * HS256 (legacy), and only ever for a token that could be the project's.
 *
 * 1. {@linkcode inspectAccessToken} decodes the token strictly and refuses, with no network call, what this
 *    project's Auth never issues to a signed-in user: an `alg` other than ES256/RS256/HS256, a `crit`
 *    header, a non-numeric or past `exp`, a `role` other than `authenticated` (which also keeps the anon,
 *    service-role and publishable keys' JWTs away from Auth), an `iss` that is not the project's Auth URL
 *    (`SUPABASE_URL` + `/auth/v1`, or one of `AUTH_ISSUERS`), an `aud` without `authenticated`.
 * 2. ES256/RS256: the signature is checked with jose against the function's own JWKS cache
 *    (`jwks_cache.ts`: keys at most 5 minutes old, at most one refetch per 30 s for an unknown `kid`, a
 *    `kid` still unknown refused without asking Auth), once per token and key object
 *    (`verified_signatures.ts`: the same token exchanged again skips only that check). A token without a
 *    `kid` is refused: Supabase's asymmetric tokens always name their key. Such a token is trusted until it
 *    expires even after sign-out; the tenancy transaction then checks its session in `auth.sessions`
 *    (docs/contract.md §5).
 * 3. HS256 (the legacy secret, which the function does not hold): supabase-js `auth.getUser(token)` asks
 *    Auth (`GET /auth/v1/user`), whose own rules then apply (a deleted or banned user, a session that no
 *    longer exists), behind a per-isolate budget and a memory of refused tokens (`auth_api_budget.ts`);
 *    concurrent requests with the same token share one call.
 *    With `AUTH_HS256_TOKENS=refuse` (a project that revoked its legacy secret) HS256 is refused outright.
 *
 * supabase-js `getClaims()` is not used: it keeps an injected JWKS forever, caches a fetched one for 10
 * minutes, refetches for every unknown `kid` and then asks `GET /user`, and checks neither `iss` nor `aud`.
 * What Auth answers is mapped: unreachable or failing Auth (`AuthRetryableFetchError`, `AuthUnknownError`,
 * 5xx, 429) is 503 `auth_unavailable`; any other refusal is 401 `invalid_token`.
 *
 * (Over 300 lines: the three ways of verifying a token share its inspection and its mapping of Auth's
 * answers, and are read together.)
 *
 * @module
 */
import { createClient, isAuthApiError, isAuthError, isAuthRetryableFetchError } from "@supabase/supabase-js";
import { base64url, compactVerify } from "jose";
import { ApiError } from "./errors.ts";
import { withDeadline } from "./deadline.ts";
import { type AsymmetricTokenAlgorithm, createJwksCache } from "./jwks_cache.ts";
import { createAuthApiBudget, hashToken } from "./auth_api_budget.ts";
import { createVerifiedSignatures } from "./verified_signatures.ts";

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
  /** The accepted `iss` values; default `${supabaseUrl}/auth/v1` alone. */
  issuers?: readonly string[];
  /** A JWKS known at start (`SUPABASE_JWKS`): used for its first 5 minutes without a JWKS request. */
  jwks?: { keys: JsonWebKey[] };
  /** `verify` (default): HS256 tokens go to the Auth API; `refuse`: they are refused outright. */
  hs256Tokens?: Hs256Tokens;
  /** Auth API calls per second one isolate may make for HS256 tokens (default 2000). */
  authApiCallsPerSecond?: number;
  /** The fetch used to reach Auth (a seam for tests); the global one by default. */
  fetch?: typeof fetch;
  /** The current time (expiry, the JWKS cache's age and cooldown, the Auth API budget). */
  now?: () => Date;
}

/** What the verifier does with an HS256 (legacy secret) token. */
export type Hs256Tokens = "verify" | "refuse";

/** The defaults of {@linkcode SupabaseVerifierOptions}. */
export const VERIFIER_DEFAULTS = Object.freeze({
  hs256Tokens: "verify" as Hs256Tokens,
  // bench/README.md: one isolate serves about 720 HS256 exchanges/s, and the Auth API answers about
  // 1,340 lookups/s on the same machine; 2,000/s never holds a legitimate user back.
  authApiCallsPerSecond: 2_000,
});

/** The signing algorithms Supabase Auth issues access tokens with. */
export const SUPABASE_TOKEN_ALGORITHMS: readonly string[] = Object.freeze(["ES256", "RS256", "HS256"]);

/** The audience every signed-in user's access token names. */
export const AUTHENTICATED_AUDIENCE = "authenticated";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `iss` a project's Auth writes into its tokens: `SUPABASE_URL` followed by `/auth/v1`.
 *
 * @param supabaseUrl The project URL.
 * @returns The issuer.
 * @example
 * ```ts
 * authIssuer("https://abcdefghijklmnop.supabase.co"); // "https://abcdefghijklmnop.supabase.co/auth/v1"
 * ```
 */
export function authIssuer(supabaseUrl: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
}

/**
 * Builds the verifier: the isolate's JWKS cache, its Auth API budget, one supabase-js client (no session
 * storage, no refresh timer) for HS256 tokens, and a function that verifies one token with them.
 *
 * @param options The project, its key, the Auth timeout, the accepted issuers, what to do with HS256,
 *   and seams.
 * @returns The verifier.
 * @example
 * ```ts ignore
 * const verifyToken = createSupabaseVerifier({ supabaseUrl, supabaseKey, timeoutMs: 5000 });
 * const { userId } = await verifyToken(token);
 * ```
 */
export function createSupabaseVerifier(options: SupabaseVerifierOptions): VerifyToken {
  const baseFetch = options.fetch ?? globalThis.fetch;
  // Parameters typed here rather than taken from `typeof fetch`: with Node's types in the graph, Deno 2.1.4
  // (the Edge Runtime's) widens `typeof fetch`'s init to a union that has no `signal`.
  const timedFetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
    baseFetch(input, {
      ...init,
      signal: init?.signal
        ? AbortSignal.any([init.signal, AbortSignal.timeout(options.timeoutMs)])
        : AbortSignal.timeout(options.timeoutMs),
    });
  const now = options.now ?? (() => new Date());
  const clock = () => now().getTime();
  const issuers = options.issuers ?? [authIssuer(options.supabaseUrl)];
  const hs256Tokens = options.hs256Tokens ?? VERIFIER_DEFAULTS.hs256Tokens;
  const jwksUrl = `${authIssuer(options.supabaseUrl)}/.well-known/jwks.json`;
  const jwks = createJwksCache({
    initial: options.jwks,
    now: clock,
    load: async () => {
      const res = await timedFetch(jwksUrl, { headers: { apikey: options.supabaseKey } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`the JWKS request answered ${res.status}`);
      }
      return await res.json();
    },
  });
  const signatures = createVerifiedSignatures();
  const budget = createAuthApiBudget({
    perSecond: options.authApiCallsPerSecond ?? VERIFIER_DEFAULTS.authApiCallsPerSecond,
    now: clock,
  });
  const client = createClient(options.supabaseUrl, options.supabaseKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: timedFetch },
  });

  // Concurrent requests with the same token share one Auth call.
  const asking = new Map<string, Promise<void>>();
  const verifyWithAuthApi = async (token: string, sub: unknown): Promise<void> => {
    const tokenHash = await hashToken(token);
    const pending = asking.get(tokenHash);
    if (pending) return await pending;
    budget.admit(tokenHash);
    const call = askAuthApi(token, tokenHash, sub).finally(() => asking.delete(tokenHash));
    asking.set(tokenHash, call);
    return await call;
  };
  const askAuthApi = async (token: string, tokenHash: string, sub: unknown): Promise<void> => {
    let result: Awaited<ReturnType<typeof client.auth.getUser>>;
    try {
      result = await withDeadline(
        client.auth.getUser(token),
        options.timeoutMs,
        () => new ApiError("auth_unavailable", "Supabase Auth did not answer in time"),
      );
    } catch (err) {
      throw err instanceof ApiError ? err : mapAuthError(err);
    }
    const refusal = result.error
      ? mapAuthError(result.error)
      : result.data.user?.id !== sub
      ? new ApiError("invalid_token", "The access token could not be verified")
      : undefined;
    if (refusal) {
      if (refusal.code === "invalid_token") budget.refused(tokenHash);
      throw refusal;
    }
  };

  return async (token: string) => {
    const { header, payload } = inspectAccessToken(token, now(), issuers);
    if (header.alg === "HS256") {
      if (hs256Tokens === "refuse") {
        throw new ApiError("invalid_token", "Tokens signed with the legacy JWT secret are not accepted");
      }
      await verifyWithAuthApi(token, payload.sub);
    } else {
      if (typeof header.kid !== "string" || header.kid === "") {
        throw new ApiError("invalid_token", "The access token names no signing key");
      }
      const alg = header.alg as AsymmetricTokenAlgorithm;
      const key = await jwks.keyFor(header.kid, alg);
      if (!signatures.checked(token, key)) {
        try {
          await compactVerify(token, key, { algorithms: [alg] });
        } catch (err) {
          throw new ApiError("invalid_token", "The access token's signature is invalid", { cause: err });
        }
        signatures.remember(token, key);
      }
    }
    return checkVerifiedClaims(payload, now());
  };
}

/** The settings {@linkcode createVerifier} reads: every function's (`ServiceConfig` has them). */
export interface VerifierSettings {
  /** `SUPABASE_URL`. */
  supabaseUrl: string;
  /** The publishable or anon key, sent as `apikey`. */
  supabaseKey: string;
  /** How long Auth may take. */
  authTimeoutMs: number;
  /** The accepted `iss` values. */
  authIssuers?: readonly string[];
  /** `SUPABASE_JWKS`. */
  jwks?: { keys: JsonWebKey[] };
  /** `AUTH_HS256_TOKENS`. */
  hs256Tokens?: Hs256Tokens;
  /** `AUTH_API_CALLS_PER_SECOND`. */
  authApiCallsPerSecond?: number;
}

/**
 * Builds the verifier of Supabase access tokens every function uses, from its settings.
 *
 * @param settings The project, its issuers and JWKS, HS256 handling, the Auth API budget.
 * @param options The fetch that reaches Auth, and the clock.
 * @returns The verifier.
 * @example
 * ```ts ignore
 * const verifyToken = createVerifier(loadServiceConfig(Deno.env.toObject()), {});
 * ```
 */
export function createVerifier(
  settings: VerifierSettings,
  options: { fetch?: typeof fetch; now?: () => Date },
): VerifyToken {
  return createSupabaseVerifier({
    supabaseUrl: settings.supabaseUrl,
    supabaseKey: settings.supabaseKey,
    timeoutMs: settings.authTimeoutMs,
    issuers: settings.authIssuers,
    jwks: settings.jwks,
    hs256Tokens: settings.hs256Tokens,
    authApiCallsPerSecond: settings.authApiCallsPerSecond,
    fetch: options.fetch,
    now: options.now,
  });
}

/**
 * Decodes a token strictly and refuses, without any network call, what this project's Auth never issues
 * to a signed-in user. It does not check the signature: the verifier does that next.
 *
 * @param token The compact JWT.
 * @param now The current time.
 * @param issuers The accepted `iss` values.
 * @returns The decoded header and payload.
 * @throws {ApiError} `invalid_token` for a malformed token, `alg: none` or any algorithm other than
 *   ES256/RS256/HS256, a `crit` header, a missing or past `exp`, a `role` other than `authenticated`, an
 *   `iss` not among `issuers`, or an `aud` that does not include `authenticated`.
 * @example
 * ```ts ignore
 * inspectAccessToken(token, new Date(), ["https://abcdefghijklmnop.supabase.co/auth/v1"]);
 * ```
 */
export function inspectAccessToken(
  token: string,
  now: Date,
  issuers: readonly string[],
): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) {
    throw new ApiError("invalid_token", "The access token is not a JWT");
  }
  const header = _decodeSegment(parts[0]);
  const payload = _decodeSegment(parts[1]);
  if (typeof header.alg !== "string" || !SUPABASE_TOKEN_ALGORITHMS.includes(header.alg)) {
    throw new ApiError(
      "invalid_token",
      "The access token is not signed with an algorithm Supabase uses",
    );
  }
  if ("crit" in header) throw new ApiError("invalid_token", "The access token has critical extensions");
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) {
    throw new ApiError("invalid_token", "The access token has no expiry");
  }
  if (payload.exp <= Math.floor(now.getTime() / 1000)) {
    throw new ApiError("invalid_token", "The access token has expired");
  }
  if (payload.role !== "authenticated") {
    throw new ApiError("invalid_token", "The token is not a signed-in user's access token");
  }
  if (typeof payload.iss !== "string" || !issuers.includes(payload.iss)) {
    throw new ApiError("invalid_token", "The access token was not issued by this project's Auth");
  }
  const aud = payload.aud;
  if (!(aud === AUTHENTICATED_AUDIENCE || (Array.isArray(aud) && aud.includes(AUTHENTICATED_AUDIENCE)))) {
    throw new ApiError("invalid_token", "The access token is not meant for signed-in users");
  }
  return { header, payload };
}

/**
 * Checks the claims of a verified token: a signed-in user's (`role: authenticated`), with a user id and a
 * session, not expired.
 *
 * @param claims The verified claims.
 * @param now The current time.
 * @returns The caller's identity and the claims for `request.jwt.claims`.
 * @throws {ApiError} `invalid_token` otherwise.
 * @example
 * ```ts ignore
 * const caller = checkVerifiedClaims(data.claims, new Date());
 * ```
 */
export function checkVerifiedClaims(claims: Record<string, unknown>, now: Date): AccessTokenClaims {
  if (claims.role !== "authenticated") {
    throw new ApiError("invalid_token", "The token is not a signed-in user's access token");
  }
  if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) {
    throw new ApiError("invalid_token", "The access token names no user");
  }
  if (typeof claims.session_id !== "string" || !UUID.test(claims.session_id)) {
    throw new ApiError("invalid_token", "The access token belongs to no session");
  }
  if (typeof claims.exp !== "number" || claims.exp <= Math.floor(now.getTime() / 1000)) {
    throw new ApiError("invalid_token", "The access token has expired");
  }
  return { userId: claims.sub.toLowerCase(), sessionId: claims.session_id, exp: claims.exp, claims };
}

/**
 * Maps what supabase-js `getUser()` returned or threw to the contract: Auth unreachable, failing or rate limiting is
 * `auth_unavailable`; every other refusal (bad signature, unknown session, deleted or banned user, a token
 * that does not decode) is `invalid_token`.
 *
 * @param error The `error` of `getUser()`, or what it threw.
 * @returns The error to throw.
 * @example
 * ```ts ignore
 * if (result.error) throw mapAuthError(result.error);
 * ```
 */
export function mapAuthError(error: unknown): ApiError {
  if (
    isAuthRetryableFetchError(error) ||
    (isAuthError(error) && error.name === "AuthUnknownError") ||
    (isAuthApiError(error) && (error.status === 429 || error.status >= 500))
  ) {
    return new ApiError("auth_unavailable", "Supabase Auth is unavailable; try again shortly", {
      cause: error,
    });
  }
  return new ApiError("invalid_token", "The access token is invalid, expired or revoked", {
    cause: error,
  });
}

function _decodeSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    // jose's decoder: a plain loop (or Uint8Array.fromBase64 where there is one), several times faster than
    // Uint8Array.from with a callback per character, which was a tenth of an exchange's CPU.
    value = JSON.parse(UTF8.decode(base64url.decode(segment)));
  } catch (err) {
    throw new ApiError("invalid_token", "The access token is not a JWT", { cause: err });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiError("invalid_token", "The access token is not a JWT");
  }
  return value as Record<string, unknown>;
}
