/**
 * `POST /resend`: GoTrue's `Resend` (`internal/api/resend.go`), supabase-js `auth.resend()`: the sign-up
 * confirmation or the email change mails again, each with a fresh code. It answers `{}` whether or not
 * the address has a user, or anything to resend, so that it tells nobody who exists.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { requireEmailProvider } from "./_features.ts";
import { sendConfirmation, sendEmailChange } from "./_mail.ts";
import { readParams, requestAud, validateEmail } from "./_params.ts";
import { referrer } from "./_redirect.ts";
import { findUserByEmail } from "./_store.ts";

/**
 * Resends the confirmation (`type: "signup"`) or the email change mails (`type: "email_change"`).
 *
 * @param ctx The emulator's database, settings and mailer.
 * @param req The request, with GoTrue's `ResendConfirmationParams` as JSON.
 * @param url The request's URL (its `redirect_to` goes into the mail).
 * @returns `{}`.
 * @throws {HttpError} 400 `validation_failed`, `bad_json`, `email_provider_disabled`,
 *   `phone_provider_disabled`; 429 `over_email_send_rate_limit`; 500 when the mail cannot be sent.
 * @example
 * ```ts ignore
 * const routes = { "/resend": { POST: resend } };
 * ```
 */
export async function resend(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const params = await readParams(req, "ResendConfirmationParams", {
    type: "string",
    email: "string",
    phone: "string",
    code_challenge: "string",
    code_challenge_method: "string",
  });
  const type = (params.type as string | undefined) ?? "";
  const rawEmail = (params.email as string | undefined) ?? "";
  const phone = (params.phone as string | undefined) ?? "";
  if (!["signup", "email_change", "sms", "phone_change"].includes(type)) {
    throw new HttpError(
      400,
      "validation_failed",
      "Missing one of these types: signup, email_change, sms, phone_change",
    );
  }
  if (rawEmail === "" && type === "signup") {
    throw new HttpError(400, "validation_failed", "Type provided requires an email address");
  }
  if (phone === "" && type === "sms") {
    throw new HttpError(400, "validation_failed", "Type provided requires a phone number");
  }
  if (rawEmail !== "" && phone !== "") {
    throw new HttpError(
      400,
      "validation_failed",
      "Only an email address or phone number should be provided.",
    );
  }
  // The emulator has no phone provider: GoTrue's refusal with `[auth.sms] enable_signup = false`.
  if (phone !== "") throw new HttpError(400, "phone_provider_disabled", "Phone logins are disabled");
  if (rawEmail === "") throw new HttpError(400, "validation_failed", "Missing email address or phone number");
  requireEmailProvider(ctx, 400);
  const email = validateEmail(rawEmail);
  const user = await findUserByEmail(ctx.sql, email, requestAud(req));
  if (!user) return Response.json({});
  const redirectTo = referrer(ctx, req, url);
  if (type === "signup" && !user.email_confirmed_at) {
    await ctx.sql.begin((tx) => sendConfirmation(ctx, tx, user, redirectTo));
  } else if (type === "email_change" && user.email_change) {
    const newEmail = user.email_change;
    await ctx.sql.begin((tx) => sendEmailChange(ctx, tx, user, newEmail, redirectTo));
  }
  return Response.json({});
}
