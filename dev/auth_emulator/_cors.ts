/**
 * Supabase Auth's own CORS: the `rs/cors` (v1.11) middleware as GoTrue's `internal/api/api.go` configures
 * it, with every origin allowed, credentials allowed, and GoTrue's short list of request headers.
 *
 * `apikey` is not on that list, so a browser's preflight for supabase-js straight to Auth is refused here,
 * as it is by GoTrue: in a Supabase project the gateway answers preflights before they reach Auth (see
 * `dev/gateway.ts`).
 *
 * @module
 */

const ALLOWED_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
// rs/cors matches the lower-cased, sorted names a browser sends in Access-Control-Request-Headers.
const ALLOWED_HEADERS = [
  "accept",
  "authorization",
  "content-type",
  "x-client-info",
  "x-client-ip",
  "x-jwt-aud",
  "x-supabase-api-version",
  "x-use-cookie",
].sort();
const EXPOSED_HEADERS = "X-Total-Count, Link, X-Supabase-Api-Version";

/**
 * Runs `next` inside GoTrue's CORS middleware: a preflight is answered here (204) without reaching
 * `next`; any other request gets `Vary: Origin`, and, when it has an `Origin`, the allow headers.
 *
 * @param req The request.
 * @param next The router.
 * @returns The response with GoTrue's CORS headers.
 * @example Wrap a handler
 * ```ts
 * const res = await withAuthCors(
 *   new Request("http://127.0.0.1/auth/v1/health", { headers: { Origin: "https://app.example" } }),
 *   () => Promise.resolve(Response.json({})),
 * );
 * console.log(res.headers.get("Access-Control-Allow-Origin")); // "*"
 * ```
 */
export async function withAuthCors(
  req: Request,
  next: (req: Request) => Promise<Response>,
): Promise<Response> {
  const requestedMethod = req.headers.get("Access-Control-Request-Method");
  if (req.method === "OPTIONS" && requestedMethod) return preflight(req, requestedMethod);
  const response = await next(req);
  const headers = new Headers(response.headers);
  headers.append("Vary", "Origin");
  if (req.headers.get("Origin") && isMethodAllowed(req.method)) {
    // rs/cors answers "*" when every origin is allowed, credentials or not.
    headers.set("Access-Control-Allow-Origin", "*");
    headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    headers.set("Access-Control-Allow-Credentials", "true");
  }
  return new Response(response.body, { status: response.status, headers });
}

function preflight(req: Request, requestedMethod: string): Response {
  const headers = new Headers({
    Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  });
  const requestedHeaders = req.headers.get("Access-Control-Request-Headers") ?? "";
  if (req.headers.get("Origin") && isMethodAllowed(requestedMethod) && areAllowed(requestedHeaders)) {
    headers.set("Access-Control-Allow-Origin", "*");
    headers.set("Access-Control-Allow-Methods", requestedMethod);
    if (requestedHeaders !== "") headers.set("Access-Control-Allow-Headers", requestedHeaders);
    headers.set("Access-Control-Allow-Credentials", "true");
  }
  return new Response(null, { status: 204, headers });
}

function isMethodAllowed(method: string): boolean {
  return method === "OPTIONS" || ALLOWED_METHODS.includes(method);
}

// rs/cors's SortedSet.Subsumes: each name allowed, in strictly increasing order.
function areAllowed(csv: string): boolean {
  if (csv === "") return true;
  let last = -1;
  for (const name of csv.split(",")) {
    const position = ALLOWED_HEADERS.indexOf(name);
    if (position <= last) return false;
    last = position;
  }
  return true;
}
