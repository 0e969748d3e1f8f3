/**
 * Issuing a session's tokens as GoTrue's token service does: a freshly signed access token alongside the
 * refresh token the store issued.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";
import { accessTokenClaims, type AmrEntry, type SessionJson, sessionJson } from "./_json.ts";
import { listFactorsJson } from "./_factor_json.ts";
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
  const amr = await mfaAmr(db, grant.session.id);
  const accessToken = await ctx.keys.sign(
    accessTokenClaims(grant.user, grant.session, ctx.issuer, iat, exp, amr),
  );
  const identities = await listIdentities(db, grant.user.id);
  const session = sessionJson(accessToken, exp, ctx.ttlSeconds, grant.refreshToken, grant.user, identities);
  // GoTrue's findUser loads the factors too; supabase-js reads them for the next assurance level.
  const factors = await listFactorsJson(db, grant.user.id);
  if (factors.length > 0) session.user.factors = factors;
  return session;
}

// The session's MFA methods (`totp`), newest first, as GoTrue's `CalculateAALAndAMR` lists them.
async function mfaAmr(db: Db, sessionId: string): Promise<AmrEntry[]> {
  const rows = await db<{ authentication_method: string; updated_at: Date }[]>`
    select authentication_method, updated_at from auth.mfa_amr_claims
     where session_id = ${sessionId} order by updated_at desc`;
  return rows.map((row) => ({
    method: row.authentication_method,
    timestamp: Math.floor(row.updated_at.getTime() / 1000),
  }));
}
