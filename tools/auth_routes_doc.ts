/**
 * `deno task auth-routes`: writes docs/auth-emulator.md, what the Auth emulator (`dev/auth_emulator/`)
 * answers and what it does not, route by route. The first table is generated from the emulator's own
 * route table (`ROUTE_TABLE`), so a route added there appears here; the notes below say, per route, what
 * of GoTrue's behaviour it keeps and what it leaves out. tests/docs/auth_emulator_doc_test.ts fails while
 * the page is stale, or when a route GoTrue has and the emulator lacks is listed while the emulator serves
 * it.
 *
 * @module
 */
import { ROUTE_TABLE } from "../dev/auth_emulator/mod.ts";

/** The supabase/auth release the emulator's behaviour was read from. */
export const GOTRUE_RELEASE = "v2.196.0";

/** Where `deno task auth-routes` writes the page. */
export const AUTH_ROUTES_FILE = new URL("../docs/auth-emulator.md", import.meta.url);

/** The command that regenerates the page, as its header and the test's failure message give it. */
export const REGENERATE = "npx -y deno@2.9.6 task auth-routes";

// What each route keeps of GoTrue's and what it leaves out, by "METHOD path" as ROUTE_TABLE names it.
const NOTES: Record<string, string> = {
  "POST /signup":
    "`SignupParams` for email (PKCE: `code_challenge` keeps a flow state, the mail's link then ends in `?code=`), and anonymous sign-ins; `signup_disabled`, `email_provider_disabled`, `anonymous_provider_disabled`, `phone_provider_disabled` when off. No phone sign-up, captcha or rate limits.",
  "POST /token":
    "grants `password`, `refresh_token` (rotation, reuse interval, session timebox, inactivity timeout, single session) and `pkce` (an auth code and its verifier: `flow_state_not_found`, `bad_code_verifier`, `flow_state_expired`); `id_token` refused as for a provider that is off (`provider_disabled`), `web3` as `web3_provider_disabled`.",
  "GET /verify":
    "a mailed link: 303 with the session or the error in the fragment; a PKCE link (`pkce_` token) redirects with `?code=`.",
  "POST /verify":
    "`token_hash`, or `token` + `email`, for `signup`, `invite`, `magiclink`, `recovery`, `email_change`, `email`. No `sms`/`phone_change`.",
  "POST /otp":
    "email: a magic link (`create_user: false` answers `otp_disabled`; PKCE as `POST /magiclink`); phone: `Unsupported phone provider`, or GoTrue's E.164 refusal with `create_user: false`.",
  "POST /magiclink":
    "a magic link, signing an unknown address up first (refused when sign-ups are off); PKCE with `code_challenge`.",
  "POST /recover": "a recovery mail, PKCE with `code_challenge`; `{}` whether or not the address has a user.",
  "POST /resend":
    "`signup` and `email_change` mails again, `{}` when there is nothing to resend; `sms`/`phone_change` refused as with phone off.",
  "GET /reauthenticate":
    "mails a code; `secure_password_change` then asks it as `nonce` of a password change in a session older than 24 hours. No phone.",
  "GET /user": "the user, its identities and factors.",
  "PUT /user":
    "metadata, password (with reauthentication), email change by mail (PKCE with `code_challenge`). No phone, no `current_password` setting.",
  "GET /user/identities/authorize":
    "GoTrue's 404 `manual_linking_disabled` while `enable_manual_linking` is off; linking itself is not emulated (501).",
  "DELETE /user/identities/{identity_id}": "as `GET /user/identities/authorize`.",
  "POST /logout": "scopes `global`, `local`, `others`.",
  "POST /factors":
    "TOTP and WebAuthn (`mfa_totp_enroll_not_enabled`, `mfa_webauthn_enroll_not_enabled` when off). No phone factors, no factor limit, the QR code is the URI as text.",
  "DELETE /factors/{factor_id}":
    "unenrol (TOTP and WebAuthn); a verified factor only from aal2; sessions it raised fall to aal1.",
  "POST /factors/{factor_id}/challenge":
    "TOTP; WebAuthn with the ceremony's creation or request options for the browser (`@simplewebauthn/server`, the relying party of `[auth.webauthn]`). `mfa_totp_verify_not_enabled`, `mfa_webauthn_verify_not_enabled` when off. No challenge IP check.",
  "POST /factors/{factor_id}/verify":
    "TOTP, or the browser's WebAuthn answer (challenge, origin, RP ID, signature checked): the session becomes aal2 with `totp` or `mfa/webauthn` in `amr`. A failed ceremony is GoTrue's 500; no FIDO metadata trust anchors.",
  "POST /sso": "GoTrue's 404 `saml_provider_disabled`: SAML is off on `supabase start`. No SSO.",
  "GET /sso/saml/metadata": "as `POST /sso`.",
  "POST /sso/saml/acs": "as `POST /sso`.",
  "POST /invite": "an invite mail; a user without a password. Allowed when sign-ups are off, as in GoTrue.",
  "GET /admin/users": "paging, `filter`, `sort`.",
  "POST /admin/users": "email users, bcrypt hashes, bans. No phone users, no Argon2/Firebase scrypt hashes.",
  "GET /admin/users/{user_id}": "`user_not_found` for an unknown id.",
  "PUT /admin/users/{user_id}": "email, password, role, metadata, bans. No phone.",
  "DELETE /admin/users/{user_id}": "hard delete, or `should_soft_delete`.",
  "GET /admin/users/{user_id}/factors": "GoTrue's `Factor` JSON; `user_not_found` for an unknown user.",
  "DELETE /admin/users/{user_id}/factors/{factor_id}": "any factor, whatever the session; answers with it.",
  "POST /admin/generate_link":
    "`signup`, `invite`, `magiclink`, `recovery`, `email_change_current`, `email_change_new`: the link, code and hash, nothing mailed.",
  "GET /settings":
    "`disable_signup`, `mailer_autoconfirm`, `external` (email, anonymous users; every OAuth provider off).",
  "GET /.well-known/jwks.json": "the key in use, previously used keys, the standby key.",
  "GET /health": "a fixed answer.",
  "POST /_emulator/oauth_sign_in":
    "**the emulator's own**: an OAuth provider's answer given directly (service_role), then GoTrue's callback logic and the session as JSON.",
  "GET /_emulator/signing-keys": "**the emulator's own**: the dashboard's signing-key list.",
  "POST /_emulator/signing-keys/rotate": "**the emulator's own**: the dashboard's rotate button.",
  "POST /_emulator/signing-keys/{kid}/revoke": "**the emulator's own**: the dashboard's revoke button.",
};

