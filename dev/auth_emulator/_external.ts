/**
 * `POST /_emulator/oauth_sign_in`: the EMULATOR'S OWN route, not GoTrue's. It stands in for a sign-in with
 * an OAuth provider (GoTrue's `/authorize` → provider → `/callback`), which needs a real provider, by
 * taking what the provider would have said (`provider`, `sub`, `email`, `email_verified`) from a caller
 * holding the `service_role` key, and then doing what GoTrue's `internalExternalProviderCallback` and
 * `createAccountFromExternalIdentity` do with it (`internal/api/external.go`, the account-linking decision
 * of `internal/models/linking.go` in the default linking domain), answering the session as JSON where
 * GoTrue would redirect with it in the fragment (the implicit flow).
 *
 * So tests reach, from outside, the `auth.identities` rows an OAuth sign-in leaves: an identity of the
 * provider with the provider's `email_verified`; a new user confirmed at once when the provider verified
 * the address (or the project autoconfirms), else a confirmation mail and 422
 * `provider_email_needs_verification`; a verified address linked to the existing user that holds it.
 *
 * @module
 */
import type postgres from "postgres";
import { requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { createIdentity, type IdentityRow, updateProviders } from "./_identities.ts";
import { sendConfirmation } from "./_mail.ts";
import { readParams, requestAud, validateEmail } from "./_params.ts";
import { referrer } from "./_redirect.ts";
import { isBanned, startSessionIn, type UserRow } from "./_store.ts";
import { issueSession } from "./_tokens.ts";
import { refuseClosedSignup } from "./_features.ts";
import { confirmUser, findDuplicateEmail, findUserById, insertUser, updateUserMetadata } from "./_users.ts";

// Providers of GoTrue's own that are not OAuth ones.
const NOT_OAUTH = new Set(["email", "phone", "anonymous", "web3"]);
const PROVIDER = /^[a-z][a-z0-9_]{0,31}$/;

/** What the provider said about the user: GoTrue's `provider.UserProvidedData`, one primary email. */
interface ProviderUser {
  provider: string;
  sub: string;
  email: string;
  emailVerified: boolean;
  /** The identity data GoTrue stores: `structs.Map(provider.Claims)`. */
  identityData: Record<string, unknown>;
}

/** What to do once the transaction is over. */
type Outcome = { user: UserRow } | { needsVerification: string };

/**
 * Signs a user in as if an OAuth provider had sent them back with these claims.
 *
 * @param ctx The emulator's database, keys, settings and mailer.
 * @param req The request: a `service_role` bearer token and `{ provider, sub, email, email_verified,
 *   data }` (`data`: further profile claims such as `name`).
 * @param url The request's URL (its `redirect_to` goes into a confirmation mail).
 * @returns The session, as `POST /token` answers it.
 * @throws {HttpError} As {@linkcode requireAdmin}; 400 `validation_failed`, `bad_json`; 403 `user_banned`;
 *   422 `provider_email_needs_verification` (the user is kept, and mailed when there is an address); 500
 *   `unexpected_failure` when several users hold the verified address.
 * @example
 * ```ts ignore
 * const routes = { "/_emulator/oauth_sign_in": { POST: oauthSignIn } };
 * ```
 */
export async function oauthSignIn(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const params = await readParams(req, "OAuthSignInParams", {
    provider: "string",
    sub: "string",
    email: "string",
    email_verified: "boolean",
    data: "object",
  });
  const provider = (params.provider as string | undefined) ?? "";
  if (!PROVIDER.test(provider) || NOT_OAUTH.has(provider)) {
    throw new HttpError(400, "validation_failed", "provider must name an OAuth provider, e.g. github");
  }
  const sub = (params.sub as string | undefined) ?? "";
  if (sub === "") throw new HttpError(400, "validation_failed", "sub is required");
  // GoTrue: "Error getting user email from external provider" when the provider gives none.
  const email = validateEmail((params.email as string | undefined) ?? "");
  const emailVerified = params.email_verified === true;
  const user: ProviderUser = {
    provider,
    sub,
    email,
    emailVerified,
    identityData: {
      ...(params.data as Record<string, unknown> | undefined),
      sub,
      provider_id: sub,
      email,
      email_verified: emailVerified,
      phone_verified: false,
    },
  };
  const aud = requestAud(req);
  const outcome = await ctx.sql.begin((tx) => signIn(ctx, tx, req, url, user, aud));
  if ("needsVerification" in outcome) {
    throw new HttpError(422, "provider_email_needs_verification", outcome.needsVerification);
  }
  return Response.json(
    await ctx.sql.begin(async (tx) =>
      await issueSession(ctx, await startSessionIn(tx, outcome.user.id, req.headers.get("User-Agent")), tx)
    ),
  );
}

// createAccountFromExternalIdentity, in the transaction; a refusal that GoTrue commits is returned.
async function signIn(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  req: Request,
  url: URL,
  from: ProviderUser,
  aud: string,
): Promise<Outcome> {
  const linking = await decideLinking(ctx, tx, from, aud);
  let user: UserRow;
  let identity: IdentityRow;
  let candidateEmail = from.email;
  switch (linking.decision) {
    case "exists": {
      [identity] = await tx<IdentityRow[]>`
        update auth.identities set identity_data = ${tx.json(from.identityData as postgres.JSONValue)},
                                   last_sign_in_at = now(), updated_at = now()
         where id = ${linking.identity.id} returning *`;
      user = await updateUserMetadata(tx, linking.user, from.identityData);
      user = await updateProviders(tx, user);
      candidateEmail = user.email ?? "";
      break;
    }
    case "link":
      identity = await createIdentity(tx, linking.user.id, from.provider, from.identityData);
      user = await updateUserMetadata(tx, linking.user, from.identityData);
      user = await updateProviders(tx, user);
      break;
    case "create":
      refuseClosedSignup(ctx);
      candidateEmail = linking.email;
      user = await insertUser(tx, {
        email: candidateEmail || null,
        aud,
        role: "authenticated",
        passwordHash: "",
        appMetadata: { provider: from.provider, providers: [from.provider] },
        userMetadata: from.identityData,
      });
      identity = await createIdentity(tx, user.id, from.provider, from.identityData);
      break;
  }
  if (isBanned(user)) throw new HttpError(403, "user_banned", "User is banned");
  if (user.email_confirmed_at) return { user };

  // An unconfirmed user keeps only this identity, so that no unproven sign-in method survives the
  // provider's (GoTrue's RemoveUnconfirmedIdentities, against pre-account takeover).
  await tx`update auth.users set encrypted_password = null where id = ${user.id}`;
  await tx`delete from auth.identities where user_id = ${user.id} and id <> ${identity.id}`;
  user = await updateUserMetadata(tx, { ...user, raw_user_meta_data: {} }, identity.identity_data);
  user = await updateProviders(tx, user);
  if (from.emailVerified || ctx.autoConfirm) return { user: await confirmUser(tx, user) };
  if (candidateEmail !== "") {
    await sendConfirmation(ctx, tx, user, referrer(ctx, req, url));
    return {
      needsVerification:
        `Unverified email with ${from.provider}. A confirmation email has been sent to your ${from.provider} email`,
    };
  }
  return {
    needsVerification:
      `Unverified email with ${from.provider}. Verify the email with ${from.provider} in order to sign in`,
  };
}

type Linking =
  | { decision: "exists"; user: UserRow; identity: IdentityRow }
  | { decision: "link"; user: UserRow }
  | { decision: "create"; email: string };

// DetermineAccountLinking in the default linking domain: the identity itself, else a user holding the
// address (counted as verified when the provider verified it or the project autoconfirms), else a new one.
async function decideLinking(
  ctx: AuthContext,
  tx: postgres.TransactionSql,
  from: ProviderUser,
  aud: string,
): Promise<Linking> {
  const [identity] = await tx<IdentityRow[]>`
    select * from auth.identities where provider_id = ${from.sub} and provider = ${from.provider}`;
  if (identity) {
    return { decision: "exists", user: (await findUserById(tx, identity.user_id))!, identity };
  }
  if (!(from.emailVerified || ctx.autoConfirm)) {
    // An unverified address another user holds is not taken: the new user gets none.
    const taken = await findDuplicateEmail(tx, from.email, aud);
    return { decision: "create", email: taken ? "" : from.email };
  }
  const holders = await tx<{ user_id: string }[]>`
    select distinct user_id from auth.identities where email = ${from.email}`;
  if (holders.length === 0) {
    const users = await tx<UserRow[]>`
      select * from auth.users where email = ${from.email} and is_sso_user = false`;
    if (users.length === 0) return { decision: "create", email: from.email };
    if (users.length === 1) return { decision: "link", user: users[0] };
  } else if (holders.length === 1) {
    return { decision: "link", user: (await findUserById(tx, holders[0].user_id))! };
  }
  throw new HttpError(
    500,
    "unexpected_failure",
    "Multiple accounts with the same email address in the same linking domain detected: default",
  );
}
