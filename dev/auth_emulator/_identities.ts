/**
 * `auth.identities`, kept as GoTrue's `models.Identity` keeps it: one row per provider a user signs in
 * with, `provider_id` the provider's subject (for `email`, the user's own id), `identity_data` the
 * provider's claims (`sub`, `email`, `email_verified`, `phone_verified`, and sign-up metadata).
 *
 * @module
 */
import type postgres from "postgres";
import type { Db, UserRow } from "./_store.ts";

/** An `auth.identities` row. */
export interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  /** Generated: `lower(identity_data->>'email')`. */
  email: string | null;
}

/**
 * The claims GoTrue stores for an email identity: `structs.Map(provider.Claims{Subject, Email,
 * EmailVerified})`, where `email_verified` and `phone_verified` are always present.
 *
 * @param userId The user's id (`sub`).
 * @param email The address.
 * @param emailVerified Whether it is verified.
 * @returns The identity data.
 * @example
 * ```ts
 * console.log(emailClaims("u1", "ada@example.com")); // { sub: "u1", email: "ada@example.com", email_verified: false, phone_verified: false }
 * ```
 */
export function emailClaims(userId: string, email: string, emailVerified = false): Record<string, unknown> {
  return { sub: userId, email, email_verified: emailVerified, phone_verified: false };
}

/**
 * Creates an identity (GoTrue's `createNewIdentity`): `provider_id` from `sub`, signed in now, the email in
 * `identity_data` lower-cased (`Identity.BeforeCreate`).
 *
 * @param tx The transaction.
 * @param userId The user.
 * @param provider `email` here.
 * @param data The identity data, with `sub`.
 * @returns The new row.
 */
export async function createIdentity(
  tx: Db,
  userId: string,
  provider: string,
  data: Record<string, unknown>,
): Promise<IdentityRow> {
  const identityData = typeof data.email === "string" ? { ...data, email: data.email.toLowerCase() } : data;
  const [row] = await tx<IdentityRow[]>`
    insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at,
                                 updated_at)
    values (${String(data.sub)}, ${userId}, ${
    tx.json(identityData as postgres.JSONValue)
  }, ${provider}, now(),
            now(), now())
    returning *`;
  return row;
}

/** The user's identity for a provider (GoTrue's `FindIdentityByIdAndProvider` with the user's id). */
export async function findIdentity(
  tx: Db,
  userId: string,
  provider: string,
): Promise<IdentityRow | undefined> {
  const [row] = await tx<IdentityRow[]>`
    select * from auth.identities where provider_id = ${userId} and provider = ${provider}`;
  return row;
}

/** The user's identities, oldest first. */
export async function listIdentities(db: Db, userId: string): Promise<IdentityRow[]> {
  return await db<IdentityRow[]>`
    select * from auth.identities where user_id = ${userId} order by created_at, id`;
}

/**
 * Merges `updates` into an identity's data, a null value deleting its key (GoTrue's `UpdateIdentityData`,
 * which writes `identity_data` only).
 *
 * @param tx The transaction.
 * @param identity The identity.
 * @param updates The keys to set or (null) delete.
 * @returns The updated row.
 */
export async function updateIdentityData(
  tx: Db,
  identity: IdentityRow,
  updates: Record<string, unknown>,
): Promise<IdentityRow> {
  const [row] = await tx<IdentityRow[]>`
    update auth.identities set identity_data = ${tx.json(merge(identity.identity_data, updates))}
     where id = ${identity.id} returning *`;
  return row;
}

/**
 * Sets `app_metadata.providers` (and `provider`, the first) from the user's identities, as GoTrue's
 * `UpdateAppMetaDataProviders` does after a verification.
 *
 * @param tx The transaction.
 * @param user The user.
 * @returns The updated user.
 */
export async function updateProviders(tx: Db, user: UserRow): Promise<UserRow> {
  const rows = await tx<{ provider: string }[]>`
    select provider from auth.identities where user_id = ${user.id} order by created_at`;
  const providers = [...new Set(rows.map((row) => row.provider))];
  const payload: Record<string, unknown> = { providers };
  if (providers.length > 0) payload.provider = providers[0];
  const [row] = await tx<UserRow[]>`
    update auth.users set raw_app_meta_data = ${tx.json(merge(user.raw_app_meta_data, payload))},
                          updated_at = now()
     where id = ${user.id} returning *`;
  return row;
}

/**
 * GoTrue's merge of a metadata map: each key of `updates` set, or deleted when its value is null.
 *
 * @param base The current map (null as empty).
 * @param updates The changes.
 * @returns The merged map.
 * @example
 * ```ts
 * console.log(merge({ a: 1, b: 2 }, { b: null, c: 3 })); // { a: 1, c: 3 }
 * ```
 */
export function merge(
  base: Record<string, unknown> | null,
  updates: Record<string, unknown>,
): postgres.JSONValue {
  const merged: Record<string, unknown> = { ...(base ?? {}) };
  for (const [key, value] of Object.entries(updates)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged as postgres.JSONValue;
}

/**
 * `models.Identity` as GoTrue serialises it: `identity_id` is the row's id, `id` its `provider_id`.
 *
 * @param identity The row.
 * @returns The identity's JSON.
 * @example
 * ```ts ignore
 * const identities = (await listIdentities(sql, user.id)).map(identityJson);
 * ```
 */
export function identityJson(identity: IdentityRow): Record<string, unknown> {
  const json: Record<string, unknown> = {
    identity_id: identity.id,
    id: identity.provider_id,
    user_id: identity.user_id,
    identity_data: Object.keys(identity.identity_data ?? {}).length > 0 ? identity.identity_data : undefined,
    provider: identity.provider,
    last_sign_in_at: identity.last_sign_in_at?.toISOString(),
    created_at: identity.created_at?.toISOString() ?? "0001-01-01T00:00:00Z",
    updated_at: identity.updated_at?.toISOString() ?? "0001-01-01T00:00:00Z",
    email: identity.email || undefined,
  };
  return Object.fromEntries(Object.entries(json).filter(([, value]) => value !== undefined));
}