/**
 * GoTrue's routes (`internal/api/api.go` of {@linkcode GOTRUE_RELEASE}) the emulator does not serve: they
 * answer its router's 404 `unknown` "Not Found".
 */
export const NOT_SERVED: ReadonlyArray<{ route: string; why: string }> = [
  {
    route: "GET /authorize, GET/POST /callback",
    why: "OAuth redirects: `/_emulator/oauth_sign_in` stands in",
  },
  { route: "GET /.well-known/openid-configuration", why: "no OpenID discovery" },
  { route: "/passkeys/*, /admin/users/{user_id}/passkeys/*", why: "passkeys are out of scope" },
  { route: "PUT /admin/users/{user_id}/factors/{factor_id}", why: "no factor renaming by the admin" },
  { route: "GET /admin/audit", why: "no audit log" },
  { route: "/admin/sso/providers/*", why: "no SSO providers" },
  {
    route: "/admin/oauth/clients/*, /oauth/*, /user/oauth/grants",
    why: "the OAuth 2.1 server is out of scope",
  },
  { route: "/admin/custom-providers/*", why: "no custom OAuth providers" },
  { route: "/scim/v2/*", why: "no SCIM" },
];

/**
 * The page's Markdown, from the route table and the notes.
 *
 * @param routes The emulator's routes (default: its own table).
 * @returns The page.
 * @example
 * ```ts
 * const page = renderAuthRoutesDoc([{ path: "/health", methods: ["GET"] }]);
 * console.log(page.includes("| `GET` | `/health` |")); // true
 * ```
 */
