/**
 * The API gateway of the local stack: one port that routes as a Supabase project's does (Kong on
 * `supabase start`, the platform's gateway when hosted).
 *
 * - `/auth/v1/*` goes to Supabase Auth (here the Auth emulator) and needs an `apikey` (header or query),
 *   except the public routes (`.well-known/jwks.json`, `verify`, `callback`, `authorize`), as Kong's
 *   key-auth does; refusals carry CORS headers, as Kong's cors plugin adds them.
 * - `/functions/v1/<name>` is proxied to the function's server with the path `/<name>`, the way the
 *   Edge runtime sees it. The function owns its CORS and authentication (`verify_jwt = false`), so the
 *   gateway passes its responses through untouched.
 *
 * @module
 */

/** Options for {@linkcode createGateway}. */
export interface GatewayOptions {
  /** Handles `/auth/v1/*` (the Auth emulator's handler). */
  auth: (req: Request) => Promise<Response>;
  /** Function name → base URL of the server that runs it. */
  functions: Record<string, string>;
  /** The API keys the project accepts (anon and service_role). */
  apiKeys: string[];
}

const PUBLIC_AUTH_ROUTES = [
  "/auth/v1/.well-known/jwks.json",
  "/auth/v1/verify",
  "/auth/v1/callback",
  "/auth/v1/authorize",
];

// Headers that describe one hop of a connection, not the request, and must not be forwarded.
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"];

/**
 * Builds the gateway's request handler.
 *
 * @param options The routes' targets and the accepted API keys.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts ignore
 * Deno.serve({ port: 54321 }, createGateway({ auth, functions: { "exchange-token": fnUrl }, apiKeys }));
 * ```
 */
export function createGateway(options: GatewayOptions): (req: Request) => Promise<Response> {
  const apiKeys = new Set(options.apiKeys);
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/auth/v1/")) {
      if (req.method !== "OPTIONS" && !PUBLIC_AUTH_ROUTES.includes(url.pathname)) {
        const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
        if (!key) return kongError(req, 401, "No API key found in request");
        if (!apiKeys.has(key)) return kongError(req, 401, "Invalid authentication credentials");
      }
      return await options.auth(req);
    }
    const fn = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (fn && Object.hasOwn(options.functions, fn[1])) {
      return await proxy(req, new URL(`/${fn[1]}${fn[2] ?? ""}${url.search}`, options.functions[fn[1]]));
    }
    return kongError(req, 404, "no Route matched with those values");
  };
}

async function proxy(req: Request, target: URL): Promise<Response> {
  const headers = new Headers(req.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.set("x-forwarded-host", new URL(req.url).host);
  try {
    return await fetch(target, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
  } catch {
    // The function's server is down or booting: what Kong answers for an unreachable upstream.
    return kongError(req, 502, "An invalid response was received from the upstream server");
  }
}

function kongError(req: Request, status: number, message: string): Response {
  return Response.json({ message }, {
    status,
    headers: {
      "access-control-allow-origin": req.headers.get("origin") ?? "*",
      "access-control-allow-credentials": "true",
      vary: "Origin",
    },
  });
}
