/**
 * `POST /admin/generate_link`: GoTrue's `adminGenerateLink` (`internal/api/mail.go`), supabase-js
 * `auth.admin.generateLink()`: the link (and code) a mail of the flow would carry, stored as the mail's
 * would be, returned instead of mailed. Types: `signup`, `invite`, `magiclink`, `recovery`,
 * `email_change_current`, `email_change_new`.
 *
 * @module
 */
import { requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { createIdentity, emailClaims, listIdentities } from "./_identities.ts";
import { userJson } from "./_json.ts";
import { createOneTimeToken, generateOtp, type OneTimeTokenType, tokenHash } from "./_one_time_tokens.ts";
import { checkPasswordStrength, readParams, requestAud, validateEmail } from "./_params.ts";
import { isRedirectUrlValid, referrer } from "./_redirect.ts";
import { type Db, findUserByEmail, type UserRow } from "./_store.ts";
import { actionLink } from "./_templates.ts";
import { findDuplicateEmail, hashPassword, insertUser, updateUserMetadata } from "./_users.ts";

const EMAIL_EXISTS = "A user with this email address has already been registered";

/**
 * Generates an action link for an address.
 *
 * @param ctx The emulator's database, keys and settings.
 * @param req The request, with a `service_role` bearer token and GoTrue's `GenerateLinkParams`.
 * @param url The request's URL.
 * @returns The user with `action_link`, `email_otp`, `hashed_token`, `verification_type`, `redirect_to`.
 * @throws {HttpError} As `requireAdmin`; 400 `validation_failed`, `bad_json`; 404 `user_not_found`; 422
 *   `email_exists`, `weak_password`.
 * @example
 * ```ts ignore
 * const routes = { "/admin/generate_link": { POST: generateLink } };
 * ```
 */
export async function generateLink(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const params = await readParams(req, "GenerateLinkParams", {
    type: "string",
    email: "string",
    new_email: "string",
    password: "string",
    data: "object",
    redirect_to: "string",
  });
  const email = validateEmail((params.email as string | undefined) ?? "");
  const asked = (params.redirect_to as string | undefined) ?? "";
  const redirectTo = isRedirectUrlValid(ctx, asked) ? asked : referrer(ctx, req, url);
  const data = (params.data as Record<string, unknown> | undefined) ?? {};
  const aud = requestAud(req);
  const existing = await findUserByEmail(ctx.sql, email, aud);
  let type = (params.type as string | undefined) ?? "";
  let password = (params.password as string | undefined) ?? "";
  if (!existing) {
    if (type === "magiclink") {
      // An unknown address gets a sign-up link, with a password nobody knows.
      type = "signup";
      password = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(48))));
    } else if (["recovery", "email_change_current", "email_change_new"].includes(type)) {
      throw new HttpError(404, "user_not_found", "User with this email not found");
    }
  }
  let passwordHash = "";
  if (type === "signup" && !existing) {
    if (password === "") throw new HttpError(400, "validation_failed", "Signup requires a valid password");
    const weak = checkPasswordStrength(password);
    if (weak) throw weak;
    passwordHash = await hashPassword(password);
  }
  const otp = generateOtp(ctx.otpLength);
  const hashedToken = tokenHash(email, otp);
  const { user, token } = await ctx.sql.begin(async (tx) => {
    switch (type) {
      case "magiclink":
      case "recovery":
        return await storeToken(tx, existing!, "recovery_token", hashedToken);
      case "invite":
      case "signup": {
        if (existing?.email_confirmed_at) throw new HttpError(422, "email_exists", EMAIL_EXISTS);
        const user = existing
          ? (type === "signup" ? await updateUserMetadata(tx, existing, data) : existing)
          : await createUser(tx, { email, aud, passwordHash, data });
        return await storeToken(tx, user, "confirmation_token", hashedToken, type === "invite");
      }
      case "email_change_current":
      case "email_change_new":
        return await storeEmailChange(ctx, tx, existing!, type, params.new_email as string | undefined, otp);
      default:
        throw new HttpError(400, "validation_failed", `Invalid email action link type requested: ${type}`);
    }
  });
  const linkType = type.startsWith("email_change") ? "email_change" : type;
  return Response.json({
    ...userJson(user, await listIdentities(ctx.sql, user.id)),
    action_link: actionLink(ctx.issuer, token, linkType, redirectTo),
    email_otp: otp,
    hashed_token: hashedToken,
    verification_type: type,
    redirect_to: redirectTo,
  });
}

// A new user with an email identity, as GoTrue's `signupNewUser` and `createNewIdentity` make one.
async function createUser(
  tx: Db,
  user: { email: string; aud: string; passwordHash: string; data: Record<string, unknown> },
): Promise<UserRow> {
  const row = await insertUser(tx, {
    email: user.email,
    aud: user.aud,
    role: "authenticated",
    passwordHash: user.passwordHash,
    appMetadata: { provider: "email", providers: ["email"] },
    userMetadata: user.data,
  });
  await createIdentity(tx, row.id, "email", emailClaims(row.id, user.email));
  return row;
}

// The token of a sign-up, invite, recovery or magic link, on the user and in `auth.one_time_tokens`.
async function storeToken(
  tx: Db,
  user: UserRow,
  kind: "confirmation_token" | "recovery_token",
  hash: string,
  invite = false,
): Promise<{ user: UserRow; token: string }> {
  const [row] = kind === "recovery_token"
    ? await tx<UserRow[]>`update auth.users set recovery_token = ${hash}, recovery_sent_at = now()
                           where id = ${user.id} returning *`
    : await tx<UserRow[]>`update auth.users set confirmation_token = ${hash}, confirmation_sent_at = now(),
                                 invited_at = ${invite ? tx`now()` : tx`invited_at`}
                           where id = ${user.id} returning *`;
  await createOneTimeToken(tx, user.id, user.email!, hash, kind);
  return { user: row, token: hash };
}

// An email change whose link confirms it from the current or from the new address.
async function storeEmailChange(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  type: "email_change_current" | "email_change_new",
  rawNewEmail: string | undefined,
  otp: string,
): Promise<{ user: UserRow; token: string }> {
  if (!ctx.secureEmailChange && type === "email_change_current") {
    throw new HttpError(
      400,
      "validation_failed",
      "Enable secure email change to generate link for current email",
    );
  }
  const newEmail = validateEmail(rawNewEmail ?? "");
  if (await findDuplicateEmail(tx, newEmail, user.aud ?? "", user.id)) {
    throw new HttpError(422, "email_exists", EMAIL_EXISTS);
  }
  const current = type === "email_change_current"
    ? tokenHash(user.email ?? "", otp)
    : (user.email_change_token_current ?? "");
  const next = type === "email_change_new" ? tokenHash(newEmail, otp) : (user.email_change_token_new ?? "");
  const [row] = await tx<UserRow[]>`
    update auth.users set email_change = ${newEmail}, email_change_token_current = ${current},
                          email_change_token_new = ${next}, email_change_sent_at = now(),
                          email_change_confirm_status = 0
     where id = ${user.id} returning *`;
  const tokens: Array<[string, string, OneTimeTokenType]> = [
    [current, user.email ?? "", "email_change_token_current"],
    [next, newEmail, "email_change_token_new"],
  ];
  for (const [hash, address, kind] of tokens) {
    if (hash !== "") await createOneTimeToken(tx, user.id, address, hash, kind);
  }
  return { user: row, token: type === "email_change_current" ? current : next };
}
