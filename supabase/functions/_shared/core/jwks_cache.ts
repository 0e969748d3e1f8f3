/**
 * The function's own cache of Supabase Auth's public signing keys (its JWKS), for verifying ES256/RS256
 * access tokens locally.
 *
 * supabase-js keeps a JWKS it is given (`SUPABASE_JWKS`) forever and caches a fetched one for 10 minutes,
 * and refetches for every unknown `kid`. Neither bounds how long a revoked key is trusted nor how often a
 * stranger can make the function ask Auth, so the function keeps its own cache:
 * - Keys are used for at most {@linkcode JWKS_MAX_AGE_MS} after they were fetched (or injected); past that
 *   the next token waits for a fresh JWKS. A key Auth stopped publishing (revoked) is therefore refused at
 *   most 5 minutes after the function could first have seen it gone.
 * - A `kid` the cache does not hold triggers a refetch, but at most one starts per
 *   {@linkcode JWKS_REFETCH_COOLDOWN_MS} per isolate, and concurrent requests share the one in flight. A
 *   `kid` still unknown after a fresh JWKS is refused (401) without asking Auth anything else. While the
 *   cooldown runs, a still-unknown `kid` gets 503 `auth_unavailable` with `Retry-After` (the rest of the
 *   cooldown), never 401: it may be a key rotated in since the last fetch, and its holder must not be
 *   signed out.
 * - A refetch that fails (Auth down, not JSON) is 503 `auth_unavailable` too, and counts for the cooldown.
 *
 * @module
 */
import { importJWK, type JWK } from "jose";
import { ApiError } from "./errors.ts";

/** The asymmetric algorithms Supabase Auth signs access tokens with. */
export type AsymmetricTokenAlgorithm = "ES256" | "RS256";

/** How long fetched or injected keys are used before the JWKS is fetched again: the revocation bound. */
export const JWKS_MAX_AGE_MS = 5 * 60_000;

/** The least time between two JWKS fetches of one isolate. */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;

/** Options for {@linkcode createJwksCache}. */
export interface JwksCacheOptions {
  /** Fetches Auth's JWKS document; rejects when Auth cannot be reached or answers badly. */
  load: () => Promise<unknown>;
  /** A JWKS known at start (`SUPABASE_JWKS`), counted as fetched when the cache is built. */
  initial?: { keys: unknown[] };
  /** The clock, in milliseconds. */
  now: () => number;
}

/** Finds the verification key of a token's `kid`. */
export interface JwksCache {
  /**
   * The public key for a token's header.
   *
   * @param kid The token's `kid`.
   * @param alg The token's `alg` (ES256 or RS256); it must be the key's.
   * @returns The key to verify the signature with.
   * @throws {ApiError} `invalid_token` for a `kid` a fresh JWKS does not list, or a key of another
   *   algorithm; `auth_unavailable` (with `Retry-After`) while a refetch cools down or after one failed.
   */
  keyFor(kid: string, alg: AsymmetricTokenAlgorithm): Promise<CryptoKey>;
}

/** One usable key of the JWKS: its algorithm, public JWK, and the imported key once a token needed it. */
export interface CachedKey {
  alg: AsymmetricTokenAlgorithm;
  jwk: JWK;
  key?: Promise<CryptoKey>;
}

interface Snapshot {
  fetchedAt: number;
  keys: Map<string, CachedKey>;
}

/**
 * Builds the cache (it fetches nothing until a token needs it).
 *
 * @param options How to fetch the JWKS, the injected one, and the clock.
 * @returns The cache.
 * @example
 * ```ts ignore
 * const jwks = createJwksCache({ load: () => fetchJwks(), initial: config.jwks, now: Date.now });
 * const key = await jwks.keyFor(header.kid, "ES256");
 * ```
 */
export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const { now } = options;
  let snapshot: Snapshot | undefined = options.initial
    ? { fetchedAt: now(), keys: parseJwks(options.initial) }
    : undefined;
  let lastFetchAt: number | undefined;
  let inflight: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    if (inflight) return inflight;
    const startedAt = now();
    if (lastFetchAt !== undefined && startedAt - lastFetchAt < JWKS_REFETCH_COOLDOWN_MS) {
      throw new ApiError(
        "auth_unavailable",
        "The access token's signing key is not known yet; try again shortly",
        {
          headers: {
            "Retry-After": String(_secondsUntil(lastFetchAt + JWKS_REFETCH_COOLDOWN_MS, startedAt)),
          },
        },
      );
    }
    lastFetchAt = startedAt;
    inflight = (async () => {
      try {
        snapshot = { fetchedAt: startedAt, keys: parseJwks(await options.load()) };
      } catch (err) {
        throw new ApiError("auth_unavailable", "Supabase Auth's signing keys could not be fetched", {
          cause: err,
          headers: { "Retry-After": String(Math.ceil(JWKS_REFETCH_COOLDOWN_MS / 1000)) },
        });
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };

  return {
    async keyFor(kid, alg) {
      const fresh = snapshot !== undefined && now() - snapshot.fetchedAt < JWKS_MAX_AGE_MS;
      if (!fresh || !snapshot!.keys.has(kid)) await refresh();
      const entry = snapshot!.keys.get(kid);
      if (!entry) {
        throw new ApiError(
          "invalid_token",
          "The access token is not signed by one of the project's keys",
        );
      }
      if (entry.alg !== alg) {
        throw new ApiError("invalid_token", "The access token's algorithm is not its key's");
      }
      entry.key ??= importJWK(entry.jwk, entry.alg) as Promise<CryptoKey>;
      try {
        return await entry.key;
      } catch (err) {
        throw new ApiError("invalid_token", "The access token's key cannot be used", { cause: err });
      }
    },
  };
}

/**
 * Reads a JWKS document into the keys usable for access tokens: EC P-256 (ES256) and RSA (RS256) keys with
 * a `kid`, whose `alg`, `use` and `key_ops`, when present, allow verifying. Anything else is skipped.
 *
 * @param document The parsed JSON (`{ keys: [...] }`).
 * @returns The usable keys by `kid`.
 * @throws {TypeError} When the document has no `keys` array.
 * @example
 * ```ts
 * parseJwks({ keys: [{ kty: "oct", kid: "legacy", k: "c2VjcmV0" }] }).size; // 0: never a shared secret
 * ```
 */
export function parseJwks(document: unknown): Map<string, CachedKey> {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new TypeError("the JWKS has no keys array");
  const usable = new Map<string, CachedKey>();
  for (const raw of keys) {
    if (raw === null || typeof raw !== "object") continue;
    const jwk = raw as JWK;
    const alg = jwk.kty === "EC" && jwk.crv === "P-256" ? "ES256" : jwk.kty === "RSA" ? "RS256" : undefined;
    if (!alg || typeof jwk.kid !== "string" || jwk.kid === "") continue;
    if (jwk.alg !== undefined && jwk.alg !== alg) continue;
    if (jwk.use !== undefined && jwk.use !== "sig") continue;
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) {
      continue;
    }
    // Only the public members: a private `d` here would be Auth's mistake, not ours to import.
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
    usable.set(jwk.kid, { alg, jwk: { ...publicJwk, alg, key_ops: ["verify"] } });
  }
  return usable;
}

function _secondsUntil(when: number, now: number): number {
  return Math.max(1, Math.ceil((when - now) / 1000));
}
