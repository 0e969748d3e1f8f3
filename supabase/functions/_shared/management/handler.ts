/**
 * The management functions' routes (`tenants`, `invitations`; docs/tenants.md) on the request skeleton
 * (`../core/serve.ts`): each is given the verified caller, its path's segments, the query and a reader of
 * its JSON body, and adds what it likes to the request's log line.
 *
 * The skeleton answers an unknown path 404 `not_found` and a known path with another method 405 with
 * `Allow`, before anything is verified; then a missing or refused bearer token is 401, as the exchange's
 * verifier refuses it, with the function's name as the realm of the challenge. (Kept apart from `app.ts` so
 * that the routes' modules and the composition root do not import each other.)
 *
 * @module
 */
import type { ServiceConfig } from "../core/config.ts";
import type { ApiError } from "../core/errors.ts";
import { bearerToken, readJsonObject } from "../core/http.ts";
import type { RequestLogEntry } from "../core/log.ts";
import {
  createFunctionHandler,
  type JsonAnswer,
  refuseEveryRequest,
  type RouteMethod,
} from "../core/serve.ts";
import type { VerifyToken } from "../core/verify.ts";

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
  handle(ctx: RouteContext): Promise<JsonAnswer>;
}

/** One structured log line per request. Never a token, a secret or an email address. */
export interface ManagementLogEntry extends RequestLogEntry {
  /** The matched route, e.g. `PATCH /tenants/:tenant/members/:user_id`, or null. */
  route: string | null;
  user_id: string | null;
  /** Whether an invitation's mail went out (POST invitations only). */
  email_sent?: boolean;
}

/** The collaborators of {@linkcode createManagementHandler}. */
export interface ManagementHandlerDeps {
  /** The function's name: its path (`/tenants`), its log lines' `msg` and its realm. */
  name: string;
  /** CORS origins, the body limit and how long the body may take. */
  config: Pick<ServiceConfig, "allowedOrigins" | "maxBodyBytes" | "bodyTimeoutMs">;
  verifyToken: VerifyToken;
  routes: readonly Route[];
  /** Where the request's log line goes (default: one JSON line on stdout, stderr for errors). */
  log?: (entry: ManagementLogEntry) => void;
  /** A configuration error: every request but a preflight is answered with it (500). */
  misconfigured?: ApiError;
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
  const { name, config, verifyToken } = deps;
  return createFunctionHandler<ManagementLogEntry>({
    name,
    allowedOrigins: config.allowedOrigins,
    methods: METHODS,
    entry: (req) => ({
      level: "info",
      msg: name,
      route: null,
      outcome: "ok",
      status: 200,
      method: req.method,
      latency_ms: 0,
      user_id: null,
    }),
    log: deps.log,
    routes: deps.misconfigured ? refuseEveryRequest(deps.misconfigured) : deps.routes.map((route) => ({
      method: route.method,
      path: route.path,
      handle: async ({ req, url, params, entry }) => {
        entry.route = `${route.method} /${name}${route.path}`;
        const caller = await verifyToken(bearerToken(req.headers.get("authorization"), name));
        entry.user_id = caller.userId;
        return await route.handle({
          userId: caller.userId,
          claims: caller.claims,
          params,
          query: url.searchParams,
          body: () => readJsonObject(req, config),
          entry,
        });
      },
    })),
  });
}
