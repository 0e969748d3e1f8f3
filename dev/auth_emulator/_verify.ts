/**
 * `GET /verify` and `POST /verify`: GoTrue's `Verify` (`internal/api/verify.go`). The GET flavour is the
 * link in a mail: it answers `303` to the redirect URL with the session, or the error, in the fragment;
 * a `pkce_` token's link answers with `?code=` instead, the auth code of the flow state (`_pkce.ts`).
 * The POST flavour takes `{type, token_hash}` or `{type, token, email}` and answers with the session.
 *
 * Types: `signup`, `invite`, `magiclink`, `recovery`, `email_change`, and `email` (a code from either a
 * confirmation or a magic-link mail). Phone types are refused as GoTrue refuses an unknown phone.
 *
 * @module
 */
import type postgres from "postgres";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import {
  createIdentity,
  emailClaims,
  findIdentity,
  listIdentities,
  updateIdentityData,
  updateProviders,
} from "./_identities.ts";
import {
  clearOneTimeTokens,
  findOneTimeToken,
  type OneTimeTokenType,
  tokenHash,
} from "./_one_time_tokens.ts";
import { readParams, requestAud, validateEmail } from "./_params.ts";
import { authenticationMethodOf, issueAuthCode, PKCE_PREFIX } from "./_pkce.ts";
import { encodeValues, referrer } from "./_redirect.ts";
import { type Db, findUserByEmail, isBanned, startSessionIn, type UserRow } from "./_store.ts";
import { issueSession } from "./_tokens.ts";
import {
  clearRecovery,
  confirmEmailChange,
  confirmUser,
  findUserById,
  hashPassword,
  hasPassword,
  updatePassword,
} from "./_users.ts";
import type { SessionJson } from "./_json.ts";

/** GoTrue's answer when one address of a secure email change has confirmed and the other has not yet. */
export const SINGLE_CONFIRMATION =
  "Confirmation link accepted. Please proceed to confirm link sent to the other email";

// GoTrue's oauthErrorMap: the OAuth `error` put beside `error_code` in a redirect.
const OAUTH_ERRORS: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized_client",
  403: "access_denied",
  500: "server_error",
  503: "temporarily_unavailable",
};

interface VerifyParams {
  type: string;
  token: string;
  tokenHash: string;
  email: string;
  phone: string;
}

/**
 * Verifies a mailed token and grants a session.
 *
 * @param ctx The emulator's database, keys and settings.
 * @param req The request: a link (GET) or JSON (POST).
 * @param url The request's URL.
 * @returns GET: 303 to the redirect URL; POST: the session, or GoTrue's single-confirmation message.
 * @throws {HttpError} 400 `validation_failed`, `bad_json`; 403 `otp_expired`, `user_banned`; 422
 *   `validation_failed` for a bad email (POST, and GET before its token is looked at).
 * @example
 * ```ts ignore
 * const routes = { "/verify": { GET: verify, POST: verify } };
 * ```
 */
export async function verify(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  if (req.method === "GET") {
    const params = {
      type: url.searchParams.get("type") ?? "",
      token: url.searchParams.get("token") ?? "",
      tokenHash: "",
      email: "",
      phone: "",
    };
    const redirectTo = referrer(ctx, req, url);
    if (params.type === "") {
      throw new HttpError(400, "validation_failed", "Verify requires a verification type");
    }
    if (params.token === "") {
      throw new HttpError(400, "validation_failed", "Verify requires a token or a token hash");
    }
    return await verifyGet(ctx, req, { ...params, tokenHash: params.token }, redirectTo);
  }
  const body = await readParams(req, "VerifyParams", {
    type: "string",
    token: "string",
    token_hash: "string",
    email: "string",
    phone: "string",
    redirect_to: "string",
  });
  const params: VerifyParams = {
    type: (body.type as string | undefined) ?? "",
    token: (body.token as string | undefined) ?? "",
    tokenHash: (body.token_hash as string | undefined) ?? "",
    email: (body.email as string | undefined) ?? "",
    phone: (body.phone as string | undefined) ?? "",
  };
  validatePost(params, (body.redirect_to as string | undefined) ?? "");
  return await verifyPost(ctx, req, params);
}

