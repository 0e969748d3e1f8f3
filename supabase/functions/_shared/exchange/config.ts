/**
 * The exchange's own settings (docs/contract.md §4): the backend JWT it signs, with a shared secret
 * (`BACKEND_JWT_SECRET`, HS256 by default) or a private JWK set (`BACKEND_JWT_PRIVATE_KEYS`, ES256/EdDSA),
 * its lifetime, audience and issuer; on top of every function's (`../core/config.ts`).
 *
 * It fails closed: a missing or short secret, a private key set that is not sound, an unknown algorithm, or
 * a TTL that is not a sane number of seconds throws a {@linkcode ConfigError} naming the setting, and the
 * function then answers every exchange with 500 `server_misconfigured` instead of signing with a weak key.
 *
 * @module
 */
import { ConfigError, type Env, isSet, loadServiceConfig, type ServiceConfig } from "../core/config.ts";
import { type AsymmetricAlgorithm, KID_PATTERN, parseSigningKeys, type SigningJwk } from "./signing_keys.ts";

/** The HMAC algorithms the Python side can verify with the shared secret. */
export type HmacAlgorithm = "HS256" | "HS384" | "HS512";

/** Every algorithm a backend token can be signed with: HMAC (the default) or asymmetric, opt-in. */
export type BackendJwtAlgorithm = HmacAlgorithm | AsymmetricAlgorithm;

/** The settings every backend JWT has, whatever signs it. */
interface BackendJwtCommon {
  /** Lifetime in seconds (`BACKEND_JWT_TTL_SECONDS`). */
  ttlSeconds: number;
  /** `aud` claim, only when `BACKEND_JWT_AUDIENCE` is set (PyJWT then needs `audience=`). */
  audience?: string;
  /** `iss` claim, only when `BACKEND_JWT_ISSUER` is set. */
  issuer?: string;
}

/** An HMAC-signed backend JWT: the secret the Python service shares. */
export interface HmacBackendJwtConfig extends BackendJwtCommon {
  algorithm: HmacAlgorithm;
  /** `BACKEND_JWT_SECRET` as UTF-8 bytes, as PyJWT uses a `str` key. */
  secret: Uint8Array;
  /** `BACKEND_JWT_KID`: a `kid` header naming the secret, for backends that keep several. */
  kid?: string;
}

/** An asymmetrically signed backend JWT: backends verify with the published public keys. */
export interface AsymmetricBackendJwtConfig extends BackendJwtCommon {
  algorithm: AsymmetricAlgorithm;
  /** `BACKEND_JWT_PRIVATE_KEYS`: the first signs, all are published. */
  keys: readonly SigningJwk[];
}

/** The backend JWT's settings. */
export type BackendJwtConfig = HmacBackendJwtConfig | AsymmetricBackendJwtConfig;

/**
 * Whether backend tokens are signed with a private key (and the public keys published).
 *
 * @param config The backend JWT's settings.
 * @returns True for ES256 and EdDSA.
 * @example
 * ```ts ignore
 * const jwks = isAsymmetric(config.backendJwt) ? toPublicJwks(config.backendJwt) : undefined;
 * ```
 */
export function isAsymmetric(config: BackendJwtConfig): config is AsymmetricBackendJwtConfig {
  return config.algorithm === "ES256" || config.algorithm === "EdDSA";
}

/** Everything the exchange needs, validated. */
export interface ExchangeConfig extends ServiceConfig {
  backendJwt: BackendJwtConfig;
}

/** The function's name: the realm of its challenges, the `application_name` of its connections. */
export const EXCHANGE_FUNCTION = "exchange-token";

/** The defaults of the backend JWT's optional settings. */
export const BACKEND_JWT_DEFAULTS = Object.freeze({
  algorithm: "HS256" as HmacAlgorithm,
  ttlSeconds: 604_800,
});

/** Bounds of `BACKEND_JWT_TTL_SECONDS`: at least the clock-skew allowance, at most 30 days. */
export const TTL_BOUNDS = Object.freeze({ min: 60, max: 2_592_000 });

// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output. docs/contract.md §3 asks for 32 bytes
// at least, which is exactly HS256's bound.
const MIN_SECRET_BYTES: Readonly<Record<HmacAlgorithm, number>> = { HS256: 32, HS384: 48, HS512: 64 };

