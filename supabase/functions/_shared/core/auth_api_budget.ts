/**
 * What a token that only the Auth API can verify (HS256, signed with the project's legacy secret, which
 * the function does not hold) may cost: a per-isolate budget of Auth calls, and a short memory of the
 * tokens Auth refused.
 *
 * - The budget is a token bucket: {@linkcode AuthApiBudgetOptions.perSecond} calls a second, with as many
 *   in reserve. Sized well above what one isolate can serve (see `bench/README.md`), it never slows a
 *   legitimate user; it caps what forged tokens can make one isolate spend of the project's Auth. A spent
 *   budget is 503 `auth_unavailable` with `Retry-After`, never 401: the token may well be good.
 * - Refused tokens are remembered by their SHA-256 for {@linkcode NEGATIVE_CACHE_TTL_MS} (at most
 *   {@linkcode NEGATIVE_CACHE_MAX_ENTRIES}, oldest dropped first), so replaying one costs Auth nothing.
 *   Only refusals are remembered: a token Auth accepted is asked about again next time, so a sign-out
 *   or a ban still takes effect at once.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** How long a token Auth refused is refused locally. */
export const NEGATIVE_CACHE_TTL_MS = 60_000;

/** How many refused tokens are remembered at most (about 100 bytes each). */
export const NEGATIVE_CACHE_MAX_ENTRIES = 10_000;

/** Options for {@linkcode createAuthApiBudget}. */
export interface AuthApiBudgetOptions {
  /** Auth calls allowed per second, and the burst held in reserve. */
  perSecond: number;
  /** The clock, in milliseconds. */
  now: () => number;
}

/** The gate in front of the Auth API. */
export interface AuthApiBudget {
  /**
   * Lets a token through to the Auth API, spending one call of the budget.
   *
   * @param tokenHash The token's SHA-256, from {@linkcode hashToken}.
   * @throws {ApiError} `invalid_token` for a token Auth refused within the last minute;
   *   `auth_unavailable` (with `Retry-After`) when the budget is spent.
   */
  admit(tokenHash: string): void;
  /**
   * Remembers that Auth refused a token.
   *
   * @param tokenHash The token's SHA-256.
   */
  refused(tokenHash: string): void;
}

/**
 * Builds the budget and the memory of refusals, both per isolate.
 *
 * @param options The calls per second and the clock.
 * @returns The gate.
 * @example
 * ```ts
 * const budget = createAuthApiBudget({ perSecond: 2000, now: Date.now });
 * budget.admit(await hashToken("eyJ..."));
 * ```
 */
export function createAuthApiBudget(options: AuthApiBudgetOptions): AuthApiBudget {
  const { perSecond, now } = options;
  let available = perSecond;
  let updatedAt = now();
  // Insertion order is expiry order (one TTL for all), so the first entries are the oldest.
  const refusedUntil = new Map<string, number>();

  return {
    admit(tokenHash) {
      const t = now();
      const until = refusedUntil.get(tokenHash);
      if (until !== undefined) {
        if (t < until) {
          throw new ApiError("invalid_token", "The access token is invalid, expired or revoked");
        }
        refusedUntil.delete(tokenHash);
      }
      available = Math.min(perSecond, available + ((t - updatedAt) / 1000) * perSecond);
      updatedAt = t;
      if (available < 1) {
        const wait = Math.max(1, Math.ceil((1 - available) / perSecond));
        throw new ApiError(
          "auth_unavailable",
          "Too many tokens to check with Supabase Auth; try again shortly",
          {
            headers: { "Retry-After": String(wait) },
          },
        );
      }
      available -= 1;
    },
    refused(tokenHash) {
      refusedUntil.delete(tokenHash);
      if (refusedUntil.size >= NEGATIVE_CACHE_MAX_ENTRIES) {
        refusedUntil.delete(refusedUntil.keys().next().value!);
      }
      refusedUntil.set(tokenHash, now() + NEGATIVE_CACHE_TTL_MS);
    },
  };
}

/**
 * The hex SHA-256 of a token: what the memory of refusals keys on (never the token itself).
 *
 * @param token The compact JWT.
 * @returns 64 hex digits.
 * @example
 * ```ts
 * (await hashToken("a.b.c")).length; // 64
 * ```
 */
export async function hashToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
