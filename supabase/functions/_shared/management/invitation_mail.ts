/**
 * Telling an invitee by mail, through Supabase Auth, once the invitation is committed (docs/tenants.md
 * "Invitations and their mails").
 *
 * An address without a confirmed user gets Auth's invite mail (`POST /auth/v1/invite`, an admin call with the
 * service key the runtime injects): following it signs them in, and the app lets them set a password. A
 * confirmed user gets a magic link (`POST /auth/v1/otp` with `create_user: false`). Which one is decided from
 * the account the database finds as Auth does (`tenancy.invitee_account()`: SSO users aside), never from a
 * hint: Auth answers a magic link for an unconfirmed user with its sign-up confirmation. Both land on the redirect
 * URL when one is set (`INVITE_REDIRECT_URL`), else on Auth's site URL. If Auth answers the invite with
 * `email_exists` (the user confirmed meanwhile), the magic link goes instead.
 *
 * No pre-registered account gets an invitation. GoTrue's invite re-uses an unconfirmed user and keeps its
 * password, so a stranger who signed up first with the address would be confirmed by the owner's click. So an
 * unconfirmed user with a password holding the address is deleted first (`DELETE /auth/v1/admin/users/{id}`),
 * and the invite makes a fresh one whose only password is the one set from the mail; one without a password
 * (made by an operator) is re-used as it is; one that was ever let in (a sign-in, a confirmed phone, another
 * identity) is not deleted, and gets no mail. After the invite the account is read again: a password there
 * (a sign-up raced in between), or a user other than the one Auth invited, and the invited user is deleted,
 * which kills the mailed link. Each Auth call has its own timeout, so that check is never cut short.
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

/** Who to mail: the address, and a fresh read of the account holding it. */
export interface Invitee {
  email: string;
  /** Reads the account holding the address now, as Auth finds it (null: none). */
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
  /** Time allowed for each of Auth's answers. */
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
 * const { sent } = await sendMail({ email: "bob@example.com", account: () => Promise.resolve(null) });
 * ```
 */
export function createInvitationMailer(options: InvitationMailerOptions): SendInvitationMail {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const base = `${options.supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
  const query = options.redirectUrl ? `?redirect_to=${encodeURIComponent(options.redirectUrl)}` : "";
  type Answer = { status: number; code?: string; userId?: string };
  // Each call is bounded by its own timeout: once the invite is out, the check after it must run to the end.
  const call = async (key: string, method: string, path: string, body: object): Promise<Answer> => {
    try {
      const res = await withDeadline(
        fetchFn(`${base}${path}`, {
          method,
          headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(options.timeoutMs),
        }),
        options.timeoutMs,
        () => new AuthUnavailable(),
      );
      const answer = await res.json().catch(() => null) as
        | { error_code?: unknown; code?: unknown; id?: unknown }
        | null;
      const code = answer?.error_code ?? answer?.code;
      return {
        status: res.status,
        code: typeof code === "string" ? code : undefined,
        userId: typeof answer?.id === "string" ? answer.id : undefined,
      };
    } catch {
      throw new AuthUnavailable();
    }
  };
  const ok = (answer: Answer) => answer.status >= 200 && answer.status < 300;
  const failed = (answer: Answer, step = ""): MailOutcome => ({
    sent: false,
    reason: `auth_${step}${answer.status}${answer.code ? `_${answer.code}` : ""}`.slice(0, 100),
  });
  // A hard delete (it takes the user's one-time tokens, so a mailed link dies with it); 404: already gone.
  const deleteUser = async (key: string, id: string): Promise<boolean> => {
    const answer = await call(key, "DELETE", `/admin/users/${encodeURIComponent(id)}`, {
      should_soft_delete: false,
    });
    return ok(answer) || answer.status === 404;
  };

  const send = async (key: string, invitee: Invitee): Promise<MailOutcome> => {
    const account = () =>
      invitee.account().catch(() => {
        throw new LookupFailed();
      });
    const magicLink = () => call(key, "POST", `/otp${query}`, { email: invitee.email, create_user: false });
    // Decided from Auth's own view of the address (SSO users aside, as Auth finds them), never from a hint: a
    // magic link to an unconfirmed user would be Auth's sign-up confirmation for whoever made it.
    const before = await account();
    if (before?.confirmed) {
      const answer = await magicLink();
      return ok(answer) ? { sent: true } : failed(answer);
    }
    if (before && !before.pristine) return { sent: false, reason: "unconfirmed_account_in_use" };
    // A password nobody set from a mail is what a hijacker plants; without one the invite may re-use the user.
    if (before?.hasPassword && !(await deleteUser(key, before.id))) {
      return { sent: false, reason: "preregistered_account_not_removed" };
    }
    const answer = await call(key, "POST", `/invite${query}`, { email: invitee.email });
    if (answer.code === "email_exists") {
      const again = await magicLink();
      return ok(again) ? { sent: true } : failed(again);
    }
    if (!ok(answer)) return failed(answer);
    const after = await account();
    const invitedId = answer.userId ?? after?.id;
    if (!after || after.id !== invitedId || (!after.confirmed && (after.hasPassword || !after.pristine))) {
      // A sign-up raced the invite and the invite re-used it, or the user Auth invited is not the one the
      // database finds: remove what was invited, which kills the mailed link.
      const removed = invitedId !== undefined && await deleteUser(key, invitedId);
      return { sent: false, reason: removed ? "preregistered_account" : "preregistered_account_not_removed" };
    }
    return { sent: true };
  };

  return async (invitee) => {
    const key = options.serviceKey;
    if (!key) return { sent: false, reason: "no_service_key" };
    try {
      return await send(key, invitee);
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

// Auth did not answer (refused connection, timeout).
class AuthUnavailable extends Error {}
