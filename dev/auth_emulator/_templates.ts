/**
 * GoTrue's default mail templates, subjects and links (`internal/mailer/templatemailer`), as a project
 * without `[auth.email.template.*]` sends them.
 *
 * @module
 */
import { queryEscape } from "./_redirect.ts";

/** The mails GoTrue sends for the flows the emulator serves, by their `type` in the link. */
export type MailAction = "signup" | "invite" | "magiclink" | "recovery" | "email_change";

/** What a template is filled with. */
export interface MailData {
  /** The link to `/verify` (`{{ .ConfirmationURL }}`). */
  confirmationUrl: string;
  /** The address an email change switches to (`{{ .NewEmail }}`). */
  newEmail?: string;
}

// The link text and the body of each default template; the `<a>` gets ConfirmationURL.
const TEMPLATES: Record<MailAction, { subject: string; body: (url: string, data: MailData) => string }> = {
  invite: {
    subject: "You've been invited",
    body: (url) =>
      `<h2>You've been invited</h2>\n\n<p>You've been invited to create an account. Follow the link below to accept.</p>\n<p><a href="${url}">Accept invitation</a></p>`,
  },
  signup: {
    subject: "Confirm your email address",
    body: (url) =>
      `<h2>Confirm your email address</h2>\n\n<p>Follow the link below to confirm this email address and finish signing up.</p>\n<p><a href="${url}">Confirm email address</a></p>\n`,
  },
  recovery: {
    subject: "Reset your password",
    body: (url) =>
      `<h2>Reset your password</h2>\n\n<p>We received a request to reset your password. Follow the link below to choose a new one.</p>\n<p><a href="${url}">Reset password</a></p>\n<p>If you didn't request this, you can safely ignore this email.</p>`,
  },
  magiclink: {
    subject: "Your sign-in link",
    body: (url) =>
      `<h2>Your sign-in link</h2>\n\n<p>Follow the link below to sign in. This link expires shortly and can only be used once.</p>\n<p><a href="${url}">Sign in</a></p>`,
  },
  email_change: {
    subject: "Confirm your new email address",
    body: (url, data) =>
      `<h2>Confirm your new email address</h2>\n\n<p>Follow the link below to confirm ${
        escapeHtml(data.newEmail ?? "")
      } as your new email address.</p>\n<p><a href="${url}">Confirm new email address</a></p>\n<p>If you didn't request this change, you can safely ignore this email.</p>`,
  },
};

/**
 * Renders a default template as Go's `html/template` does: the link escaped for an attribute (`&` as
 * `&amp;`), the address escaped as text.
 *
 * @param action Which mail.
 * @param data The link and, for an email change, the new address.
 * @returns The subject and the HTML body.
 * @example
 * ```ts
 * const { subject, html } = renderMail("signup", { confirmationUrl: "http://x/verify?token=t&type=signup" });
 * console.log(subject); // "Confirm your email address"
 * console.log(html.includes('href="http://x/verify?token=t&amp;type=signup"')); // true
 * ```
 */
export function renderMail(action: MailAction, data: MailData): { subject: string; html: string } {
  const template = TEMPLATES[action];
  return { subject: template.subject, html: template.body(escapeHtml(data.confirmationUrl), data) };
}

/**
 * The `/verify` link of a mail (GoTrue's `getPath` resolved against `API_EXTERNAL_URL`, as `supabase start`
 * sets `GOTRUE_MAILER_URLPATHS_*` to `{API_EXTERNAL_URL}/verify`): the token hash, the type, and
 * `redirect_to` escaped only when it holds `&`, `=` or `#` (`encodeRedirectURL`).
 *
 * @param externalUrl GoTrue's `API_EXTERNAL_URL`, e.g. `http://127.0.0.1:54321/auth/v1`.
 * @param token The stored token hash.
 * @param type The verification type.
 * @param redirectTo Where `/verify` sends the browser afterwards.
 * @returns The link.
 * @example
 * ```ts
 * console.log(actionLink("http://127.0.0.1:54321/auth/v1", "abc", "signup", "http://127.0.0.1:3000"));
 * // "http://127.0.0.1:54321/auth/v1/verify?token=abc&type=signup&redirect_to=http://127.0.0.1:3000"
 * ```
 */
export function actionLink(externalUrl: string, token: string, type: string, redirectTo: string): string {
  const redirect = /[&=#]/.test(redirectTo) ? queryEscape(redirectTo) : redirectTo;
  return `${externalUrl}/verify?token=${queryEscape(token)}&type=${
    queryEscape(type)
  }&redirect_to=${redirect}`;
}

/**
 * GoTrue's default reauthentication mail: the code itself, no link.
 *
 * @param otp The code.
 * @returns The subject and the HTML body.
 * @example
 * ```ts
 * console.log(renderReauthenticationMail("123456").subject); // "123456 is your verification code"
 * ```
 */
export function renderReauthenticationMail(otp: string): { subject: string; html: string } {
  return {
    subject: `${otp} is your verification code`,
    html:
      `<h2>Your verification code</h2>\n\n<p>Use the code below to verify your identity. It expires shortly.</p>\n<p>${otp}</p>`,
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" })[c]!,
  );
}
