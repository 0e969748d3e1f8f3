/**
 * `/user`: GoTrue's `UserGet`, the signed-in user's own record.
 *
 * @module
 */
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { userJson } from "./_json.ts";

/**
 * Answers with the user of the request's access token.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a bearer access token.
 * @returns The user.
 * @throws {HttpError} As {@linkcode authenticate}; 400 `validation_failed` when `X-JWT-AUD` differs from
 *   the token's audience.
 * @example
 * ```ts ignore
 * const routes = { "/user": { GET: getUser } };
 * ```
 */
export async function getUser(ctx: AuthContext, req: Request): Promise<Response> {
  const { user, claims } = await authenticate(ctx, req);
  const header = req.headers.get("X-JWT-AUD");
  const tokenAud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (!tokenAud || (header !== null && header !== "" && header !== tokenAud)) {
    throw new HttpError(400, "validation_failed", "Token audience doesn't match request audience");
  }
  return Response.json(userJson(user));
}
