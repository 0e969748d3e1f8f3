/**
 * The Auth emulator's writes of `auth.users`, each one a method of GoTrue's `models.User`
 * (`internal/models/user.go`): creating, confirming, changing the address or the password.
 *
 * @module
 */
import type postgres from "postgres";
import bcrypt from "bcryptjs";
import { clearOneTimeTokens } from "./_one_time_tokens.ts";
import { findIdentity, merge } from "./_identities.ts";
import { type Db, NIL_UUID, type UserRow } from "./_store.ts";

/** A new `auth.users` row, as GoTrue's `NewUser` and `signupNewUser` make it. */
export interface NewUser {
  /** Default: a random UUID. */
  id?: string;
  /** Lower-cased; null for an anonymous user. */
  email: string | null;
  aud: string;
  role: string;
  /** A bcrypt hash, or '' for none (invited and anonymous users). */
  passwordHash: string;
  appMetadata: Record<string, unknown>;
  userMetadata: Record<string, unknown>;
  isAnonymous?: boolean;
}

/** Inserts a user (unique violations surface as postgres error 23505). */
export async function insertUser(tx: Db, user: NewUser): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, confirmation_token,
                            recovery_token, email_change_token_new, email_change_token_current, email_change,
                            raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_sso_user,
                            is_anonymous)
    values (${NIL_UUID}, ${user.id ?? crypto.randomUUID()}, ${user.aud}, ${user.role}, ${user.email},
            ${user.passwordHash}, '', '', '', '', '', ${tx.json(user.appMetadata as postgres.JSONValue)},
            ${tx.json(user.userMetadata as postgres.JSONValue)}, now(), now(), false,
            ${user.isAnonymous ?? false})
    returning *`;
  return row;
}

/** The user with this id (GoTrue's `FindUserByID`), deleted or not. */
export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`select * from auth.users where id = ${id}`;
  return row;
}

/**
 * Merges into `raw_user_meta_data`, a null value deleting its key (GoTrue's `UpdateUserMetaData`).
 *
 * @returns The updated user.
 */
export async function updateUserMetadata(
  tx: Db,
  user: UserRow,
  updates: Record<string, unknown>,
): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    update auth.users set raw_user_meta_data = ${tx.json(merge(user.raw_user_meta_data, updates))},
                          updated_at = now()
     where id = ${user.id} returning *`;
  return row;
}

/**
 * Merges into `raw_app_meta_data`, a null value deleting its key (GoTrue's `UpdateAppMetaData`).
 *
 * @returns The updated user.
 */
export async function updateAppMetadata(
  tx: Db,
  user: UserRow,
  updates: Record<string, unknown>,
): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    update auth.users set raw_app_meta_data = ${tx.json(merge(user.raw_app_meta_data, updates))},
                          updated_at = now()
     where id = ${user.id} returning *`;
  return row;
}

/**
 * Confirms the user's email (GoTrue's `Confirm`): `email_confirmed_at` now, the confirmation token gone,
 * `email_verified: true` in the user's metadata, every mailed token dropped.
 *
 * @returns The updated user.
 */
export async function confirmUser(tx: Db, user: UserRow): Promise<UserRow> {
  const [confirmed] = await tx<UserRow[]>`
    update auth.users set confirmation_token = '', email_confirmed_at = now(), updated_at = now()
     where id = ${user.id} returning *`;
  const row = await updateUserMetadata(tx, confirmed, { email_verified: true });
  await clearOneTimeTokens(tx, user.id);
  return row;
}

/**
 * Ends a recovery or magic-link token's life (GoTrue's `Recover`).
 *
 * @returns The updated user.
 */
export async function clearRecovery(tx: Db, user: UserRow): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    update auth.users set recovery_token = '', updated_at = now() where id = ${user.id} returning *`;
  await clearOneTimeTokens(tx, user.id);
  return row;
}

