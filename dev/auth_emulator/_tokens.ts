/**
 * Issuing a session's tokens as GoTrue's token service does: a freshly signed access token alongside the
 * refresh token the store issued.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";
import { accessTokenClaims, type SessionJson, sessionJson } from "./_json.ts";
import { listIdentities } from "./_identities.ts";
import type { Db, Grant } from "./_store.ts";

/**
 * Signs an access token for a grant and answers with GoTrue's `AccessTokenResponse`.
 *
 * @param ctx The emulator's keys, issuer and token lifetime.
 * @param grant The user, session and refresh token from the store.
 * @param db Where to read the user's identities (the caller's transaction, when it holds one).
 * @returns The session's JSON.
 * @example
 * ```ts ignore
 * return Response.json(await issueSession(ctx, await startSession(ctx.sql, user.id, userAgent)));
 * ```
 */
export async function issueSession(ctx: AuthContext, grant: Grant, db: Db = ctx.sql): Promise<SessionJson> {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + ctx.ttlSeconds;
  const accessToken = await ctx.keys.sign(accessTokenClaims(grant.user, grant.session, ctx.issuer, iat, exp));
  const identities = await listIdentities(db, grant.user.id);
  return sessionJson(accessToken, exp, ctx.ttlSeconds, grant.refreshToken, grant.user, identities);
}
