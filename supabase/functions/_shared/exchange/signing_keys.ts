/**
 * The private JWK set that signs asymmetric backend tokens (`BACKEND_JWT_PRIVATE_KEYS`), and the public
 * JWK set the function publishes for it.
 *
 * The set is `{"keys": [...]}`: the first key signs, every key is published, so a key can be published
 * before it signs and after it stops signing (rotation without an outage). Each key is checked once, at
 * configuration time: its type fits the algorithm (`EC`/`P-256` for ES256, `OKP`/`Ed25519` for EdDSA), it
 * has a unique `kid`, and its private part `d` belongs to its public part (a mismatched pair would sign
 * tokens no backend can verify). The published keys are rebuilt from an allow-list of public members, so a
 * private member (`d`, or anything unknown) can never leak into the JWKS.
 *
 * @module
 */
import { createPrivateKey, createPublicKey } from "node:crypto";

/** The asymmetric algorithms a backend token can be signed with. */
export type AsymmetricAlgorithm = "ES256" | "EdDSA";

/** A private signing key, as given in `BACKEND_JWT_PRIVATE_KEYS`. */
export interface SigningJwk {
  kty: "EC" | "OKP";
  crv: "P-256" | "Ed25519";
  kid: string;
  x: string;
  y?: string;
  d: string;
}

/** A published verification key: public members only. */
export interface PublicJwk {
  kty: "EC" | "OKP";
  crv: "P-256" | "Ed25519";
  kid: string;
  x: string;
  y?: string;
  alg: AsymmetricAlgorithm;
  use: "sig";
}

/** A JWK set as served at `/.well-known/jwks.json`. */
export interface PublicJwks {
  keys: PublicJwk[];
}

/** The key type and curve each algorithm signs with. */
export const KEY_TYPE_BY_ALGORITHM: Readonly<
  Record<AsymmetricAlgorithm, { kty: SigningJwk["kty"]; crv: SigningJwk["crv"] }>
> = Object.freeze({
  ES256: { kty: "EC", crv: "P-256" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
});

/** Longest `kid` accepted; also what `BACKEND_JWT_KID` allows. */
export const KID_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

/** {@linkcode parseSigningKeys}'s answer: the keys, or what is wrong (never a key's value). */
export type ParsedSigningKeys = { keys: SigningJwk[] } | { problem: string };

/**
 * Parses and checks a private JWK set for an algorithm.
 *
 * @param value The setting's raw value: `{"keys": [...]}` (a bare array is accepted too).
 * @param algorithm The algorithm every key must fit.
 * @returns The keys in order (the first signs), or a `problem` sentence without any key material.
 * @example
 * ```ts ignore
 * const parsed = parseSigningKeys(env.BACKEND_JWT_PRIVATE_KEYS, "ES256");
 * if ("problem" in parsed) throw new Error(`BACKEND_JWT_PRIVATE_KEYS ${parsed.problem}`);
 * ```
 */
export function parseSigningKeys(value: string, algorithm: AsymmetricAlgorithm): ParsedSigningKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return { problem: "is not JSON" };
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) return { problem: 'is not a JWK set ({"keys": [...]})' };
  const keys: SigningJwk[] = [];
  for (const [index, entry] of list.entries()) {
    const problem = _keyProblem(entry, algorithm);
    if (problem) return { problem: `key ${index}: ${problem}` };
    const key = entry as SigningJwk;
    if (keys.some((k) => k.kid === key.kid)) return { problem: `key ${index}: its kid is used twice` };
    keys.push({
      kty: key.kty,
      crv: key.crv,
      kid: key.kid,
      x: key.x,
      ...(key.y ? { y: key.y } : {}),
      d: key.d,
    });
  }
  return { keys };
}

/**
 * The public JWK set of a private one: only `kty`, `crv`, `x`, `y`, `kid`, plus `alg` and `use`.
 *
 * @param keys The private keys, in order.
 * @param algorithm Their algorithm (published as each key's `alg`, which pins it for verifiers).
 * @returns The JWK set to publish.
 * @example
 * ```ts ignore
 * const jwks = toPublicJwks(config.backendJwt.keys, "ES256");
 * ```
 */
export function toPublicJwks(keys: readonly SigningJwk[], algorithm: AsymmetricAlgorithm): PublicJwks {
  return {
    keys: keys.map((key) => ({
      kty: key.kty,
      crv: key.crv,
      kid: key.kid,
      x: key.x,
      ...(key.y ? { y: key.y } : {}),
      alg: algorithm,
      use: "sig",
    })),
  };
}

function _keyProblem(entry: unknown, algorithm: AsymmetricAlgorithm): string | undefined {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return "is not a JWK object";
  const key = entry as Record<string, unknown>;
  const { kty, crv } = KEY_TYPE_BY_ALGORITHM[algorithm];
  if (key.kty !== kty || key.crv !== crv) return `is not a ${kty} ${crv} key, as ${algorithm} needs`;
  if (typeof key.kid !== "string" || !KID_PATTERN.test(key.kid)) {
    return "has no kid of 1-64 characters (letters, digits, . _ ~ -)";
  }
  if (typeof key.x !== "string" || (kty === "EC" && typeof key.y !== "string")) return "has no public part";
  if (typeof key.d !== "string") return "has no private part (d)";
  if (key.alg !== undefined && key.alg !== algorithm) return `says alg ${String(key.alg)}, not ${algorithm}`;
  const publicJwk: Record<string, string> = { kty, crv, x: key.x as string };
  if (kty === "EC") publicJwk.y = key.y as string;
  try {
    createPublicKey({ key: publicJwk, format: "jwk" });
  } catch {
    return "is not a valid key";
  }
  // The private part decides the public one: derive it and compare, so a pasted pair that does not
  // belong together is refused here instead of signing tokens that never verify.
  const mismatch = "has a private part (d) that does not belong to its public part";
  try {
    const derived = createPublicKey(createPrivateKey({ key: { ...publicJwk, d: key.d }, format: "jwk" }))
      .export({ format: "jwk" });
    if (derived.x !== key.x || (kty === "EC" && derived.y !== key.y)) return mismatch;
  } catch {
    return mismatch;
  }
  return undefined;
}
