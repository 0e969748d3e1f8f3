/**
 * `POST /token`: GoTrue's `Token`, with its password grant (`ResourceOwnerPasswordGrant`) and its
 * refresh_token grant (`RefreshTokenGrant`, with rotation and reuse detection).
 *
 * @module
 */
import bcrypt from "bcryptjs";
import type { AuthContext } from "./_context.ts";
import { HttpError, OAuthError } from "./_errors.ts";
import { idTokenGrant, requireEmailProvider, web3Disabled } from "./_features.ts";
import { checkPasswordStrength, readParams, requestAud } from "./_params.ts";
import { pkceGrant } from "./_pkce.ts";
import { findUserByEmail, isBanned, refreshSession, startSession } from "./_store.ts";
import { issueSession } from "./_tokens.ts";

const INVALID_LOGIN = "Invalid login credentials";

/**
 * Grants a session for the `grant_type` in the query: `password`, `refresh_token` or `pkce`
 * (`_pkce.ts`).
 *
 * @param ctx The emulator's database, keys and settings.
 * @param req The request, with the grant's params as JSON.
 * @param url The request's URL.
 * @returns The session.
 * @throws {HttpError} 400 `invalid_credentials`, `email_not_confirmed`, `user_banned`,
 *   `validation_failed`, `refresh_token_not_found`, `refresh_token_already_used`, `session_not_found`,
 *   `session_expired`, `bad_json`; 422 `phone_provider_disabled`.
 * @throws {OAuthError} `invalid_request` when the refresh token is missing.
 * @example
 * ```ts ignore
 * const routes = { "/token": { POST: token } };
 * ```
 */
export async function token(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  switch (url.searchParams.get("grant_type")) {
    case "password":
      return await passwordGrant(ctx, req);
    case "refresh_token":
      return await refreshTokenGrant(ctx, req);
    case "pkce":
      return await pkceGrant(ctx, req);
    case "id_token":
      return await idTokenGrant(req);
    case "web3":
      return await web3Disabled();
    default:
      throw new HttpError(400, "invalid_credentials", "unsupported_grant_type");
  }
}

async function passwordGrant(ctx: AuthContext, req: Request): Promise<Response> {
  const params = await readParams(req, "PasswordGrantParams", {
    email: "string",
    phone: "string",
    password: "string",
  });
  const email = (params.email as string | undefined) ?? "";
  const phone = (params.phone as string | undefined) ?? "";
  const password = (params.password as string | undefined) ?? "";
  if (email !== "" && phone !== "") {
    throw new HttpError(
      400,
      "validation_failed",
      "Only an email address or phone number should be provided on login.",
    );
  }
  if (phone !== "") throw new HttpError(422, "phone_provider_disabled", "Phone logins are disabled");
  if (email === "") throw new HttpError(400, "validation_failed", "missing email or phone");
  requireEmailProvider(ctx, 422);

  const user = await findUserByEmail(ctx.sql, email, requestAud(req));
  if (!user?.encrypted_password) throw new HttpError(400, "invalid_credentials", INVALID_LOGIN);
  if (isBanned(user)) throw new HttpError(400, "user_banned", "User is banned");
  if (!(await bcrypt.compare(password, user.encrypted_password))) {
    throw new HttpError(400, "invalid_credentials", INVALID_LOGIN);
  }
  if (!user.email_confirmed_at) throw new HttpError(400, "email_not_confirmed", "Email not confirmed");

  const session = await issueSession(
    ctx,
    await startSession(ctx.sql, user.id, req.headers.get("User-Agent")),
  );
  // GoTrue signs in with a password that no longer meets the policy, and says so.
  const weak = checkPasswordStrength(password);
  if (weak?.code === "weak_password") return Response.json({ ...session, ...weak.extra });
  return Response.json(session);
}

async function refreshTokenGrant(ctx: AuthContext, req: Request): Promise<Response> {
  const params = await readParams(req, "RefreshTokenGrantParams", { refresh_token: "string" });
  const refreshToken = (params.refresh_token as string | undefined) ?? "";
  if (refreshToken === "") throw new OAuthError("invalid_request", "refresh_token required");
  const result = await refreshSession(ctx.sql, refreshToken, {
    reuseIntervalSeconds: ctx.reuseIntervalSeconds,
    rotation: ctx.refreshTokenRotation,
    limits: ctx.sessionLimits,
    now: ctx.now(),
  }, req.headers.get("User-Agent"));
  switch (result) {
    case "not_found":
      throw new HttpError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    case "banned":
      throw new HttpError(400, "user_banned", "Invalid Refresh Token: User Banned");
    case "no_session":
      throw new HttpError(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found");
    case "past_not_after":
    case "past_timebox":
      throw new HttpError(400, "session_expired", "Invalid Refresh Token: Session Expired");
    case "timed_out":
      throw new HttpError(400, "session_expired", "Invalid Refresh Token: Session Expired (Inactivity)");
    case "superseded":
      throw new HttpError(
        400,
        "session_expired",
        "Invalid Refresh Token: Session Expired (Revoked by Newer Login)",
      );
    case "already_used":
      throw new HttpError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
    default:
      return Response.json(await issueSession(ctx, result));
  }
}
