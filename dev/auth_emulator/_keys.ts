/**
 * The Auth emulator's signing keys: the access-token keys (ES256 with a `kid`, or the legacy HS256 secret),
 * their rotation, the JWKS, verification the way GoTrue's `parseJWTClaims` does it, and the legacy API keys.
 *
 * In es256 mode the keys go through the states of Supabase's signing keys (docs: "JWT Signing Keys"): a
 * standby key (published, not signing yet), the key in use (signing), previously used keys (published,
 * still verifying) and revoked ones (gone). {@linkcode AuthKeys.rotate} makes the standby key the one in
 * use and the one in use previously used, as the dashboard's "Rotate keys" does, and then, unlike Supabase
 * (where a new standby key is created by hand), makes a new standby key so that the next rotation is one
 * call away. {@linkcode AuthKeys.revoke} revokes a previously used key. The JWKS lists the key in use, the
 * previously used ones and the standby key, which is what GoTrue serves from `GOTRUE_JWT_KEYS` (every
 * asymmetric key it is given; `internal/api/jwks.go`), and every listed key verifies tokens.
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

/** The private ES256 keys by state, to keep them across restarts. */
export interface SigningKeySet {
  /** The key that signs new access tokens. */
  inUse: SigningJwk;
  /** The next key: published, not signing yet. */
  standby?: SigningJwk;
  /** Keys that signed before a rotation, newest first: published, still verifying until revoked. */
  previouslyUsed: SigningJwk[];
}

/** A signing key's state, as Supabase's dashboard names it (revoked keys are dropped). */
export type SigningKeyState = "standby" | "in_use" | "previously_used";

/** One signing key as the emulator's key route lists it. */
export interface SigningKeyStatus {
  kid: string;
  state: SigningKeyState;
  algorithm: "ES256";
}

/** The keys of one emulator instance. */
export interface AuthKeys {
  mode: SigningMode;
  jwtSecret: string;
  /** The private ES256 keys (es256 mode, or when some were given), to keep them across restarts. */
  readonly keySet: SigningKeySet | undefined;
  /** The JWKS document now (`{ keys: [] }` in hs256 mode, as GoTrue never publishes a symmetric key). */
  readonly jwks: { keys: JWK[] };
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
  /** The ES256 keys and their states, the key in use first. */
  status(): SigningKeyStatus[];
  /**
   * Rotates: standby → in use → previously used, and a new standby key.
   *
   * @throws {HttpError} 422 `validation_failed` in hs256 mode (the legacy secret is not rotated here).
   */
  rotate(): Promise<SigningKeyStatus[]>;
  /**
   * Revokes a previously used key: it leaves the JWKS and stops verifying.
   *
   * @throws {HttpError} 404 `not_found` for an unknown `kid`; 422 `validation_failed` for the key in use
   *   or the standby key.
   */
  revoke(kid: string): Promise<SigningKeyStatus[]>;
}

/** Options for {@linkcode createAuthKeys}. */
export interface AuthKeysOptions {
  /** The legacy secret (random when omitted). */
  jwtSecret?: string;
  /** The ES256 keys to reuse; in es256 mode, fresh ones (in use and standby) when omitted. */
  keySet?: SigningKeySet;
  /** Told the private keys after every rotation and revocation (to keep them across restarts). */
  onChange?: (keySet: SigningKeySet) => void | Promise<void>;
}

// `supabase start` signs its demo API keys with this expiry (2032-11-12); kept so keys look the same.
const API_KEY_EXPIRY = 1983812996;
const MIN_SECRET_LENGTH = 32;

/**
 * Builds the keys: ES256 keys (a key in use and a standby key, fresh unless given) and the legacy secret.
 *
 * @param mode Which key signs access tokens.
 * @param options The legacy secret, ES256 keys to reuse, and who to tell when they change.
 * @returns The keys.
 * @throws {Error} When the secret is shorter than 32 characters or a JWK is not a private P-256 key.
 * @example
 * ```ts ignore
 * const keys = await createAuthKeys("es256", {});
 * await keys.rotate();
 * ```
 */
