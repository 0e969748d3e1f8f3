/**
 * The emulator's own route for its signing keys, under `/auth/v1/_emulator/signing-keys`: not a GoTrue
 * route (on Supabase, keys are rotated and revoked in the dashboard or the Management API), but the local
 * stand-in for those buttons, behind the same `service_role` check as the admin API.
 *
 * - `GET /_emulator/signing-keys`: the keys and their states (`in_use`, `previously_used`, `standby`)
 * - `POST /_emulator/signing-keys/rotate`: standby → in use → previously used, and a new standby key
 * - `POST /_emulator/signing-keys/{kid}/revoke`: a previously used key leaves the JWKS and stops verifying
 *
 * Each answers `{ keys: [{ kid, state, algorithm }] }`.
 *
 * @module
 */
import { requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";

/** Where the emulator's key routes live under `/auth/v1`. */
export const SIGNING_KEYS_PATH = "/_emulator/signing-keys";

/**
 * Lists the signing keys and their states.
 *
 * @param ctx The emulator's keys.
 * @param req The request, with a `service_role` bearer token.
 * @returns 200 `{ keys }`.
 * @throws {HttpError} As `requireAdmin`.
 * @example
 * ```ts ignore
 * const routes = { "/_emulator/signing-keys": { GET: listSigningKeys } };
 * ```
 */
export async function listSigningKeys(ctx: AuthContext, req: Request): Promise<Response> {
  await requireAdmin(ctx, req);
  return Response.json({ keys: ctx.keys.status() });
}

/**
 * Rotates the signing keys, as the dashboard's "Rotate keys".
 *
 * @param ctx The emulator's keys.
 * @param req The request, with a `service_role` bearer token.
 * @returns 200 `{ keys }` after the rotation.
 * @throws {HttpError} As `requireAdmin`; 422 `validation_failed` in hs256 mode.
 * @example
 * ```ts ignore
 * const routes = { "/_emulator/signing-keys/rotate": { POST: rotateSigningKeys } };
 * ```
 */
export async function rotateSigningKeys(ctx: AuthContext, req: Request): Promise<Response> {
  await requireAdmin(ctx, req);
  return Response.json({ keys: await ctx.keys.rotate() });
}

/**
 * Revokes a previously used signing key, named by the path's `kid`.
 *
 * @param ctx The emulator's keys.
 * @param req The request, with a `service_role` bearer token.
 * @param url The request's URL (`…/signing-keys/{kid}/revoke`).
 * @returns 200 `{ keys }` after the revocation.
 * @throws {HttpError} As `requireAdmin`; 404 `not_found`, 422 `validation_failed` for the key in use or
 *   the standby key.
 * @example
 * ```ts ignore
 * const patterns = [[/^\/_emulator\/signing-keys\/[^/]+\/revoke$/, { POST: revokeSigningKey }]];
 * ```
 */
export async function revokeSigningKey(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const kid = decodeURIComponent(url.pathname.split("/").at(-2)!);
  return Response.json({ keys: await ctx.keys.revoke(kid) });
}
