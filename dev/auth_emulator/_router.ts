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
import { identityLinking, samlDisabled } from "./_features.ts";
import { generateLink } from "./_generate_link.ts";
import { reauthenticate } from "./_reauthenticate.ts";
import { resend } from "./_resend.ts";
import { deleteUserFactor, listUserFactors, unenrollFactor } from "./_factor_management.ts";
import { magicLink, otp, recover } from "./_magic_link.ts";
import { settings } from "./_settings.ts";
import { signup } from "./_signup.ts";
import { token } from "./_token.ts";
import { getUser, updateUser } from "./_user.ts";
import { verify } from "./_verify.ts";
import { listSigningKeys, revokeSigningKey, rotateSigningKeys, SIGNING_KEYS_PATH } from "./_signing_keys.ts";

/** Where Supabase mounts Auth on a project's URL. */
export const AUTH_PREFIX = "/auth/v1";

// GoTrue's routes that the emulator serves, by path and method (`internal/api/api.go`); a path parameter is
// written `{name}`. `docs/auth-emulator.md` is generated from this table (`deno task auth-routes`).
const ROUTES: Record<string, Record<string, Route>> = {
  "/signup": { POST: signup },
  "/token": { POST: token },
  "/verify": { GET: verify, POST: verify },
  "/otp": { POST: otp },
  "/magiclink": { POST: magicLink },
  "/recover": { POST: recover },
  "/resend": { POST: resend },
  "/reauthenticate": { GET: reauthenticate },
  "/user": { GET: getUser, PUT: updateUser },
  "/user/identities/authorize": { GET: identityLinking },
  "/user/identities/{identity_id}": { DELETE: identityLinking },
  "/logout": { POST: logout },
  "/factors": { POST: enrollFactor },
  "/factors/{factor_id}": { DELETE: unenrollFactor },
  "/factors/{factor_id}/challenge": { POST: challengeFactor },
  "/factors/{factor_id}/verify": { POST: verifyFactor },
  "/sso": { POST: samlDisabled },
  "/sso/saml/metadata": { GET: samlDisabled },
  "/sso/saml/acs": { POST: samlDisabled },
  "/invite": { POST: invite },
  "/admin/users": { GET: listUsers, POST: createUser },
  "/admin/users/{user_id}": { GET: adminUser, PUT: adminUser, DELETE: adminUser },
  "/admin/users/{user_id}/factors": { GET: listUserFactors },
  "/admin/users/{user_id}/factors/{factor_id}": { DELETE: deleteUserFactor },
  "/admin/generate_link": { POST: generateLink },
  "/settings": { GET: settings },
  // The emulator's own, not GoTrue's: an OAuth provider's answer, given by a service_role caller.
  "/_emulator/oauth_sign_in": { POST: oauthSignIn },
  "/.well-known/jwks.json": { GET: (ctx) => Promise.resolve(Response.json(ctx.keys.jwks)) },
  // The emulator's own, not GoTrue's: the dashboard's key buttons.
  [SIGNING_KEYS_PATH]: { GET: listSigningKeys },
  [`${SIGNING_KEYS_PATH}/rotate`]: { POST: rotateSigningKeys },
  [`${SIGNING_KEYS_PATH}/{kid}/revoke`]: { POST: revokeSigningKey },
  "/health": {
    GET: () =>
      Promise.resolve(Response.json({
        version: "emulator",
        name: "GoTrue",
        description: "GoTrue is a user registration and authentication API",
      })),
  },
};

/** Every path (parameters as `{name}`) the emulator answers under `/auth/v1`, with its methods. */
export const ROUTE_TABLE: ReadonlyArray<{ path: string; methods: string[] }> = Object.entries(ROUTES)
  .map(([path, methods]) => ({ path, methods: Object.keys(methods) }));

// Paths with parameters, matched when no fixed path is equal.
const PATTERNS: Array<[RegExp, Record<string, Route>]> = Object.entries(ROUTES)
  .filter(([path]) => path.includes("{"))
  .map((
    [path, methods],
  ) => [new RegExp(`^${path.replace(/\{[^}]+\}/g, "[^/]+").replaceAll(".", "\\.")}$`), methods]);

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
    const methods = Object.hasOwn(ROUTES, path) && !path.includes("{")
      ? ROUTES[path]
      : PATTERNS.find(([pattern]) => pattern.test(path))?.[1];
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