export function renderAuthRoutesDoc(
  routes: ReadonlyArray<{ path: string; methods: string[] }> = ROUTE_TABLE,
): string {
  const rows = routes.flatMap(({ path, methods }) =>
    methods.map((method) => {
      const note = NOTES[`${method} ${path}`] ?? "(no note yet: add one in tools/auth_routes_doc.ts)";
      return `| \`${method}\` | \`${path}\` | ${note} |`;
    })
  );
  const missing = NOT_SERVED.map(({ route, why }) => `| \`${route}\` | ${why} |`);
  return `<!-- GENERATED by tools/auth_routes_doc.ts from dev/auth_emulator/_router.ts: do not edit.
Regenerate with \`${REGENERATE}\`; tests/docs/auth_emulator_doc_test.ts fails while this page is stale. -->

# The Auth emulator, route by route

\`deno task dev\` serves Supabase Auth with an emulator (\`dev/auth_emulator/\`), not with GoTrue itself, which
needs Docker. Its behaviour, statuses, \`error_code\`s and messages were read from supabase/auth
**${GOTRUE_RELEASE}** (\`internal/api/\`), and its settings from \`supabase/config.toml\` as supabase/cli hands
them to GoTrue ([dev/auth_config.ts](../dev/auth_config.ts)). Every call below answers under \`/auth/v1\`
through the gateway, as on \`supabase start\`.

## What it serves

| method | path | what is emulated, and what not |
| ------ | ---- | ------------------------------ |
${rows.join("\n")}

Switched off in \`config.toml\`, these answer with GoTrue's own refusal: \`[auth] enable_signup\` (422
\`signup_disabled\`), \`[auth.email] enable_signup\` (\`email_provider_disabled\`), \`[auth.mfa.totp]
enroll_enabled\` / \`verify_enabled\` (422 \`mfa_totp_enroll_not_enabled\` / \`mfa_totp_verify_not_enabled\`),
\`[auth.mfa.web_authn] enroll_enabled\` / \`verify_enabled\` (422 \`mfa_webauthn_enroll_not_enabled\` /
\`mfa_webauthn_verify_not_enabled\`; off unless switched on, as in GoTrue),
\`enable_anonymous_sign_ins\`, \`enable_manual_linking\`. Phone sign-in, SAML SSO, Web3 and OAuth/OIDC providers
are always off here, whatever \`config.toml\` says: the emulator answers as GoTrue does with them off.

## What it does not serve

GoTrue's routes below answer the emulator's 404 \`Not Found\`:

| route | why |
| ----- | --- |
${missing.join("\n")}

Also not emulated anywhere: phone MFA, passkeys, hooks, custom mail templates, captcha, rate limits other than
\`[auth.email] max_frequency\`, and \`amr\` methods other than \`password\`, \`totp\` and \`mfa/webauthn\`.
`;
}

/**
 * Formats Markdown as `deno fmt` formats the repository's (its tables aligned), so that the page passes
 * `deno fmt --check`.
 *
 * @param markdown The text.
 * @returns The formatted text.
 * @throws {Error} When `deno fmt` fails.
 * @example
 * ```ts ignore
 * await Deno.writeTextFile(AUTH_ROUTES_FILE, await formatMarkdown(renderAuthRoutesDoc()));
 * ```
 */
export async function formatMarkdown(markdown: string): Promise<string> {
  // The line width is deno.json's `fmt.lineWidth`.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--line-width=110", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(markdown));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

if (import.meta.main) {
  await Deno.writeTextFile(AUTH_ROUTES_FILE, await formatMarkdown(renderAuthRoutesDoc()));
  console.log(`wrote ${AUTH_ROUTES_FILE.pathname}`);
}
