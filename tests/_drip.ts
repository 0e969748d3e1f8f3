/**
 * Test support: a slow client over a real TCP socket. It sends a request's head at once, then its body one
 * byte per TCP segment (Nagle off, a pause between bytes), until the server answers or the body is sent.
 *
 * @module
 */

/** What came back on a dripped request. */
export interface DripResult {
  /** The response's status, or 0 when the server closed without answering. */
  status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string>;
  body: string;
  /** Body bytes written before the answer came (or the socket closed). */
  bytesSent: number;
}

/** Options for {@linkcode dripRequest}. */
export interface DripOptions {
  /** The request path, e.g. `/exchange-token`. */
  path: string;
  /** Request headers besides Host and Content-Length. */
  headers?: Record<string, string>;
  /** The body to drip. */
  body: Uint8Array;
  /** Milliseconds between two bytes (0: next macrotask). */
  intervalMs?: number;
}

/**
 * Sends a POST whose body arrives a byte per TCP segment, and reads the answer.
 *
 * @param port The server's port on 127.0.0.1.
 * @param options The path, headers, body and pace.
 * @returns The answer and how much of the body was sent before it.
 */
export async function dripRequest(port: number, options: DripOptions): Promise<DripResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const head = [
    `POST ${options.path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Content-Length: ${options.body.byteLength}`,
    "Connection: close",
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    "",
    "",
  ].join("\r\n");
  const response = _readAll(conn);
  let answered = false;
  response.finally(() => answered = true).catch(() => {});
  let bytesSent = 0;
  try {
    await _writeAll(conn, new TextEncoder().encode(head));
    for (const byte of options.body) {
      if (answered) break;
      await _writeAll(conn, new Uint8Array([byte]));
      bytesSent += 1;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 0));
    }
  } catch {
    // The server closed the connection while we wrote: its answer, if any, is in `response`.
  }
  const raw = await response;
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  return { ..._parseResponse(raw), bytesSent };
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

async function _readAll(conn: Deno.Conn): Promise<string> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
      // Stop at the end of a response with a Content-Length, without waiting for the close.
      const text = new TextDecoder().decode(_concat(parts));
      const split = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split));
      if (split >= 0 && length && text.length - split - 4 >= Number(length[1])) break;
    }
  } catch {
    // A reset after the answer: keep what was read.
  }
  return new TextDecoder().decode(_concat(parts));
}

function _concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.byteLength;
  }
  return all;
}

function _parseResponse(raw: string): Omit<DripResult, "bytesSent"> {
  const split = raw.indexOf("\r\n\r\n");
  if (split < 0) return { status: 0, headers: {}, body: raw };
  const [statusLine, ...lines] = raw.slice(0, split).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: raw.slice(split + 4) };
}
