/**
 * The Auth emulator's sessions: its reads and writes of `auth.sessions` and `auth.refresh_tokens`, and the
 * `auth.users` row shape, made the way GoTrue's models make them (postgres.js, one transaction per grant).
 *
 * @module
 */
import type postgres from "postgres";
import {
  checkSessionValidity,
  lastRefreshedAt,
  type SessionLimits,
  type SessionValidity,
} from "./_sessions.ts";

/** A client or an open transaction: the models take either, as GoTrue's take a `*storage.Connection`. */
export type Db = postgres.Sql | postgres.TransactionSql;

/** An `auth.users` row, the columns the emulator uses. */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  /** The pending sign-up or invite token's hash ('' or null when none). */
  confirmation_token: string | null;
  confirmation_sent_at: Date | null;
  /** The pending recovery or magic-link token's hash. */
  recovery_token: string | null;
  recovery_sent_at: Date | null;
  email_change_token_new: string | null;
  email_change_token_current: string | null;
  /** The address an email change waits to switch to (GoTrue's `new_email`). */
  email_change: string | null;
  email_change_sent_at: Date | null;
  /** The pending reauthentication code's hash ('' or null when none). */
  reauthentication_token: string | null;
  reauthentication_sent_at: Date | null;
  /** 0, or 1 once one address of a secure email change has confirmed. */
  email_change_confirm_status: number | null;
  confirmed_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  phone: string | null;
  phone_confirmed_at: Date | null;
  banned_until: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
  is_sso_user: boolean;
}

/** An `auth.sessions` row. */
export interface SessionRow {
  id: string;
  user_id: string;
  created_at: Date;
  updated_at: Date;
  aal: string | null;
  not_after: Date | null;
  /** The last refresh; GoTrue writes it in UTC into a column without a time zone, read here as UTC. */
  refreshed_at: Date | null;
}

/** An `auth.refresh_tokens` row. */
export interface RefreshTokenRow {
  id: string;
  token: string;
  user_id: string;
  revoked: boolean;
  updated_at: Date;
  parent: string | null;
  session_id: string | null;
}

/** What a grant needs to answer: the user, the session and the refresh token it issued. */
export interface Grant {
  user: UserRow;
  session: SessionRow;
  refreshToken: string;
}

/** GoTrue writes the nil UUID into instance_id (single-tenant installs). */
export const NIL_UUID = "00000000-0000-0000-0000-000000000000";

/** The user with this email and audience (as GoTrue's `FindUserByEmailAndAudience`), if any. */
export async function findUserByEmail(
  sql: Db,
  email: string,
  aud: string,
): Promise<UserRow | undefined> {
  const [row] = await sql<UserRow[]>`
    select * from auth.users
     where lower(email) = ${email.toLowerCase()} and aud = ${aud} and is_sso_user = false and deleted_at is null`;
  return row;
}

// A session row with `refreshed_at` read as the UTC time GoTrue writes there, whatever the time zone.
function sessionColumns(db: Db) {
  return db`id, user_id, created_at, updated_at, aal, not_after, refreshed_at at time zone 'UTC' as refreshed_at`;
}

/** The user and, when asked, the session an access token names. */
export async function findUserAndSession(
  sql: postgres.Sql,
  userId: string,
  sessionId: string | undefined,
): Promise<{ user?: UserRow; session?: SessionRow }> {
  const [user] = await sql<UserRow[]>`select * from auth.users where id = ${userId}`;
  if (!user || sessionId === undefined) return { user };
  const [session] = await sql<SessionRow[]>`
    select ${sessionColumns(sql)} from auth.sessions where id = ${sessionId}`;
  return { user, session };
}

/**
 * Starts a session for a user: `auth.sessions` row, first refresh token, `last_sign_in_at`, in one
 * transaction (GoTrue's `GrantAuthenticatedUser`).
 */
export async function startSession(
  sql: postgres.Sql,
  userId: string,
  userAgent: string | null,
): Promise<Grant> {
  return await sql.begin((tx) => startSessionIn(tx, userId, userAgent));
}

