/**
 * `POST /signup`: GoTrue's `Signup`, for the email provider.
 *
 * @module
 */
import postgres from "postgres";
import bcrypt from "bcryptjs";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { obfuscatedUser, userJson } from "./_json.ts";
import { checkPasswordStrength, readParams, requestAud, validateEmail } from "./_params.ts";
import { findUserByEmail, insertUser, startSession, touchConfirmationSent, type UserRow } from "./_store.ts";
import { issueSession } from "./_tokens.ts";

// GoTrue's bcrypt cost.
const BCRYPT_COST = 10;

/**
 * Signs a user up with email and password: a session when sign-ups are confirmed at once, else the
 * unconfirmed user.
 *
 * @param ctx The emulator's database, keys and settings.
 * @param req The request, with GoTrue's `SignupParams` as JSON.
 * @returns The session, or the user.
 * @throws {HttpError} GoTrue's refusals: 400 `validation_failed`, `bad_json`, `phone_provider_disabled`;
 *   422 `weak_password`, `user_already_exists`, `anonymous_provider_disabled`.
 * @example
 * ```ts ignore
 * const routes = { "/signup": { POST: signup } };
 * ```
 */
export async function signup(ctx: AuthContext, req: Request): Promise<Response> {
  const params = await readParams(req, "SignupParams", {
    email: "string",
    phone: "string",
    password: "string",
    data: "object",
  });
  const email = (params.email as string | undefined) ?? "";
  const phone = (params.phone as string | undefined) ?? "";
  const password = (params.password as string | undefined) ?? "";
  const data = (params.data as Record<string, unknown> | undefined) ?? {};
  if (email === "" && phone === "") {
    throw new HttpError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled");
  }
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
  if (email === "") throw new HttpError(400, "phone_provider_disabled", "Phone signups are disabled");
  const normalized = validateEmail(email);
  const aud = requestAud(req);
  const { sql, autoConfirm } = ctx;

  const existing = await findUserByEmail(sql, normalized, aud);
  if (existing?.email_confirmed_at || (existing && autoConfirm)) {
    // For an unconfirmed user GoTrue would confirm it here without checking the password (possible only
    // after switching autoConfirm on); the emulator refuses that as it refuses a confirmed one.
    if (autoConfirm) throw new HttpError(422, "user_already_exists", "User already registered");
    // With confirmations on, GoTrue answers as if signing up, with a fake user, to hide who exists.
    return Response.json(obfuscatedUser(normalized, aud, data));
  }
  if (existing) return Response.json(userJson(await touchConfirmationSent(sql, existing.id)));

  // Hash outside any transaction: bcrypt is slow on purpose.
  const passwordHash = await bcrypt.hash(password, BCRYPT_COST);
  let user: UserRow;
  try {
    user = await insertUser(sql, {
      email: normalized,
      aud,
      passwordHash,
      // GoTrue's Confirm() records the verification in user_metadata too.
      userMetadata: autoConfirm ? { ...data, email_verified: true } : data,
      confirmed: autoConfirm,
    });
  } catch (err) {
    // A concurrent sign-up with the same email won the race.
    if (err instanceof postgres.PostgresError && err.code === "23505") {
      throw new HttpError(422, "user_already_exists", "User already registered");
    }
    throw err;
  }
  if (!autoConfirm) return Response.json(userJson(user));
  return Response.json(
    await issueSession(ctx, await startSession(sql, user.id, req.headers.get("User-Agent"))),
  );
}
