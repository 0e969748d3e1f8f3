/**
 * The mailbox's web page: plain server-rendered HTML, no script and no build step. `/` lists the
 * messages, newest first; `/view/{ID}` shows one (the paths of Mailpit's UI), its HTML in a sandboxed
 * frame whose links open in a new tab, and its text with the links made clickable.
 *
 * @module
 */
import type { StoredMail } from "./_store.ts";
import type { MailAddress } from "./_mail.ts";

/** Headers for every page: nothing runs, nothing is fetched from elsewhere. */
export const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'none'; " +
    "base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1c1c1c}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd}
tr.unread td{font-weight:600}iframe{width:100%;height:28rem;border:1px solid #ddd}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.75rem}.muted{color:#666}`;

/**
 * Renders the list of messages.
 *
 * @param mails The messages, newest first.
 * @param total How many the mailbox holds.
 * @returns The page.
 * @example
 * ```ts ignore
 * renderList(store.list({ start: 0, limit: 100 }).mails, store.stats().total);
 * ```
 */
export function renderList(mails: StoredMail[], total: number): string {
  const rows = mails.map((m) =>
    `<tr class="${m.read ? "read" : "unread"}"><td class="muted">${escape(m.created.toISOString())}</td>` +
    `<td>${escape(formatAddresses([m.from]))}</td><td>${escape(formatAddresses(m.to))}</td>` +
    `<td><a href="/view/${encodeURIComponent(m.id)}">${escape(m.subject || "(no subject)")}</a></td></tr>`
  ).join("\n");
  const body = mails.length === 0
    ? `<p class="muted">No messages yet. Mail sent to this mailbox's SMTP port shows up here.</p>`
    : `<table><thead><tr><th>Received</th><th>From</th><th>To</th><th>Subject</th></tr></thead>` +
      `<tbody>\n${rows}\n</tbody></table>`;
  // Refreshes itself, so a mail sent while the page is open appears without a click.
  return page(
    "Mailbox",
    `<meta http-equiv="refresh" content="5">`,
    `<h1>Mailbox</h1><p class="muted">${total} message${total === 1 ? "" : "s"} · ` +
      `JSON API: <a href="/api/v1/messages">/api/v1/messages</a></p>${body}`,
  );
}

/**
 * Renders one message.
 *
 * @param mail The message.
 * @returns The page.
 * @example
 * ```ts ignore
 * renderMessage(store.open(id)!);
 * ```
 */
export function renderMessage(mail: StoredMail): string {
  const fields: Array<[string, string]> = [
    ["From", formatAddresses([mail.from])],
    ["To", formatAddresses(mail.to)],
    ["Subject", mail.subject],
    ["Date", (mail.date ?? mail.created).toISOString()],
  ];
  if (mail.cc.length) fields.splice(2, 0, ["Cc", formatAddresses(mail.cc)]);
  const header = fields.map(([k, v]) => `<tr><th>${k}</th><td>${escape(v)}</td></tr>`).join("");
  // The mail's HTML is the sender's: shown in a sandbox (no script, no same-origin access), and its links
  // open in a new tab instead of inside the frame.
  const html = mail.html
    ? `<h2>HTML</h2><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${
      escape(`<base target="_blank">${mail.html}`)
    }"></iframe>`
    : "";
  const text = mail.text ? `<h2>Text</h2><pre>${linkify(mail.text)}</pre>` : "";
  const id = encodeURIComponent(mail.id);
  return page(
    mail.subject || "(no subject)",
    "",
    `<p><a href="/">← All messages</a> · <a href="/api/v1/message/${id}">JSON</a> · ` +
      `<a href="/api/v1/message/${id}/raw">Source</a></p><table>${header}</table>${html}${text}`,
  );
}

/**
 * Renders a "not found" page.
 *
 * @returns The page.
 */
export function renderNotFound(): string {
  return page(
    "Not found",
    "",
    `<p>No such message (it may have been deleted). <a href="/">All messages</a></p>`,
  );
}

function page(title: string, head: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>` +
    `${head}<style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

function formatAddresses(list: MailAddress[]): string {
  return list.map((a) => a.Name ? `${a.Name} <${a.Address}>` : a.Address).join(", ");
}

const URL_PATTERN = /https?:\/\/[^\s<>"'[\]()]+/g;

/** Escapes text for HTML and turns its http(s) URLs into links. */
function linkify(text: string): string {
  let out = "";
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0];
    out += escape(text.slice(last, match.index)) +
      `<a href="${escape(url)}" target="_blank" rel="noreferrer">${escape(url)}</a>`;
    last = match.index + url.length;
  }
  return out + escape(text.slice(last));
}

function escape(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}