/**
 * Switches the user to the address the email change waits for (GoTrue's `ConfirmEmailChange`): the
 * change's tokens cleared, the email confirmed if it was not, and the email identity's address updated.
 *
 * @param tx The transaction.
 * @param user The user, with `email_change` set.
 * @param status The `email_change_confirm_status` to leave.
 * @returns The updated user.
 */
export async function confirmEmailChange(tx: Db, user: UserRow, status: number): Promise<UserRow> {
  const email = user.email_change ?? "";
  let [row] = await tx<UserRow[]>`
    update auth.users set email = ${email}, email_change = '', email_change_token_current = '',
                          email_change_token_new = '', email_change_confirm_status = ${status},
                          updated_at = now()
     where id = ${user.id} returning *`;
  await clearOneTimeTokens(tx, user.id);
  if (!row.email_confirmed_at) row = await confirmUser(tx, row);
  const identity = await findIdentity(tx, user.id, "email");
  if (identity && Object.hasOwn(identity.identity_data, "email")) {
    await tx`update auth.identities set identity_data = ${tx.json(merge(identity.identity_data, { email }))}
              where id = ${identity.id}`;
  }
  return row;
}

/**
 * Stores a new password hash (GoTrue's `UpdatePassword`): every pending mailed token is void, and the
 * user's other sessions end (all of them when no session is given).
 *
 * @param tx The transaction.
 * @param user The user.
 * @param passwordHash The bcrypt hash, or '' for none.
 * @param sessionId The session to keep.
 * @returns The updated user.
 */
export async function updatePassword(
  tx: Db,
  user: UserRow,
  passwordHash: string,
  sessionId: string | undefined,
): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    update auth.users
       set encrypted_password = ${passwordHash}, confirmation_token = '', confirmation_sent_at = null,
           recovery_token = '', recovery_sent_at = null, email_change_token_current = '',
           email_change_token_new = '', email_change_sent_at = null, reauthentication_token = '',
           reauthentication_sent_at = null, updated_at = now()
     where id = ${user.id} returning *`;
  await clearOneTimeTokens(tx, user.id);
  // Deleting a session cascades to its refresh tokens.
  if (sessionId === undefined) await tx`delete from auth.sessions where user_id = ${user.id}`;
  else await tx`delete from auth.sessions where user_id = ${user.id} and id <> ${sessionId}`;
  return row;
}

/** Whether the user has a password (GoTrue's `HasPassword`). */
export function hasPassword(user: UserRow): boolean {
  return (user.encrypted_password ?? "") !== "";
}

/**
 * Another user of the audience that holds this address, through an identity or as `auth.users.email`
 * (GoTrue's `IsDuplicatedEmail`).
 *
 * @param db The client or transaction.
 * @param email The address, lower-cased.
 * @param aud The audience.
 * @param currentUserId The user asking, who does not count.
 * @returns The user holding the address, if any.
 */
export async function findDuplicateEmail(
  db: Db,
  email: string,
  aud: string,
  currentUserId?: string,
): Promise<UserRow | undefined> {
  const [byIdentity] = await db<UserRow[]>`
    select u.* from auth.identities i join auth.users u on u.id = i.user_id
     where i.email = ${email} and u.aud = ${aud} and u.id <> ${currentUserId ?? NIL_UUID}
       -- An SSO identity links only within its own provider (GoTrue's GetAccountLinkingDomain).
       and i.provider not like 'sso:%' limit 1`;
  if (byIdentity) return byIdentity;
  const [byEmail] = await db<UserRow[]>`
    select * from auth.users where lower(email) = ${email} and aud = ${aud} and is_sso_user = false`;
  return byEmail;
}

// GoTrue's bcrypt cost.
const BCRYPT_COST = 10;

/**
 * Hashes a password as GoTrue does (bcrypt, cost 10). Slow on purpose: call it outside transactions.
 *
 * @param password The password.
 * @returns The bcrypt hash.
 */
export async function hashPassword(password: string): Promise<string> {
  return await bcrypt.hash(password, BCRYPT_COST);
}
