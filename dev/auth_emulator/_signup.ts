/**
 * `POST /signup`: GoTrue's `Signup` for the email provider, and `SignupAnonymously` when the body has
 * neither an email nor a phone (`internal/api/signup.go`, `anonymous.go`, routed in `api.go`).
 *
 * @module
 */
import postgres from "postgres";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { refuseClosedSignup } from "./_features.ts";
import { createIdentity, emailClaims, findIdentity, listIdentities, updateProviders } from "./_identities.ts";
import { obfuscatedUser, userJson } from "./_json.ts";
import { sendConfirmation } from "./_mail.ts";
import { checkPasswordStrength, readParams, requestAud, validateEmail } from "./_params.ts";
import { createFlowState, PKCE_FIELDS, type PkceChallenge, readPkceChallenge } from "./_pkce.ts";
import { referrer } from "./_redirect.ts";
import { startSession, type UserRow } from "./_store.ts";
import { issueSession } from "./_tokens.ts";
import { confirmUser, findDuplicateEmail, hashPassword, insertUser, updateUserMetadata } from "./_users.ts";

/**
 * Signs a user up with email and password (a session when sign-ups are confirmed at once, else the
 * unconfirmed user and a confirmation mail), or anonymously when the body names no address.
 *
 * @param ctx The emulator's database, keys, settings and mailer.
 * @param req The request, with GoTrue's `SignupParams` as JSON.
 * @param url The request's URL (its `redirect_to` goes into the mail).
 * @returns The session, or the user.
 * @throws {HttpError} GoTrue's refusals: 400 `validation_failed`, `bad_json`, `phone_provider_disabled`,
 *   `email_provider_disabled`; 422 `signup_disabled`, `weak_password`, `user_already_exists`, `anonymous_provider_disabled`; 429
 *   `over_email_send_rate_limit`.
 * @example
 * ```ts ignore
 * const routes = { "/signup": { POST: signup } };
 * ```
 */
export async function signup(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const params = await readParams(req, "SignupParams", {
    email: "string",
    phone: "string",
    password: "string",
    data: "object",
    ...PKCE_FIELDS,
  });
  const email = (params.email as string | undefined) ?? "";
  const phone = (params.phone as string | undefined) ?? "";
  const password = (params.password as string | undefined) ?? "";
  const data = (params.data as Record<string, unknown> | undefined) ?? {};
  if (email === "" && phone === "") {
    if (!ctx.anonymousSignIns) {
      throw new HttpError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled");
    }
    refuseClosedSignup(ctx);
    return await signupAnonymously(ctx, req, data);
  }
  refuseClosedSignup(ctx);
  if (password === "") throw new HttpError(400, "validation_failed", "Signup requires a valid password");
  const weak = checkPasswordStrength(password);
  if (weak) throw weak;
  if (email !== "" && phone !== "") {
    throw new HttpError(
      400,
      "validation_failed",
      "Only an email address or phone number should be provided on signup.",
    );
  }
  if (phone !== "" && params.code_challenge) {
    throw new HttpError(400, "validation_failed", "PKCE not supported for phone signups");
  }
  const pkce = readPkceChallenge(params);
  if (email === "") throw new HttpError(400, "phone_provider_disabled", "Phone signups are disabled");
  if (!ctx.features.emailProvider) {
    throw new HttpError(400, "email_provider_disabled", "Email signups are disabled");
  }
  const normalized = validateEmail(email);
  const aud = requestAud(req);
  const { user, taken } = await signUpEmail(ctx, req, url, { email: normalized, aud, password, data, pkce });
  if (taken) {
    if (ctx.autoConfirm) throw new HttpError(422, "user_already_exists", "User already registered");
    // With confirmations on, GoTrue answers as if signing up, with a fake user, to hide who exists.
    return Response.json(obfuscatedUser(normalized, aud, data));
  }
  if (user.email_confirmed_at) {
    return Response.json(
      await issueSession(ctx, await startSession(ctx.sql, user.id, req.headers.get("User-Agent"))),
    );
  }
  // An invited user's sign-up must not reveal what the invitation holds.
  if (user.invited_at) return Response.json(userJson({ ...user, raw_user_meta_data: {} }, []));
  return Response.json(userJson(user, await listIdentities(ctx.sql, user.id)));
}

