/**
 * The Auth emulator's reads and writes of `auth.users`, `auth.sessions` and `auth.refresh_tokens`, made
 * the way GoTrue's models make them (postgres.js, one transaction per grant).
 *
 * @module
 */
import type postgres from "postgres";

/** An `auth.users` row, the columns the emulator uses. */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  confirmation_sent_at: Date | null;
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

// GoTrue writes the nil UUID into instance_id (single-tenant installs).
const NIL_UUID = "00000000-0000-0000-0000-000000000000";

/** The new user of a sign-up. */
export interface NewUser {
  email: string;
  aud: string;
  passwordHash: string;
  userMetadata: Record<string, unknown>;
  confirmed: boolean;
}

/** Inserts a sign-up's user (unique violations surface as postgres error 23505). */
export async function insertUser(sql: postgres.Sql, user: NewUser): Promise<UserRow> {
  const appMetadata = { provider: "email", providers: ["email"] };
  const [row] = await sql<UserRow[]>`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                            confirmation_sent_at, raw_app_meta_data, raw_user_meta_data, created_at,
                            updated_at, is_sso_user, is_anonymous)
    values (${NIL_UUID}, ${crypto.randomUUID()}, ${user.aud}, 'authenticated', ${user.email}, ${user.passwordHash},
            ${user.confirmed ? sql`now()` : null}, ${user.confirmed ? null : sql`now()`},
            ${sql.json(appMetadata)}, ${sql.json(user.userMetadata as postgres.JSONValue)}, now(), now(),
            false, false)
    returning *`;
  return row;
}

/** The user with this email and audience (as GoTrue's `FindUserByEmailAndAudience`), if any. */
export async function findUserByEmail(
  sql: postgres.Sql,
  email: string,
  aud: string,
): Promise<UserRow | undefined> {
  const [row] = await sql<UserRow[]>`
    select * from auth.users
     where lower(email) = ${email.toLowerCase()} and aud = ${aud} and is_sso_user = false and deleted_at is null`;
  return row;
}

/** Records that a confirmation mail would have been sent now (the emulator sends no mail). */
export async function touchConfirmationSent(sql: postgres.Sql, userId: string): Promise<UserRow> {
  const [row] = await sql<UserRow[]>`
    update auth.users set confirmation_sent_at = now() where id = ${userId} returning *`;
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
  return await sql.begin(async (tx) => {
    const [session] = await tx<SessionRow[]>`
      insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
      values (${crypto.randomUUID()}, ${userId}, now(), now(), 'aal1', ${userAgent})
      returning *`;
    const refreshToken = await insertRefreshToken(tx, userId, session.id, null);
    const [user] = await tx<UserRow[]>`
      update auth.users set last_sign_in_at = now() where id = ${userId} returning *`;
    return { user, session, refreshToken };
  });
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
