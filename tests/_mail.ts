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
