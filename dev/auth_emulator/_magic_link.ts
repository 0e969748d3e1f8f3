/**
 * `POST /otp` and `POST /magiclink`: GoTrue's `Otp` and `MagicLink` for email (`internal/api/otp.go`,
 * `magic_link.go`), and `POST /recover`: its `Recover` (`recover.go`). Each answers `{}` and mails a link.
 *
 * A magic link to an address without a confirmed user signs it up first with a random password: under
 * autoconfirm that user is confirmed and gets the magic link; otherwise the confirmation mail is the link.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { requireEmailProvider } from "./_features.ts";
import { sendRecovery } from "./_mail.ts";
import { readParams, requestAud, validateEmail, validatePhone } from "./_params.ts";
import { createFlowState, PKCE_FIELDS, readPkceChallenge } from "./_pkce.ts";
import { referrer } from "./_redirect.ts";
import { findUserByEmail } from "./_store.ts";
import { signUpEmail } from "./_signup.ts";

/**
 * `POST /otp` with an email: a magic link (`create_user: false` refuses unknown addresses).
 *
 * @param ctx The emulator's database, settings and mailer.
 * @param req The request, with GoTrue's `OtpParams` as JSON.
 * @param url The request's URL.
 * @returns `{}`.
 * @throws {HttpError} 400 `validation_failed`, `bad_json`, `phone_provider_disabled`; 422 `otp_disabled`;
 *   as {@linkcode magicLink}.
 * @example
 * ```ts ignore
 * const routes = { "/otp": { POST: otp } };
 * ```
 */
export async function otp(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const params = await readParams(req, "OtpParams", {
    email: "string",
    phone: "string",
    create_user: "boolean",
    data: "object",
    channel: "string",
    ...PKCE_FIELDS,
  });
  const email = (params.email as string | undefined) ?? "";
  const phone = (params.phone as string | undefined) ?? "";
  if (email !== "" && phone !== "") {
    throw new HttpError(400, "validation_failed", "Only an email address or phone number should be provided");
  }
  if (email !== "" && params.channel) {
    throw new HttpError(400, "validation_failed", "Channel should only be specified with Phone OTP");
  }
  // GoTrue's shouldCreateUser; the emulator has no phone users, so a valid number finds none.
  if (params.create_user === false && email !== "") {
    if (!(await findUserByEmail(ctx.sql, validateEmail(email), requestAud(req)))) {
      throw new HttpError(422, "otp_disabled", "Signups not allowed for otp");
    }
  } else if (params.create_user === false && phone !== "") {
    validatePhone(phone);
    throw new HttpError(422, "otp_disabled", "Signups not allowed for otp");
  }
  // GoTrue's Otp hands an email on to MagicLink, which reads the same body (the PKCE fields too).
  if (email !== "") return await sendMagicLink(ctx, req, url, params);
  if (phone !== "") throw new HttpError(400, "phone_provider_disabled", "Unsupported phone provider");
  throw new HttpError(400, "validation_failed", "One of email or phone must be set");
}

/**
 * `POST /magiclink`.
 *
 * @param ctx The emulator's database, settings and mailer.
 * @param req The request, with GoTrue's `MagicLinkParams` as JSON.
 * @param url The request's URL.
 * @returns `{}`.
 * @throws {HttpError} 400 `validation_failed`, `bad_json`; 422 `validation_failed` without an email; 429
 *   `over_email_send_rate_limit`; 500 when the mail cannot be sent.
 * @example
 * ```ts ignore
 * const routes = { "/magiclink": { POST: magicLink } };
 * ```
 */
export async function magicLink(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const params = await readParams(req, "MagicLinkParams", {
    email: "string",
    data: "object",
    ...PKCE_FIELDS,
  });
  return await sendMagicLink(ctx, req, url, params);
}

/**
 * `POST /recover`: a password-recovery mail, `{}` whether or not the address has a user.
 *
 * @param ctx The emulator's database, settings and mailer.
 * @param req The request, with `{ email }`.
 * @param url The request's URL.
 * @returns `{}`.
 * @throws {HttpError} 400 `validation_failed`, `bad_json`; 429 `over_email_send_rate_limit`; 500 when
 *   the mail cannot be sent.
 * @example
 * ```ts ignore
 * const routes = { "/recover": { POST: recover } };
 * ```
 */
export async function recover(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  requireEmailProvider(ctx, 400);
  const params = await readParams(req, "RecoverParams", { email: "string", ...PKCE_FIELDS });
  const raw = (params.email as string | undefined) ?? "";
  if (raw === "") throw new HttpError(400, "validation_failed", "Password recovery requires an email");
  const email = validateEmail(raw);
  const pkce = readPkceChallenge(params);
  const user = await findUserByEmail(ctx.sql, email, requestAud(req));
  if (user) {
    await ctx.sql.begin(async (tx) => {
      if (pkce) await createFlowState(tx, user.id, "recovery", "recovery", pkce);
      await sendRecovery(ctx, tx, user, referrer(ctx, req, url), "recovery", pkce !== undefined);
    });
  }
  return Response.json({});
}

// GoTrue's MagicLink once its body is read: the email provider, `MagicLinkParams.Validate` (the email, then
// the PKCE fields), then the link (or the sign-up whose confirmation is the link).
async function sendMagicLink(
  ctx: AuthContext,
  req: Request,
  url: URL,
  params: Record<string, unknown>,
): Promise<Response> {
  requireEmailProvider(ctx, 422);
  const rawEmail = (params.email as string | undefined) ?? "";
  if (rawEmail === "") {
    throw new HttpError(422, "validation_failed", "Password recovery requires an email");
  }
  const email = validateEmail(rawEmail);
  const pkce = readPkceChallenge(params);
  const aud = requestAud(req);
  let user = await findUserByEmail(ctx.sql, email, aud);
  if (!user?.email_confirmed_at) {
    const random = crypto.getRandomValues(new Uint8Array(24));
    const password = btoa(String.fromCharCode(...random));
    const data = (params.data as Record<string, unknown> | undefined) ?? {};
    const signedUp = await signUpEmail(ctx, req, url, { email, aud, password, data, pkce });
    // Without autoconfirm the confirmation mail just sent is the sign-in link.
    if (!ctx.autoConfirm) return Response.json({});
    user = signedUp.user;
  }
  const confirmed = user;
  await ctx.sql.begin(async (tx) => {
    if (pkce) await createFlowState(tx, confirmed.id, "magiclink", "magiclink", pkce);
    await sendRecovery(ctx, tx, confirmed, referrer(ctx, req, url), "magiclink", pkce !== undefined);
  });
  return Response.json({});
}
