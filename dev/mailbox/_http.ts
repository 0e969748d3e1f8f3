/**
 * The mailbox's HTTP side: the part of Mailpit's API v1 (`server/apiv1/`) that scripts and test tools
 * use, its health checks, and the web page.
 *
 * | Route | Mailpit's answer |
 * | --- | --- |
 * | `GET /api/v1/messages?start&limit` | `MessagesSummary`, newest first (limit 50 by default, 0 = all) |
 * | `DELETE /api/v1/messages` | deletes `{"IDs": [...]}`, or every message without IDs; `ok` |
 * | `GET /api/v1/search?query&start&limit` | `MessagesSummary` of the matches (see `_search.ts`) |
 * | `DELETE /api/v1/search?query` | deletes the matches; `ok` |
 * | `GET /api/v1/message/{ID}` | `Message` (`latest` = the newest), marked read |
 * | `GET /api/v1/message/{ID}/raw` | the message as received |
 * | `GET /livez`, `GET /readyz` | `ok` (the CLI's health check) |
 * | `GET /`, `GET /view/{ID}` | the web page |
 *
 * Errors are Mailpit's JSON error shape, `{"Error": "..."}`, with the right status.
 *
 * @module
 */
import { type MailStore, type StoredMail, toMessage, toSummary } from "./_store.ts";
import { compileSearch, UnsupportedSearchError } from "./_search.ts";
import type { MessageSummary } from "./_mail.ts";
import { PAGE_HEADERS, renderList, renderMessage, renderNotFound } from "./_page.ts";

/** Mailpit's `MessagesSummary` (`server/apiv1/messages.go`). */
export interface MessagesSummary {
  total: number;
  unread: number;
  /** Legacy: how many messages are in this page. */
  count: number;
  messages_count: number;
  messages_unread: number;
  start: number;
  tags: string[];
  messages: MessageSummary[];
}

const DEFAULT_LIMIT = 50;
// Enough for thousands of IDs; a larger DELETE body is not a script's.
const MAX_BODY_BYTES = 64 * 1024;
const PAGE_LIMIT = 200;

/**
 * Builds the mailbox's HTTP handler over a store.
 *
 * @param store The messages.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts ignore
 * Deno.serve({ port: 54324 }, createMailboxHandler(createMailStore({ maxMessages: 500 })));
 * ```
 */
export function createMailboxHandler(store: MailStore): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    const message = /^\/api\/v1\/message\/([^/]+)(\/raw)?$/.exec(path);
    const view = /^\/view\/([^/]+)$/.exec(path);

    if (path === "/api/v1/messages") {
      if (req.method === "GET") return json(summary(store, url));
      if (req.method === "DELETE") {
        const ids = await readIds(req);
        if (ids instanceof Response) return ids;
        if (ids.length === 0) store.clear();
        else store.delete(ids);
        return ok();
      }
      return notAllowed("GET, DELETE");
    }
    if (path === "/api/v1/search") {
      if (req.method !== "GET" && req.method !== "DELETE") return notAllowed("GET, DELETE");
      const query = url.searchParams.get("query")?.trim();
      if (!query) return error(400, "Error: no search query");
      let filter: (m: StoredMail) => boolean;
      try {
        filter = compileSearch(query);
      } catch (err) {
        if (err instanceof UnsupportedSearchError) return error(400, err.message);
        throw err;
      }
      if (req.method === "DELETE") {
        store.delete(filter);
        return ok();
      }
      return json(summary(store, url, filter));
    }
    if (message) {
      if (req.method !== "GET") return notAllowed("GET");
      const id = decodeSegment(message[1]) ?? "";
      const mail = message[2] ? store.get(id) : store.open(id);
      if (!mail) return error(404, "Message not found");
      if (message[2]) {
        return new Response(mail.raw, {
          headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
        });
      }
      return json(toMessage(mail));
    }
    if (path === "/livez" || path === "/readyz") return ok();
    if (path === "/") {
      if (req.method !== "GET") return notAllowed("GET");
      const { mails } = store.list({ start: 0, limit: PAGE_LIMIT });
      return new Response(renderList(mails, store.stats().total), { headers: PAGE_HEADERS });
    }
    if (view) {
      if (req.method !== "GET") return notAllowed("GET");
      const mail = store.open(decodeSegment(view[1]) ?? "");
      if (!mail) return new Response(renderNotFound(), { status: 404, headers: PAGE_HEADERS });
      return new Response(renderMessage(mail), { headers: PAGE_HEADERS });
    }
    return error(404, "Not found");
  };
}

function summary(store: MailStore, url: URL, filter?: (m: StoredMail) => boolean): MessagesSummary {
  const start = nonNegative(url.searchParams.get("start")) ?? 0;
  const limit = nonNegative(url.searchParams.get("limit")) ?? DEFAULT_LIMIT;
  const page = store.list({ start, limit, filter });
  const stats = store.stats();
  return {
    total: stats.total,
    unread: stats.unread,
    count: page.mails.length,
    messages_count: page.matched,
    messages_unread: page.matchedUnread,
    start,
    tags: [],
    messages: page.mails.map(toSummary),
  };
}

/** Mailpit's `getStartLimit`: a value that is not a non-negative integer is ignored. */
function nonNegative(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** The IDs of a `DELETE /api/v1/messages`; none (all) for an empty body. */
async function readIds(req: Request): Promise<string[] | Response> {
  const text = await readCapped(req, MAX_BODY_BYTES);
  if (text === undefined) return error(413, `Request body over ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") return [];
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Mailpit deletes everything on a body it cannot decode; refusing is the safer reading.
    return error(400, 'Body must be JSON: {"IDs": ["..."]}');
  }
  const ids = (body as { IDs?: unknown })?.IDs;
  if (ids === undefined || ids === null) return [];
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
    return error(400, "IDs must be an array of strings");
  }
  return ids;
}

/** The body as text, or undefined once it passes `max` bytes (the rest is not read). */
async function readCapped(req: Request, max: number): Promise<string | undefined> {
  if (!req.body) return "";
  const decoder = new TextDecoder();
  let text = "";
  let length = 0;
  for await (const chunk of req.body) {
    length += chunk.byteLength;
    if (length > max) return undefined;
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

/** A path segment decoded, or undefined when its escapes are malformed. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function json(body: unknown): Response {
  return Response.json(body, { headers: { "cache-control": "no-store" } });
}

function ok(): Response {
  return new Response("ok", { headers: { "content-type": "text/plain" } });
}

function error(status: number, message: string): Response {
  return Response.json({ Error: message }, { status });
}

function notAllowed(allow: string): Response {
  return Response.json({ Error: "Method not allowed" }, { status: 405, headers: { allow } });
}
