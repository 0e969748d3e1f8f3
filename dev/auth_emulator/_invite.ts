/**
 * `POST /invite`: GoTrue's `Invite` (`internal/api/invite.go`), behind `requireAdminCredentials`: a user
 * without a password and an email identity, and an invitation mail whose link confirms the address.
 *
 * @module
 */
import { requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { createIdentity, emailClaims, listIdentities } from "./_identities.ts";
import { userJson } from "./_json.ts";
import { sendInvite } from "./_mail.ts";
import { readParams, requestAud, validateEmail } from "./_params.ts";
import { referrer } from "./_redirect.ts";
import { findUserByEmail } from "./_store.ts";
import { insertUser } from "./_users.ts";

/**
 * Invites an address: creates its user unless one exists unconfirmed, and mails the invitation.
 *
 * @param ctx The emulator's database, keys, settings and mailer.
 * @param req The request, with a `service_role` bearer token and `{ email, data }`.
 * @param url The request's URL (its `redirect_to` goes into the mail).
 * @returns The invited user.
 * @throws {HttpError} As {@linkcode requireAdmin}; 400 `validation_failed`, `bad_json`; 422
 *   `email_exists` for a confirmed address; 500 when the mail cannot be sent.
 * @example
 * ```ts ignore
 * const routes = { "/invite": { POST: invite } };
 * ```
 */
export async function invite(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const params = await readParams(req, "InviteParams", { email: "string", data: "object" });
  const email = validateEmail((params.email as string | undefined) ?? "");
  const aud = requestAud(req);
  const user = await ctx.sql.begin(async (tx) => {
    let user = await findUserByEmail(tx, email, aud);
    if (user?.email_confirmed_at) {
      throw new HttpError(422, "email_exists", "A user with this email address has already been registered");
    }
    if (!user) {
      user = await insertUser(tx, {
        email,
        aud,
        role: "authenticated",
        passwordHash: "",
        appMetadata: { provider: "email", providers: ["email"] },
        userMetadata: (params.data as Record<string, unknown> | undefined) ?? {},
      });
      await createIdentity(tx, user.id, "email", emailClaims(user.id, email));
    }
    return await sendInvite(ctx, tx, user, referrer(ctx, req, url));
  });
  return Response.json(userJson(user, await listIdentities(ctx.sql, user.id)));
}