/** What {@linkcode signUpEmail} signs up. */
export interface EmailSignup {
  /** Lower-cased. */
  email: string;
  aud: string;
  password: string;
  data: Record<string, unknown>;
  /** The PKCE challenge: the confirmation mail's link then ends in an auth code, not a session. */
  pkce?: PkceChallenge;
}

/**
 * GoTrue's `Signup` transaction for the email provider, shared with the magic link: a new user with its
 * email identity (or the existing unconfirmed one), then confirmed at once under autoconfirm, else sent
 * a confirmation mail. A confirmed holder of the address is left alone and reported as `taken`.
 *
 * @param ctx The emulator's database, settings and mailer.
 * @param req The request (its `redirect_to` and `Referer` go into the mail).
 * @param url The request's URL.
 * @param signup The address, audience, password and metadata.
 * @returns The user, and whether the address was already taken by a confirmed user.
 * @throws {HttpError} 422 `signup_disabled` when sign-ups are off, `user_already_exists` when a
 *   concurrent sign-up won; 429
 *   `over_email_send_rate_limit`; 500 when the mail cannot be sent.
 */
export async function signUpEmail(
  ctx: AuthContext,
  req: Request,
  url: URL,
  signup: EmailSignup,
): Promise<{ user: UserRow; taken: boolean }> {
  const { email, aud, password, data, pkce } = signup;
  refuseClosedSignup(ctx);
  const existing = await findDuplicateEmail(ctx.sql, email, aud);
  if (existing?.email_confirmed_at) return { user: existing, taken: true };
  // Hash outside any transaction: bcrypt is slow on purpose. GoTrue never stores it for an existing user.
  const passwordHash = existing ? "" : await hashPassword(password);
  try {
    const user = await ctx.sql.begin(async (tx) => {
      let user = existing ?? await insertUser(tx, {
        email,
        aud,
        role: "authenticated",
        passwordHash,
        appMetadata: { provider: "email", providers: ["email"] },
        userMetadata: data,
      });
      if (!(await findIdentity(tx, user.id, "email"))) {
        // Sign-up metadata joins the identity's claims, which then replace the user's metadata
        // (GoTrue's RemoveUnconfirmedIdentities), so `sub`, `email` and the flags land there too.
        const identity = await createIdentity(tx, user.id, "email", {
          ...data,
          ...emailClaims(user.id, user.email!),
        });
        await tx`delete from auth.identities where user_id = ${user.id} and id <> ${identity.id}`;
        user = await updateUserMetadata(tx, { ...user, raw_user_meta_data: {} }, identity.identity_data);
        user = await updateProviders(tx, user);
      }
      // An unconfirmed address signed up again is confirmed without its password being checked, as
      // GoTrue does under autoconfirm.
      if (ctx.autoConfirm) return await confirmUser(tx, user);
      if (pkce) await createFlowState(tx, user.id, "email", "email/signup", pkce);
      return await sendConfirmation(ctx, tx, user, referrer(ctx, req, url), pkce !== undefined);
    });
    return { user, taken: false };
  } catch (err) {
    // A concurrent sign-up with the same email won the race.
    if (err instanceof postgres.PostgresError && err.code === "23505") {
      throw new HttpError(422, "user_already_exists", "User already registered");
    }
    throw err;
  }
}

// GoTrue's SignupAnonymously: a user with no address, identity or provider, and a session.
async function signupAnonymously(
  ctx: AuthContext,
  req: Request,
  data: Record<string, unknown>,
): Promise<Response> {
  const user = await insertUser(ctx.sql, {
    email: null,
    aud: requestAud(req),
    role: "authenticated",
    passwordHash: "",
    appMetadata: {},
    userMetadata: data,
    isAnonymous: true,
  });
  return Response.json(
    await issueSession(ctx, await startSession(ctx.sql, user.id, req.headers.get("User-Agent"))),
  );
}