export async function createAuthKeys(mode: SigningMode, options: AuthKeysOptions = {}): Promise<AuthKeys> {
  const secretText = options.jwtSecret ?? randomSecret();
  if (secretText.length < MIN_SECRET_LENGTH) {
    throw new Error(`jwtSecret must be at least ${MIN_SECRET_LENGTH} characters, as Supabase requires`);
  }
  const secret = new TextEncoder().encode(secretText);
  const given = options.keySet;
  const ring: { inUse?: EcKey; standby?: EcKey; previouslyUsed: EcKey[] } = { previouslyUsed: [] };
  if (given || mode === "es256") {
    ring.inUse = await loadEcKey(given?.inUse ?? await generateSigningJwk());
    // A standby key is always at hand in es256 mode, as one is after Supabase's migration to signing keys.
    const standby = given?.standby ?? (mode === "es256" ? await generateSigningJwk() : undefined);
    ring.standby = standby ? await loadEcKey(standby) : undefined;
    ring.previouslyUsed = await Promise.all((given?.previouslyUsed ?? []).map(loadEcKey));
  }
  const active = () => (mode === "es256" ? ring.inUse : undefined);
  const published = () =>
    [ring.inUse, ...ring.previouslyUsed, ring.standby].filter((key): key is EcKey => key !== undefined);
  const keySet = (): SigningKeySet | undefined =>
    ring.inUse
      ? {
        inUse: ring.inUse.privateJwk,
        ...(ring.standby ? { standby: ring.standby.privateJwk } : {}),
        previouslyUsed: ring.previouslyUsed.map((key) => key.privateJwk),
      }
      : undefined;
  const status = (): SigningKeyStatus[] => [
    ...(ring.inUse ? [{ kid: ring.inUse.kid, state: "in_use" as const, algorithm: "ES256" as const }] : []),
    ...ring.previouslyUsed.map((key) => ({
      kid: key.kid,
      state: "previously_used" as const,
      algorithm: "ES256" as const,
    })),
    ...(ring.standby
      ? [{ kid: ring.standby.kid, state: "standby" as const, algorithm: "ES256" as const }]
      : []),
  ];
  const changed = async () => {
    await options.onChange?.(keySet()!);
    return status();
  };

  const signApiKey = (role: string) =>
    new SignJWT({ iss: "supabase-demo", role, exp: API_KEY_EXPIRY })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(secret);

  return {
    mode,
    jwtSecret: secretText,
    get keySet() {
      return keySet();
    },
    get jwks() {
      return { keys: mode === "es256" ? published().map((key) => key.publicJwk) : [] };
    },
    anonKey: await signApiKey("anon"),
    serviceRoleKey: await signApiKey("service_role"),
    async sign(claims, signOptions = {}) {
      const jwt = new SignJWT(claims);
      const key = active();
      if (key) {
        return await jwt.setProtectedHeader({ alg: "ES256", kid: signOptions.kid ?? key.kid, typ: "JWT" })
          .sign(key.privateKey);
      }
      const header = signOptions.kid
        ? { alg: "HS256", kid: signOptions.kid, typ: "JWT" }
        : { alg: "HS256", typ: "JWT" };
      return await jwt.setProtectedHeader(header).sign(secret);
    },
    async verify(token) {
      const keys = mode === "es256" ? published() : [];
      try {
        const { payload } = await jwtVerify(token, (header) => {
          // GoTrue: a `kid` selects a published key; no `kid` and HS256 is the legacy secret.
          if (header.kid !== undefined) {
            const key = keys.find((candidate) => candidate.kid === header.kid);
            if (key) return key.publicKey;
            throw new KeyLookupError(`invalid kid: ${header.kid}`);
          }
          if (header.alg === "HS256") return secret;
          throw new KeyLookupError("missing kid");
        }, { algorithms: keys.length > 0 ? ["ES256", "HS256"] : ["HS256"] });
        return payload;
      } catch (err) {
        throw new HttpError(
          403,
          "bad_jwt",
          `invalid JWT: unable to parse or verify signature, ${describeJwtError(err, token)}`,
        );
      }
    },
    status,
    async rotate() {
      if (mode !== "es256" || !ring.inUse) {
        throw new HttpError(422, "validation_failed", "Only ES256 signing keys rotate in the emulator");
      }
      const next = ring.standby ?? await loadEcKey(await generateSigningJwk());
      ring.previouslyUsed.unshift(ring.inUse);
      ring.inUse = next;
      ring.standby = await loadEcKey(await generateSigningJwk());
      return await changed();
    },
    async revoke(kid) {
      const index = ring.previouslyUsed.findIndex((key) => key.kid === kid);
      if (index < 0) {
        if (ring.inUse?.kid === kid || ring.standby?.kid === kid) {
          throw new HttpError(422, "validation_failed", "Only a previously used key can be revoked");
        }
        throw new HttpError(404, "not_found", "Signing key not found");
      }
      ring.previouslyUsed.splice(index, 1);
      return await changed();
    },
  };
}

class KeyLookupError extends Error {}

interface EcKey {
  kid: string;
  privateJwk: SigningJwk;
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
    privateJwk: { ...jwk, kid },
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
