/**
 * Reauthentication (`internal/api/reauthenticate.go`): `GET /reauthenticate` mails the signed-in user a
 * code (supabase-js `auth.reauthenticate()`), and a password change that needs one (`[auth.email]
 * secure_password_change`) passes it as `nonce` (`auth.updateUser({ password, nonce })`).
 *
 * @module
 */
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { sendReauthentication } from "./_mail.ts";
import { clearOneTimeTokens, tokenHash } from "./_one_time_tokens.ts";
import type { Db, UserRow } from "./_store.ts";

const INVALID_NONCE = "Nonce has expired or is invalid";
// GoTrue asks for a code only when the session is older than this.
const RECENT_SIGN_IN_MS = 24 * 3600 * 1000;

/**
 * Mails the caller a reauthentication code.
 *
 * @param ctx The emulator's database, keys, settings and mailer.
 * @param req The request, with a bearer access token.
 * @returns `{}`.
 * @throws {HttpError} As `authenticate`; 400 `validation_failed` for a user without an address; 422
 *   `email_not_confirmed`; 429 `over_email_send_rate_limit`.
 * @example
 * ```ts ignore
 * const routes = { "/reauthenticate": { GET: reauthenticate } };
 * ```
 */
export async function reauthenticate(ctx: AuthContext, req: Request): Promise<Response> {
  const { user } = await authenticate(ctx, req);
  if (!user.email) {
    throw new HttpError(
      400,
      "validation_failed",
      "Reauthentication requires the user to have an email or a phone number",
    );
  }
  if (!user.email_confirmed_at) {
    throw new HttpError(422, "email_not_confirmed", "Please verify your email first.");
  }
  await ctx.sql.begin((tx) => sendReauthentication(ctx, tx, user));
  return Response.json({});
}

/**
 * GoTrue's check in `UserUpdate` before a password change under `secure_password_change`: a session
 * started within 24 hours passes; an older one needs the mailed code as `nonce`, used up by the change.
 *
 * @param ctx The emulator's settings and clock.
 * @param tx The database (GoTrue checks outside the update's transaction).
 * @param user The signed-in user.
 * @param sessionId The session of the access token.
 * @param nonce The code from the reauthentication mail, if given.
 * @throws {HttpError} 400 `reauthentication_needed`; 422 `reauthentication_not_valid`.
 */
export async function checkReauthentication(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  sessionId: string | undefined,
  nonce: string | undefined,
): Promise<void> {
  if (!ctx.features.securePasswordChange) return;
  const [session] = sessionId === undefined
    ? []
    : await tx<{ created_at: Date }[]>`select created_at from auth.sessions where id = ${sessionId}`;
  if (session && ctx.now().getTime() <= session.created_at.getTime() + RECENT_SIGN_IN_MS) return;
  if (!nonce) {
    throw new HttpError(400, "reauthentication_needed", "Password update requires reauthentication");
  }
  const sentAt = user.reauthentication_sent_at;
  const valid = !!user.reauthentication_token && sentAt !== null &&
    user.reauthentication_token === tokenHash(user.email ?? "", nonce) &&
    Date.now() <= sentAt.getTime() + ctx.otpExpirySeconds * 1000;
  if (!valid) throw new HttpError(422, "reauthentication_not_valid", INVALID_NONCE);
  // GoTrue's ConfirmReauthentication: the code is spent, and with it every mailed token of the user.
  await tx`update auth.users set reauthentication_token = '' where id = ${user.id}`;
  await clearOneTimeTokens(tx, user.id);
}
