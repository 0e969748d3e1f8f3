/**
 * An EMULATOR of Supabase Auth (GoTrue) for the local stack and the tests: not Supabase's code, but a
 * stand-in for the part of its HTTP API that supabase-js uses here, with the behaviour, response shapes,
 * error codes and messages of supabase/auth (looked up in its source) and the gateway's `apikey` and CORS
 * handling in front of it. It reads and writes the real `auth.users`, `auth.sessions` and
 * `auth.refresh_tokens` tables of a database prepared with `dev/supabase_stand_in.sql`.
 *
 * Routes, under `/auth/v1`:
 * - `POST /signup` (email + password; a session when `autoConfirm`, else the unconfirmed user)
 * - `POST /token?grant_type=password` and `?grant_type=refresh_token` (rotation and reuse detection)
 * - `GET /user` (signature, expiry, and that the user and the token's session still exist)
 * - `POST /logout?scope=global|local|others` (deletes `auth.sessions` rows)
 * - `GET /.well-known/jwks.json` and `GET /health` (open, as the gateway leaves them)
 *
 * Not emulated: phone, OTP, magic links, OAuth, SSO, MFA, anonymous sign-ins, `PUT /user`, admin routes,
 * mail, rate limits, and `auth.identities` (the stand-in has no such table; each user's email identity is
 * derived from its `auth.users` row).
 *
 * @module
 */
import postgres from "postgres";
import bcrypt from "bcryptjs";
import type { JWK, JWTPayload } from "jose";
import { API_VERSION_HEADER, GatewayError, HttpError, OAuthError, toErrorResponse } from "./_auth_errors.ts";
import { createAuthKeys, type SigningJwk } from "./_auth_keys.ts";
import {
  endSessions,
  findUserAndSession,
  findUserByEmail,
  type Grant,
  insertUser,
  isBanned,
  refreshSession,
  startSession,
  touchConfirmationSent,
  type UserRow,
} from "./_auth_store.ts";

/** Options for {@linkcode startAuthEmulator} and {@linkcode createAuthEmulator}. */
export interface AuthEmulatorOptions {
  /** A database prepared with the stand-in + migrations, as `supabase_auth_admin` (the role GoTrue uses). */
  databaseUrl: string;
  /** 0 / undefined = a free port on 127.0.0.1; a taken port is a clear error. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /**
   * How access tokens are signed: es256 (default) = ES256 with a `kid`, as new Supabase projects do, the
   * public key served as JWKS; hs256 = legacy, HS256 with `jwtSecret`.
   */
  mode?: "es256" | "hs256";
  /** Legacy JWT secret (default: random, >= 32 chars); also signs the anon and service_role API keys. */
  jwtSecret?: string;
  /** Default true: email confirmed at signup; false leaves `email_confirmed_at` null. */
  autoConfirm?: boolean;
  /** Default 3600. */
  accessTokenTtlSeconds?: number;
  /** The private ES256 JWK (with its `kid`) to sign with, e.g. the previous run's `signingKey`. */
  signingKey?: SigningJwk;
  /**
   * How long after its rotation a refresh token may still be exchanged (GoTrue's
   * `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, default 10 seconds); 0 refuses any reuse at once,
   * except of the parent of the session's active token, which GoTrue always answers with that token.
   */
  refreshTokenReuseIntervalSeconds?: number;
}

/** A running (or mountable) Auth emulator. */
export interface AuthEmulator {
  /** Base URL, e.g. http://127.0.0.1:PORT ; routes live under /auth/v1/... */
  url: string;
  /** `${url}/auth/v1` (the `iss` claim). */
  issuer: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  mode: "es256" | "hs256";
  /** The private ES256 JWK with its `kid` (es256 mode, or when one was given), to reuse across restarts. */
  signingKey?: SigningJwk;
  /** The JWKS document served at `/auth/v1/.well-known/jwks.json`. */
  jwks: { keys: JWK[] };
  /** Handles /auth/v1/* requests; lets a gateway mount the emulator on its own port. */
  handler(req: Request): Promise<Response>;
  /** Signs arbitrary claims with the current access-token key (tests use it for expired/forged-looking tokens). */
  signAccessToken(claims: Record<string, unknown>, options?: { kid?: string }): Promise<string>;
  stop(): Promise<void>;
}

