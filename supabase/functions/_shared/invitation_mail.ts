/**
 * Telling an invitee by mail, through Supabase Auth, once the invitation is committed (docs/tenants.md
 * "Invitations and their mails").
 *
 * An address without a confirmed user gets Auth's invite mail (`POST /auth/v1/invite`, an admin call with the
 * service key the runtime injects): following it signs them in, and the app lets them set a password. An
 * existing user gets a magic link (`POST /auth/v1/otp` with `create_user: false`). Both land on the redirect
 * URL when one is set (`INVITE_REDIRECT_URL`), else on Auth's site URL. If Auth answers the invite with
 * `email_exists` (the user confirmed meanwhile), the magic link goes instead.
 *
 * Never an error: a mail that cannot be sent (no service key, Auth refuses, is down or slow) is an outcome
 * with a short reason, for the answer's `email_sent: false` and the audit trail; the invitation stays.
 *
 * @module
 */
import { withDeadline } from "./_deadline.ts";

/** Whether the mail went out, and if not, why (a short code, never an address or a key). */
export type MailOutcome = { sent: true } | { sent: false; reason: string };

/** Sends an invitation's mail; never rejects. */
export type SendInvitationMail = (invitee: { email: string; hasAccount: boolean }) => Promise<MailOutcome>;

/** Options for {@linkcode createInvitationMailer}. */
export interface InvitationMailerOptions {
  /** The project URL (`SUPABASE_URL`). */
  supabaseUrl: string;
  /** The secret or service-role key; absent, no mail is sent (`no_service_key`). */
  serviceKey?: string;
  /** Where the links land (`INVITE_REDIRECT_URL`); absent, Auth's site URL. */
  redirectUrl?: string;
  /** Time allowed for Auth's answer. */
  timeoutMs: number;
  /** The fetch to use (a seam for tests); the global one by default. */
  fetch?: typeof fetch;
}

/**
 * Builds the invitation mailer.
 *
 * @param options The project, the service key, the redirect URL, the timeout, and a fetch seam.
 * @returns The mailer.
 * @example
 * ```ts ignore
 * const sendMail = createInvitationMailer({ supabaseUrl, serviceKey, timeoutMs: 5000 });
 * const { sent } = await sendMail({ email: "bob@example.com", hasAccount: false });
 * ```
 */
export function createInvitationMailer(options: InvitationMailerOptions): SendInvitationMail {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const base = `${options.supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
  const query = options.redirectUrl ? `?redirect_to=${encodeURIComponent(options.redirectUrl)}` : "";
  const call = async (
    key: string,
    path: string,
    body: object,
  ): Promise<{ status: number; code?: string }> => {
    const res = await fetchFn(`${base}${path}${query}`, {
      method: "POST",
      headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const answer = await res.json().catch(() => null) as { error_code?: unknown; code?: unknown } | null;
    const code = answer?.error_code ?? answer?.code;
    return { status: res.status, code: typeof code === "string" ? code : undefined };
  };
  return async ({ email, hasAccount }) => {
    const key = options.serviceKey;
    if (!key) return { sent: false, reason: "no_service_key" };
    try {
      return await withDeadline(
        (async (): Promise<MailOutcome> => {
          let answer = hasAccount ? undefined : await call(key, "/invite", { email });
          if (answer === undefined || answer.code === "email_exists") {
            answer = await call(key, "/otp", { email, create_user: false });
          }
          if (answer.status >= 200 && answer.status < 300) return { sent: true };
          return {
            sent: false,
            reason: `auth_${answer.status}${answer.code ? `_${answer.code}` : ""}`.slice(0, 100),
          };
        })(),
        options.timeoutMs,
        () => new Error("Auth did not answer in time"),
      );
    } catch {
      return { sent: false, reason: "auth_unavailable" };
    }
  };
}
