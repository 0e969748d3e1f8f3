/**
 * The one request skeleton of every function: CORS on every answer and on preflights, routing by method and
 * path, the route's work, every failure rendered in one place, and one log line per request, whatever
 * happened ({@linkcode createFunctionHandler}). Also what a function serves when it cannot load its
 * configuration ({@linkcode createAppFromEnv}).
 *
 * Routes are data ({@linkcode Route}): a method and a path under the function's own, whose `:name` segments
 * are captured and percent-decoded (or a RegExp for the whole path, whose named groups are). A path no route
 * has is 404 `not_found`, and a known path with another method 405 with `Allow`, before any work. Failures
 * are rendered by `toErrorResponse` with the function's name as the realm of its `WWW-Authenticate`
 * challenges, so the codes and shapes are the contract's; what the log line holds, and how loud it is, is
 * `log.ts`'s business.
 *
 * @module
 */
import { ConfigError, type Env, parseAllowedOrigins } from "./config.ts";
import { ApiError, type ErrorFormat, toErrorResponse } from "./errors.ts";
import { corsHeaders, jsonResponse } from "./http.ts";
import { describeCause, jsonLineLog, logLevel, type RequestLogEntry } from "./log.ts";

/** A built function and what it holds open. */
export interface FunctionApp {
  /** The request handler, for `Deno.serve` or a gateway. */
  handler: (req: Request) => Promise<Response>;
  /** Closes the Postgres pool (waiting at most `timeoutSeconds` for running queries). Idempotent. */
  close(timeoutSeconds?: number): Promise<void>;
}

/** The methods a route may answer. */
export type RouteMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/** What a route's work is given. */
export interface RouteRequest<E> {
  req: Request;
  url: URL;
  /** The path's captured segments, percent-decoded. */
  params: Record<string, string>;
  /** The request's log line, for the fields the function adds. */
  entry: E;
  /** The format the route's errors are answered in (see {@linkcode Route.errorFormat}). */
  format: ErrorFormat;
}

/** A JSON answer: a status (200 by default) and a body. */
export interface JsonAnswer {
  status?: number;
  body: object;
}

/** A route: a method, a path and its work. */
export interface Route<E> {
  /** The method it answers; `*` for any (a function that answers every request alike). */
  method: RouteMethod | "*";
  /**
   * A path under the function's own (`/functions/v1/<name>` or `/<name>`), such as `""` or
   * `/:tenant/members/:user_id`, one trailing `/` tolerated; or a RegExp the whole path must match.
   */
  path: string | RegExp;
  /** The format its errors are answered in, from the request (default `json`). */
  errorFormat?: (req: Request) => ErrorFormat;
  /** The work: a JSON answer (sent with CORS headers), or a response of its own. */
  handle(request: RouteRequest<E>): Promise<JsonAnswer | Response>;
}

/** What makes a function of the skeleton. */
export interface FunctionSpec<E extends RequestLogEntry> {
  /** The function's name: its path, and the realm of its challenges. */
  name: string;
  /** CORS origins: `"*"` or the exact origins allowed. */
  allowedOrigins: "*" | readonly string[];
  /** The methods a preflight allows, and a 405's `Allow` when the refusal names none (`POST, OPTIONS`). */
  methods: string;
  routes: readonly Route<E>[];
  /** A request's log line before anything happened. */
  entry(req: Request): E;
  /** Where the request's log line goes (default: one JSON line on stdout, stderr for errors). */
  log?: (entry: E) => void;
  /** The refusal of a known path's other methods (default: 405 naming them in `Allow`). */
  methodNotAllowed?: (allowed: readonly string[]) => ApiError;
}

/**
 * Builds a function's handler.
 *
 * @param spec The function's name, CORS origins and methods, routes and log line.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts
 * const handler = createFunctionHandler({
 *   name: "hello",
 *   allowedOrigins: "*",
 *   methods: "GET, OPTIONS",
 *   routes: [{ method: "GET", path: "/:who", handle: ({ params }) => Promise.resolve({ body: params }) }],
 *   entry: (req) => ({ level: "info", msg: "hello", outcome: "ok", status: 200, method: req.method, latency_ms: 0 }),
 * });
 * await handler(new Request("http://localhost/functions/v1/hello/world")); // 200 {"who":"world"}
 * ```
 */
