/**
 * `GET /functions/v1/exchange-token/.well-known/jwks.json`: the public keys of asymmetric backend tokens,
 * for backends that verify through a JWKS (PyJWT's `PyJWKClient`) instead of holding a secret.
 *
 * The answer is public and the same for everyone: any origin may read it, and caches may keep it for
 * {@linkcode JWKS_MAX_AGE_SECONDS} (so a key must be published at least that long before it signs; see
 * the rotation recipe). A function that signs with a shared secret has no public key: it answers 404
 * `not_found`. Every other GET keeps the contract's 405.
 *
 * @module
 */
import { ExchangeError } from "../core/errors.ts";
import type { PublicJwks } from "./signing_keys.ts";

/** How long browsers, proxies and verifiers may cache the JWKS, in seconds. */
export const JWKS_MAX_AGE_SECONDS = 300;

// `/.well-known/jwks.json` under the function's own path (`/exchange-token/...`, as the Edge runtime
// sees it) or at the root (a function served on its own).
const JWKS_PATH = /^(\/[^/]+)?\/\.well-known\/jwks\.json$/;

/**
 * Whether a request asks for the JWKS.
 *
 * @param req The request.
 * @returns True for a GET of `[/<function>]/.well-known/jwks.json`.
 * @example
 * ```ts
 * isJwksRequest(new Request("http://x/exchange-token/.well-known/jwks.json")); // true
 * ```
 */
export function isJwksRequest(req: Request): boolean {
  return req.method === "GET" && JWKS_PATH.test(new URL(req.url).pathname);
}

/**
 * The JWKS response: cacheable, readable from any origin.
 *
 * @param jwks The public keys, or undefined when tokens are signed with a shared secret.
 * @returns The 200 response.
 * @throws {ExchangeError} `not_found` when there are no public keys.
 * @example
 * ```ts ignore
 * const res = jwksResponse(toPublicJwks(config.backendJwt.keys, "ES256"));
 * ```
 */
export function jwksResponse(jwks: PublicJwks | undefined): Response {
  if (!jwks) {
    throw new ExchangeError("not_found", "Backend tokens are signed with a shared secret: there is no JWKS");
  }
  return new Response(JSON.stringify(jwks), {
    status: 200,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Cache-Control": `public, max-age=${JWKS_MAX_AGE_SECONDS}`,
      "Access-Control-Allow-Origin": "*",
      "X-Content-Type-Options": "nosniff",
    },
  });
}
