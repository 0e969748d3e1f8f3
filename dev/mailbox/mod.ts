/**
 * A local mail catcher standing in for Mailpit (formerly Inbucket) in Supabase's local stack: an SMTP
 * server, Mailpit's JSON API and a small web page; and the SMTP client the Auth emulator sends with, as
 * GoTrue does.
 *
 * @example Start it and send it a mail
 * ```ts ignore
 * import { DEFAULT_SENDER, sendMail, startMailbox } from "./dev/mailbox/mod.ts";
 *
 * const mailbox = await startMailbox({ port: 54324, smtpPort: 54325 });
 * await sendMail({ ...mailbox.smtp, ...DEFAULT_SENDER }, {
 *   to: "user@example.com",
 *   subject: "Confirm Your Signup",
 *   html: '<a href="http://127.0.0.1:54321/auth/v1/verify?token=…&type=signup">Confirm your mail</a>',
 * });
 * ```
 *
 * @module
 */
export { type Mailbox, type MailboxOptions, startMailbox } from "./mailbox.ts";
export {
  DEFAULT_SENDER,
  type OutgoingMail,
  sendMail,
  SmtpError,
  type SmtpErrorCode,
  type SmtpSettings,
} from "./send_mail.ts";
export type { MailAddress, Message, MessageSummary } from "./_mail.ts";
export type { MessagesSummary } from "./_http.ts";
export type { MailStore } from "./_store.ts";
