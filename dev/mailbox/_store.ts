/**
 * The mailbox's messages, in memory and bounded: at most `maxMessages` are kept, and each new one past
 * that pushes out the oldest, as Mailpit's `--max` does (its default is 500).
 *
 * @module
 */
import type { Message, MessageSummary, ParsedMail } from "./_mail.ts";
import type { Searchable } from "./_search.ts";

/** A message as the store keeps it. */
export interface StoredMail extends ParsedMail, Searchable {
  id: string;
  created: Date;
  read: boolean;
  username: string;
  /** The bytes as received, for `/raw`. */
  raw: Uint8Array<ArrayBuffer>;
}

/** One page of a listing, with the counts Mailpit reports beside it. */
export interface MailPage {
  /** The page, newest first. */
  mails: StoredMail[];
  /** How many messages matched, before paging. */
  matched: number;
  /** How many of those are unread. */
  matchedUnread: number;
}

/** The in-memory message store behind the SMTP server and the HTTP API. */
export interface MailStore {
  /** Stores a parsed mail and returns its ID; drops the oldest when full. */
  add(mail: ParsedMail, raw: Uint8Array<ArrayBuffer>, username?: string): string;
  /** Messages matching `filter` (all by default), newest first; `limit` 0 means all. */
  list(options: { start: number; limit: number; filter?: (m: StoredMail) => boolean }): MailPage;
  /** A message by ID, or `"latest"` for the newest one. */
  get(id: string): StoredMail | undefined;
  /** As `get`, and marks it read, as Mailpit does when a message is opened. */
  open(id: string): StoredMail | undefined;
  /** Deletes the given messages (unknown IDs are ignored), or those matching a filter. */
  delete(select: string[] | ((m: StoredMail) => boolean)): void;
  /** Deletes every message. */
  clear(): void;
  /** How many messages there are, and how many are unread. */
  stats(): { total: number; unread: number };
}

/** Options for {@linkcode createMailStore}. */
export interface MailStoreOptions {
  /** How many messages to keep (newest first). */
  maxMessages: number;
  /** The clock (for tests). */
  now?: () => Date;
}

/**
 * Creates an empty store.
 *
 * @param options The cap and the clock.
 * @returns The store.
 * @throws {RangeError} When `maxMessages` is not a positive integer.
 * @example Keep the newest 100 messages
 * ```ts ignore
 * const store = createMailStore({ maxMessages: 100 });
 * const id = store.add(await parseMail(raw), raw);
 * ```
 */
export function createMailStore(options: MailStoreOptions): MailStore {
  if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1) {
    throw new RangeError(`maxMessages must be a positive integer, not ${options.maxMessages}`);
  }
  const now = options.now ?? (() => new Date());
  // Newest first, so that listing is a slice.
  let mails: StoredMail[] = [];
  return {
    add(mail, raw, username = "") {
      const id = shortId();
      mails.unshift({ ...mail, id, created: now(), read: false, username, raw });
      if (mails.length > options.maxMessages) mails.length = options.maxMessages;
      return id;
    },
    list({ start, limit, filter }) {
      const matching = filter ? mails.filter(filter) : mails;
      return {
        mails: matching.slice(start, limit > 0 ? start + limit : undefined),
        matched: matching.length,
        matchedUnread: matching.filter((m) => !m.read).length,
      };
    },
    get(id) {
      return id === "latest" ? mails[0] : mails.find((m) => m.id === id);
    },
    open(id) {
      const mail = this.get(id);
      if (mail) mail.read = true;
      return mail;
    },
    delete(select) {
      const doomed = Array.isArray(select) ? (m: StoredMail) => select.includes(m.id) : select;
      mails = mails.filter((m) => !doomed(m));
    },
    clear() {
      mails = [];
    },
    stats() {
      return { total: mails.length, unread: mails.filter((m) => !m.read).length };
    },
  };
}

/**
 * The message in `GET /api/v1/messages`.
 *
 * @param mail A stored message.
 * @returns Mailpit's `MessageSummary`.
 */
export function toSummary(mail: StoredMail): MessageSummary {
  return {
    ID: mail.id,
    MessageID: mail.messageId,
    Read: mail.read,
    From: mail.from,
    To: mail.to,
    Cc: mail.cc,
    Bcc: mail.bcc,
    ReplyTo: mail.replyTo,
    Subject: mail.subject,
    Created: mail.created.toISOString(),
    Username: mail.username,
    Tags: [],
    Size: mail.size,
    Attachments: mail.attachments,
    Snippet: mail.snippet,
  };
}

/**
 * The message in `GET /api/v1/message/{ID}`.
 *
 * @param mail A stored message.
 * @returns Mailpit's `Message`.
 */
export function toMessage(mail: StoredMail): Message {
  return {
    ID: mail.id,
    MessageID: mail.messageId,
    From: mail.from,
    To: mail.to,
    Cc: mail.cc,
    Bcc: mail.bcc,
    ReplyTo: mail.replyTo,
    ReturnPath: mail.returnPath,
    Subject: mail.subject,
    ListUnsubscribe: mail.listUnsubscribe,
    Date: (mail.date ?? mail.created).toISOString(),
    Tags: [],
    Username: mail.username,
    Text: mail.text,
    HTML: mail.html,
    Size: mail.size,
    Inline: [],
    Attachments: [],
  };
}

// Mailpit's IDs are shortuuids: a random UUID's 128 bits in base 57, 22 characters.
const ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function shortId(): string {
  let n = BigInt(`0x${crypto.randomUUID().replaceAll("-", "")}`);
  let id = "";
  for (let i = 0; i < 22; i++) {
    id = ALPHABET[Number(n % 57n)] + id;
    n /= 57n;
  }
  return id;
}
