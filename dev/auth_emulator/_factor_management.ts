/**
 * Listing and removing MFA factors: the user's own `DELETE /factors/{factor_id}` (GoTrue's `UnenrollFactor` in
 * `internal/api/mfa.go`, supabase-js `auth.mfa.unenroll`), and the admin's `GET
 * /admin/users/{user_id}/factors` and `DELETE /admin/users/{user_id}/factors/{factor_id}`
 * (`adminUserGetFactors`, `adminUserDeleteFactor` in `admin.go`, supabase-js `auth.admin.mfa`).
 *
 * @module
 */
import { loadUser } from "./_admin.ts";
import { authenticate, requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { isAal2, loadFactor } from "./_factors.ts";
import { factorJson, type FactorRow, listFactorsJson } from "./_factor_json.ts";
import type { Db } from "./_store.ts";

/**
 * Unenrolls one of the caller's factors: a verified one only from an aal2 session. The sessions it
 * raised fall back to aal1.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a bearer access token.
 * @param url `…/factors/{factor_id}`.
 * @returns 200 `{ id }`.
 * @throws {HttpError} As `authenticate`; 403 `no_authorization` for an anonymous user; 404
 *   `validation_failed`, `mfa_factor_not_found`; 422 `insufficient_aal`.
 * @example
 * ```ts ignore
 * const patterns = [["/factors/{factor_id}", { DELETE: unenrollFactor }]];
 * ```
 */
export async function unenrollFactor(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const { user, sessionId, claims } = await authenticate(ctx, req);
  // GoTrue's requireNotAnonymous, on every /factors route.
  if (claims.is_anonymous === true) {
    throw new HttpError(403, "no_authorization", "Anonymous user not allowed to perform these actions");
  }
  const factor = await loadFactor(ctx.sql, user.id, url, -1);
  if (sessionId === undefined) {
    throw new HttpError(
      500,
      "unexpected_failure",
      "A valid session and factor are required to unenroll a factor",
    );
  }
  if (factor.status === "verified" && !(await isAal2(ctx.sql, sessionId))) {
    throw new HttpError(422, "insufficient_aal", "AAL2 required to unenroll verified factor");
  }
  await ctx.sql.begin((tx) => deleteFactor(tx, factor));
  return Response.json({ id: factor.id });
}

/**
 * `GET /admin/users/{user_id}/factors`: the user's factors, as GoTrue's `Factor` JSON.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a `service_role` bearer token.
 * @param url `…/admin/users/{user_id}/factors`.
 * @returns 200 with the list.
 * @throws {HttpError} As `requireAdmin`; 404 `validation_failed`, `user_not_found`.
 * @example
 * ```ts ignore
 * const patterns = [["/admin/users/{user_id}/factors", { GET: listUserFactors }]];
 * ```
 */
export async function listUserFactors(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const user = await loadUser(ctx, url, -2);
  return Response.json(await listFactorsJson(ctx.sql, user.id));
}

/**
 * `DELETE /admin/users/{user_id}/factors/{factor_id}`: deletes any factor of the user, whatever the
 * session, and answers with it.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a `service_role` bearer token.
 * @param url `…/admin/users/{user_id}/factors/{factor_id}`.
 * @returns 200 with the deleted factor.
 * @throws {HttpError} As `requireAdmin`; 404 `validation_failed`, `user_not_found`,
 *   `mfa_factor_not_found`.
 * @example
 * ```ts ignore
 * const patterns = [["/admin/users/{user_id}/factors/{factor_id}", { DELETE: deleteUserFactor }]];
 * ```
 */
export async function deleteUserFactor(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const user = await loadUser(ctx, url, -3);
  const factor = await loadFactor(ctx.sql, user.id, url, -1);
  await ctx.sql.begin((tx) => deleteFactor(tx, factor));
  return Response.json(factorJson(factor));
}

// GoTrue's `tx.Destroy(factor)` and `DowngradeSessionsToAAL1`: the factor's amr claims go, and the
// sessions it raised fall back to aal1.
async function deleteFactor(tx: Db, factor: FactorRow): Promise<void> {
  await tx`delete from auth.mfa_amr_claims
            where authentication_method = ${factor.factor_type}
              and session_id in (select id from auth.sessions where factor_id = ${factor.id})`;
  await tx`update auth.sessions set aal = 'aal1', factor_id = null, updated_at = now()
            where user_id = ${factor.user_id} and factor_id = ${factor.id}`;
  await tx`delete from auth.mfa_factors where id = ${factor.id}`;
}
