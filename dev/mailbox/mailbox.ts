/**
 * Starts the local mailbox: an SMTP server that catches every mail, an in-memory store of the newest
 * ones, and an HTTP server with Mailpit's API and a web page, as `supabase start` runs Mailpit (web and
 * API on 54324, SMTP on `[inbucket] smtp_port`, 54325 by convention).
 *
 * @module
 */
import { createMailStore, type MailStore } from "./_store.ts";
import { parseMail } from "./_mail.ts";
import { type RunningSmtpServer, startSmtpServer } from "./_smtp_server.ts";
import { createMailboxHandler } from "./_http.ts";

/** Options for {@linkcode startMailbox}. Ports of 0 (the default) are free ones picked at start. */
export interface MailboxOptions {
  /** The web page and API port; the CLI's is 54324. */
  port?: number;
  /** The SMTP port; 54325 as the CLI's `[inbucket] smtp_port`. */
  smtpPort?: number;
  /** The interface both listen on (default `127.0.0.1`). */
  hostname?: string;
  /** How many messages to keep; older ones are dropped (default 500, Mailpit's `--max`). */
  maxMessages?: number;
  /** The largest message the SMTP server accepts, in bytes (default 1 MiB; larger ones get `552`). */
  maxMessageBytes?: number;
  /** Where problems are reported (default: nowhere), like the stack's `log`. */
  log?: (line: string) => void;
}

/** A running mailbox. */
export interface Mailbox {
  /** The web page and API, e.g. `http://127.0.0.1:54324` (`MAILPIT_URL`, and the deprecated `INBUCKET_URL`). */
  url: string;
  /** Where to send mail: pass to {@linkcode sendMail} with a sender. */
  smtp: { host: string; port: number };
  /** The messages (for code in the same process; scripts use the HTTP API). */
  store: MailStore;
  /** Stops the SMTP server alone, as an SMTP outage (fault tests); {@linkcode Mailbox.startSmtp} undoes it. */
  stopSmtp(): Promise<void>;
  /** Starts a stopped SMTP server again, on the same port. */
  startSmtp(): Promise<void>;
  /** Stops both servers. */
  stop(): Promise<void>;
}

const DEFAULT_MAX_MESSAGES = 500;
// Auth mails are a few KiB; 1 MiB leaves room for custom templates and keeps 500 messages under ~1 GiB
// in the worst case, and far less in practice.
const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * Starts the mailbox.
 *
 * @param options Ports, interface and caps.
 * @returns The running mailbox.
 * @throws {Error} When a port is taken (`EADDRINUSE` for SMTP, `AddrInUse` for HTTP) or a cap is invalid.
 * @example Catch a mail and read it back
 * ```ts ignore
 * const mailbox = await startMailbox({ port: 54324, smtpPort: 54325 });
 * await sendMail({ ...mailbox.smtp, ...DEFAULT_SENDER }, { to: "a@example.com", subject: "Hi", html: "<p>Hi</p>" });
 * const { messages } = await (await fetch(`${mailbox.url}/api/v1/messages`)).json();
 * await mailbox.stop();
 * ```
 */
export async function startMailbox(options: MailboxOptions = {}): Promise<Mailbox> {
  const hostname = options.hostname ?? "127.0.0.1";
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new RangeError(`maxMessageBytes must be a positive integer, not ${maxMessageBytes}`);
  }
  const store = createMailStore({ maxMessages: options.maxMessages ?? DEFAULT_MAX_MESSAGES });
  const smtpOptions = {
    hostname,
    maxMessageBytes,
    log: options.log ?? (() => {}),
    onMessage: async (raw: Uint8Array<ArrayBuffer>) => {
      store.add(await parseMail(raw), raw);
    },
  };
  let smtp: RunningSmtpServer | null = await startSmtpServer({ ...smtpOptions, port: options.smtpPort ?? 0 });
  const smtpPort = smtp.port;
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    http = Deno.serve({ hostname, port: options.port ?? 0, onListen: () => {} }, createMailboxHandler(store));
  } catch (err) {
    await smtp.stop();
    throw err;
  }
  const stopSmtp = async () => {
    const running = smtp;
    smtp = null;
    await running?.stop();
  };
  return {
    url: `http://${hostname}:${http.addr.port}`,
    smtp: { host: hostname, port: smtpPort },
    store,
    stopSmtp,
    async startSmtp() {
      smtp ??= await startSmtpServer({ ...smtpOptions, port: smtpPort });
    },
    async stop() {
      await Promise.all([http.shutdown(), stopSmtp()]);
    },
  };
}