const PREFIX = "/auth/v1";
const AUDIENCE = "authenticated";
const BCRYPT_COST = 10;
const MIN_PASSWORD_LENGTH = 6;
const MAX_PASSWORD_LENGTH = 72;
const INVALID_LOGIN = "Invalid login credentials";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The pattern of github.com/badoux/checkmail, which GoTrue's validateEmail uses.
const EMAIL = new RegExp(
  "^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?" +
    "(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$",
);
// Routes the gateway serves without an apikey (Kong's auth-v1-open-* services).
const OPEN_ROUTES = new Set(["/.well-known/jwks.json", "/health"]);
const ALLOWED_METHODS: Record<string, string[]> = {
  "/signup": ["POST"],
  "/token": ["POST"],
  "/user": ["GET"],
  "/logout": ["POST"],
  "/.well-known/jwks.json": ["GET"],
  "/health": ["GET"],
};

/**
 * Creates the emulator without listening, for a gateway that serves `handler` on its own port.
 *
 * @param options The database, signing mode and keys, and the public base URL (`url`).
 * @returns The emulator; `stop()` closes its database client.
 * @throws {Error} When the secret or signing key is unusable, or the database lacks the auth schema.
 * @example Mount it behind your own server
 * ```ts
 * const auth = await createAuthEmulator({ url: "http://127.0.0.1:54321", databaseUrl });
 * Deno.serve({ port: 54321 }, auth.handler);
 * ```
 */
export async function createAuthEmulator(
  options: AuthEmulatorOptions & { url: string },
): Promise<AuthEmulator> {
  const mode = options.mode ?? "es256";
  const keys = await createAuthKeys(mode, options.jwtSecret, options.signingKey);
  const sql = postgres(options.databaseUrl, { max: 4, onnotice: () => {} });
  try {
    await sql`select 1 from auth.users, auth.sessions, auth.refresh_tokens limit 0`;
  } catch (err) {
    await sql.end();
    throw new Error(
      "The Auth emulator's database lacks the auth schema: apply dev/supabase_stand_in.sql first",
      {
        cause: err,
      },
    );
  }

  const url = options.url.replace(/\/+$/, "");
  const routes = new Routes({
    sql,
    issuer: `${url}${PREFIX}`,
    sign: keys.sign,
    verify: keys.verify,
    jwks: keys.jwks,
    autoConfirm: options.autoConfirm ?? true,
    ttlSeconds: options.accessTokenTtlSeconds ?? 3600,
    reuseIntervalSeconds: options.refreshTokenReuseIntervalSeconds ?? 10,
  });
  const apiKeys = new Set([keys.anonKey, keys.serviceRoleKey]);

  return {
    url,
    issuer: `${url}${PREFIX}`,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    jwtSecret: keys.jwtSecret,
    mode,
    signingKey: keys.signingKey,
    jwks: keys.jwks,
    handler: async (req) => withCors(req, await dispatch(req, routes, apiKeys)),
    signAccessToken: keys.sign,
    stop: () => sql.end(),
  };
}

/**
 * Starts the emulator on its own port.
 *
 * @param options The database, port, signing mode and keys.
 * @returns The running emulator; `stop()` shuts the server down and closes its database client.
 * @throws {Error} When the port is taken, or as {@linkcode createAuthEmulator} does.
 * @example Sign up through supabase-js
 * ```ts
 * const auth = await startAuthEmulator({ databaseUrl });
 * const supabase = createClient(auth.url, auth.anonKey, { auth: { persistSession: false } });
 * await supabase.auth.signUp({ email: "ada@example.com", password: "correct horse" });
 * await auth.stop();
 * ```
 */
export async function startAuthEmulator(options: AuthEmulatorOptions): Promise<AuthEmulator> {
  const hostname = options.hostname ?? "127.0.0.1";
  // The URL (and so the `iss` claim) needs the real port, known only once listening; until the emulator
  // is built around it, nothing can have learnt the port, so no request waits on this.
  let handler: (req: Request) => Promise<Response> = () =>
    Promise.resolve(new Response(null, { status: 503 }));
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port: options.port ?? 0, onListen: () => {} }, (req) => handler(req));
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(`Port ${options.port} (Auth emulator) is already in use; choose another one`, {
        cause: err,
      });
    }
    throw err;
  }
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let emulator: AuthEmulator;
  try {
    emulator = await createAuthEmulator({ ...options, url: `http://${host}:${server.addr.port}` });
  } catch (err) {
    await server.shutdown();
    throw err;
  }
  handler = emulator.handler;
  return {
    ...emulator,
    async stop() {
      await server.shutdown();
      await emulator.stop();
    },
  };
}

