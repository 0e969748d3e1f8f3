/**
 * The mailbox's SMTP server: what GoTrue (or anything else) sends mail to, as Mailpit's on port 1025 of
 * its container (`[inbucket] smtp_port`, 54325 here by default in the stack).
 *
 * Like Mailpit as `supabase start` runs it, it accepts any sender and recipient, offers neither AUTH nor
 * STARTTLS (a client with credentials then skips logging in, as GoTrue's gomail and nodemailer do), and
 * refuses a message over the size cap with `552`. The bytes of a message are kept only up to the cap, so
 * an oversized message costs no more memory than an allowed one.
 *
 * @module
 */
import { SMTPServer, type SMTPServerDataStream } from "smtp-server";

/** Options for {@linkcode startSmtpServer}. */
export interface SmtpServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** The largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** Called with each accepted message's bytes; a rejection is answered `451` to the client. */
  onMessage: (raw: Uint8Array<ArrayBuffer>) => Promise<void>;
  /** Where a message that could not be stored is reported (by its error, never its content). */
  log: (line: string) => void;
}

/** A running SMTP server. */
export interface RunningSmtpServer {
  port: number;
  /** Stops listening and drops connections still open after a short grace period. */
  stop(): Promise<void>;
}

// Local clients finish in milliseconds; a stuck one should not hold the server open on stop.
const CLOSE_TIMEOUT_MS = 1_000;
const SOCKET_TIMEOUT_MS = 30_000;
const MAX_CLIENTS = 32;

/**
 * Starts the SMTP server.
 *
 * @param options Where to listen, the size cap and what to do with each message.
 * @returns The running server.
 * @throws {Error} When the port cannot be bound (e.g. `EADDRINUSE`).
 * @example Print each message's size
 * ```ts ignore
 * const smtp = await startSmtpServer({
 *   hostname: "127.0.0.1", port: 0, maxMessageBytes: 262_144,
 *   onMessage: async (raw) => console.log(raw.byteLength),
 * });
 * await smtp.stop();
 * ```
 */
export async function startSmtpServer(options: SmtpServerOptions): Promise<RunningSmtpServer> {
  const server = new SMTPServer({
    name: "mailbox.local",
    banner: "Local mailbox (Mailpit-compatible)",
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    size: options.maxMessageBytes,
    rejectOversized: true,
    disableReverseLookup: true,
    maxClients: MAX_CLIENTS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    closeTimeout: CLOSE_TIMEOUT_MS,
    logger: false,
    onData(stream, _session, callback) {
      readCapped(stream, options.maxMessageBytes).then(async (raw) => {
        // Oversized: smtp-server answers 552 itself (rejectOversized).
        if (!raw) return callback();
        await options.onMessage(raw);
        callback();
      }).catch((err) => {
        options.log(`mailbox: a message could not be stored: ${err instanceof Error ? err.message : err}`);
        callback(Object.assign(new Error("Error: message could not be stored"), { responseCode: 451 }));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // After start, a connection's error is that client's problem, not the mailbox's.
  server.on("error", () => {});
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Reads a DATA stream; undefined when it went over `max` bytes (whose excess is read and dropped). */
async function readCapped(
  stream: SMTPServerDataStream,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    length += chunk.byteLength;
    if (length <= max) chunks.push(chunk);
  }
  if (stream.sizeExceeded || length > max) return undefined;
  const raw = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    raw.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return raw;
}
