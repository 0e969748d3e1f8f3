/**
 * `deno task backend-keys`: makes and rotates the private JWK set that signs asymmetric backend tokens
 * (`BACKEND_JWT_ALGORITHM=ES256` or `EdDSA`, `BACKEND_JWT_PRIVATE_KEYS`).
 *
 * Its output is an env file (`supabase secrets set --env-file FILE` reads it): the algorithm, the private
 * set in single quotes, and each public JWK as a comment. The private set is a secret for the function
 * alone; backends get the public keys from the function's JWKS.
 *
 * ```text
 * deno task backend-keys new [--alg ES256|EdDSA]   print a set of one new key
 * deno task backend-keys new FILE [--alg ...]      write it to FILE (refuses to overwrite)
 * deno task backend-keys add FILE                  append a new key: published, not yet signing
 * deno task backend-keys promote FILE              the newest key signs; the others stay published
 * deno task backend-keys retire FILE               drop every key but the one that signs
 * ```
 *
 * @module
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import {
  type AsymmetricAlgorithm,
  parseSigningKeys,
  type PublicJwk,
  type SigningJwk,
  toPublicJwks,
} from "../supabase/functions/_shared/exchange/signing_keys.ts";

/** A private JWK set and the algorithm it signs with: the two settings the function needs. */
export interface SigningKeySet {
  algorithm: AsymmetricAlgorithm;
  /** The first signs; all are published. */
  keys: SigningJwk[];
}

/**
 * Generates one signing key, its `kid` the RFC 7638 thumbprint of its public part.
 *
 * @param algorithm `ES256` (P-256) or `EdDSA` (Ed25519).
 * @returns The private JWK.
 * @example
 * ```ts
 * const key = await generateSigningKey("ES256");
 * ```
 */
export async function generateSigningKey(algorithm: AsymmetricAlgorithm): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair(algorithm, { extractable: true });
  const { kty, crv, x, y, d } = await exportJWK(privateKey);
  const publicPart = kty === "EC" ? { kty, crv, x, y } : { kty, crv, x };
  const kid = await calculateJwkThumbprint(publicPart as Parameters<typeof calculateJwkThumbprint>[0]);
  return { ...(publicPart as Omit<SigningJwk, "kid" | "d">), kid, d: d! };
}

/**
 * Rotation step 1: a set with a new key appended. It is published at once but signs nothing yet.
 *
 * @param set The current set.
 * @returns The new set.
 * @example
 * ```ts ignore
 * const next = await addKey(current);
 * ```
 */
export async function addKey(set: SigningKeySet): Promise<SigningKeySet> {
  return { algorithm: set.algorithm, keys: [...set.keys, await generateSigningKey(set.algorithm)] };
}

/**
 * Rotation step 2: the newest key signs; the key that signed until now stays published, so the tokens it
 * signed keep verifying until they expire.
 *
 * @param set The current set (at least two keys).
 * @returns The new set.
 * @throws {Error} When the set has one key (add one first).
 * @example
 * ```ts ignore
 * const switched = promoteNewest(next);
 * ```
 */
export function promoteNewest(set: SigningKeySet): SigningKeySet {
  if (set.keys.length < 2) throw new Error("there is no newer key to promote: add one first");
  const newest = set.keys[set.keys.length - 1];
  return { algorithm: set.algorithm, keys: [newest, ...set.keys.slice(0, -1)] };
}

/**
 * Rotation step 3: only the signing key stays. Do this once the old key's last tokens have expired.
 *
 * @param set The current set.
 * @returns The new set.
 * @example
 * ```ts ignore
 * const retired = retireOld(switched);
 * ```
 */
export function retireOld(set: SigningKeySet): SigningKeySet {
  return { algorithm: set.algorithm, keys: [set.keys[0]] };
}

