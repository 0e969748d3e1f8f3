/**
 * The request pipeline of the management functions (`tenants`, `invitations`; docs/tenants.md): CORS and
 * preflights, a small router, the bearer token verified as the exchange verifies it, the route's work, one
 * JSON reply and one structured log line, whatever happened.
 *
 * Routes are declared as data ({@linkcode Route}): a method and a path under the function's own, whose
 * `:name` segments are captured. An unknown path is 404 `not_found` and a known path with another method
 * 405 with `Allow`, before anything is verified; then a missing or refused token is 401. Failures are
 * rendered by `toErrorResponse`, as the exchange's are, so the codes and shapes are the contract's.
 *
 * @module
 */
import type { ServiceConfig } from "./config.ts";
import { type ErrorCode, ExchangeError, toErrorResponse } from "./errors.ts";
import { bearerToken, corsHeaders, jsonResponse, readJsonObject } from "./http.ts";
import { describeCause, type LogCause, type LogLevel, logLevel } from "./log.ts";
import type { VerifyToken } from "./verify.ts";

/** The methods a route may answer. */
export type RouteMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/** What a route's work is given. */
export interface RouteContext {
  /** The verified caller's id. */
  userId: string;
  /** The verified claims, for the caller's transaction. */
  claims: Record<string, unknown>;
  /** The path's captured segments, percent-decoded. */
  params: Record<string, string>;
  /** The query string. */
  query: URLSearchParams;
  /** Reads the body: a JSON object, or null when there is none. */
  body(): Promise<Record<string, unknown> | null>;
  /** The request's log line, for fields a route adds (e.g. `email_sent`). */
  entry: ManagementLogEntry;
}

/** A route: a method, a path under the function (`""`, `/:tenant/members/:user_id`) and its work. */
export interface Route {
  method: RouteMethod;
  path: string;
  /** Answers with a status (200 by default) and a JSON body. */
  handle(ctx: RouteContext): Promise<{ status?: number; body: object }>;
}

/** One structured log line per request. Never a token, a secret or an email address. */
export interface ManagementLogEntry {
  level: LogLevel;
  /** The function's name. */
  msg: string;
  /** The matched route, e.g. `PATCH /tenants/:tenant/members/:user_id`, or null. */
  route: string | null;
  /** `ok`, `preflight`, or the error code. */
  outcome: "ok" | "preflight" | ErrorCode;
  status: number;
  method: string;
  latency_ms: number;
  user_id: string | null;
  /** Whether an invitation's mail went out (POST invitations only). */
  email_sent?: boolean;
  /** For failures: the underlying error's class and code. */
  cause?: LogCause;
}

/** The collaborators of {@linkcode createManagementHandler}. */
export interface ManagementHandlerDeps {
  /** The function's name: its path prefix (`/tenants`) and its log lines' `msg`. */
  name: string;
  /** CORS origins, the body limit and how long the body may take. */
  config: Pick<ServiceConfig, "allowedOrigins" | "maxBodyBytes" | "bodyTimeoutMs">;
  verifyToken: VerifyToken;
  routes: readonly Route[];
  /** Where the request's log line goes (default: one JSON line on stdout, stderr for errors). */
  log?: (entry: ManagementLogEntry) => void;
  /** A configuration error: every request but a preflight is answered with it (500). */
  misconfigured?: ExchangeError;
}

const METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS";

/**
 * Builds a management function's handler.
 *
 * @param deps The function's name, configuration, verifier and routes.
 * @returns A handler for `Deno.serve`.
 * @example
 * ```ts ignore
 * Deno.serve(createManagementHandler({ name: "tenants", config, verifyToken, routes: tenantsRoutes(deps) }));
 * ```
 */
export function createManagementHandler(deps: ManagementHandlerDeps): (req: Request) => Promise<Response> {
  const log = deps.log ?? _jsonLine;
  const compiled = deps.routes.map((route) => ({ route, segments: _segments(route.path) }));
  const prefix = new RegExp(`^(?:/functions/v1)?/${deps.name}(?=/|$)`);
  return async (req) => {
    const started = performance.now();
    const cors = corsHeaders(req, deps.config.allowedOrigins, METHODS);
    const entry: ManagementLogEntry = {
      level: "info",
      msg: deps.name,
      route: null,
      outcome: "ok",
      status: 200,
      method: req.method,
      latency_ms: 0,
      user_id: null,
    };
    let response: Response;
    try {
      if (req.method === "OPTIONS") {
        entry.outcome = "preflight";
        response = new Response(null, { status: 204, headers: cors });
      } else {
        if (deps.misconfigured) throw deps.misconfigured;
        const url = new URL(req.url);
        const match = _match(compiled, prefix, url.pathname, req.method);
        entry.route = `${match.route.method} /${deps.name}${match.route.path}`;
        const caller = await deps.verifyToken(bearerToken(req.headers.get("authorization")));
        entry.user_id = caller.userId;
        const result = await match.route.handle({
          userId: caller.userId,
          claims: caller.claims,
          params: match.params,
          query: url.searchParams,
          body: () => readJsonObject(req, deps.config),
          entry,
        });
        response = jsonResponse(result.status ?? 200, result.body, cors);
      }
    } catch (err) {
      await req.body?.cancel().catch(() => {});
      const rendered = toErrorResponse(err);
      response = jsonResponse(rendered.status, rendered.body, { ...cors, ...rendered.headers });
      entry.outcome = err instanceof ExchangeError ? err.code : "internal_error";
      entry.level = logLevel(rendered.status, entry.outcome);
      entry.cause = describeCause(err instanceof ExchangeError && err.cause !== undefined ? err.cause : err);
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

type Segment = { literal: string } | { param: string };

function _segments(path: string): Segment[] {
  return path.split("/").filter((s) => s !== "").map((s) =>
    s.startsWith(":") ? { param: s.slice(1) } : { literal: s }
  );
}

/** The route for a path and method, and its captured segments; 404 or 405 (with `Allow`) otherwise. */
function _match(
  routes: ReadonlyArray<{ route: Route; segments: Segment[] }>,
  prefix: RegExp,
  pathname: string,
  method: string,
): { route: Route; params: Record<string, string> } {
  const notFound = () => new ExchangeError("not_found", "No such route");
  const rest = prefix.exec(pathname);
  if (!rest) throw notFound();
  // What follows the prefix is "" or "/…"; one trailing "/" is tolerated.
  const tail = pathname.slice(rest[0].length).replace(/\/$/, "");
  const parts = tail === "" ? [] : tail.slice(1).split("/");
  const allowed: string[] = [];
  for (const { route, segments } of routes) {
    if (segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const fits = segments.every((segment, i) => {
      if ("literal" in segment) return segment.literal === parts[i];
      params[segment.param] = parts[i];
      return parts[i] !== "";
    });
    if (!fits) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    for (const [name, raw] of Object.entries(params)) {
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        throw new ExchangeError("invalid_request", `The path's ${name} is not well-formed`);
      }
    }
    return { route, params };
  }
  if (allowed.length > 0) {
    throw new ExchangeError("method_not_allowed", `Use ${allowed.join(" or ")} here`, {
      headers: { Allow: [...allowed, "OPTIONS"].join(", ") },
    });
  }
  throw notFound();
}

function _jsonLine(entry: ManagementLogEntry): void {
  const line = JSON.stringify(entry);
  if (entry.level === "error") console.error(line);
  else console.log(line);
}
