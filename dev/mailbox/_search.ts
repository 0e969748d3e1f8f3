/**
 * Mailpit's search filters (`internal/storage/search.go`), for `GET`/`DELETE /api/v1/search?query=…`.
 *
 * Terms are split on spaces, with quoted phrases kept whole; every term must match, and a leading `-` or
 * `!` negates one. Supported: `to:`, `from:`, `cc:`, `bcc:`, `reply-to:`, `addressed:`, `subject:`,
 * `message-id:`, `is:read`, `is:unread`, `has:attachment(s)` and bare words (searched in the addresses,
 * the subject and the text). Mailpit's other filters (tags, dates, sizes, inline parts) are refused rather
 * than silently read as words.
 *
 * @module
 */
import type { MailAddress } from "./_mail.ts";

/** What a filter looks at in a stored message. */
export interface Searchable {
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  replyTo: MailAddress[];
  subject: string;
  messageId: string;
  text: string;
  read: boolean;
  attachments: number;
}

/** A search query that uses a Mailpit filter this mailbox does not have. */
export class UnsupportedSearchError extends Error {
  /** @param term The refused term. */
  constructor(readonly term: string) {
    super(`Search filter not supported by the local mailbox: ${term}`);
    this.name = "UnsupportedSearchError";
  }
}

type Matcher = (m: Searchable) => boolean;

const UNSUPPORTED = /^(tag:|is:tagged$|has:inlines?$|after:|before:|larger:|smaller:)/;

/**
 * Compiles a Mailpit search query into a predicate.
 *
 * @param query The query, e.g. `to:"user@example.com" subject:Confirm`.
 * @returns A predicate that is true for the messages the query selects.
 * @throws {UnsupportedSearchError} When the query uses a filter this mailbox lacks.
 * @example Select a user's confirmation mails
 * ```ts ignore
 * const matches = compileSearch('to:user@example.com subject:"Confirm Your Signup"');
 * ```
 */
export function compileSearch(query: string): (m: Searchable) => boolean {
  const matchers = splitTerms(query).map(compileTerm).filter((m): m is Matcher => m !== undefined);
  return (m) => matchers.every((match) => match(m));
}

function compileTerm(term: string): Matcher | undefined {
  let word = term;
  let exclude = false;
  if (word.length > 1 && (word.startsWith("-") || word.startsWith("!"))) {
    exclude = true;
    word = word.slice(1);
  }
  const lower = word.toLowerCase();
  if (UNSUPPORTED.test(lower)) throw new UnsupportedSearchError(term);
  const match = compilePositive(word, lower);
  if (!match) return undefined;
  return exclude ? (m) => !match(m) : match;
}

function compilePositive(word: string, lower: string): Matcher | undefined {
  const addressFilters: Record<string, (m: Searchable) => MailAddress[]> = {
    "to:": (m) => m.to,
    "from:": (m) => [m.from],
    "cc:": (m) => m.cc,
    "bcc:": (m) => m.bcc,
    "reply-to:": (m) => m.replyTo,
    "addressed:": (m) => [...m.to, m.from, ...m.cc, ...m.bcc, ...m.replyTo],
  };
  for (const [prefix, pick] of Object.entries(addressFilters)) {
    if (!lower.startsWith(prefix)) continue;
    const needle = clean(word.slice(prefix.length));
    // Mailpit matches against the addresses' JSON, so a name matches as well as an address.
    return needle ? (m) => JSON.stringify(pick(m)).toLowerCase().includes(needle) : undefined;
  }
  if (lower.startsWith("subject:")) {
    const needle = word.slice("subject:".length).toLowerCase();
    return needle ? (m) => m.subject.toLowerCase().includes(needle) : undefined;
  }
  if (lower.startsWith("message-id:")) {
    const needle = clean(word.slice("message-id:".length));
    return needle ? (m) => m.messageId.toLowerCase().includes(needle) : undefined;
  }
  if (lower === "is:read") return (m) => m.read;
  if (lower === "is:unread") return (m) => !m.read;
  if (lower === "has:attachment" || lower === "has:attachments") return (m) => m.attachments > 0;
  const needle = clean(word);
  return needle ? (m) => searchText(m).includes(needle) : undefined;
}

/** Mailpit's `tools.ArgsParser`: split on spaces outside quotes, then drop the quotes. */
function splitTerms(query: string): string[] {
  const terms: string[] = [];
  let current = "";
  let quoted = false;
  for (const ch of query) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === " ") {
      terms.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.replaceAll('"', "").trim()).filter((t) => t !== "");
}

/** Mailpit's `cleanString`: punctuation that cannot be part of a term becomes space, then lower case. */
function clean(value: string): string {
  return value.replaceAll("\uFEFF", " ").replace(/\r?\n|\t|[><",;()]/g, " ").split(/\s+/).filter(Boolean)
    .join(" ").toLowerCase();
}

function searchText(m: Searchable): string {
  const names = [m.from, ...m.to, ...m.cc, ...m.bcc, ...m.replyTo].map((a) => `${a.Name} ${a.Address}`);
  return `${names.join(" ")} ${m.subject} ${m.text}`.toLowerCase();
}
