/**
 * GoTrue's `requireAuthentication` (the bearer access token of a request, checked down to the user and
 * the session it names) and `requireAdminCredentials` (a token whose role is an admin role).
 *
 * @module
 */
import type { JWTPayload } from "jose";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { findUserAndSession, isBanned, type UserRow } from "./_store.ts";
import { checkSessionValidity } from "./_sessions.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL_SESSION = "00000000-0000-0000-0000-000000000000";

/** Who a request is authenticated as. */
export interface Authenticated {
  user: UserRow;
  /** The token's `session_id`, when it names one. */
  sessionId?: string;
  claims: JWTPayload;
}

/**
 * Authenticates a request as GoTrue does: a bearer token with a valid signature, naming a user that
 * exists and a session that exists. Beyond GoTrue, a soft-deleted or banned user is refused here too:
 * GoTrue ends their sessions when it deletes or bans them, while tests here set those columns directly.
 *
 * @param ctx The emulator's keys and database.
 * @param req The request with the `Authorization` header.
 * @returns The user, the session id and the token's claims.
 * @throws {HttpError} 401 `no_authorization`; 403 `bad_jwt`, `user_not_found`, `user_banned`,
 *   `session_not_found`; 400 `bad_jwt` for a `sub` that is not a UUID.
 * @example
 * ```ts ignore
 * const { user } = await authenticate(ctx, req);
 * ```
 */
export async function authenticate(ctx: AuthContext, req: Request): Promise<Authenticated> {
  const claims = await ctx.keys.verify(bearerToken(req));
  if (typeof claims.sub !== "string" || claims.sub === "") {
    throw new HttpError(403, "bad_jwt", "invalid claim: missing sub claim");
  }
  if (!UUID.test(claims.sub)) {
    throw new HttpError(400, "bad_jwt", "invalid claim: sub claim must be a UUID");
  }
  const sessionId = sessionIdOf(claims);
  const { user, session } = await findUserAndSession(ctx.sql, claims.sub, sessionId);
  if (!user || user.deleted_at) {
    throw new HttpError(403, "user_not_found", "User from sub claim in JWT does not exist");
  }
  if (isBanned(user)) throw new HttpError(403, "user_banned", "User is banned");
  if (sessionId !== undefined && !session) {
    throw new HttpError(403, "session_not_found", "Session from session_id claim in JWT does not exist");
  }
  return { user, sessionId, claims };
}

/**
 * GoTrue's `requireAdminCredentials`: a valid token whose `role` is one of `GOTRUE_JWT_ADMIN_ROLES`
 * (`service_role`, as `supabase start` sets it); a token naming a session must name a live one, within the
 * timebox and inactivity timeout. (GoTrue checks those here and on refresh, not in `requireAuthentication`:
 * `GET /user` answers for a timed-out session as long as its row and the access token last.)
 *
 * @param ctx The emulator's keys and database.
 * @param req The request with the `Authorization` header.
 * @returns The token's claims.
 * @throws {HttpError} 401 `no_authorization`; 403 `bad_jwt`, `user_not_found`, `session_not_found`,
 *   `session_expired`, `not_admin`.
 * @example
 * ```ts ignore
 * await requireAdmin(ctx, req);
 * ```
 */
export async function requireAdmin(ctx: AuthContext, req: Request): Promise<JWTPayload> {
  const claims = await ctx.keys.verify(bearerToken(req));
  const sessionId = sessionIdOf(claims);
  if (sessionId !== undefined) {
    if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) {
      throw new HttpError(400, "bad_jwt", "invalid claim: sub claim must be a UUID");
    }
    const { user, session } = await findUserAndSession(ctx.sql, claims.sub, sessionId);
    if (!user) throw new HttpError(403, "user_not_found", "User from sub claim in JWT does not exist");
    if (!session) {
      throw new HttpError(403, "session_not_found", "Session from session_id claim in JWT does not exist");
    }
    if (checkSessionValidity(session, ctx.sessionLimits, ctx.now()) !== "valid") {
      throw new HttpError(403, "session_expired", "Session is no longer valid");
    }
  }
  if (claims.role !== "service_role") throw new HttpError(403, "not_admin", "User not allowed");
  return claims;
}

function bearerToken(req: Request): string {
  const match = /^(?:B|b)earer (\S+$)/.exec(req.headers.get("Authorization") ?? "");
  if (!match) throw new HttpError(401, "no_authorization", "This endpoint requires a valid Bearer token");
  return match[1];
}

function sessionIdOf(claims: JWTPayload): string | undefined {
  const rawSession = claims.session_id;
  if (
    rawSession !== undefined && rawSession !== "" &&
    (typeof rawSession !== "string" || !UUID.test(rawSession))
  ) {
    throw new HttpError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID");
  }
  return typeof rawSession === "string" && rawSession !== "" && rawSession !== NIL_SESSION
    ? rawSession
    : undefined;
}