// VerifyParams.Validate for POST.
function validatePost(p: VerifyParams, redirectTo: string): void {
  if (p.type === "") throw new HttpError(400, "validation_failed", "Verify requires a verification type");
  if ((p.token === "") === (p.tokenHash === "")) {
    throw new HttpError(400, "validation_failed", "Verify requires either a token or a token hash");
  }
  if (p.token !== "") {
    if (p.phone !== "" && p.email === "") {
      p.tokenHash = tokenHash(p.phone, p.token);
    } else if (p.email !== "" && p.phone === "") {
      try {
        p.email = validateEmail(p.email);
      } catch {
        throw new HttpError(422, "validation_failed", "Invalid email format");
      }
      p.tokenHash = tokenHash(p.email, p.token);
    } else {
      throw new HttpError(
        400,
        "validation_failed",
        "Only an email address or phone number should be provided on verify",
      );
    }
  } else if (p.email !== "" || p.phone !== "" || redirectTo !== "") {
    throw new HttpError(400, "validation_failed", "Only the token_hash and type should be provided");
  }
}

async function verifyGet(
  ctx: AuthContext,
  req: Request,
  params: VerifyParams,
  redirectTo: string,
): Promise<Response> {
  // A `pkce_` token ends in an auth code for the flow state its request stored, not in a session.
  const pkce = params.token.startsWith(PKCE_PREFIX);
  const method = authenticationMethodOf(params.type);
  let outcome: SessionJson | { code: string } | "single";
  try {
    outcome = await ctx.sql.begin(async (tx) => {
      const user = await confirm(ctx, tx, params, await verifyTokenHash(ctx, tx, params));
      if (user === "single") return user;
      if (pkce) return { code: await issueAuthCode(tx, user.id, method) };
      return await grant(ctx, tx, req, user);
    });
  } catch (err) {
    if (err instanceof HttpError) return seeOther(errorRedirect(err, redirectTo, pkce));
    // GoTrue redirects without a word when the failure is not one of its HTTP errors.
    console.error("Auth emulator: verify failed", err);
    return seeOther(redirectTo);
  }
  if (outcome === "single") return seeOther(messageRedirect(SINGLE_CONFIRMATION, redirectTo, pkce));
  // GoTrue's prepPKCERedirectURL: the code joins the query, re-encoded.
  if ("code" in outcome) return seeOther(withQuery(redirectTo, { code: outcome.code }));
  // GoTrue's AsRedirectURL appends the fragment to the URL as it stands.
  return seeOther(`${redirectTo}#${
    encodeValues({
      access_token: outcome.access_token,
      expires_at: String(outcome.expires_at),
      expires_in: String(outcome.expires_in),
      refresh_token: outcome.refresh_token,
      sb: "",
      token_type: outcome.token_type,
      type: params.type,
    })
  }`);
}

async function verifyPost(ctx: AuthContext, req: Request, params: VerifyParams): Promise<Response> {
  const outcome = await ctx.sql.begin(async (tx) => {
    const usingHash = params.token === "" && params.email === "" && params.phone === "";
    const found = usingHash
      ? await verifyTokenHash(ctx, tx, params)
      : await verifyUserAndToken(ctx, tx, params, requestAud(req));
    const user = await confirm(ctx, tx, params, found);
    return user === "single" ? user : await grant(ctx, tx, req, user);
  });
  if (outcome === "single") return Response.json({ code: "200", msg: SINGLE_CONFIRMATION });
  return Response.json(outcome);
}

// What both flavours do once the token named its user: confirm per type ("single" for the first half
// of a secure email change).
async function confirm(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  params: VerifyParams,
  found: UserRow,
): Promise<UserRow | "single"> {
  let user: UserRow;
  switch (params.type) {
    case "signup":
    case "invite":
      user = await signupVerify(tx, found);
      break;
    case "recovery":
    case "magiclink":
      user = await clearRecovery(tx, found);
      if (!user.email_confirmed_at) user = await confirmUser(tx, user);
      break;
    case "email_change": {
      const changed = await emailChangeVerify(ctx, tx, params, found);
      if (!changed) return "single";
      user = changed;
      break;
    }
    default:
      throw new HttpError(400, "validation_failed", "Unsupported verification type");
  }
  return await updateProviders(tx, user);
}

// The implicit flow's grant: a session at once.
async function grant(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  req: Request,
  user: UserRow,
): Promise<SessionJson> {
  return await issueSession(ctx, await startSessionIn(tx, user.id, req.headers.get("User-Agent")), tx);
}