export function createFunctionHandler<E extends RequestLogEntry>(
  spec: FunctionSpec<E>,
): (req: Request) => Promise<Response> {
  const log = spec.log ?? jsonLineLog;
  const routes = spec.routes.map((route) => ({ route, pattern: _pattern(spec.name, route.path) }));
  const methodNotAllowed = spec.methodNotAllowed ?? _methodNotAllowed;
  return async (req) => {
    const started = performance.now();
    const cors = corsHeaders(req, spec.allowedOrigins, spec.methods);
    const entry = spec.entry(req);
    let format: ErrorFormat = "json";
    let response: Response;
    try {
      if (req.method === "OPTIONS") {
        entry.outcome = "preflight";
        response = new Response(null, { status: 204, headers: cors });
      } else {
        const url = new URL(req.url);
        const { route, params } = _match(routes, url.pathname, req.method, methodNotAllowed);
        format = route.errorFormat?.(req) ?? "json";
        const answer = await route.handle({ req, url, params, entry, format });
        response = answer instanceof Response
          ? answer
          : jsonResponse(answer.status ?? 200, answer.body, cors);
      }
    } catch (err) {
      await req.body?.cancel().catch(() => {});
      const rendered = toErrorResponse(err, { realm: spec.name, allow: spec.methods, format });
      response = jsonResponse(rendered.status, rendered.body, { ...cors, ...rendered.headers });
      entry.outcome = err instanceof ApiError ? err.code : "internal_error";
      entry.level = logLevel(rendered.status, entry.outcome);
      entry.cause = describeCause(err instanceof ApiError && err.cause !== undefined ? err.cause : err);
    }
    entry.status = response.status;
    entry.latency_ms = Math.round((performance.now() - started) * 10) / 10;
    try {
      log(entry);
    } catch {
      // A broken log sink must not turn an answer into a failure.
    }
    return response;
  };
}

/**
 * The routes of a function that answers every request but a preflight with one error: the 500
 * `server_misconfigured` of a function that could not load its configuration.
 *
 * @param error The error to answer with.
 * @returns One route, for any method and path.
 * @example
 * ```ts ignore
 * createFunctionHandler({ ...spec, routes: refuseEveryRequest(new ConfigError("SUPABASE_URL", "is not set")) });
 * ```
 */
export function refuseEveryRequest<E>(error: ApiError): Route<E>[] {
  return [{ method: "*", path: /^/, handle: () => Promise.reject(error) }];
}

/**
 * Builds a function from the environment. A missing or unsafe setting is logged once, naming it
 * ({@linkcode reportConfigError}), and the function then serves `misconfigured`'s handler, which answers 500
 * `server_misconfigured` (with CORS), instead of failing at import.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @param load Reads the function's configuration, throwing a `ConfigError`.
 * @param build Builds the function from it.
 * @param misconfigured Builds the handler of a function without a configuration, given the CORS origins.
 * @returns The function.
 * @example
 * ```ts ignore
 * const app = createAppFromEnv(env, loadManagementConfig, (config) => createManagementApp("tenants", config), misconfigured);
 * ```
 */
export function createAppFromEnv<C>(
  env: Env,
  load: (env: Env) => C,
  build: (config: C) => FunctionApp,
  misconfigured: (
    error: ConfigError,
    allowedOrigins: "*" | readonly string[],
  ) => (req: Request) => Promise<Response>,
): FunctionApp {
  let config: C;
  try {
    config = load(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { handler: misconfigured(err, reportConfigError(err, env)), close: () => Promise.resolve() };
  }
  return build(config);
}

/**
 * What a function that cannot load its configuration does first: logs the error once (naming the setting,
 * never its value), and reads the CORS origins it can still answer with (`*` when `ALLOWED_ORIGINS` itself is
 * at fault, so errors stay readable).
 *
 * @param err The configuration error.
 * @param env The environment.
 * @returns The origins for the misconfigured handler's answers.
 * @example
 * ```ts
 * import { ConfigError } from "./config.ts";
 *
 * reportConfigError(new ConfigError("SUPABASE_URL", "is not set"), { ALLOWED_ORIGINS: "*" }); // "*"
 * ```
 */
export function reportConfigError(err: ConfigError, env: Env): "*" | readonly string[] {
  console.error(JSON.stringify({
    level: "error",
    msg: "config_invalid",
    setting: err.setting,
    problem: `${err.setting} ${err.problem}`,
  }));
  try {
    return parseAllowedOrigins(env.ALLOWED_ORIGINS);
  } catch {
    return "*"; // Already reported if it was the setting at fault.
  }
}

/** A route's path as one pattern of the whole path: the function's own prefix first, for a string path. */
function _pattern(name: string, path: string | RegExp): RegExp {
  if (path instanceof RegExp) return path;
  const segments = path.split("/").filter((s) => s !== "").map((s) =>
    s.startsWith(":") ? `/(?<${s.slice(1)}>[^/]+)` : `/${_escape(s)}`
  );
  return new RegExp(`^(?:/functions/v1)?/${_escape(name)}${segments.join("")}/?$`);
}

function _escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The route for a path and method, and its captured segments; 404 or 405 otherwise. */
function _match<E>(
  routes: ReadonlyArray<{ route: Route<E>; pattern: RegExp }>,
  pathname: string,
  method: string,
  methodNotAllowed: (allowed: readonly string[]) => ApiError,
): { route: Route<E>; params: Record<string, string> } {
  const allowed: string[] = [];
  for (const { route, pattern } of routes) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    if (route.method !== "*" && route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    for (const [name, raw] of Object.entries(match.groups ?? {})) {
      if (raw === undefined) continue;
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        throw new ApiError("invalid_request", `The path's ${name} is not well-formed`);
      }
    }
    return { route, params };
  }
  if (allowed.length > 0) throw methodNotAllowed(allowed);
  throw new ApiError("not_found", "No such route");
}

function _methodNotAllowed(allowed: readonly string[]): ApiError {
  return new ApiError("method_not_allowed", `Use ${allowed.join(" or ")} here`, {
    headers: { Allow: [...allowed, "OPTIONS"].join(", ") },
  });
}
