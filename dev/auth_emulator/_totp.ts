/**
 * TOTP (RFC 6238) as GoTrue's MFA uses it through pquerna/otp: a 20-byte secret in unpadded base32,
 * HMAC-SHA1, 6 digits, a 30-second period, and one period of skew either way when verifying.
 *
 * @module
 */
import { createHmac } from "node:crypto";

const PERIOD_SECONDS = 30;
const DIGITS = 6;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * A new TOTP secret: 20 random bytes in unpadded base32 (pquerna/otp's default `SecretSize`).
 *
 * @returns 32 base32 characters.
 * @example
 * ```ts
 * generateTotpSecret().length; // 32
 * ```
 */
export function generateTotpSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let bits = "";
  for (const byte of bytes) bits += byte.toString(2).padStart(8, "0");
  return bits.match(/.{5}/g)!.map((chunk) => BASE32[parseInt(chunk, 2)]).join("");
}

/**
 * The code an authenticator app shows for a secret at a time.
 *
 * @param secret The base32 secret.
 * @param at The time (default now).
 * @returns Six digits.
 * @throws {Error} When the secret is not base32.
 * @example Enter the code of an enrolled factor
 * ```ts ignore
 * await supabase.auth.mfa.verify({ factorId, challengeId, code: totpCode(enrolled.totp.secret) });
 * ```
 */
export function totpCode(secret: string, at: Date = new Date()): string {
  return codeAt(secret, Math.floor(at.getTime() / 1000 / PERIOD_SECONDS));
}

/**
 * Checks a code as GoTrue does (`totp.ValidateCustom` with a skew of 1): this period's, the previous or the
 * next one's.
 *
 * @param secret The base32 secret.
 * @param code What the user entered.
 * @param at The time (default now).
 * @returns Whether it matches.
 * @example
 * ```ts
 * const secret = generateTotpSecret();
 * console.log(validateTotp(secret, totpCode(secret))); // true
 * ```
 */
export function validateTotp(secret: string, code: string, at: Date = new Date()): boolean {
  if (!/^[0-9]{6}$/.test(code)) return false;
  const counter = Math.floor(at.getTime() / 1000 / PERIOD_SECONDS);
  return [counter - 1, counter, counter + 1].some((c) => codeAt(secret, c) === code);
}

function codeAt(secret: string, counter: number): string {
  const message = new Uint8Array(8);
  new DataView(message.buffer).setBigUint64(0, BigInt(counter));
  const mac = createHmac("sha1", decodeBase32(secret)).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(value % 10 ** DIGITS).padStart(DIGITS, "0");
}

function decodeBase32(text: string): Uint8Array {
  let bits = "";
  for (const char of text.replace(/=+$/, "").toUpperCase()) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error("the TOTP secret is not base32");
    bits += index.toString(2).padStart(5, "0");
  }
  return Uint8Array.from(bits.match(/.{8}/g) ?? [], (byte) => parseInt(byte, 2));
}