/**
 * The function's settings for a set, as an env file: the algorithm, the private set (a secret), and each
 * public JWK as a comment.
 *
 * @param set The set.
 * @returns The env file's text.
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("keys.env", toEnvFile(set), { mode: 0o600 });
 * ```
 */
export function toEnvFile(set: SigningKeySet): string {
  const publicKeys = toPublicJwks(set.keys, set.algorithm).keys;
  return [
    "# Settings of the exchange-token function. BACKEND_JWT_PRIVATE_KEYS is a secret: keep it out of git,",
    "# give it to the function only. The first key signs; every key is published at",
    "# <SUPABASE_URL>/functions/v1/exchange-token/.well-known/jwks.json. Public keys:",
    ...publicKeys.map((key: PublicJwk) => `# ${JSON.stringify(key)}`),
    `BACKEND_JWT_ALGORITHM=${set.algorithm}`,
    `BACKEND_JWT_PRIVATE_KEYS='${JSON.stringify({ keys: set.keys })}'`,
    "",
  ].join("\n");
}

/**
 * Reads a set back from an env file written by {@linkcode toEnvFile} (or any `NAME=value` lines).
 *
 * @param text The env file's text.
 * @returns The set, checked as the function checks it.
 * @throws {Error} When a setting is missing or the keys are not a sound private set.
 * @example
 * ```ts
 * const set = parseEnvFile(await Deno.readTextFile("keys.env"));
 * ```
 */
export function parseEnvFile(text: string): SigningKeySet {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) values.set(match[1], match[2].trim().replace(/^'(.*)'$/s, "$1"));
  }
  const algorithm = values.get("BACKEND_JWT_ALGORITHM");
  if (algorithm !== "ES256" && algorithm !== "EdDSA") {
    throw new Error("BACKEND_JWT_ALGORITHM is not ES256 or EdDSA in this file");
  }
  const parsed = parseSigningKeys(values.get("BACKEND_JWT_PRIVATE_KEYS") ?? "", algorithm);
  if ("problem" in parsed) throw new Error(`BACKEND_JWT_PRIVATE_KEYS ${parsed.problem}`);
  return { algorithm, keys: parsed.keys };
}

/** What a set does now, in one line. */
function _describe(set: SigningKeySet): string {
  const [signing, ...others] = set.keys.map((key) => key.kid);
  return `${set.algorithm}: signs with ${signing}` +
    (others.length ? `; also published: ${others.join(", ")}` : "; no other key published");
}

async function _main(args: string[]): Promise<void> {
  const algIndex = args.indexOf("--alg");
  const alg = algIndex >= 0 ? args.splice(algIndex, 2)[1] : "ES256";
  const [command, file] = args;
  if (alg !== "ES256" && alg !== "EdDSA") throw new Error("--alg is ES256 or EdDSA");
  if (command === "new") {
    const set: SigningKeySet = { algorithm: alg, keys: [await generateSigningKey(alg)] };
    if (!file) return void console.log(toEnvFile(set).trimEnd());
    await Deno.writeTextFile(file, toEnvFile(set), { mode: 0o600, createNew: true });
    return void console.error(`${file}: ${_describe(set)}`);
  }
  const steps: Record<string, (set: SigningKeySet) => SigningKeySet | Promise<SigningKeySet>> = {
    add: addKey,
    promote: promoteNewest,
    retire: retireOld,
  };
  if (!Object.hasOwn(steps, command) || !file) {
    throw new Error(
      "usage: backend-keys new [FILE] [--alg ES256|EdDSA] | add FILE | promote FILE | retire FILE",
    );
  }
  const set = await steps[command](parseEnvFile(await Deno.readTextFile(file)));
  await Deno.writeTextFile(file, toEnvFile(set), { mode: 0o600 });
  console.error(`${file}: ${_describe(set)}`);
}

if (import.meta.main) {
  await _main(Deno.args.slice()).catch((err: Error) => {
    console.error(`backend-keys: ${err.message}`);
    Deno.exit(1);
  });
}
