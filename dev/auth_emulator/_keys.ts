/**
 * The Auth emulator's signing keys: the access-token key (ES256 with a `kid`, or the legacy HS256 secret),
 * its JWKS, verification the way GoTrue's `parseJWTClaims` does it, and the legacy API keys.
 *
 * All signing and verification goes through `jose`.
 *
 * @module
 */
import {
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import { HttpError } from "./_errors.ts";

/** How access tokens are signed. */
export type SigningMode = "es256" | "hs256";

/** A private ES256 key as JWK, with the `kid` it is published under. */
export type SigningJwk = JsonWebKey & { kid?: string };

/** The keys of one emulator instance. */
export interface AuthKeys {
  mode: SigningMode;
  jwtSecret: string;
  /** The private ES256 JWK (es256 mode, or when one was given), to keep the key across restarts. */
  signingKey?: SigningJwk;
  /** The JWKS document (`{ keys: [] }` in hs256 mode, as GoTrue never publishes a symmetric key). */
  jwks: { keys: JWK[] };
  anonKey: string;
  serviceRoleKey: string;
  /** Signs claims with the current access-token key. */
  sign(claims: Record<string, unknown>, options?: { kid?: string }): Promise<string>;
  /**
   * Verifies an access token's signature and time claims.
   *
   * @throws {HttpError} 403 `bad_jwt`, with GoTrue's "invalid JWT: ..." message.
   */
  verify(token: string): Promise<JWTPayload>;
}

// `supabase start` signs its demo API keys with this expiry (2032-11-12); kept so keys look the same.
const API_KEY_EXPIRY = 1983812996;
const MIN_SECRET_LENGTH = 32;

/**
 * Builds the keys: a fresh ES256 key pair unless one is given, and the legacy secret.
 *
 * @param mode Which key signs access tokens.
 * @param jwtSecret The legacy secret (random when omitted).
 * @param signingKey A private ES256 JWK to reuse.
 * @returns The keys.
 * @throws {Error} When the secret is shorter than 32 characters or the JWK is not a private P-256 key.
 */
export async function createAuthKeys(
  mode: SigningMode,
  jwtSecret: string | undefined,
  signingKey: SigningJwk | undefined,
): Promise<AuthKeys> {
  const secretText = jwtSecret ?? randomSecret();
  if (secretText.length < MIN_SECRET_LENGTH) {
    throw new Error(`jwtSecret must be at least ${MIN_SECRET_LENGTH} characters, as Supabase requires`);
  }
  const secret = new TextEncoder().encode(secretText);
  const privateJwk = signingKey ?? (mode === "es256" ? await generateSigningJwk() : undefined);
  const ecKey = privateJwk ? await loadEcKey(privateJwk) : undefined;
  const active = mode === "es256" ? ecKey : undefined;

  const signApiKey = (role: string) =>
    new SignJWT({ iss: "supabase-demo", role, exp: API_KEY_EXPIRY })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(secret);

  return {
    mode,
    jwtSecret: secretText,
    signingKey: privateJwk,
    jwks: { keys: active ? [active.publicJwk] : [] },
    anonKey: await signApiKey("anon"),
    serviceRoleKey: await signApiKey("service_role"),
    async sign(claims, options = {}) {
      const jwt = new SignJWT(claims);
      if (active) {
        return await jwt.setProtectedHeader({ alg: "ES256", kid: options.kid ?? active.kid, typ: "JWT" })
          .sign(active.privateKey);
      }
      const header = options.kid
        ? { alg: "HS256", kid: options.kid, typ: "JWT" }
        : { alg: "HS256", typ: "JWT" };
      return await jwt.setProtectedHeader(header).sign(secret);
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, (header) => {
          // GoTrue: a `kid` selects a published key; no `kid` and HS256 is the legacy secret.
          if (header.kid !== undefined) {
            if (active && header.kid === active.kid) return active.publicKey;
            throw new KeyLookupError(`invalid kid: ${header.kid}`);
          }
          if (header.alg === "HS256") return secret;
          throw new KeyLookupError("missing kid");
        }, { algorithms: active ? ["ES256", "HS256"] : ["HS256"] });
        return payload;
      } catch (err) {
        throw new HttpError(
          403,
          "bad_jwt",
          `invalid JWT: unable to parse or verify signature, ${describeJwtError(err, token)}`,
        );
      }
    },
  };
}

class KeyLookupError extends Error {}

interface EcKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

async function generateSigningJwk(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  // Supabase names its signing keys with UUIDs.
  return { ...(await exportJWK(privateKey)), kid: crypto.randomUUID() } as SigningJwk;
}

async function loadEcKey(jwk: SigningJwk): Promise<EcKey> {
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.d || !jwk.x || !jwk.y) {
    throw new Error("signingKey must be a private P-256 (ES256) JWK");
  }
  const kid = jwk.kid ?? crypto.randomUUID();
  // The published form, field for field as Supabase's JWKS endpoint serves it.
  const publicJwk: JWK = {
    alg: "ES256",
    crv: "P-256",
    ext: true,
    key_ops: ["verify"],
    kid,
    kty: "EC",
    use: "sig",
    x: jwk.x,
    y: jwk.y,
  };
  const { kid: _kid, ...privateOnly } = jwk;
  return {
    kid,
    privateKey: await importJWK({ ...privateOnly, alg: "ES256" } as JWK, "ES256") as CryptoKey,
    publicKey: await importJWK(publicJwk, "ES256") as CryptoKey,
    publicJwk,
  };
}

// The reasons golang-jwt (which GoTrue uses) gives, so messages read as GoTrue's do.
function describeJwtError(err: unknown, token: string): string {
  if (err instanceof KeyLookupError) {
    return `token is unverifiable: error while executing keyfunc: ${err.message}`;
  }
  if (err instanceof errors.JWTExpired) return "token has invalid claims: token is expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === "nbf"
      ? "token has invalid claims: token is not valid yet"
      : `token has invalid claims: ${err.message}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return "token signature is invalid: signature is invalid";
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return `token is unverifiable: signing method ${algOf(token)} is invalid`;
  }
  return "token is malformed: could not parse the token";
}

function algOf(token: string): string {
  try {
    return String(decodeProtectedHeader(token).alg);
  } catch {
    return "unknown";
  }
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}