// GoTrue's signupVerify: an invited user without a password gets a random one, then the address is
// confirmed, on the user and on the identities holding it.
async function signupVerify(tx: Db, found: UserRow): Promise<UserRow> {
  let user = found;
  if (!hasPassword(user) && user.invited_at) {
    const random = crypto.getRandomValues(new Uint8Array(48));
    const hash = await hashPassword(btoa(String.fromCharCode(...random)));
    user = await updatePassword(tx, user, hash, undefined);
  }
  user = await confirmUser(tx, user);
  for (const identity of await listIdentities(tx, user.id)) {
    if (!identity.email || !user.email || identity.email !== user.email) continue;
    await updateIdentityData(tx, identity, { email_verified: true });
  }
  return user;
}

/**
 * GoTrue's emailChangeVerify. With secure email change on (and confirmations on, and a current address),
 * the first of the two tokens only records that its address confirmed; the second, or the only one,
 * switches the address. Returns undefined for the first.
 */
async function emailChangeVerify(
  ctx: AuthContext,
  tx: Db,
  params: Pick<VerifyParams, "token" | "tokenHash">,
  user: UserRow,
): Promise<UserRow | undefined> {
  if (!ctx.autoConfirm && ctx.secureEmailChange && user.email_change_confirm_status === 0 && user.email) {
    const matches = (column: string | null) =>
      column !== null && column !== "" && (params.token === column || params.tokenHash === column);
    let cleared = "";
    if (matches(user.email_change_token_current)) cleared = "email_change_token_current";
    else if (matches(user.email_change_token_new)) cleared = "email_change_token_new";
    if (cleared !== "") await clearOneTimeTokens(tx, user.id, cleared as OneTimeTokenType);
    await tx`update auth.users set email_change_confirm_status = 1,
                    email_change_token_current = ${
      cleared === "email_change_token_current" ? "" : user.email_change_token_current
    },
                    email_change_token_new = ${
      cleared === "email_change_token_new" ? "" : user.email_change_token_new
    },
                    updated_at = now()
              where id = ${user.id}`;
    return undefined;
  }
  return await applyEmailChange(tx, user);
}

/**
 * The address change itself (the second half of GoTrue's emailChangeVerify): the email identity takes the
 * new, verified address (created if the user had none), an anonymous user becomes permanent, and the user
 * switches address.
 *
 * @param tx The transaction.
 * @param user The user, with `email_change` set.
 * @returns The updated user.
 */
export async function applyEmailChange(
  tx: Db,
  user: UserRow,
): Promise<UserRow> {
  const email = user.email_change ?? "";
  const identity = await findIdentity(tx, user.id, "email");
  if (identity) await updateIdentityData(tx, identity, { email, email_verified: true });
  else await createIdentity(tx, user.id, "email", emailClaims(user.id, email, true));
  if (user.is_anonymous) await tx`update auth.users set is_anonymous = false where id = ${user.id}`;
  return await confirmEmailChange(tx, { ...user, is_anonymous: false }, 0);
}

// GoTrue's verifyTokenHash: the token as stored, looked up in auth.one_time_tokens.
async function verifyTokenHash(
  ctx: AuthContext,
  tx: Db,
  params: VerifyParams,
): Promise<UserRow> {
  const types: Record<string, OneTimeTokenType[]> = {
    email: ["confirmation_token", "recovery_token"],
    signup: ["confirmation_token"],
    invite: ["confirmation_token"],
    recovery: ["recovery_token"],
    magiclink: ["recovery_token"],
    email_change: ["email_change_token_current", "email_change_token_new"],
  };
  if (!Object.hasOwn(types, params.type)) {
    throw new HttpError(400, "validation_failed", "Invalid email verification type");
  }
  const expired = () => new HttpError(403, "otp_expired", "Email link is invalid or has expired");
  const token = await findOneTimeToken(tx, params.tokenHash, types[params.type]);
  const user = token && await findUserById(tx, token.user_id);
  if (!user) throw expired();
  if (isBanned(user)) throw new HttpError(403, "user_banned", "User is banned");
  let sentAt: Date | null;
  switch (params.type) {
    case "email":
      if (user.recovery_token === params.tokenHash) {
        sentAt = user.recovery_sent_at;
        params.type = "magiclink";
      } else {
        sentAt = user.confirmation_sent_at;
        params.type = "signup";
      }
      break;
    case "signup":
    case "invite":
      sentAt = user.confirmation_sent_at;
      break;
    case "recovery":
    case "magiclink":
      sentAt = user.recovery_sent_at;
      break;
    default:
      sentAt = user.email_change_sent_at;
  }
  if (isOtpExpired(ctx, sentAt)) throw expired();
  return user;
}

