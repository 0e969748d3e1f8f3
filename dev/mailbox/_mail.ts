/**
 * A received mail in Mailpit's JSON shapes (`internal/storage/structs.go`: `Message`, `MessageSummary`),
 * and the parser that turns SMTP's raw bytes into one.
 *
 * Field names are Mailpit's, capitalised as its Go structs marshal them, so scripts written against
 * Supabase's local mail catcher read them unchanged. Attachment parts are counted but not kept: the Auth
 * mails this mailbox catches have none, and keeping them would only cost memory.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type AddressObject, simpleParser } from "mailparser";
// @ts-types="@types/html-to-text"
import { htmlToText, type HtmlToTextOptions } from "html-to-text";

/** A mail address as Go's `net/mail.Address` marshals it. */
export interface MailAddress {
  Name: string;
  Address: string;
}

/** Mailpit's summary of a message's `List-Unsubscribe` headers. */
export interface ListUnsubscribe {
  Header: string;
  Links: string[];
  Errors: string;
  HeaderPost: string;
}

/** One message in `GET /api/v1/messages` (Mailpit's `MessageSummary`). */
export interface MessageSummary {
  ID: string;
  MessageID: string;
  Read: boolean;
  From: MailAddress;
  To: MailAddress[];
  Cc: MailAddress[];
  Bcc: MailAddress[];
  ReplyTo: MailAddress[];
  Subject: string;
  /** When the mailbox received it, RFC 3339 with milliseconds. */
  Created: string;
  Username: string;
  Tags: string[];
  Size: number;
  /** How many attachments it has. */
  Attachments: number;
  Snippet: string;
}

/** `GET /api/v1/message/{ID}` (Mailpit's `Message`). */
export interface Message {
  ID: string;
  MessageID: string;
  From: MailAddress;
  To: MailAddress[];
  Cc: MailAddress[];
  Bcc: MailAddress[];
  ReplyTo: MailAddress[];
  ReturnPath: string;
  Subject: string;
  ListUnsubscribe: ListUnsubscribe;
  /** The `Date` header, else when it was received. */
  Date: string;
  Tags: string[];
  Username: string;
  Text: string;
  HTML: string;
  Size: number;
  /** Always empty: parts are not kept (see the module note). */
  Inline: never[];
  /** Always empty: parts are not kept (see the module note). */
  Attachments: never[];
}

/** A parsed mail, before the mailbox gives it an ID and a reception time. */
export interface ParsedMail {
  messageId: string;
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  bcc: MailAddress[];
  replyTo: MailAddress[];
  returnPath: string;
  subject: string;
  listUnsubscribe: ListUnsubscribe;
  /** The `Date` header, when it has a valid one. */
  date?: Date;
  text: string;
  html: string;
  attachments: number;
  snippet: string;
  size: number;
}

// Mailpit's `tools.CreateSnippet`: up to 200 characters of the body, whitespace collapsed.
const SNIPPET_LENGTH = 200;
// Deeper HTML is no mail a person wrote; the converter's own default has no limit.
const MAX_HTML_DEPTH = 100;
const HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"].map((selector) => ({
  selector,
  options: { uppercase: false },
}));
/** A text part made from HTML keeps each link as `label [url]`, so that scripts can find it in `Text`. */
const TEXT_OPTIONS: HtmlToTextOptions = { limits: { maxDepth: MAX_HTML_DEPTH }, selectors: HEADINGS };
/** A snippet is the words only, as Mailpit strips HTML for it. */
const SNIPPET_OPTIONS: HtmlToTextOptions = {
  limits: { maxDepth: MAX_HTML_DEPTH },
  selectors: [
    ...HEADINGS,
    { selector: "a", options: { ignoreHref: true } },
    { selector: "img", format: "skip" },
  ],
};

/**
 * Parses a raw RFC 5322 message (as received over SMTP) into Mailpit's fields. A message without a plain
 * text part gets its `text` from the HTML (links kept as `text [url]`), as Mailpit's parser does.
 *
 * @param raw The message's bytes.
 * @returns The parsed fields.
 * @throws {Error} When the MIME structure cannot be parsed.
 * @example Parse a received mail
 * ```ts ignore
 * const mail = await parseMail(new TextEncoder().encode("Subject: Hi\r\n\r\nHello"));
 * mail.subject; // "Hi"
 * ```
 */
export async function parseMail(raw: Uint8Array): Promise<ParsedMail> {
  const parsed = await simpleParser(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const from = addresses(parsed.from)[0] ?? { Name: "", Address: "" };
  const html = typeof parsed.html === "string" ? parsed.html : "";
  const text = parsed.text || (html ? htmlToText(html, TEXT_OPTIONS) : "");
  const listUnsubscribe = header(parsed.headers, "list-unsubscribe");
  return {
    messageId: (parsed.messageId ?? "").replace(/^<|>$/g, ""),
    from,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    bcc: addresses(parsed.bcc),
    replyTo: addresses(parsed.replyTo),
    returnPath: header(parsed.headers, "return-path").replace(/^<|>$/g, "") || from.Address,
    subject: parsed.subject ?? "",
    listUnsubscribe: {
      Header: listUnsubscribe,
      Links: [...listUnsubscribe.matchAll(/<([^>]+)>/g)].map((m) => m[1]),
      Errors: "",
      HeaderPost: header(parsed.headers, "list-unsubscribe-post"),
    },
    date: parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined,
    text,
    html,
    attachments: parsed.attachments.length,
    snippet: snippet(html ? htmlToText(html, SNIPPET_OPTIONS) : text),
    size: raw.byteLength,
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  // Groups (`team: a@x, b@x;`) are flattened, as Go's `mail.ParseAddressList` does.
  return objects.flatMap((o) => o.value).flatMap((a) => a.group ?? [a]).map((a) => ({
    Name: a.name ?? "",
    Address: a.address ?? "",
  }));
}

function header(headers: Map<string, unknown>, name: string): string {
  const value = headers.get(name);
  if (typeof value === "string") return value;
  // mailparser turns some headers into objects; the raw text is what Mailpit reports.
  if (value && typeof value === "object" && "text" in value) return String(value.text);
  return "";
}

function snippet(text: string): string {
  const flat = text.replaceAll("\uFEFF", " ").replace(/\s+/g, " ").trim();
  return flat.length <= SNIPPET_LENGTH ? flat : `${flat.slice(0, SNIPPET_LENGTH)}...`;
}