async function dispatch(req: Request, routes: Routes, apiKeys: Set<string>): Promise<Response> {
  try {
    const url = new URL(req.url);
    if (!url.pathname.startsWith(`${PREFIX}/`)) throw new HttpError(404, "unknown", "Not Found");
    const path = url.pathname.slice(PREFIX.length).replace(/(.)\/+$/, "$1");
    if (req.method === "OPTIONS") return preflight(req);
    if (!OPEN_ROUTES.has(path)) checkApiKey(req, url, apiKeys);
    const allowed = ALLOWED_METHODS[path];
    if (!allowed) throw new HttpError(404, "unknown", "Not Found");
    if (!allowed.includes(req.method)) {
      const response = toErrorResponse(new HttpError(405, "unknown", "Method Not Allowed"), req);
      response.headers.set("Allow", [...allowed, "OPTIONS"].join(", "));
      return response;
    }
    switch (path) {
      case "/signup":
        return await routes.signup(req);
      case "/token":
        return await routes.token(req, url);
      case "/user":
        return await routes.user(req);
      case "/logout":
        return await routes.logout(req, url);
      case "/.well-known/jwks.json":
        return Response.json(routes.deps.jwks);
      default:
        return Response.json({
          version: "emulator",
          name: "GoTrue",
          description: "GoTrue is a user registration and authentication API",
        });
    }
  } catch (err) {
    return toErrorResponse(err, req);
  }
}

// Kong's key-auth accepts the key as the `apikey` header or query parameter.
function checkApiKey(req: Request, url: URL, apiKeys: Set<string>): void {
  const key = req.headers.get("apikey") ?? url.searchParams.get("apikey");
  if (!key) {
    throw new GatewayError(
      401,
      "No API key found in request",
      "No `apikey` request header or url param was found.",
    );
  }
  if (!apiKeys.has(key)) {
    throw new GatewayError(
      401,
      "Invalid API key",
      "Double check your Supabase `anon` or `service_role` API key.",
    );
  }
}

// supabase-js in a browser calls Auth cross-origin, with credentials allowed, as Supabase's gateway does.
function preflight(req: Request): Response {
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
      "Access-Control-Allow-Headers": req.headers.get("Access-Control-Request-Headers") ??
        "authorization, apikey, content-type, x-client-info, x-supabase-api-version",
      "Access-Control-Max-Age": "3600",
    },
  });
}

function withCors(req: Request, response: Response): Response {
  const origin = req.headers.get("Origin");
  const headers = new Headers(response.headers);
  headers.set("Access-Control-Allow-Origin", origin ?? "*");
  if (origin) headers.set("Access-Control-Allow-Credentials", "true");
  headers.set("Access-Control-Expose-Headers", `X-Total-Count, Link, ${API_VERSION_HEADER}`);
  headers.append("Vary", "Origin");
  return new Response(response.body, { status: response.status, headers });
}

interface RouteDeps {
  sql: postgres.Sql;
  issuer: string;
  sign(claims: Record<string, unknown>): Promise<string>;
  verify(token: string): Promise<JWTPayload>;
  jwks: { keys: JWK[] };
  autoConfirm: boolean;
  ttlSeconds: number;
  reuseIntervalSeconds: number;
}

/** The endpoint handlers, each following its GoTrue counterpart step by step. */
class Routes {
  constructor(readonly deps: RouteDeps) {}

