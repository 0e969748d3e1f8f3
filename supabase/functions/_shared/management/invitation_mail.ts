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
 * No pre-registered account gets an invitation. GoTrue's invite re-uses an unconfirmed user and keeps its
 * password, so a stranger who signed up first with the address would be confirmed by the owner's click. So an
 * unconfirmed user holding the address is deleted first (`DELETE /auth/v1/admin/users/{id}`), and the invite
 * makes a fresh one whose only password is the one set from the mail; one that was ever let in (a sign-in, a
 * confirmed phone, another identity) is not deleted, and gets no mail. After the invite the account is read
 * again: a password there means a sign-up raced in between, and that user is deleted too, which kills the
 * mailed link.
 *
 * Never an error: a mail that cannot be sent (no service key, Auth refuses, is down or slow, the account is
 * not safe to invite) is an outcome with a short reason, for the answer's `email_sent: false` and the audit
 * trail; the invitation stays.
 *
 * @module
 */
import { withDeadline } from "../core/deadline.ts";

/** Whether the mail went out, and if not, why (a short code, never an address or a key). */
export type MailOutcome = { sent: true } | { sent: false; reason: string };

/** The Auth user holding an invited address (`tenancy.invitee_account()`). */
export interface InviteeAccount {
  id: string;
  confirmed: boolean;
  /** Never confirmed nor signed in, no identity but the address: safe to delete and invite afresh. */
  pristine: boolean;
  hasPassword: boolean;
}

/** Who to mail: the address, whether a confirmed user holds it, and a fresh read of that user. */
export interface Invitee {
  email: string;
  hasAccount: boolean;
  /** Reads the account holding the address now (null: none). */
  account: () => Promise<InviteeAccount | null>;
}

/** Sends an invitation's mail; never rejects. */
export type SendInvitationMail = (invitee: Invitee) => Promise<MailOutcome>;

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
  type Answer = { status: number; code?: string };
  const call = async (key: string, method: string, path: string, body: object): Promise<Answer> => {
    const res = await fetchFn(`${base}${path}`, {
      method,
      headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const answer = await res.json().catch(() => null) as { error_code?: unknown; code?: unknown } | null;
    const code = answer?.error_code ?? answer?.code;
    return { status: res.status, code: typeof code === "string" ? code : undefined };
  };
  const ok = (answer: Answer) => answer.status >= 200 && answer.status < 300;
  const failed = (answer: Answer, step = ""): MailOutcome => ({
    sent: false,
    reason: `auth_${step}${answer.status}${answer.code ? `_${answer.code}` : ""}`.slice(0, 100),
  });
  // A hard delete; a user already gone (404) is what we wanted.
  const deleteUser = (key: string, id: string) =>
    call(key, "DELETE", `/admin/users/${encodeURIComponent(id)}`, { should_soft_delete: false });

  const send = async (key: string, invitee: Invitee): Promise<MailOutcome> => {
    const magicLink = () => call(key, "POST", `/otp${query}`, { email: invitee.email, create_user: false });
    const account = () =>
      invitee.account().catch(() => {
        throw new LookupFailed();
      });
    if (invitee.hasAccount) {
      const answer = await magicLink();
      return ok(answer) ? { sent: true } : failed(answer);
    }
    const before = await account();
    if (before && !before.confirmed) {
      if (!before.pristine) return { sent: false, reason: "unconfirmed_account_in_use" };
      const deleted = await deleteUser(key, before.id);
      if (!ok(deleted) && deleted.status !== 404) return failed(deleted, "delete_");
    }
    let answer = await call(key, "POST", `/invite${query}`, { email: invitee.email });
    if (answer.code === "email_exists") answer = await magicLink();
    else if (ok(answer)) {
      const after = await account();
      if (after && !after.confirmed && (after.hasPassword || !after.pristine)) {
        // A sign-up raced the invite and the invite re-used it: its deletion kills the mailed link.
        await deleteUser(key, after.id);
        return { sent: false, reason: "preregistered_account" };
      }
    }
    return ok(answer) ? { sent: true } : failed(answer);
  };

  return async (invitee) => {
    const key = options.serviceKey;
    if (!key) return { sent: false, reason: "no_service_key" };
    try {
      return await withDeadline(
        send(key, invitee),
        options.timeoutMs,
        () => new Error("Auth did not answer in time"),
      );
    } catch (err) {
      return {
        sent: false,
        reason: err instanceof LookupFailed ? "invitee_lookup_failed" : "auth_unavailable",
      };
    }
  };
}

// The database did not say who holds the address: no invite goes out unchecked.
class LookupFailed extends Error {}
