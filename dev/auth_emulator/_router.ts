/**
 * The Auth emulator's HTTP surface: which route answers which path and method under `/auth/v1`, inside
 * GoTrue's CORS, with every error rendered as GoTrue renders it.
 *
 * @module
 */
import type { AuthContext, Route } from "./_context.ts";
import { withAuthCors } from "./_cors.ts";
import { HttpError, toErrorResponse } from "./_errors.ts";
import { adminUser, createUser, listUsers } from "./_admin.ts";
import { oauthSignIn } from "./_external.ts";
import { invite } from "./_invite.ts";
import { logout } from "./_logout.ts";
import { challengeFactor, enrollFactor, verifyFactor } from "./_factors.ts";
import { magicLink, otp, recover } from "./_magic_link.ts";
import { settings } from "./_settings.ts";
import { signup } from "./_signup.ts";
import { token } from "./_token.ts";
import { getUser, updateUser } from "./_user.ts";
import { verify } from "./_verify.ts";
import { listSigningKeys, revokeSigningKey, rotateSigningKeys, SIGNING_KEYS_PATH } from "./_signing_keys.ts";

/** Where Supabase mounts Auth on a project's URL. */
export const AUTH_PREFIX = "/auth/v1";

// GoTrue's routes that the emulator serves, by path and method (`internal/api/api.go`).
const ROUTES: Record<string, Record<string, Route>> = {
  "/signup": { POST: signup },
  "/token": { POST: token },
  "/verify": { GET: verify, POST: verify },
  "/otp": { POST: otp },
  "/magiclink": { POST: magicLink },
  "/recover": { POST: recover },
  "/user": { GET: getUser, PUT: updateUser },
  "/logout": { POST: logout },
  "/factors": { POST: enrollFactor },
  "/invite": { POST: invite },
  "/admin/users": { GET: listUsers, POST: createUser },
  "/settings": { GET: settings },
  // The emulator's own, not GoTrue's: an OAuth provider's answer, given by a service_role caller.
  "/_emulator/oauth_sign_in": { POST: oauthSignIn },
  "/.well-known/jwks.json": { GET: (ctx) => Promise.resolve(Response.json(ctx.keys.jwks)) },
  // The emulator's own, not GoTrue's: the dashboard's key buttons.
  [SIGNING_KEYS_PATH]: { GET: listSigningKeys },
  [`${SIGNING_KEYS_PATH}/rotate`]: { POST: rotateSigningKeys },
  "/health": {
    GET: () =>
      Promise.resolve(Response.json({
        version: "emulator",
        name: "GoTrue",
        description: "GoTrue is a user registration and authentication API",
      })),
  },
};

// Routes with a path parameter, tried when no fixed path matches.
const PATTERN_ROUTES: Array<[RegExp, Record<string, Route>]> = [
  [/^\/admin\/users\/[^/]+$/, { GET: adminUser, PUT: adminUser, DELETE: adminUser }],
  [/^\/factors\/[^/]+\/challenge$/, { POST: challengeFactor }],
  [/^\/factors\/[^/]+\/verify$/, { POST: verifyFactor }],
  [/^\/_emulator\/signing-keys\/[^/]+\/revoke$/, { POST: revokeSigningKey }],
];

/**
 * Builds the request handler for `/auth/v1/*`.
 *
 * @param ctx The emulator's database, keys and settings.
 * @returns A handler that never throws: failures are GoTrue's JSON errors, unexpected ones a bare 500.
 * @example
 * ```ts ignore
 * Deno.serve(createRouter(ctx));
 * ```
 */
export function createRouter(ctx: AuthContext): (req: Request) => Promise<Response> {
  return (req) => withAuthCors(req, (req) => route(ctx, req));
}

async function route(ctx: AuthContext, req: Request): Promise<Response> {
  try {
    const url = new URL(req.url);
    if (!url.pathname.startsWith(`${AUTH_PREFIX}/`)) throw new HttpError(404, "unknown", "Not Found");
    const path = url.pathname.slice(AUTH_PREFIX.length).replace(/(.)\/+$/, "$1");
    const methods = Object.hasOwn(ROUTES, path)
      ? ROUTES[path]
      : PATTERN_ROUTES.find(([pattern]) => pattern.test(path))?.[1];
    if (!methods) throw new HttpError(404, "unknown", "Not Found");
    if (!Object.hasOwn(methods, req.method)) {
      const response = toErrorResponse(new HttpError(405, "unknown", "Method Not Allowed"), req);
      response.headers.set("Allow", Object.keys(methods).join(", "));
      return response;
    }
    return await methods[req.method](ctx, req, url);
  } catch (err) {
    return toErrorResponse(err, req);
  }
}
