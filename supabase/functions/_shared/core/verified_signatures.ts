/**
 * A memory of the access tokens whose signature this isolate has checked, each with the key object that
 * checked it. A browser exchanges the same access token again and again while it lives (an hour by
 * default): on every page load, in every tab, whenever its backend token expires first. Checking an ES256
 * signature was the exchange's largest CPU cost (about 80 µs of the Edge Runtime's main thread,
 * bench/README.md), and its answer depends only on the token and the key, so it is asked once per pair.
 *
 * Nothing else is skipped: the token is still decoded and its `exp`, `iss`, `aud` and `role` checked on
 * every request, its key still looked up in the JWKS cache (which refetches as before), and the caller's
 * session checked in Postgres. A key the JWKS cache replaces (every refetch imports its keys anew) is a
 * different object, so a token is checked again against the new one: a key Auth withdrew stops being
 * accepted when the cache learns of it, exactly as without this memory.
 *
 * Tokens are remembered by their SHA-256, never as the string itself: a token cut out of a request's
 * `Authorization` header would keep the whole header alive, however long. Only tokens with a valid signature
 * are remembered, at most {@linkcode VERIFIED_SIGNATURES_MAX_ENTRIES} (oldest dropped first), so the memory
 * stays under a few hundred KiB whatever the requests.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** How many tokens are remembered at most. */
export const VERIFIED_SIGNATURES_MAX_ENTRIES = 2_048;

/** Which token was checked with which key. */
export interface VerifiedSignatures {
  /**
   * Whether `token`'s signature was checked, and held, with this very key object.
   *
   * @param token The compact JWT.
   * @param key The key the JWKS cache gives for its `kid` now.
   */
  checked(token: string, key: CryptoKey): boolean;
  /**
   * Remembers that `token`'s signature holds with `key` (only call after checking it).
   *
   * @param token The compact JWT.
   * @param key The key that checked it.
   */
  remember(token: string, key: CryptoKey): void;
}

/**
 * Builds an empty memory.
 *
 * @param maxEntries How many tokens it keeps at most (default {@linkcode VERIFIED_SIGNATURES_MAX_ENTRIES}).
 * @returns The memory.
 * @example
 * ```ts ignore
 * const signatures = createVerifiedSignatures();
 * if (!signatures.checked(token, key)) {
 *   await compactVerify(token, key, { algorithms: ["ES256"] });
 *   signatures.remember(token, key);
 * }
 * ```
 */
export function createVerifiedSignatures(
  maxEntries: number = VERIFIED_SIGNATURES_MAX_ENTRIES,
): VerifiedSignatures {
  // A Map keeps insertion order: its first key is the oldest.
  const keys = new Map<string, CryptoKey>();
  return {
    checked: (token, key) => keys.get(_digest(token)) === key,
    remember(token, key) {
      const digest = _digest(token);
      keys.delete(digest);
      if (keys.size >= maxEntries) keys.delete(keys.keys().next().value!);
      keys.set(digest, key);
    },
  };
}

/** A token's SHA-256, in base64 (44 characters). Synchronous: about 5 µs for a token of 1 KiB on Deno 2.1. */
function _digest(token: string): string {
  return createHash("sha256").update(token).digest("base64");
}
