/**
 * Where GoTrue sends a browser back to: the `redirect_to` it accepts (`internal/utilities/request.go`
 * `GetReferrer`, `IsRedirectURLValid`), and the URL-encoding Go's `url.Values.Encode` gives its fragments.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";

const LOCALHOSTS = ["localhost", "127.0.0.1", "::1", "0.0.0.0", "::"];
const DECIMAL_IP = /^[0-9]+$/;
const REGULAR_HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/;

/**
 * The redirect URL of a request as GoTrue's `GetReferrer` picks it: the `redirect_to` header or query
 * parameter, else the `Referer` header, when allowed; else the site URL.
 *
 * @param ctx The site URL and allow list.
 * @param req The request.
 * @param url The request's URL.
 * @returns The URL to send the browser (or to put in a mailed link).
 * @example
 * ```ts ignore
 * const redirectTo = referrer(ctx, req, url);
 * ```
 */
export function referrer(ctx: Pick<AuthContext, "siteUrl" | "uriAllowList">, req: Request, url: URL): string {
  for (
    const candidate of [
      req.headers.get("redirect_to") || url.searchParams.get("redirect_to"),
      req.headers.get("Referer"),
    ]
  ) {
    if (candidate && isRedirectUrlValid(ctx, candidate)) return candidate;
  }
  return ctx.siteUrl;
}

/**
 * GoTrue's `IsRedirectURLValid`: the site's own scheme and host (any port on a loopback host), a loopback
 * IP, or a match of the allow list (globs where `*` stops at `.` and `/`, and `**` does not).
 *
 * @param ctx The site URL and allow list.
 * @param redirectUrl The URL asked for.
 * @returns Whether GoTrue would redirect there.
 * @example
 * ```ts
 * const ctx = { siteUrl: "http://127.0.0.1:3000", uriAllowList: ["https://*.example.com/**"] };
 * console.log(isRedirectUrlValid(ctx, "http://127.0.0.1:5173/welcome")); // true
 * console.log(isRedirectUrlValid(ctx, "https://app.example.com/in")); // true
 * console.log(isRedirectUrlValid(ctx, "https://evil.test/")); // false
 * ```
 */
export function isRedirectUrlValid(
  ctx: Pick<AuthContext, "siteUrl" | "uriAllowList">,
  redirectUrl: string,
): boolean {
  if (redirectUrl === "") return false;
  let base: URL, ref: URL;
  try {
    base = new URL(ctx.siteUrl);
    ref = new URL(redirectUrl);
  } catch {
    return false;
  }
  const host = ref.hostname.replace(/^\[(.*)\]$/, "$1");
  if (
    base.hostname === ref.hostname && base.protocol === ref.protocol &&
    (base.port === ref.port || isLocalhost(host))
  ) return true;
  const isHttp = ref.protocol === "http:" || ref.protocol === "https:";
  if (DECIMAL_IP.test(host)) return false;
  const loopback = loopbackOrNotIp(host);
  if (loopback !== undefined) return loopback;
  if (isHttp && !REGULAR_HOSTNAME.test(host)) return false;
  const withoutFragment = redirectUrl.split("#")[0];
  return ctx.uriAllowList.some((pattern) => globToRegExp(pattern).test(withoutFragment));
}

function isLocalhost(hostname: string): boolean {
  const lower = hostname.toLowerCase();
  return LOCALHOSTS.includes(lower) || lower.endsWith(".localhost");
}

// Go's net.ParseIP(host) != nil → ip.IsLoopback(); undefined when the host is not an IP.
function loopbackOrNotIp(host: string): boolean | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host.startsWith("127.");
  if (host.includes(":")) return host === "::1";
  return undefined;
}

// gobwas/glob compiled with '.' and '/' as separators, for its `*`, `**` and `?`.
function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^./]*";
    else if (c === "?") source += "[^./]";
    else source += c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Go's `url.QueryEscape`: spaces as `+`, everything but letters, digits and `-_.~` percent-encoded.
 *
 * @param value The text.
 * @returns The escaped text.
 * @example
 * ```ts
 * console.log(queryEscape("a b*c")); // "a+b%2Ac"
 * ```
 */
export function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%20", "+");
}

/**
 * Go's `url.Values.Encode`: `key=value` pairs sorted by key, joined by `&`.
 *
 * @param values The pairs.
 * @returns The encoded form.
 * @example
 * ```ts
 * console.log(encodeValues({ type: "signup", sb: "" })); // "sb=&type=signup"
 * ```
 */
export function encodeValues(values: Record<string, string>): string {
  return Object.keys(values).sort().map((key) => `${queryEscape(key)}=${queryEscape(values[key])}`).join("&");
}
