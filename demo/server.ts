/**
 * The demo page's server, standing in for a frontend dev server (Vite's port 5173): it serves
 * `demo/index.html` and `demo/app.ts` bundled for the browser, on its own origin, so the page talks to the
 * gateway cross-origin as a deployed app does.
 *
 * The app (supabase-js and `client/mod.ts`) is bundled once per process with
 * `deno bundle --platform browser` from the packages already in `node_modules`; nothing is fetched from a
 * CDN. The page learns the API URL and the publishable key from a JSON block written into the HTML; no service
 * key or secret ever reaches it.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const APP_ENTRY = new URL("demo/app.ts", ROOT);
const INDEX_HTML = new URL("demo/index.html", ROOT);
const CONFIG_FILE = new URL("deno.json", ROOT);
const CONFIG_PLACEHOLDER = "<!-- demo-config -->";

/** Options for {@linkcode startDemoServer}. */
export interface DemoServerOptions {
  /** The gateway's URL (`API_URL`), which the page's supabase-js client talks to. */
  apiUrl: string;
  /** The project's publishable key (`PUBLISHABLE_KEY`). Never pass a secret or service role key. */
  publishableKey: string;
  /** The example backend the page calls with the backend token (`GET /me`); no backend button without. */
  backendUrl?: string;
  /** The local mailbox's page (`MAILPIT_URL`), which the page links to after a sign-up; none without. */
  mailboxUrl?: string;
  /** The port on `hostname`; 0 (the default) picks a free one. */
  port?: number;
  /** The interface to listen on (default `127.0.0.1`). */
  hostname?: string;
}

/** A running demo server. */
export interface DemoServer {
  /** The page's URL, e.g. `http://127.0.0.1:5173/`. */
  url: string;
  /** The page's origin, e.g. `http://127.0.0.1:5173`, for `ALLOWED_ORIGINS`. */
  origin: string;
  /** The port it listens on. */
  port: number;
  /** Stops the server and waits for open connections to end. */
  stop(): Promise<void>;
}

/** The page's settings, as `demo/app.ts` reads them from `<script id="demo-config">`. */
export interface DemoConfig {
  apiUrl: string;
  publishableKey: string;
  backendUrl?: string;
  mailboxUrl?: string;
}

let bundling: Promise<string> | undefined;

/**
 * Bundles `demo/app.ts` (with supabase-js and the browser client) into one ES module for the browser.
 * The result is kept for the life of the process; a failed bundle is retried on the next call.
 *
 * @returns The bundled JavaScript.
 * @throws {Error} When `deno bundle` fails (its output is in the message).
 * @example
 * ```ts
 * const js = await bundleDemoApp();
 * ```
 */
export function bundleDemoApp(): Promise<string> {
  bundling ??= bundleForBrowser(APP_ENTRY).catch((err) => {
    bundling = undefined;
    throw err;
  });
  return bundling;
}

/**
 * Bundles a module and what it imports (from `node_modules`, as the root `deno.json` maps them) into one
 * ES module for the browser, as the demo page's app is bundled.
 *
 * @param entry The module.
 * @returns The bundled JavaScript.
 * @throws {Error} When `deno bundle` fails (its output is in the message).
 * @example
 * ```ts ignore
 * const js = await bundleForBrowser(new URL("./page.ts", import.meta.url));
 * ```
 */
export async function bundleForBrowser(entry: URL): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform=browser",
      "--format=esm",
      "--minify",
      `--config=${CONFIG_FILE.pathname}`,
      entry.pathname,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const js = new TextDecoder().decode(stdout);
  if (code !== 0 || js.trim() === "") {
    throw new Error(
      `deno bundle ${entry.pathname} failed (exit ${code}):\n${new TextDecoder().decode(stderr)}`,
    );
  }
  return js;
}

/**
 * Renders `demo/index.html` with the page's settings in a JSON block (`<` escaped, so a value cannot close
 * the script element).
 *
 * @param html The page's template, with the `<!-- demo-config -->` placeholder.
 * @param config The API URL and the publishable key.
 * @returns The page.
 * @throws {Error} When the template has no placeholder.
 * @example
 * ```ts ignore
 * renderIndex(template, { apiUrl: "http://127.0.0.1:54321", publishableKey });
 * ```
 */