/** {@linkcode startSession} inside a transaction the caller holds, as GoTrue's `/verify` grants one. */
export async function startSessionIn(
  tx: postgres.TransactionSql,
  userId: string,
  userAgent: string | null,
): Promise<Grant> {
  const [session] = await tx<SessionRow[]>`
    insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
    values (${crypto.randomUUID()}, ${userId}, now(), now(), 'aal1', ${userAgent})
    returning ${sessionColumns(tx)}`;
  const refreshToken = await insertRefreshToken(tx, userId, session.id, null);
  const [user] = await tx<UserRow[]>`
    update auth.users set last_sign_in_at = now() where id = ${userId} returning *`;
  return { user, session, refreshToken };
}

/**
 * Why a refresh token was refused: not found, user banned, no session, the session's validity (GoTrue's
 * `CheckValidity`), superseded by a newer session under single-session-per-user, or reused.
 */
export type RefreshRefusal =
  | "not_found"
  | "banned"
  | "no_session"
  | Exclude<SessionValidity, "valid">
  | "superseded"
  | "already_used";

/** The settings a refresh is judged by, and its time. */
export interface RefreshPolicy {
  /** `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, in seconds. */
  reuseIntervalSeconds: number;
  /** `GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED`: a reuse outside the interval ends the session. */
  rotation: boolean;
  /** Timebox, inactivity timeout and single session per user. */
  limits: SessionLimits;
  /** The time of the refresh (GoTrue's token service takes its clock as a seam too). */
  now: Date;
}

/**
 * The refresh_token grant with rotation, as GoTrue's `RefreshTokenGrant`. A session past its limits is
 * refused; under single-session-per-user, so is one when another valid session of the user was active more
 * recently. The presented token is revoked and a child issued. A revoked token is accepted only when it is
 * the parent of the session's active token (the client lost the answer: the active one is returned again)
 * or within the reuse interval; otherwise, with rotation on, the session is deleted with its refresh
 * tokens (GoTrue's `LogoutSession` of its v2 refresh tokens; its v1 tokens revoke the session's tokens and
 * leave the row) and the grant refused.
 *
 * @returns The grant, or the reason for refusing it.
 */
