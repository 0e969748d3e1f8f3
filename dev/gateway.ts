/**
 * The API gateway of the local stack: one port that routes as a Supabase project's Kong does. The rules
 * are those of Supabase's self-hosting `docker/volumes/api/kong.yml` (supabase/supabase), which keeps
 * the `apikey` check the platform has, and the `Authorization` rewrite of `supabase start`'s Kong
 * (supabase/cli `internal/start/start.go`, its `BearerToken`); that Kong dropped key-auth in 2023 and
 * checks no key at all.
 *
 * - `/auth/v1/*` goes to Supabase Auth (here the Auth emulator, which checks no key itself). Kong's
 *   key-auth wants an `apikey` header (else query parameter) equal to one of the project's four keys
 *   ({@linkcode ProjectKeys}: publishable, secret, and the legacy anon and service_role JWTs), except on
 *   the open routes ({@linkcode OPEN_AUTH_ROUTES}, Kong's `auth-v1-open*` services). Kong's cors plugin,
 *   with its defaults, answers preflights itself (200) and sets `Access-Control-Allow-Origin: *` on
 *   every answer, the gateway's refusals included.
 * - `/functions/v1/<name>` is proxied to the function's server with the path `/<name>`, the way the
 *   Edge runtime sees it, or handed to the function's runtime (the stack's `dev/edge_runtime.ts`, which
 *   answers for a function that cannot boot, crashed or went over a limit). The function owns its CORS and
 *   authentication (`verify_jwt = false`): requests, preflights included, and responses pass through, with
 *   one change (below); so do the runtime's error answers, without CORS, as the runtime sends them. The
 *   gateway's own 502, when a function's server cannot be reached, carries `*` so that a browser can read
 *   it.
 * - On both, except the open Auth routes, `Authorization` is rewritten by {@linkcode upstreamAuthorization}
 *   so that Auth and the function see a JWT where the caller sent an opaque key: the secret key's
 *   service_role JWT, the publishable key's anon JWT.
 * - Anything else is Kong's 404, without CORS (no route, so no plugin).
 *
 * Where this still differs from Supabase:
 * - The hosted platform checks `apikey` but, by its documentation, passes a function's `Authorization`
 *   as sent (a `Bearer sb_…` fails its `verify_jwt` check); this gateway rewrites it as `supabase start`
 *   does, so a function called with only an `apikey` sees the anon JWT here.
 * - The acl plugin is left out: every key may use every route here. The platform refuses a secret key
 *   sent from a browser; this gateway does not.
 * - `supabase start`'s Kong also runs its cors plugin on `/functions/v1`, so there it answers a
 *   function's preflights and overrides its `Access-Control-Allow-Origin`; the hosted platform, and
 *   this gateway, do not.
 * - The hosted platform words its refusals differently (`Invalid API key`, with a `hint`).
 * - No `Server`, `Via` or `X-Kong-*` headers, no timeouts (`supabase start`'s Kong gives up on a function
 *   after 150 s, before the runtime's 400 s wall clock) and no other Supabase service.
 *
 * @module
 */

/** The project's API keys, as `supabase status` names them. */
export interface ProjectKeys {
  /** `PUBLISHABLE_KEY` (`sb_publishable_…`): upstream, it becomes the anon JWT. */
  publishable: string;
  /** `SECRET_KEY` (`sb_secret_…`): upstream, it becomes the service_role JWT. */
  secret: string;
  /** `ANON_KEY`, the legacy anon JWT. */
  anon: string;
  /** `SERVICE_ROLE_KEY`, the legacy service_role JWT. */
  serviceRole: string;
}

/** Options for {@linkcode createGateway}. */
export interface GatewayOptions {
  /** Handles `/auth/v1/*` (the Auth emulator's handler). */
  auth: (req: Request) => Promise<Response>;
  /**
   * Function name → the base URL of the server that runs it, or the runtime that serves it (given the
   * upstream request, path `/<name>…`; it answers every request itself, its own errors included).
   */
  functions: Record<string, string | ((request: Request) => Promise<Response>)>;
  /** The keys the project accepts as `apikey`, and swaps for JWTs upstream. */
  keys: ProjectKeys;
}

/**
 * The Auth routes Kong serves without key-auth; like Kong's route paths, each matches as a prefix
 * (`/auth/v1/verify?token=…`).
 */
export const OPEN_AUTH_ROUTES: readonly string[] = [
  "/auth/v1/verify",
  "/auth/v1/callback",
  "/auth/v1/authorize",
  "/auth/v1/.well-known/jwks.json",
];

// What Kong's cors plugin allows in a preflight when no `methods` are configured.
const CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT";

// Headers that describe one hop of a connection, not the request, and must not be forwarded.
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"];

/**
 * Builds the gateway's request handler.
 *
 * @param options The routes' targets and the accepted API keys.
 * @returns A handler for `Deno.serve`; it never throws.
 * @example Route Auth and one function behind one port
 * ```ts
 * const handler = createGateway({
 *   auth: () => Promise.resolve(Response.json({})),
 *   functions: { "exchange-token": "http://127.0.0.1:8081" },
 *   keys: { publishable: "sb_publishable_…", secret: "sb_secret_…", anon: "<anon JWT>", serviceRole: "<JWT>" },
 * });
 * const res = await handler(new Request("http://127.0.0.1:54321/auth/v1/user"));
 * console.log(res.status, await res.json()); // 401 { message: "No API key found in request" }
 * ```
 */
