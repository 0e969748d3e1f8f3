/**
 * The backend JWT the Python service verifies with `jwt.decode(token, secret, algorithms=["HS256"])`
 * (docs/contract.md §3), signed with an HMAC from `node:crypto`; or, opt-in, signed ES256/EdDSA with jose,
 * with the first key of a private JWK set, and verified through the published JWKS (its `kid` in the header).
 *
 * The claim set is exactly `user_id`, `tenant_id`, `role`, `email`, `exp`, in that order, plus `aud` and
 * `iss` only when configured. There is no `iat` or `nbf`: PyJWT raises `ImmatureSignatureError` for either
 * when the backend's clock runs behind ours, and `exp` is all it needs. No `sub` or `jti` either (PyJWT
 * 2.10+ insists they be strings; not sending them keeps every version happy).
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { base64url, CompactSign, importJWK, type JWTHeaderParameters } from "jose";
import { type BackendJwtConfig, isAsymmetric } from "./config.ts";

const ENCODER = new TextEncoder();

/** Who and what the token is for. */
export interface BackendTokenSubject {
  /** The Supabase user id. */
  userId: string;
  /** The tenant id the Python backend knows. */
  tenantId: string;
  /** The caller's role in the tenant. */
  role: string;
  /** The caller's email, or null. */
  email: string | null;
}

/** The exact claim set of a backend JWT. */
export interface BackendClaims {
  user_id: string;
  tenant_id: string;
  role: string;
  email: string | null;
  exp: number;
  aud?: string;
  iss?: string;
}

/** A signed backend JWT. */
export interface SignedBackendToken {
  token: string;
  /** Lifetime in seconds, from `now`. */
  expiresIn: number;
  /** When it expires (the `exp` claim). */
  expiresAt: Date;
}

/** Signs a backend JWT; the injected collaborator of the handler. */
export type SignToken = (subject: BackendTokenSubject, now: Date) => Promise<SignedBackendToken>;

/**
 * The claims of a backend JWT issued at `now`.
 *
 * @param subject Who and what for.
 * @param now The issuing time.
 * @param config Lifetime, and the optional audience and issuer.
 * @returns The claim set, in order.
 * @example
 * ```ts
 * const userId = "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f";
 * const subject = { userId, tenantId: "acme", role: "user", email: null };
 * backendClaims(subject, new Date(), { ttlSeconds: 604800 }); // { user_id, tenant_id, role, email, exp }
 * ```
 */
export function backendClaims(
  subject: BackendTokenSubject,
  now: Date,
  config: Pick<BackendJwtConfig, "ttlSeconds" | "audience" | "issuer">,
): BackendClaims {
  const claims: BackendClaims = {
    user_id: subject.userId,
    tenant_id: subject.tenantId,
    role: subject.role,
    email: subject.email,
    exp: Math.floor(now.getTime() / 1000) + config.ttlSeconds,
  };
  if (config.audience) claims.aud = config.audience;
  if (config.issuer) claims.iss = config.issuer;
  return claims;
}

/**
 * Builds the signer for a configuration (the key is imported once). HMAC tokens carry a `kid` header only
 * when `BACKEND_JWT_KID` is set; asymmetric ones always carry the signing key's `kid`.
 *
 * @param config The secret or private keys, algorithm, lifetime, audience and issuer.
 * @returns A function that signs one token.
 * @example
 * ```ts
 * const signToken = createBackendSigner({
 *   secret: new TextEncoder().encode(Deno.env.get("BACKEND_JWT_SECRET")),
 *   algorithm: "HS256",
 *   ttlSeconds: 604800,
 * });
 * const userId = "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f";
 * const subject = { userId, tenantId: "acme", role: "user", email: null };
 * const { token, expiresAt } = await signToken(subject, new Date());
 * ```
 */
export function createBackendSigner(config: BackendJwtConfig): SignToken {
  const sign = _signer(config);
  return async (subject, now) => {
    const claims = backendClaims(subject, now, config);
    return {
      token: await sign(claims),
      expiresIn: config.ttlSeconds,
      expiresAt: new Date(claims.exp * 1000),
    };
  };
}

/**
 * How a configuration signs a claim set. Asymmetric keys go through jose's `CompactSign` over the claims'
 * JSON: what `SignJWT` does, without its copy (`structuredClone`) and checks of a claim set built right
 * above. An HMAC is computed with `node:crypto`, synchronously: on Deno 2.1, the Edge Runtime's, WebCrypto's
 * `sign` cost about 50 µs of the main thread per token against 10 µs (bench/README.md); the token is
 * byte for byte jose's (`tests/unit/sign_test.ts` compares both with literal tokens).
 */
function _signer(config: BackendJwtConfig): (claims: BackendClaims) => Promise<string> {
  if (isAsymmetric(config)) {
    const { algorithm, keys: [signing] } = config;
    const header: JWTHeaderParameters = { alg: algorithm, typ: "JWT", kid: signing.kid };
    let key: Promise<CryptoKey | Uint8Array> | undefined;
    return async (claims) => {
      key ??= importJWK({ ...signing }, algorithm);
      return await new CompactSign(ENCODER.encode(JSON.stringify(claims))).setProtectedHeader(header).sign(
        await key,
      );
    };
  }
  const { algorithm, secret, kid } = config;
  const hash = `sha${algorithm.slice(2)}`;
  const encodedHeader = base64url.encode(
    JSON.stringify({ alg: algorithm, typ: "JWT", ...(kid ? { kid } : {}) }),
  );
  return (claims) => {
    const signingInput = `${encodedHeader}.${base64url.encode(JSON.stringify(claims))}`;
    const signature = base64url.encode(createHmac(hash, secret).update(signingInput).digest());
    return Promise.resolve(`${signingInput}.${signature}`);
  };
}
