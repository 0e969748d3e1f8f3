/**
 * The JSON GoTrue answers with, field for field: `models.User`, the access token's claims
 * (`AccessTokenClaims`) and the session (`AccessTokenResponse`).
 *
 * @module
 */
import { identityJson, type IdentityRow } from "./_identities.ts";
import type { SessionRow, UserRow } from "./_store.ts";
import { DEFAULT_AUDIENCE } from "./_params.ts";

/**
 * `models.User` as GoTrue serialises it (omitempty fields left out when null), with its identities.
 *
 * @param user The `auth.users` row.
 * @param identities Its `auth.identities` rows.
 * @returns The user's JSON.
 * @example
 * ```ts ignore
 * return Response.json(userJson(user, await listIdentities(sql, user.id)));
 * ```
 */
export function userJson(user: UserRow, identities: IdentityRow[]): Record<string, unknown> {
  const time = (value: Date | null) => value?.toISOString();
  const json: Record<string, unknown> = {
    id: user.id,
    aud: user.aud ?? "",
    role: user.role ?? "",
    email: user.email ?? "",
    email_confirmed_at: time(user.email_confirmed_at),
    invited_at: time(user.invited_at),
    phone: user.phone ?? "",
    phone_confirmed_at: time(user.phone_confirmed_at),
    confirmation_sent_at: time(user.confirmation_sent_at),
    confirmed_at: time(user.confirmed_at),
    recovery_sent_at: time(user.recovery_sent_at),
    new_email: user.email_change || undefined,
    email_change_sent_at: time(user.email_change_sent_at),
    last_sign_in_at: time(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: identities.map(identityJson),
    created_at: time(user.created_at),
    updated_at: time(user.updated_at),
    banned_until: time(user.banned_until),
    deleted_at: time(user.deleted_at),
    is_anonymous: user.is_anonymous,
  };
  return Object.fromEntries(Object.entries(json).filter(([, value]) => value !== undefined));
}

/**
 * GoTrue's `sanitizeUser`: a made-up unconfirmed user, so that a sign-up does not reveal who exists.
 *
 * @param email The address signed up with.
 * @param aud The request's audience.
 * @param data The sign-up's user metadata.
 * @returns The user's JSON.
 * @example
 * ```ts
 * console.log(obfuscatedUser("ada@example.com", "authenticated", {}).identities); // []
 * ```
 */
export function obfuscatedUser(
  email: string,
  aud: string,
  data: Record<string, unknown>,
): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    aud,
    role: "",
    email,
    phone: "",
    confirmation_sent_at: now,
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}

/**
 * The claims of an access token for a session, in GoTrue's order (golang-jwt's registered claims first,
 * then Supabase's).
 *
 * @param user The session's user.
 * @param session The session.
 * @param issuer The `iss` claim.
 * @param iat Issued at, in seconds.
 * @param exp Expiry, in seconds.
 * @param mfa The session's MFA amr entries (`totp`), newest first; its `aal` says whether they count.
 * @returns The claims to sign.
 * @example
 * ```ts ignore
 * const token = await sign(accessTokenClaims(user, session, issuer, iat, iat + 3600));
 * ```
 */
export function accessTokenClaims(
  user: UserRow,
  session: SessionRow,
  issuer: string,
  iat: number,
  exp: number,
  mfa: AmrEntry[] = [],
): Record<string, unknown> {
  return {
    iss: issuer,
    sub: user.id,
    aud: user.aud ?? DEFAULT_AUDIENCE,
    exp,
    iat,
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? "",
    aal: session.aal ?? "aal1",
    // Every session here began with a password; a verified factor adds `totp` (GoTrue keeps both in
    // mfa_amr_claims, most recent first).
    amr: [...mfa, { method: "password", timestamp: Math.floor(session.created_at.getTime() / 1000) }],
    session_id: session.id,
    is_anonymous: user.is_anonymous,
  };
}

/** One entry of the `amr` claim (GoTrue's `AMREntry`). */
export interface AmrEntry {
  method: string;
  timestamp: number;
}

/** GoTrue's `AccessTokenResponse`. */
export interface SessionJson {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
}

/**
 * GoTrue's `AccessTokenResponse` for a signed access token.
 *
 * @param accessToken The signed access token.
 * @param exp Its expiry, in seconds.
 * @param ttlSeconds Its lifetime.
 * @param refreshToken The session's current refresh token.
 * @param user The session's user.
 * @param identities The user's identities.
 * @returns The session's JSON.
 * @example
 * ```ts ignore
 * return Response.json(sessionJson(accessToken, exp, 3600, refreshToken, user, identities));
 * ```
 */
export function sessionJson(
  accessToken: string,
  exp: number,
  ttlSeconds: number,
  refreshToken: string,
  user: UserRow,
  identities: IdentityRow[],
): SessionJson {
  return {
    access_token: accessToken,
    token_type: "bearer",
    expires_in: ttlSeconds,
    expires_at: exp,
    refresh_token: refreshToken,
    user: userJson(user, identities),
  };
}