export function createGateway(options: GatewayOptions): (req: Request) => Promise<Response> {
  const { keys } = options;
  const apiKeys = new Set([keys.publishable, keys.secret, keys.anon, keys.serviceRole]);
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/auth/v1/")) {
      if (isPreflight(req)) return preflight(req);
      if (OPEN_AUTH_ROUTES.some((route) => url.pathname.startsWith(route))) {
        return withCors(await options.auth(req));
      }
      const refusal = checkApiKey(req, url, apiKeys);
      return withCors(
        refusal ?? await options.auth(
          // Not `new Request(req, …)`, which would follow the caller's abort signal (and make Deno warn).
          new Request(req.url, { method: req.method, headers: upstreamHeaders(req, keys), body: req.body }),
        ),
      );
    }
    const fn = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (fn && Object.hasOwn(options.functions, fn[1])) {
      const upstream = options.functions[fn[1]];
      const path = `/${fn[1]}${fn[2] ?? ""}${url.search}`;
      const target = new URL(path, typeof upstream === "string" ? upstream : url.origin);
      const send = typeof upstream === "string" ? fetch : upstream;
      // The function's server is down or booting.
      return await proxy(req, target, upstreamHeaders(req, keys), send) ?? withCors(unreachableUpstream());
    }
    return kongError(404, "no Route matched with those values");
  };
}

/**
 * What Kong answers for an upstream it cannot reach (a function's server down or booting, Auth stopped):
 * 502 with its JSON message.
 *
 * @returns The answer, without CORS headers.
 * @example
 * ```ts
 * unreachableUpstream().status; // 502
 * ```
 */
export function unreachableUpstream(): Response {
  return kongError(502, "An invalid response was received from the upstream server");
}

/**
 * The `Authorization` header `supabase start`'s Kong sends upstream (its request-transformer's
 * `BearerToken` template), from the caller's `Authorization` and `apikey` headers:
 * 1. an `Authorization` that does not start with `Bearer sb_` (case as written) is kept as sent;
 * 2. else an `apikey` equal to the secret key gives `Bearer <service_role JWT>`;
 * 3. else an `apikey` equal to the publishable key gives `Bearer <anon JWT>`;
 * 4. else the `apikey` itself, as sent (a legacy JWT is copied without a `Bearer ` prefix);
 * 5. with no `apikey` either, no `Authorization` at all.
 * Only the `apikey` header counts here, not the query parameter key-auth also reads.
 *
 * @param headers The caller's request headers.
 * @param keys The project's keys.
 * @returns The header's new value, or undefined for none.
 * @example A caller with only the publishable key reaches Auth as anon
 * ```ts
 * const keys = { publishable: "sb_publishable_x", secret: "sb_secret_y", anon: "anon.jwt", serviceRole: "sr.jwt" };
 * upstreamAuthorization(new Headers({ apikey: "sb_publishable_x" }), keys); // "Bearer anon.jwt"
 * ```
 */
export function upstreamAuthorization(headers: Headers, keys: ProjectKeys): string | undefined {
  const authorization = headers.get("Authorization");
  // Kept even when empty, as Lua's `~= nil` keeps it.
  if (authorization !== null && !authorization.startsWith("Bearer sb_")) return authorization;
  const apikey = headers.get("apikey");
  if (apikey === keys.secret) return `Bearer ${keys.serviceRole}`;
  if (apikey === keys.publishable) return `Bearer ${keys.anon}`;
  return apikey ?? undefined;
}

/** The caller's headers with `Authorization` rewritten by {@linkcode upstreamAuthorization}. */
function upstreamHeaders(req: Request, keys: ProjectKeys): Headers {
  const headers = new Headers(req.headers);
  const authorization = upstreamAuthorization(req.headers, keys);
  if (authorization === undefined) headers.delete("Authorization");
  else headers.set("Authorization", authorization);
  return headers;
}

/** Kong's key-auth: the `apikey` header, else the query parameter; an empty header is a missing key. */
function checkApiKey(req: Request, url: URL, apiKeys: Set<string>): Response | undefined {
  const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
  if (!key) {
    const refusal = kongError(401, "No API key found in request");
    refusal.headers.set("WWW-Authenticate", 'Key realm="kong"');
    return refusal;
  }
  return apiKeys.has(key) ? undefined : kongError(401, "Invalid authentication credentials");
}

// Kong's cors plugin treats an OPTIONS as a preflight only with both of these headers.
function isPreflight(req: Request): boolean {
  return req.method === "OPTIONS" && req.headers.has("Origin") &&
    req.headers.has("Access-Control-Request-Method");
}

function preflight(req: Request): Response {
  const headers = new Headers({
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": CORS_METHODS,
  });
  const requested = req.headers.get("Access-Control-Request-Headers");
  if (requested !== null) headers.set("Access-Control-Allow-Headers", requested);
  return new Response(null, { status: 200, headers });
}

// Kong's cors plugin in its header filter: with no `origins` configured, `*` replaces the upstream's.
function withCors(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("Access-Control-Allow-Origin", "*");
  return new Response(response.body, { status: response.status, headers });
}

async function proxy(
  req: Request,
  target: URL,
  headers: Headers,
  send: (request: Request) => Promise<Response>,
): Promise<Response | undefined> {
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.set("x-forwarded-host", new URL(req.url).host);
  try {
    // Not `new Request(req, …)`, which would follow the caller's abort signal.
    return await send(
      new Request(target, { method: req.method, headers, body: req.body, redirect: "manual" }),
    );
  } catch {
    return undefined;
  }
}

function kongError(status: number, message: string): Response {
  return Response.json({ message }, { status });
}
