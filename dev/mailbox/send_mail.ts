/**
 * Sends one mail over SMTP the way GoTrue does (`internal/mailer/mailmeclient`, with gomail): a new
 * connection per mail, `From: "<sender_name>" <admin_email>`, an HTML body, TLS from the start on port 465
 * and STARTTLS when the server offers it, and a login only when a user is set and the server offers AUTH.
 *
 * The settings are named as in `supabase/config.toml`'s `[auth.email.smtp]` (and `[inbucket]`'s
 * `admin_email`/`sender_name`), and passed in: nothing here reads the environment.
 *
 * @module
 */
import nodemailer from "nodemailer";

/** SMTP settings, named as in `[auth.email.smtp]`. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** Login user; no login when empty or absent. */
  user?: string;
  pass?: string;
  /** The sender's address. */
  admin_email: string;
  /** The sender's display name (may be empty). */
  sender_name?: string;
}

/** One mail to send. */
export interface OutgoingMail {
  to: string;
  subject: string;
  html: string;
  /** A plain-text part; GoTrue sends HTML only, so this is usually omitted. */
  text?: string;
  /** Extra headers (GoTrue's `[auth.email.smtp] headers`). */
  headers?: Record<string, string>;
}

/** Why a mail was not sent. */
export type SmtpErrorCode =
  /** No SMTP conversation: refused, unreachable, timed out or a TLS failure. */
  | "smtp_unreachable"
  /** The server answered with an error (e.g. `552` for an oversized message). */
  | "smtp_rejected";

/** A mail that could not be sent; `cause` has nodemailer's error. */
export class SmtpError extends Error {
  /**
   * @param code Why it failed.
   * @param message What happened, naming the server.
   * @param options The underlying error.
   */
  constructor(readonly code: SmtpErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SmtpError";
  }
}

/** The CLI's `[inbucket]` sender when none is configured (`pkg/config/config.go`). */
export const DEFAULT_SENDER: Pick<SmtpSettings, "admin_email" | "sender_name"> = {
  admin_email: "admin@email.com",
  sender_name: "Admin",
};

// gomail has no timeouts; ours keep a dead server from hanging a sign-up for minutes.
const CONNECTION_TIMEOUT_MS = 5_000;
const SOCKET_TIMEOUT_MS = 15_000;

/**
 * Sends a mail.
 *
 * @param settings The server and the sender.
 * @param mail The recipient, subject and body.
 * @returns The server's final reply (e.g. `250 OK: message queued`).
 * @throws {SmtpError} `smtp_unreachable` when no SMTP conversation took place, `smtp_rejected` when the
 *   server refused the mail.
 * @example Send a confirmation mail to the local mailbox
 * ```ts ignore
 * await sendMail(
 *   { host: "127.0.0.1", port: 54325, ...DEFAULT_SENDER },
 *   { to: "user@example.com", subject: "Confirm Your Signup", html: '<a href="…">Confirm</a>' },
 * );
 * ```
 */
export async function sendMail(settings: SmtpSettings, mail: OutgoingMail): Promise<string> {
  const server = `${settings.host}:${settings.port}`;
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.port === 465,
    auth: settings.user ? { user: settings.user, pass: settings.pass ?? "" } : undefined,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    greetingTimeout: CONNECTION_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  });
  try {
    const info = await transport.sendMail({
      from: settings.sender_name
        ? { name: settings.sender_name, address: settings.admin_email }
        : settings.admin_email,
      to: mail.to,
      subject: mail.subject,
      html: mail.html,
      text: mail.text,
      headers: mail.headers,
    });
    return info.response;
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
    if (e.responseCode) {
      throw new SmtpError("smtp_rejected", `SMTP server ${server} refused the mail: ${e.response}`, {
        cause: err,
      });
    }
    throw new SmtpError(
      "smtp_unreachable",
      `SMTP server ${server} could not be reached: ${e.message ?? String(err)}`,
      { cause: err },
    );
  } finally {
    transport.close();
  }
}
