/**
 * GoTrue's refusals for what a project has switched off, or what the emulator never offers: closed
 * sign-ups, the email provider, the routes of SAML SSO and manual identity linking, and the Web3 and ID
 * token grants
 * (`internal/api/middleware.go` `requireSAMLEnabled`, `requireManualLinkingEnabled`, `requireEmailProvider`;
 * `signup.go`, `anonymous.go`, `external.go` on `DisableSignup`).
 *
 * @module
 */
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { decodeJwt } from "jose";
import { HttpError, OAuthError } from "./_errors.ts";
import { readParams } from "./_params.ts";

/**
 * GoTrue's `DisableSignup` check: first in `Signup` and `SignupAnonymously`, and so in the magic link's
 * sign-up of an address without a confirmed user, and before an OAuth sign-in creates an account.
 *
 * @param ctx The emulator's settings.
 * @throws {HttpError} 422 `signup_disabled` when sign-ups are off.
 */
export function refuseClosedSignup(ctx: AuthContext): void {
  if (!ctx.features.signup) {
    throw new HttpError(422, "signup_disabled", "Signups not allowed for this instance");
  }
}

/**
 * GoTrue's checks of `GOTRUE_EXTERNAL_EMAIL_ENABLED`, whose status differs by route: 400 in
 * `requireEmailProvider` (`/recover`) and `/resend`, 422 in the password grant and the magic link.
 *
 * @param ctx The emulator's settings.
 * @param status The route's status for the refusal.
 * @throws {HttpError} `email_provider_disabled` "Email logins are disabled" when the provider is off.
 */
export function requireEmailProvider(ctx: AuthContext, status: 400 | 422): void {
  if (!ctx.features.emailProvider) {
    throw new HttpError(status, "email_provider_disabled", "Email logins are disabled");
  }
}

/**
 * `/sso`, `/sso/saml/metadata`, `/sso/saml/acs`: GoTrue's `requireSAMLEnabled` with SAML off, as on every
 * project `supabase start` runs (the CLI sets no `GOTRUE_SAML_ENABLED`).
 *
 * @returns Never.
 * @throws {HttpError} 404 `saml_provider_disabled`.
 * @example
 * ```ts ignore
 * const routes = { "/sso": { POST: samlDisabled } };
 * ```
 */
export function samlDisabled(): Promise<Response> {
  return Promise.reject(new HttpError(404, "saml_provider_disabled", "SAML 2.0 is disabled"));
}

/**
 * `GET /user/identities/authorize` and `DELETE /user/identities/{id}`: behind `requireAuthentication`, then
 * `requireManualLinkingEnabled`. Linking itself is not emulated: switched on, the emulator answers 501.
 *
 * @param ctx The emulator's keys, database and settings.
 * @param req The request, with a bearer access token.
 * @returns Never.
 * @throws {HttpError} As `authenticate`; 404 `manual_linking_disabled`; 501 when linking is on.
 * @example
 * ```ts ignore
 * const routes = { "/user/identities/authorize": { GET: identityLinking } };
 * ```
 */
export async function identityLinking(ctx: AuthContext, req: Request): Promise<Response> {
  await authenticate(ctx, req);
  if (!ctx.features.manualLinking) {
    throw new HttpError(404, "manual_linking_disabled", "Manual linking is disabled");
  }
  throw new HttpError(501, "not_implemented", "Manual identity linking is not emulated");
}

/**
 * `POST /token?grant_type=web3`: GoTrue's `Web3Grant` with neither `[auth.web3.solana]` nor
 * `[auth.web3.ethereum]` on, which the emulator does not offer.
 *
 * @returns Never.
 * @throws {HttpError} 422 `web3_provider_disabled`.
 */
export function web3Disabled(): Promise<Response> {
  return Promise.reject(new HttpError(422, "web3_provider_disabled", "Web3 provider is disabled"));
}

// GoTrue's provider constants (`internal/api/provider`), for the issuer its refusal names.
const ISSUER_BY_PROVIDER: Record<string, string> = {
  google: "https://accounts.google.com",
  facebook: "https://www.facebook.com",
  kakao: "https://kauth.kakao.com",
  snapchat: "https://accounts.snapchat.com/accounts/oauth2/token",
  vercel_marketplace: "https://marketplace.vercel.com",
  // `[auth.external.keycloak] url`, unset here.
  keycloak: "",
};
const APPLE_ISSUERS = ["https://appleid.apple.com", "https://account.apple.com"];

/**
 * `POST /token?grant_type=id_token` (supabase-js `signInWithIdToken`): GoTrue's `IdTokenGrant` up to its
 * provider check (`token_oidc.go` `getProvider`). The emulator has no OIDC provider on (its `/settings`
 * says so), so every known provider is refused as GoTrue refuses a switched-off one, and any other as an
 * issuer not allowed.
 *
 * @param req The request, with GoTrue's `IdTokenGrantParams` as JSON.
 * @returns Never.
 * @throws {OAuthError} `invalid request` without `id_token`, or without a provider or issuer.
 * @throws {HttpError} 400 `provider_disabled`, `validation_failed`.
 */
export async function idTokenGrant(req: Request): Promise<Response> {
  const params = await readParams(req, "IdTokenGrantParams", {
    id_token: "string",
    access_token: "string",
    nonce: "string",
    provider: "string",
    client_id: "string",
    issuer: "string",
    link_identity: "boolean",
  });
  const idToken = (params.id_token as string | undefined) ?? "";
  const provider = (params.provider as string | undefined) ?? "";
  const issuer = (params.issuer as string | undefined) ?? "";
  if (idToken === "") throw new OAuthError("invalid request", "id_token required");
  if (provider === "" && (!params.client_id || issuer === "")) {
    throw new OAuthError("invalid request", "provider or client_id and issuer required");
  }
  throw providerRefusal(provider, issuer, idToken);
}

function providerRefusal(provider: string, issuer: string, idToken: string): HttpError {
  const disabled = (issuer: string) =>
    new HttpError(400, "provider_disabled", `Provider (issuer ${JSON.stringify(issuer)}) is not enabled`);
  if (provider === "apple" || APPLE_ISSUERS.includes(issuer)) {
    const detected = tokenIssuer(idToken);
    if (detected === undefined) {
      return new HttpError(
        400,
        "validation_failed",
        "Unable to detect issuer in ID token for Apple provider",
      );
    }
    if (!APPLE_ISSUERS.includes(detected)) {
      return new HttpError(
        400,
        "validation_failed",
        "Detected ID token issuer is not an Apple ID token issuer",
      );
    }
    return disabled(detected);
  }
  const known = Object.entries(ISSUER_BY_PROVIDER).find(([name, iss]) =>
    provider === name || (iss !== "" && issuer === iss)
  );
  if (known) return disabled(known[1]);
  if (provider.startsWith("custom:")) {
    return new HttpError(400, "validation_failed", "Custom OAuth providers are disabled");
  }
  return new HttpError(
    400,
    "validation_failed",
    `Custom OIDC provider ${JSON.stringify(provider)} not allowed`,
  );
}

// The unverified `iss` of a JWT, as GoTrue's DetectAppleIDTokenIssuer reads it.
function tokenIssuer(idToken: string): string | undefined {
  try {
    const iss = decodeJwt(idToken).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}