export async function refreshSession(
  sql: postgres.Sql,
  token: string,
  policy: RefreshPolicy,
  userAgent: string | null,
): Promise<Grant | RefreshRefusal> {
  const { limits, now } = policy;
  return await sql.begin(async (tx) => {
    // Locking the token row serialises concurrent refreshes of it, as GoTrue's `for update` does.
    const [current] = await tx<RefreshTokenRow[]>`
      select * from auth.refresh_tokens where token = ${token} for update`;
    if (!current) return "not_found";
    const [user] = await tx<UserRow[]>`
      select * from auth.users where id::text = ${current.user_id} and deleted_at is null`;
    if (!user) return "not_found";
    if (isBanned(user)) return "banned";
    const [session] = current.session_id
      ? await tx<SessionRow[]>`
          select ${sessionColumns(tx)} from auth.sessions where id = ${current.session_id} for update`
      : [];
    if (!session) {
      await tx`delete from auth.refresh_tokens where id = ${current.id}`;
      return "no_session";
    }
    const validity = checkSessionValidity(session, limits, now, current.updated_at);
    if (validity !== "valid") return validity;

    if (limits.singlePerUser) {
      // Locking the user's sessions serialises this with a sign-in's, as GoTrue locks the user row.
      const others = await tx<SessionRow[]>`
        select ${sessionColumns(tx)} from auth.sessions
         where user_id = ${user.id} and id <> ${session.id} for update`;
      const mine = lastRefreshedAt(session, current.updated_at);
      // A newer valid session means a newer login: this one is no longer the user's session.
      if (
        others.some((other) =>
          checkSessionValidity(other, limits, now) === "valid" && lastRefreshedAt(other) > mine
        )
      ) {
        return "superseded";
      }
    }

    let issued: string | undefined;
    if (current.revoked) {
      const [active] = await tx<RefreshTokenRow[]>`
        select * from auth.refresh_tokens where session_id = ${session.id} and revoked = false
         order by id desc limit 1`;
      if (active && active.parent === current.token) {
        issued = active.token;
      } else if (now.getTime() > current.updated_at.getTime() + policy.reuseIntervalSeconds * 1000) {
        // Reuse outside the interval looks like theft: the session dies (its refresh tokens go with it,
        // on delete cascade), and that must be committed.
        if (policy.rotation) await tx`delete from auth.sessions where id = ${session.id}`;
        return "already_used";
      }
    }
    if (issued === undefined) {
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${current.id}`;
      issued = await insertRefreshToken(tx, user.id, session.id, current.token);
    }
    // GoTrue writes refreshed_at in UTC into a column without a time zone.
    const [refreshed] = await tx<SessionRow[]>`
      update auth.sessions
         set refreshed_at = ${now}::timestamptz at time zone 'UTC', updated_at = ${now}, user_agent = ${userAgent}
       where id = ${session.id} returning ${sessionColumns(tx)}`;
    return { user, session: refreshed, refreshToken: issued };
  });
}

/**
 * Raises a session to aal2 after a verified factor, as GoTrue's `updateMFASessionAndClaims` with legacy
 * refresh tokens: the factor's amr claim (`totp`, `mfa/webauthn`; its time renewed when present), the session's `aal` and
 * `factor_id`, the session's active refresh token swapped for a child (so the aal1 one cannot be used to
 * get aal2 tokens), and the user's sessions below aal2 deleted (`InvalidateSessionsWithAALLessThan`).
 *
 * @returns The grant to answer with.
 */
export async function upgradeSessionToAal2(
  tx: postgres.TransactionSql,
  user: UserRow,
  sessionId: string,
  factorId: string,
  method: "totp" | "mfa/webauthn" = "totp",
): Promise<Grant> {
  await tx`
    insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
    values (${crypto.randomUUID()}, ${sessionId}, now(), now(), ${method})
    on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
    do update set updated_at = now()`;
  const [session] = await tx<SessionRow[]>`
    update auth.sessions set aal = 'aal2', factor_id = ${factorId}, updated_at = now()
     where id = ${sessionId} returning ${sessionColumns(tx)}`;
  const [active] = await tx<RefreshTokenRow[]>`
    update auth.refresh_tokens set revoked = true, updated_at = now()
     where id = (select id from auth.refresh_tokens where session_id = ${sessionId} and revoked = false
                  order by id desc limit 1)
    returning *`;
  const refreshToken = await insertRefreshToken(tx, user.id, sessionId, active?.token ?? null);
  await tx`delete from auth.sessions where user_id = ${user.id} and aal < 'aal2'`;
  return { user, session, refreshToken };
}

/** Ends sessions per GoTrue's logout scopes; with no session in the token, all of the user's. */
export async function endSessions(
  sql: postgres.Sql,
  userId: string,
  sessionId: string | undefined,
  scope: "global" | "local" | "others",
): Promise<void> {
  // Deleting a session cascades to its refresh tokens (auth.refresh_tokens.session_id on delete cascade).
  if (sessionId !== undefined && scope === "local") {
    await sql`delete from auth.sessions where id = ${sessionId}`;
  } else if (sessionId !== undefined && scope === "others") {
    await sql`delete from auth.sessions where user_id = ${userId} and id <> ${sessionId}`;
  } else {
    await sql.begin(async (tx) => {
      await tx`delete from auth.sessions where user_id = ${userId}`;
      await tx`delete from auth.refresh_tokens where user_id = ${userId}`;
    });
  }
}

/** Whether `banned_until` lies in the future (GoTrue's `IsBanned`). */
export function isBanned(user: UserRow): boolean {
  return user.banned_until !== null && user.banned_until.getTime() > Date.now();
}

async function insertRefreshToken(
  tx: postgres.TransactionSql,
  userId: string,
  sessionId: string,
  parent: string | null,
): Promise<string> {
  const token = refreshTokenString();
  await tx`
    insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
    values (${NIL_UUID}, ${token}, ${userId}, false, now(), now(), ${parent}, ${sessionId})`;
  return token;
}

// GoTrue's refresh tokens are 12 random characters from [a-z0-9] (crypto.SecureAlphanumeric(12)).
function refreshTokenString(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const out: string[] = [];
  while (out.length < 12) {
    const [byte] = crypto.getRandomValues(new Uint8Array(1));
    // Rejecting bytes past the last whole multiple of 36 keeps every character equally likely.
    if (byte < 252) out.push(alphabet[byte % 36]);
  }
  return out.join("");
}