  /** GoTrue `Signup` (email provider only). */
  async signup(req: Request): Promise<Response> {
    const params = await readParams(req, "SignupParams", {
      email: "string",
      phone: "string",
      password: "string",
      data: "object",
    });
    const email = (params.email as string | undefined) ?? "";
    const phone = (params.phone as string | undefined) ?? "";
    const password = (params.password as string | undefined) ?? "";
    const data = (params.data as Record<string, unknown> | undefined) ?? {};
    if (email === "" && phone === "") {
      throw new HttpError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled");
    }
    if (password === "") throw new HttpError(400, "validation_failed", "Signup requires a valid password");
    const weak = checkPasswordStrength(password);
    if (weak) throw weak;
    if (email !== "" && phone !== "") {
      throw new HttpError(
        400,
        "validation_failed",
        "Only an email address or phone number should be provided on signup.",
      );
    }
    if (email === "") throw new HttpError(400, "phone_provider_disabled", "Phone signups are disabled");
    const normalized = validateEmail(email);
    const aud = requestAud(req);
    const { sql, autoConfirm } = this.deps;

    const existing = await findUserByEmail(sql, normalized, aud);
    if (existing?.email_confirmed_at || (existing && autoConfirm)) {
      // For an unconfirmed user GoTrue would confirm it here without checking the password (possible only
      // after switching autoConfirm on); the emulator refuses that as it refuses a confirmed one.
      if (autoConfirm) throw new HttpError(422, "user_already_exists", "User already registered");
      // With confirmations on, GoTrue answers as if signing up, with a fake user, to hide who exists.
      return Response.json(obfuscatedUser(normalized, aud, data));
    }
    if (existing) return Response.json(userJson(await touchConfirmationSent(sql, existing.id)));

    // Hash outside any transaction: bcrypt is slow on purpose.
    const passwordHash = await bcrypt.hash(password, BCRYPT_COST);
    let user: UserRow;
    try {
      user = await insertUser(sql, {
        email: normalized,
        aud,
        passwordHash,
        // GoTrue's Confirm() records the verification in user_metadata too.
        userMetadata: autoConfirm ? { ...data, email_verified: true } : data,
        confirmed: autoConfirm,
      });
    } catch (err) {
      // A concurrent sign-up with the same email won the race.
      if (err instanceof postgres.PostgresError && err.code === "23505") {
        throw new HttpError(422, "user_already_exists", "User already registered");
      }
      throw err;
    }
    if (!autoConfirm) return Response.json(userJson(user));
    return Response.json(
      await this.#session(await startSession(sql, user.id, req.headers.get("User-Agent"))),
    );
  }

  /** GoTrue `Token`: the password and refresh_token grants. */
  async token(req: Request, url: URL): Promise<Response> {
    switch (url.searchParams.get("grant_type")) {
      case "password":
        return await this.#passwordGrant(req);
      case "refresh_token":
        return await this.#refreshTokenGrant(req);
      default:
        throw new HttpError(400, "invalid_credentials", "unsupported_grant_type");
    }
  }

  /** GoTrue `UserGet`. */
  async user(req: Request): Promise<Response> {
    const { user, claims } = await this.#authenticate(req);
    const header = req.headers.get("X-JWT-AUD");
    const tokenAud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (!tokenAud || (header !== null && header !== "" && header !== tokenAud)) {
      throw new HttpError(400, "validation_failed", "Token audience doesn't match request audience");
    }
    return Response.json(userJson(user));
  }

  /** GoTrue `Logout`. */
  async logout(req: Request, url: URL): Promise<Response> {
    const { user, sessionId } = await this.#authenticate(req);
    const scope = url.searchParams.get("scope") ?? "";
    if (scope !== "" && scope !== "global" && scope !== "local" && scope !== "others") {
      throw new HttpError(400, "validation_failed", `Unsupported logout scope ${JSON.stringify(scope)}`);
    }
    await endSessions(this.deps.sql, user.id, sessionId, scope === "" ? "global" : scope);
    return new Response(null, { status: 204 });
  }

  async #passwordGrant(req: Request): Promise<Response> {
    const params = await readParams(req, "PasswordGrantParams", {
      email: "string",
      phone: "string",
      password: "string",
    });
    const email = (params.email as string | undefined) ?? "";
    const phone = (params.phone as string | undefined) ?? "";
    const password = (params.password as string | undefined) ?? "";
    if (email !== "" && phone !== "") {
      throw new HttpError(
        400,
        "validation_failed",
        "Only an email address or phone number should be provided on login.",
      );
    }
    if (phone !== "") throw new HttpError(422, "phone_provider_disabled", "Phone logins are disabled");
    if (email === "") throw new HttpError(400, "validation_failed", "missing email or phone");

    const user = await findUserByEmail(this.deps.sql, email, requestAud(req));
    if (!user?.encrypted_password) throw new HttpError(400, "invalid_credentials", INVALID_LOGIN);
    if (isBanned(user)) throw new HttpError(400, "user_banned", "User is banned");
    if (!(await bcrypt.compare(password, user.encrypted_password))) {
      throw new HttpError(400, "invalid_credentials", INVALID_LOGIN);
    }
    if (!user.email_confirmed_at) throw new HttpError(400, "email_not_confirmed", "Email not confirmed");

