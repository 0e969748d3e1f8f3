/**
 * Users straight into the database, as Supabase Auth writes them (an `auth.users` row, its `email`
 * identity in `auth.identities`, and a live `auth.sessions` row), without going through the Auth API: for tests and the benchmark, which need many
 * users quickly and sign their access tokens themselves.
 *
 * @module
 */
import type postgres from "postgres";

/** A Supabase user with a live session, as Supabase Auth would have written it. */
export interface UserWithSession {
  id: string;
  /** The address (empty for an anonymous user). */
  email: string;
  sessionId: string;
  /** The access token's claims, as PostgREST puts them in `request.jwt.claims`. */
  claims: Record<string, unknown>;
}

/** Options for {@linkcode createUser}. */
export interface CreateUserOptions {
  /** The address (default: a fresh `user-…@example.com`). */
  email?: string;
  /** Whether the email is confirmed (default true). */
  confirmed?: boolean;
  /**
   * Whether the email identity says `email_verified` (default: as `confirmed`, as a link followed leaves
   * it). `confirmed` without it is what an autoconfirmed sign-up, an admin email change or a recovery
   * link leaves: a confirmed address that no identity proves.
   */
  emailVerified?: boolean;
  /** An anonymous user: no email, `is_anonymous` set. */
  anonymous?: boolean;
}

/**
 * Inserts an `auth.users` row, its `email` identity (none for an anonymous user) and an `auth.sessions` row.
 *
 * @param sql A client allowed to write `auth` (a superuser's).
 * @param options Email, confirmation, verification and anonymity.
 * @returns The user, its session and the claims of an access token for it (valid for an hour).
 * @example Signing an access token for a new user
 * ```ts ignore
 * const user = await createUser(sql, { email: "ada@example.com" });
 * const token = await auth.signAccessToken(user.claims);
 * ```
 */
export async function createUser(
  sql: postgres.Sql,
  options: CreateUserOptions = {},
): Promise<UserWithSession> {
  const id = crypto.randomUUID();
  const sessionId = crypto.randomUUID();
  const email = options.anonymous ? "" : (options.email ?? `user-${id.slice(0, 8)}@example.com`);
  await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                            created_at, updated_at, is_anonymous)
    values (${id}, 'authenticated', 'authenticated', ${email || null},
            ${options.confirmed === false || options.anonymous ? null : sql`now()`},
            '{"provider":"email","providers":["email"]}', '{}', now(), now(), ${options.anonymous ?? false})`;
  if (email) {
    // GoTrue's email identity: provider_id is the user's id, identity_data its claims.
    const verified = options.emailVerified ?? options.confirmed !== false;
    const data = { sub: id, email, email_verified: verified, phone_verified: false };
    await sql`insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                                           created_at, updated_at)
              values (${id}, ${id}, ${sql.json(data)}, 'email', now(), now(), now())`;
  }
  await sql`insert into auth.sessions (id, user_id, created_at, updated_at, aal)
            values (${sessionId}, ${id}, now(), now(), 'aal1')`;
  const claims = {
    sub: id,
    role: "authenticated",
    aud: "authenticated",
    email,
    session_id: sessionId,
    is_anonymous: options.anonymous ?? false,
    exp: Math.floor(Date.now() / 1000) + 3600,
  };
  return { id, email, sessionId, claims };
}
