/**
 * `POST /logout`: GoTrue's `Logout`, which deletes `auth.sessions` rows per its scopes.
 *
 * @module
 */
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { endSessions } from "./_store.ts";

/**
 * Ends the caller's session (`scope=local`), the others (`others`) or all of them (`global`, the
 * default).
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a bearer access token.
 * @param url The request's URL, with the optional `scope`.
 * @returns 204.
 * @throws {HttpError} As {@linkcode authenticate}; 400 `validation_failed` for an unknown scope.
 * @example
 * ```ts ignore
 * const routes = { "/logout": { POST: logout } };
 * ```
 */
export async function logout(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const { user, sessionId } = await authenticate(ctx, req);
  const scope = url.searchParams.get("scope") ?? "";
  if (scope !== "" && scope !== "global" && scope !== "local" && scope !== "others") {
    throw new HttpError(400, "validation_failed", `Unsupported logout scope ${JSON.stringify(scope)}`);
  }
  await endSessions(ctx.sql, user.id, sessionId, scope === "" ? "global" : scope);
  return new Response(null, { status: 204 });
}