    const grant = await startSession(this.deps.sql, user.id, req.headers.get("User-Agent"));
    const session = await this.#session(grant);
    // GoTrue signs in with a password that no longer meets the policy, and says so.
    const weak = checkPasswordStrength(password);
    if (weak?.code === "weak_password") return Response.json({ ...session, ...weak.extra });
    return Response.json(session);
  }

  async #refreshTokenGrant(req: Request): Promise<Response> {
    const params = await readParams(req, "RefreshTokenGrantParams", { refresh_token: "string" });
    const token = (params.refresh_token as string | undefined) ?? "";
    if (token === "") throw new OAuthError("invalid_request", "refresh_token required");
    const result = await refreshSession(
      this.deps.sql,
      token,
      this.deps.reuseIntervalSeconds,
      req.headers.get("User-Agent"),
    );
    switch (result) {
      case "not_found":
        throw new HttpError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
      case "banned":
        throw new HttpError(400, "user_banned", "Invalid Refresh Token: User Banned");
      case "no_session":
        throw new HttpError(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found");
      case "expired":
        throw new HttpError(400, "session_expired", "Invalid Refresh Token: Session Expired");
      case "already_used":
        throw new HttpError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
      default:
        return Response.json(await this.#session(result));
    }
  }

  /**
   * GoTrue's `requireAuthentication`: a bearer token with a valid signature, naming a user that exists
   * and a session that exists. Beyond GoTrue, a soft-deleted or banned user is refused here too: GoTrue
   * ends their sessions when it deletes or bans them, while tests here set those columns directly.
   */
  async #authenticate(req: Request): Promise<{ user: UserRow; sessionId?: string; claims: JWTPayload }> {
    const match = /^(?:B|b)earer (\S+$)/.exec(req.headers.get("Authorization") ?? "");
    if (!match) throw new HttpError(401, "no_authorization", "This endpoint requires a Bearer token");
    const claims = await this.deps.verify(match[1]);
    if (typeof claims.sub !== "string" || claims.sub === "") {
      throw new HttpError(403, "bad_jwt", "invalid claim: missing sub claim");
    }
    if (!UUID.test(claims.sub)) {
      throw new HttpError(400, "bad_jwt", "invalid claim: sub claim must be a UUID");
    }
    const rawSession = claims.session_id;
    const hasSession = typeof rawSession === "string" && rawSession !== "" &&
      rawSession !== "00000000-0000-0000-0000-000000000000";
    if (
      rawSession !== undefined && rawSession !== "" &&
      (typeof rawSession !== "string" || !UUID.test(rawSession))
    ) {
      throw new HttpError(403, "bad_jwt", "invalid claim: session_id claim must be a UUID");
    }
    const sessionId = hasSession ? rawSession : undefined;
    const { user, session } = await findUserAndSession(this.deps.sql, claims.sub, sessionId);
    if (!user || user.deleted_at) {
      throw new HttpError(403, "user_not_found", "User from sub claim in JWT does not exist");
    }
    if (isBanned(user)) throw new HttpError(403, "user_banned", "User is banned");
    if (sessionId !== undefined && !session) {
      throw new HttpError(403, "session_not_found", "Session from session_id claim in JWT does not exist");
    }
    return { user, sessionId, claims };
  }

  /** GoTrue's `AccessTokenResponse` for a grant, with a freshly signed access token. */
  async #session({ user, session, refreshToken }: Grant): Promise<Record<string, unknown>> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + this.deps.ttlSeconds;
    // GoTrue's claim order (golang-jwt registered claims first, then Supabase's).
    const accessToken = await this.deps.sign({
      iss: this.deps.issuer,
      sub: user.id,
      aud: user.aud ?? AUDIENCE,
      exp,
      iat,
      email: user.email ?? "",
      phone: user.phone ?? "",
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      role: user.role ?? "",
      aal: session.aal ?? "aal1",
      // Every session here began with a password (GoTrue keeps the method in mfa_amr_claims).
      amr: [{ method: "password", timestamp: Math.floor(session.created_at.getTime() / 1000) }],
      session_id: session.id,
      is_anonymous: user.is_anonymous,
    });
    return {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: this.deps.ttlSeconds,
      expires_at: exp,
      refresh_token: refreshToken,
      user: userJson(user),
    };
  }
}