/**
 * Parses and validates the exchange's environment: every function's settings and the backend JWT's.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The validated configuration.
 * @throws {ConfigError} `server_misconfigured`, naming the first setting that is missing or unsafe.
 * @example
 * ```ts
 * const config = loadExchangeConfig(Deno.env.toObject());
 * ```
 */
export function loadExchangeConfig(env: Env): ExchangeConfig {
  const service = loadServiceConfig(env);
  return { ...service, backendJwt: _backendJwt(env) };
}

function _backendJwt(env: Env): BackendJwtConfig {
  const algorithm = _algorithm(env.BACKEND_JWT_ALGORITHM);
  const audience = _optionalText(env, "BACKEND_JWT_AUDIENCE");
  const issuer = _optionalText(env, "BACKEND_JWT_ISSUER");
  const common = {
    ttlSeconds: _ttl(env.BACKEND_JWT_TTL_SECONDS),
    ...(audience ? { audience } : {}),
    ...(issuer ? { issuer } : {}),
  };
  if (algorithm === "ES256" || algorithm === "EdDSA") {
    return { algorithm, keys: _signingKeys(env.BACKEND_JWT_PRIVATE_KEYS, algorithm), ...common };
  }
  const kid = _kid(env.BACKEND_JWT_KID);
  return {
    algorithm,
    secret: _secret(env.BACKEND_JWT_SECRET, algorithm),
    ...(kid ? { kid } : {}),
    ...common,
  };
}

function _algorithm(value: string | undefined): BackendJwtAlgorithm {
  if (!isSet(value)) return BACKEND_JWT_DEFAULTS.algorithm;
  const algorithm = value.trim();
  if (["HS256", "HS384", "HS512", "ES256", "EdDSA"].includes(algorithm)) {
    return algorithm as BackendJwtAlgorithm;
  }
  throw new ConfigError("BACKEND_JWT_ALGORITHM", "is not one of HS256, HS384, HS512, ES256, EdDSA");
}

function _signingKeys(value: string | undefined, algorithm: AsymmetricAlgorithm): SigningJwk[] {
  if (!isSet(value)) {
    throw new ConfigError(
      "BACKEND_JWT_PRIVATE_KEYS",
      `is not set (${algorithm} signs with a private JWK set)`,
    );
  }
  const parsed = parseSigningKeys(value, algorithm);
  if ("problem" in parsed) throw new ConfigError("BACKEND_JWT_PRIVATE_KEYS", parsed.problem);
  return parsed.keys;
}

function _kid(value: string | undefined): string | undefined {
  if (!isSet(value)) return undefined;
  if (!KID_PATTERN.test(value.trim())) {
    throw new ConfigError("BACKEND_JWT_KID", "is not 1-64 characters of letters, digits, . _ ~ -");
  }
  return value.trim();
}

function _secret(value: string | undefined, algorithm: HmacAlgorithm): Uint8Array {
  if (value === undefined || value === "") throw new ConfigError("BACKEND_JWT_SECRET", "is not set");
  const bytes = new TextEncoder().encode(value);
  const min = MIN_SECRET_BYTES[algorithm];
  if (bytes.byteLength < min) {
    throw new ConfigError("BACKEND_JWT_SECRET", `is shorter than ${min} bytes, the minimum for ${algorithm}`);
  }
  if (new Set(bytes).size === 1) throw new ConfigError("BACKEND_JWT_SECRET", "is one repeated character");
  return bytes;
}

function _ttl(value: string | undefined): number {
  if (!isSet(value)) return BACKEND_JWT_DEFAULTS.ttlSeconds;
  const text = value.trim();
  if (!/^[0-9]{1,10}$/.test(text)) {
    throw new ConfigError("BACKEND_JWT_TTL_SECONDS", "is not a whole number of seconds");
  }
  const seconds = Number(text);
  if (seconds < TTL_BOUNDS.min || seconds > TTL_BOUNDS.max) {
    throw new ConfigError(
      "BACKEND_JWT_TTL_SECONDS",
      `is outside ${TTL_BOUNDS.min}..${TTL_BOUNDS.max} seconds`,
    );
  }
  return seconds;
}

function _optionalText(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === "") return undefined;
  if (value.trim().length > 255) throw new ConfigError(name, "is longer than 255 characters");
  return value.trim();
}
