/**
 * Test support: reading what the local mailbox caught through its Mailpit API, as a script written for
 * Supabase's local mail catcher would, and the `/verify` link in an Auth mail.
 *
 * @module
 */

/** A caught mail, with the link of GoTrue's template. */
export interface CaughtMail {
  id: string;
  subject: string;
  to: string[];
  html: string;
  /** The `<a href>` of the mail, entities decoded. */
  link: string;
}

/**
 * The mails to `address`, newest first, waiting up to `timeoutMs` for at least `count` of them.
 *
 * @param mailboxUrl The mailbox (`MAILPIT_URL`).
 * @param address The recipient.
 * @param count How many to wait for (default 1).
 * @param timeoutMs How long to wait (default 5 s).
 * @returns The mails.
 * @throws {Error} When fewer than `count` arrive in time.
 * @example
 * ```ts ignore
 * const [mail] = await mailsTo(stack.mailboxUrl, "ada@example.com");
 * ```
 */
export async function mailsTo(
  mailboxUrl: string,
  address: string,
  count = 1,
  timeoutMs = 5_000,
): Promise<CaughtMail[]> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const query = encodeURIComponent(`to:"${address}"`);
    const res = await fetch(`${mailboxUrl}/api/v1/search?query=${query}&limit=0`);
    const { messages } = await res.json() as { messages: Array<{ ID: string }> };
    if (messages.length >= count) {
      return await Promise.all(messages.map(async ({ ID }) => {
        const message = await (await fetch(`${mailboxUrl}/api/v1/message/${ID}`)).json();
        const href = /href="([^"]*)"/.exec(message.HTML)?.[1] ?? "";
        return {
          id: ID,
          subject: message.Subject,
          to: message.To.map((to: { Address: string }) => to.Address),
          html: message.HTML,
          link: href.replaceAll("&amp;", "&"),
        };
      }));
    }
    if (Date.now() > deadline) throw new Error(`${messages.length} of ${count} mails to ${address} arrived`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Follows a mailed `/verify` link as a browser would, without going on to the site it redirects to.
 *
 * @param link The link.
 * @returns The redirect's status, its URL and the fragment's parameters.
 * @example
 * ```ts ignore
 * const { fragment } = await followLink(mail.link);
 * ```
 */
export async function followLink(
  link: string,
): Promise<{ status: number; location: string; fragment: Record<string, string> }> {
  const res = await fetch(link, { redirect: "manual" });
  await res.body?.cancel();
  const location = res.headers.get("Location") ?? "";
  const fragment = Object.fromEntries(new URLSearchParams(location.split("#")[1] ?? ""));
  return { status: res.status, location, fragment };
}

/** Where a local stack's Auth and mailbox are (its `API_URL`, `PUBLISHABLE_KEY` and `MAILPIT_URL`). */
export interface MailedAuth {
  apiUrl: string;
  /** The publishable (or legacy anon) key, sent as `apikey`. */
  apiKey: string;
  mailboxUrl: string;
}

/**
 * Signs an address up with confirmations on and confirms it as its owner would: `POST /auth/v1/signup`,
 * the mail read from the mailbox, its link followed. The address is then proven (the user confirmed, its
 * email identity `email_verified`), and the link's redirect carries a session.
 *
 * @param auth The stack's API URL, publishable key and mailbox.
 * @param email The address.
 * @param password The password, for signing in later.
 * @returns The user's id and the session from the link's redirect.
 * @throws {Error} When the sign-up fails, no mail arrives, or the link carries no session.
 * @example
 * ```ts ignore
 * const { accessToken } = await signUpByMail(
 *   { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
 *   "ada@example.com",
 *   "correct horse battery",
 * );
 * ```
 */
export async function signUpByMail(
  auth: MailedAuth,
  email: string,
  password: string,
): Promise<{ userId: string; accessToken: string; refreshToken: string }> {
  const res = await fetch(`${auth.apiUrl}/auth/v1/signup`, {
    method: "POST",
    headers: { apikey: auth.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const user = await res.json();
  if (res.status !== 200 || user.access_token) {
    throw new Error(`sign-up of ${email} did not wait for a confirmation: HTTP ${res.status}`);
  }
  const [mail] = await mailsTo(auth.mailboxUrl, email);
  const { fragment } = await followLink(mail.link);
  if (!fragment.access_token) throw new Error(`the confirmation link carried no session: ${mail.link}`);
  return { userId: user.id, accessToken: fragment.access_token, refreshToken: fragment.refresh_token };
}