export function renderIndex(html: string, config: DemoConfig): string {
  if (!html.includes(CONFIG_PLACEHOLDER)) throw new Error(`demo/index.html lacks ${CONFIG_PLACEHOLDER}`);
  const json = JSON.stringify({
    apiUrl: config.apiUrl,
    publishableKey: config.publishableKey,
    backendUrl: config.backendUrl,
    mailboxUrl: config.mailboxUrl,
  })
    .replaceAll("<", "\\u003c");
  return html.replace(
    CONFIG_PLACEHOLDER,
    () => `<script type="application/json" id="demo-config">${json}</script>`,
  );
}

/**
 * Bundles the app (once per process) and serves the demo page.
 *
 * @param options The API URL and publishable key the page uses, and where to listen.
 * @returns The running server.
 * @throws {Error} When bundling fails or the port is taken.
 * @example
 * ```ts ignore
 * const demo = await startDemoServer({ apiUrl: stack.apiUrl, publishableKey: stack.publishableKey, port: 5173 });
 * console.log(`Demo page: ${demo.url}`);
 * await demo.stop();
 * ```
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const demo = listenDemoServer(options);
  try {
    await demo.serve(options);
  } catch (err) {
    await demo.stop();
    throw err;
  }
  return demo;
}

/** A demo server bound to its port, that serves the page once {@linkcode DemoListener.serve} has run. */
export interface DemoListener extends DemoServer {
  /**
   * Bundles the app (once per process) and serves the page with `config` from now on; until then every
   * request is answered 503.
   */
  serve(config: DemoConfig): Promise<void>;
}

/**
 * Binds the demo server's port now and serves the page later: the page's origin is known before the
 * example backend starts (which allows it), and the backend's URL before the page is rendered (which calls
 * it).
 *
 * @param options Where to listen.
 * @returns The bound server; 503 to every request until {@linkcode DemoListener.serve}.
 * @throws {Error} When the port is taken.
 * @example
 * ```ts ignore
 * const demo = listenDemoServer({ port: 0 });
 * const backend = await startBackend({ allowedOrigin: demo.origin, ... });
 * await demo.serve({ apiUrl, publishableKey, backendUrl: backend.url });
 * ```
 */
export function listenDemoServer(options: Pick<DemoServerOptions, "port" | "hostname"> = {}): DemoListener {
  let handler: (req: Request) => Response = () => new Response("Starting", { status: 503 });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      onListen: () => {},
    }, (req) => handler(req));
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(`Port ${options.port} (demo page) is already in use; choose another one`, {
        cause: err,
      });
    }
    throw err;
  }
  const { hostname, port } = server.addr;
  const origin = `http://${hostname}:${port}`;
  return {
    url: `${origin}/`,
    origin,
    port,
    stop: () => server.shutdown(),
    async serve(config) {
      handler = await demoHandler(config);
    },
  };
}

/** The page, the app and the security headers, for `config`. */
async function demoHandler(config: DemoConfig): Promise<(req: Request) => Response> {
  const [js, template] = await Promise.all([bundleDemoApp(), Deno.readTextFile(INDEX_HTML)]);
  const html = renderIndex(template, config);
  const apiOrigin = new URL(config.apiUrl).origin;
  const backendOrigin = config.backendUrl ? ` ${new URL(config.backendUrl).origin}` : "";
  const security = {
    // Only this origin's script, and fetches to the API and the backend: a stray CDN import fails loudly.
    "content-security-policy": `default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; ` +
      `connect-src ${apiOrigin}${backendOrigin}; img-src 'self' data:; form-action 'none'; base-uri 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  };

  return (req) => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (pathname === "/" || pathname === "/index.html") {
      return new Response(html, { headers: { ...security, "content-type": "text/html; charset=utf-8" } });
    }
    if (pathname === "/app.js") {
      return new Response(js, { headers: { ...security, "content-type": "text/javascript; charset=utf-8" } });
    }
    return new Response("Not found", { status: 404, headers: security });
  };
}