// GoTrue's verifyUserAndToken: the user by address, then the code's hash against the user's column.
async function verifyUserAndToken(
  ctx: AuthContext,
  tx: Db,
  params: VerifyParams,
  aud: string,
): Promise<UserRow> {
  const invalid = () => new HttpError(403, "otp_expired", "Token has expired or is invalid");
  // Phone sign-ins are not emulated: no user has a phone to verify.
  if (params.type === "sms" || params.type === "phone_change") throw invalid();
  const user = params.type === "email_change"
    ? await findUserForEmailChange(ctx, tx, params, aud)
    : await findUserByEmail(tx, params.email, aud);
  if (!user) throw invalid();
  if (isBanned(user)) throw new HttpError(403, "user_banned", "User is banned");
  const valid = (expected: string | null, sentAt: Date | null) =>
    expected !== null && expected !== "" && sentAt !== null && !isOtpExpired(ctx, sentAt) &&
    (params.tokenHash === expected || `pkce_${params.tokenHash}` === expected);
  let ok: boolean;
  switch (params.type) {
    case "email":
      if (valid(user.confirmation_token, user.confirmation_sent_at)) {
        ok = true;
        params.type = "signup";
      } else if (valid(user.recovery_token, user.recovery_sent_at)) {
        ok = true;
        params.type = "magiclink";
      } else ok = false;
      break;
    case "signup":
    case "invite":
      ok = valid(user.confirmation_token, user.confirmation_sent_at);
      break;
    case "recovery":
    case "magiclink":
      ok = valid(user.recovery_token, user.recovery_sent_at);
      break;
    case "email_change":
      ok = valid(user.email_change_token_current, user.email_change_sent_at) ||
        valid(user.email_change_token_new, user.email_change_sent_at);
      break;
    default:
      ok = false;
  }
  if (!ok) throw invalid();
  return user;
}

// GoTrue's FindUserForEmailChange: the token among the current address's (secure change), else the new's.
async function findUserForEmailChange(
  ctx: AuthContext,
  tx: Db,
  params: VerifyParams,
  aud: string,
): Promise<UserRow | undefined> {
  const lookups: Array<[OneTimeTokenType, (user: UserRow) => string | null]> = [
    ["email_change_token_new", (user) => user.email_change],
  ];
  if (ctx.secureEmailChange) lookups.unshift(["email_change_token_current", (user) => user.email]);
  for (const [type, address] of lookups) {
    const token = await findOneTimeToken(tx, params.tokenHash, [type]) ??
      await findOneTimeToken(tx, `pkce_${params.tokenHash}`, [type]);
    const user = token && await findUserById(tx, token.user_id);
    if (!user) continue;
    // GoTrue's (odd) audience check: another audience only counts when the address also matches.
    if (user.aud !== aud && (address(user) ?? "").toLowerCase() === params.email.toLowerCase()) continue;
    return user;
  }
  return undefined;
}

function isOtpExpired(ctx: AuthContext, sentAt: Date | null): boolean {
  return sentAt === null || Date.now() > sentAt.getTime() + ctx.otpExpirySeconds * 1000;
}

// GoTrue's prepErrorRedirectURL: the error in the fragment, and for PKCE in the (re-encoded) query too.
function errorRedirect(err: HttpError, redirectTo: string, pkce: boolean): string {
  const error: Record<string, string> = { error_code: err.code, error_description: err.message };
  if (Object.hasOwn(OAUTH_ERRORS, err.status)) error.error = OAUTH_ERRORS[err.status];
  const base = pkce ? withQuery(redirectTo, error) : redirectTo.split("#")[0];
  return `${base}#${encodeValues({ ...error, sb: "" })}`;
}

// GoTrue's prepRedirectURL: the query re-encoded (sorted), the message in the fragment, and for PKCE
// in the query too.
function messageRedirect(message: string, redirectTo: string, pkce: boolean): string {
  const base = withQuery(redirectTo, pkce ? { message } : {});
  return `${base}#${encodeValues({ message, sb: "" })}`;
}

// The URL without its fragment, its query re-encoded as Go's url.Values does, with `values` set.
function withQuery(redirectTo: string, values: Record<string, string>): string {
  const [base, query] = redirectTo.split("#")[0].split(/\?(.*)/s);
  const merged = { ...Object.fromEntries(new URLSearchParams(query ?? "")), ...values };
  return Object.keys(merged).length > 0 ? `${base}?${encodeValues(merged)}` : base;
}

function seeOther(location: string): Response {
  return new Response(null, { status: 303, headers: { Location: location } });
}
