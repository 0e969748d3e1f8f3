/**
 * `GET /settings`: GoTrue's `Settings` (`internal/api/settings.go`), the project's public Auth settings.
 * Clients read it to know which sign-ins are on; the exchange reads `mailer_autoconfirm` to know whether a
 * confirmed address proves anything.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";

// GoTrue's ProviderSettings, in its order. The emulator has no OAuth provider configured (its
// `/_emulator/oauth_sign_in` route stands in for them), no phone provider, SAML or passkeys.
const EXTERNAL_PROVIDERS = [
  "apple",
  "azure",
  "bitbucket",
  "discord",
  "facebook",
  "snapchat",
  "figma",
  "fly",
  "github",
  "gitlab",
  "google",
  "keycloak",
  "kakao",
  "linkedin",
  "linkedin_oidc",
  "notion",
  "spotify",
  "slack",
  "slack_oidc",
  "workos",
  "twitch",
  "twitter",
] as const;

/**
 * Answers with the emulator's settings in GoTrue's shape. Open to anyone with an `apikey` (the gateway's
 * check), as on Supabase.
 *
 * @param ctx The emulator's settings.
 * @returns `{ external, disable_signup, mailer_autoconfirm, phone_autoconfirm, sms_provider, … }`.
 * @example
 * ```ts ignore
 * const routes = { "/settings": { GET: settings } };
 * ```
 */
export function settings(ctx: AuthContext): Promise<Response> {
  const external: Record<string, boolean> = { anonymous_users: ctx.anonymousSignIns };
  for (const provider of EXTERNAL_PROVIDERS) external[provider] = false;
  Object.assign(external, { email: ctx.features.emailProvider, phone: false, zoom: false });
  return Promise.resolve(Response.json({
    external,
    disable_signup: !ctx.features.signup,
    mailer_autoconfirm: ctx.autoConfirm,
    phone_autoconfirm: false,
    sms_provider: "",
    saml_enabled: false,
    saml_private_key_next_configured: false,
    passkeys_enabled: false,
  }));
}
