/**
 * The codes GoTrue mails and how it stores them: a numeric one-time password, kept only as the hex
 * SHA-224 of the address followed by the code (`internal/crypto` `GenerateOtp`, `GenerateTokenHash`),
 * in a column of `auth.users` and in `auth.one_time_tokens` (`internal/models/one_time_token.go`), where
 * a mailed link's token is looked up.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Db } from "./_store.ts";

/** `auth.one_time_token_type`, the kinds of mailed tokens the emulator issues. */
export type OneTimeTokenType =
  | "confirmation_token"
  | "recovery_token"
  | "email_change_token_new"
  | "email_change_token_current"
  | "reauthentication_token";

/**
 * A random code of `digits` decimal digits, leading zeros kept (GoTrue's `GenerateOtp`).
 *
 * @param digits How many digits.
 * @returns The code.
 * @example
 * ```ts
 * console.log(generateOtp(6).length); // 6
 * ```
 */
export function generateOtp(digits: number): string {
  const bound = 10n ** BigInt(digits);
  // 64 random bits modulo 10^digits: the bias is below 10^-13 for GoTrue's at most 10 digits.
  const [random] = crypto.getRandomValues(new BigUint64Array(1));
  return (random % bound).toString().padStart(digits, "0");
}

/**
 * The stored form of a mailed code: hex SHA-224 of the address (or phone) followed by the code.
 *
 * @param address The address the code was sent to.
 * @param otp The code.
 * @returns 56 hex digits.
 * @example
 * ```ts
 * console.log(tokenHash("ada@example.com", "123456").length); // 56
 * ```
 */
export function tokenHash(address: string, otp: string): string {
  return createHash("sha224").update(address + otp).digest("hex");
}

/**
 * Records a mailed token, replacing the user's previous one of its kind (GoTrue's `CreateOneTimeToken`).
 *
 * @param tx The transaction.
 * @param userId The user.
 * @param relatesTo The address it was sent to (stored lower-cased).
 * @param hash The token's hash.
 * @param type Its kind.
 */
export async function createOneTimeToken(
  tx: Db,
  userId: string,
  relatesTo: string,
  hash: string,
  type: OneTimeTokenType,
): Promise<void> {
  await clearOneTimeTokens(tx, userId, type);
  await tx`insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
           values (${crypto.randomUUID()}, ${userId}, ${type}, ${hash}, ${relatesTo.toLowerCase()})`;
}

/** Deletes the user's tokens of one kind, or of every kind (`ClearOneTimeTokenForUser`, `ClearAll…`). */
export async function clearOneTimeTokens(tx: Db, userId: string, type?: OneTimeTokenType): Promise<void> {
  if (type) await tx`delete from auth.one_time_tokens where user_id = ${userId} and token_type = ${type}`;
  else await tx`delete from auth.one_time_tokens where user_id = ${userId}`;
}

/**
 * The user a token hash was issued to, among the given kinds (GoTrue's `FindOneTimeToken` and its
 * `FindUserBy…Token` callers).
 *
 * @param tx The transaction.
 * @param hash The hash from the link (`token`) or the request (`token_hash`).
 * @param types The kinds to look in.
 * @returns The token's user and kind, if one matches.
 */
export async function findOneTimeToken(
  tx: Db,
  hash: string,
  types: OneTimeTokenType[],
): Promise<{ user_id: string; token_type: OneTimeTokenType } | undefined> {
  const [row] = await tx<{ user_id: string; token_type: OneTimeTokenType }[]>`
    select user_id, token_type from auth.one_time_tokens
     where token_type in ${tx(types)} and token_hash = ${hash} limit 1`;
  return row;
}