type FieldType = "string" | "object";

/**
 * Reads a JSON body the way Go's `json.Unmarshal` into GoTrue's params struct does: `null` or absent
 * fields are left empty, a field of the wrong type or a body that is not an object is `bad_json`.
 */
async function readParams(
  req: Request,
  goType: string,
  fields: Record<string, FieldType>,
): Promise<Record<string, unknown>> {
  const fail = (detail: string): never => {
    throw new HttpError(400, "bad_json", `Could not parse request body as JSON: ${detail}`);
  };
  let body: unknown;
  try {
    body = JSON.parse(await req.text());
  } catch {
    return fail("invalid character or unexpected end of JSON input");
  }
  if (body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    return fail(`json: cannot unmarshal ${goKind(body)} into Go value of type api.${goType}`);
  }
  const params: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(fields)) {
    const value = (body as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    const ok = type === "string"
      ? typeof value === "string"
      : typeof value === "object" && !Array.isArray(value);
    if (!ok) {
      const goField = type === "string" ? "string" : "map[string]interface {}";
      fail(
        `json: cannot unmarshal ${goKind(value)} into Go struct field ${goType}.${name} of type ${goField}`,
      );
    }
    params[name] = value;
  }
  return params;
}

function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  return typeof value === "object" ? "object" : typeof value;
}

/** GoTrue's `checkPasswordStrength` with the hosted defaults (6 characters, no required classes). */
function checkPasswordStrength(password: string): HttpError | undefined {
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_LENGTH) {
    return new HttpError(
      400,
      "validation_failed",
      `Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    const message = `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`;
    return new HttpError(422, "weak_password", message, { weak_password: { reasons: ["length"] } });
  }
  return undefined;
}

/** GoTrue's `validateEmail`: required, at most 255 characters, checkmail's format; lower-cased. */
function validateEmail(email: string): string {
  if (email.length > 255) throw new HttpError(400, "validation_failed", "An email address is too long");
  if (!EMAIL.test(email)) {
    throw new HttpError(400, "validation_failed", "Unable to validate email address: invalid format");
  }
  return email.toLowerCase();
}

// GoTrue reads the audience from X-JWT-AUD, else uses its default.
function requestAud(req: Request): string {
  return req.headers.get("X-JWT-AUD") || AUDIENCE;
}

/** `models.User` as GoTrue serialises it (omitempty fields left out when null). */
function userJson(user: UserRow): Record<string, unknown> {
  const time = (value: Date | null) => value?.toISOString();
  const json: Record<string, unknown> = {
    id: user.id,
    aud: user.aud ?? "",
    role: user.role ?? "",
    email: user.email ?? "",
    email_confirmed_at: time(user.email_confirmed_at),
    invited_at: time(user.invited_at),
    phone: user.phone ?? "",
    phone_confirmed_at: time(user.phone_confirmed_at),
    confirmation_sent_at: time(user.confirmation_sent_at),
    confirmed_at: time(user.confirmed_at),
    last_sign_in_at: time(user.last_sign_in_at),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: user.email ? [emailIdentity(user)] : [],
    created_at: time(user.created_at),
    updated_at: time(user.updated_at),
    banned_until: time(user.banned_until),
    deleted_at: time(user.deleted_at),
    is_anonymous: user.is_anonymous,
  };
  return Object.fromEntries(Object.entries(json).filter(([, value]) => value !== undefined));
}

// The stand-in has no auth.identities, so the email identity GoTrue would have stored is derived.
function emailIdentity(user: UserRow): Record<string, unknown> {
  return {
    identity_id: user.id,
    id: user.id,
    user_id: user.id,
    identity_data: {
      email: user.email,
      email_verified: user.email_confirmed_at !== null,
      phone_verified: false,
      sub: user.id,
    },
    provider: "email",
    last_sign_in_at: (user.last_sign_in_at ?? user.created_at)?.toISOString(),
    created_at: user.created_at?.toISOString(),
    updated_at: user.updated_at?.toISOString(),
    email: user.email,
  };
}

/** GoTrue's `sanitizeUser`: a made-up unconfirmed user, so a sign-up does not reveal who exists. */
function obfuscatedUser(email: string, aud: string, data: Record<string, unknown>): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(),
    aud,
    role: "",
    email,
    phone: "",
    confirmation_sent_at: now,
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}
