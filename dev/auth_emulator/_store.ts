/**
 * The Auth emulator's sessions: its reads and writes of `auth.sessions` and `auth.refresh_tokens`, and the
 * `auth.users` row shape, made the way GoTrue's models make them (postgres.js, one transaction per grant).
 *
 * @module
 */
import type postgres from "postgres";

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
  aal: string | null;
  not_after: Date | null;
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

/** The user and, when asked, the session an access token names. */
export async function findUserAndSession(
  sql: postgres.Sql,
  userId: string,
  sessionId: string | undefined,
): Promise<{ user?: UserRow; session?: SessionRow }> {
  const [user] = await sql<UserRow[]>`select * from auth.users where id = ${userId}`;
  if (!user || sessionId === undefined) return { user };
  const [session] = await sql<SessionRow[]>`select * from auth.sessions where id = ${sessionId}`;
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
    returning *`;
  const refreshToken = await insertRefreshToken(tx, userId, session.id, null);
  const [user] = await tx<UserRow[]>`
    update auth.users set last_sign_in_at = now() where id = ${userId} returning *`;
  return { user, session, refreshToken };
}

/** Why a refresh token was refused. */
export type RefreshRefusal = "not_found" | "banned" | "no_session" | "expired" | "already_used";

/**
 * The refresh_token grant with rotation, as GoTrue's `RefreshTokenGrant`: the presented token is revoked
 * and a child issued. A revoked token is accepted only when it is the parent of the session's active
 * token (the client lost the answer: the active one is returned again) or within the reuse interval;
 * otherwise the whole family (the session's tokens) is revoked and the grant refused.
 *
 * @returns The grant, or the reason for refusing it.
 */
export async function refreshSession(
  sql: postgres.Sql,
  token: string,
  reuseIntervalSeconds: number,
  userAgent: string | null,
): Promise<Grant | RefreshRefusal> {
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
      ? await tx<SessionRow[]>`select * from auth.sessions where id = ${current.session_id} for update`
      : [];
    if (!session) {
      await tx`delete from auth.refresh_tokens where id = ${current.id}`;
      return "no_session";
    }
    if (session.not_after && session.not_after.getTime() <= Date.now()) return "expired";

    let issued: string | undefined;
    if (current.revoked) {
      const [active] = await tx<RefreshTokenRow[]>`
        select * from auth.refresh_tokens where session_id = ${session.id} and revoked = false
         order by id desc limit 1`;
      if (active && active.parent === current.token) {
        issued = active.token;
      } else if (Date.now() > current.updated_at.getTime() + reuseIntervalSeconds * 1000) {
        // Reuse outside the interval looks like theft: the family dies, and that must be committed.
        await tx`update auth.refresh_tokens set revoked = true, updated_at = now()
                  where session_id = ${session.id} and revoked = false`;
        return "already_used";
      }
    }
    if (issued === undefined) {
      await tx`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${current.id}`;
      issued = await insertRefreshToken(tx, user.id, session.id, current.token);
    }
    const [refreshed] = await tx<SessionRow[]>`
      update auth.sessions set refreshed_at = now(), updated_at = now(), user_agent = ${userAgent}
       where id = ${session.id} returning *`;
    return { user, session: refreshed, refreshToken: issued };
  });
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
