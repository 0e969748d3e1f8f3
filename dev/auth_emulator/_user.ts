/**
 * `/user`: GoTrue's `UserGet` (the signed-in user's own record) and `UserUpdate` (its metadata, password
 * and address; `internal/api/user.go`).
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { withFactors } from "./_factor_json.ts";
import { listIdentities } from "./_identities.ts";
import { userJson } from "./_json.ts";
import { sendEmailChange } from "./_mail.ts";
import { checkPasswordStrength, readParams, requestAud, validateEmail } from "./_params.ts";
import { createFlowState } from "./_pkce.ts";
import { checkReauthentication } from "./_reauthenticate.ts";
import { referrer } from "./_redirect.ts";
import { type UserRow } from "./_store.ts";
import {
  findDuplicateEmail,
  hashPassword,
  hasPassword,
  updateAppMetadata,
  updatePassword,
  updateUserMetadata,
} from "./_users.ts";
import { applyEmailChange } from "./_verify.ts";

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
  return Response.json(await withFactors(ctx.sql, userJson(user, await listIdentities(ctx.sql, user.id))));
}

/**
 * Updates the signed-in user: `data` merges into the user's metadata, `password` replaces the password
 * (ending the user's other sessions), `email` starts an email change (mails to the new address, and to
 * the current one with secure email change on). An anonymous user under autoconfirm gets the address at
 * once, which makes it permanent.
 *
 * @param ctx The emulator's database, keys, settings and mailer.
 * @param req The request, with a bearer access token and GoTrue's `UserUpdateParams` as JSON.
 * @param url The request's URL (its `redirect_to` goes into the mails).
 * @returns The updated user.
 * @throws {HttpError} As {@linkcode authenticate}; 400 `validation_failed`, `bad_json`,
 *   `phone_provider_disabled`, `reauthentication_needed`; 403 `not_admin` for `app_metadata`; 422
 *   `reauthentication_not_valid`, `weak_password`, `same_password`,
 *   `email_exists`, `validation_failed` (a password for an anonymous user without an address); 429
 *   `over_email_send_rate_limit`.
 * @example
 * ```ts ignore
 * const routes = { "/user": { GET: getUser, PUT: updateUser } };
 * ```
 */
export async function updateUser(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const { user, sessionId } = await authenticate(ctx, req);
  const params = await readParams(req, "UserUpdateParams", {
    email: "string",
    password: "string",
    current_password: "string",
    nonce: "string",
    data: "object",
    app_metadata: "object",
    phone: "string",
    channel: "string",
    code_challenge: "string",
    code_challenge_method: "string",
  });
  const email = params.email ? validateEmail(params.email as string) : "";
  const password = params.password as string | undefined;
  if (password !== undefined) {
    const weak = checkPasswordStrength(password);
    if (weak) throw weak;
  }
  if (params.phone) throw new HttpError(400, "phone_provider_disabled", "Unsupported phone provider");
  // GoTrue's isAdmin: the user's own role is the admin group.
  if (params.app_metadata && !(user.aud === "authenticated" && user.role === "admin")) {
    throw new HttpError(403, "not_admin", "Updating app_metadata requires admin privileges");
  }
  if (user.is_anonymous && password && email === "") {
    throw new HttpError(
      422,
      "validation_failed",
      "Updating password of an anonymous user without an email or phone is not allowed",
    );
  }
  const changesEmail = email !== "" && email !== (user.email ?? "");
  if (changesEmail && await findDuplicateEmail(ctx.sql, email, requestAud(req), user.id)) {
    throw new HttpError(422, "email_exists", "A user with this email address has already been registered");
  }
  let passwordHash: string | undefined;
  if (password !== undefined) {
    await checkReauthentication(ctx, ctx.sql, user, sessionId, params.nonce as string | undefined);
    if (password !== "" && hasPassword(user) && await bcrypt.compare(password, user.encrypted_password!)) {
      throw new HttpError(422, "same_password", "New password should be different from the old password.");
    }
    passwordHash = password === "" ? "" : await hashPassword(password);
  }

  const updated = await ctx.sql.begin(async (tx) => {
    let row: UserRow = user;
    if (passwordHash !== undefined) row = await updatePassword(tx, row, passwordHash, sessionId);
    if (params.data) row = await updateUserMetadata(tx, row, params.data as Record<string, unknown>);
    if (params.app_metadata) {
      row = await updateAppMetadata(tx, row, params.app_metadata as Record<string, unknown>);
    }
    if (changesEmail) {
      if (row.is_anonymous && ctx.autoConfirm) {
        // An anonymous user adding an address is like a sign-up: under autoconfirm it needs no mail.
        row = await applyEmailChange(tx, { ...row, email_change: email });
      } else {
        // GoTrue's UserUpdate reads the challenge without validatePKCEParams.
        const pkce = params.code_challenge
          ? {
            codeChallenge: params.code_challenge as string,
            codeChallengeMethod: (params.code_challenge_method as string | undefined) ?? "",
          }
          : undefined;
        if (pkce) await createFlowState(tx, row.id, "email_change", "email_change", pkce);
        row = await sendEmailChange(ctx, tx, row, email, referrer(ctx, req, url), pkce !== undefined);
      }
    }
    return row;
  });
  return Response.json(userJson(updated, await listIdentities(ctx.sql, updated.id)));
}
