/**
 * An EMULATOR of Supabase Auth (GoTrue) for the local stack and the tests: not Supabase's code, but a
 * stand-in for the part of its HTTP API that supabase-js uses here, with the behaviour, response shapes,
 * error codes, messages and CORS of supabase/auth (looked up in its source). It reads and writes the real
 * `auth.users`, `auth.sessions` and `auth.refresh_tokens` tables of a database prepared with
 * `dev/supabase_stand_in.sql`.
 *
 * It does only what Auth itself does: the `apikey` check and the gateway's CORS in front of Auth are
 * `dev/gateway.ts`'s, as they are Kong's in a Supabase project. Run on its own, it accepts any `apikey`.
 *
 * Routes, under `/auth/v1`: GoTrue's sign-up, token grants (`password`, `refresh_token`, `pkce`), mailed
 * links (`/verify`, `/otp`, `/magiclink`, `/recover`, `/resend`), `/reauthenticate`, `/user`, `/logout`,
 * TOTP and WebAuthn factors (enrol, challenge, verify, unenrol; WebAuthn's ceremony `_webauthn.ts`'s, when
 * `webAuthn` enables it), the admin API (`/invite`, users, their factors, `/admin/generate_link`),
 * `/settings`, the JWKS and `/health`; GoTrue's refusals for what the project switched off (sign-ups, the
 * email provider, TOTP, WebAuthn, manual linking) and what is always off here (SAML SSO, Web3, ID-token
 * providers, phone); and the emulator's own `/_emulator/signing-keys` (the dashboard's key buttons) and
 * `/_emulator/oauth_sign_in` (what an OAuth provider would answer, then GoTrue's callback logic).
 * docs/auth-emulator.md lists them route by route with what each emulates and what not, generated from
 * `ROUTE_TABLE`.
 *
 * Mails are GoTrue's default templates and subjects, with links to `{url}/auth/v1/verify?token=…&type=…
 * &redirect_to=…`; each token is stored as GoTrue stores it (the SHA-224 hash, on the user and in
 * `auth.one_time_tokens`). Without `smtp`, mails are dropped, as GoTrue's no-op mailer does.
 *
 * PKCE: sign-up, magic link, recovery and email change take `code_challenge` + `code_challenge_method`,
 * keep a flow state in `auth.flow_state`, and mail a `pkce_` token whose link redirects with `?code=`.
 *
 * Not emulated: phone, OAuth redirects (see `/_emulator/oauth_sign_in`), SSO, phone MFA, passkeys, hooks,
 * custom mail templates, rate limits other than `max_frequency`, and `amr` methods other than `password`,
 * `totp` and `mfa/webauthn`.
 *
 * @module
 */
import postgres from "postgres";
import type { JWK } from "jose";
import type { AuthContext, AuthFeatures } from "./_context.ts";
import {
  createAuthKeys,
  type SigningJwk,
  type SigningKeySet,
  type SigningKeyStatus,
  type SigningMode,
} from "./_keys.ts";
import { NO_SESSION_LIMITS, type SessionLimits } from "./_sessions.ts";
import { sendMail, type SmtpSettings } from "../mailbox/mod.ts";
import { AUTH_PREFIX, createRouter } from "./_router.ts";
import { endsConnection, isWriteAfterClose } from "../../supabase/functions/_shared/core/db.ts";
import type { WebAuthnSettings } from "./_webauthn.ts";

export { ROUTE_TABLE } from "./_router.ts";

export type {
  AuthFeatures,
  SessionLimits,
  SigningJwk,
  SigningKeySet,
  SigningKeyStatus,
  SigningMode,
  WebAuthnSettings,
};

// The CLI's `[auth] site_url` default.
const DEFAULT_SITE_URL = "http://127.0.0.1:3000";
export { totpCode } from "./_totp.ts";

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
  mode?: SigningMode;
  /** Legacy JWT secret (default: random, >= 32 chars); also signs the anon and service_role API keys. */
  jwtSecret?: string;
  /** Default true: email confirmed at signup; false leaves `email_confirmed_at` null and mails a link. */
  autoConfirm?: boolean;
  /** Where mails go (GoTrue's `GOTRUE_SMTP_*`); none: mails are dropped, as GoTrue's no-op mailer does. */
  smtp?: SmtpSettings;
  /** Where links land by default (`[auth] site_url`); default `http://127.0.0.1:3000`, the CLI's. */
  siteUrl?: string;
  /** Further allowed `redirect_to` URLs, globs (`[auth] additional_redirect_urls`); default none. */
  redirectUrls?: string[];
  /** Confirm an email change from both addresses (`[auth.email] double_confirm_changes`); default true. */
  secureEmailChange?: boolean;
  /** Allow anonymous sign-ins (`[auth] enable_anonymous_sign_ins`); default false. */
  anonymousSignIns?: boolean;
  /**
   * Sign-up, the email provider, TOTP enrolment and verification, secure password change and manual
   * linking, each on or off; default GoTrue's: all on but secure password change and manual linking.
   */
  features?: Partial<AuthFeatures>;
  /** The least time between two mails of a kind to a user (`[auth.email] max_frequency`); default 1. */
  maxFrequencySeconds?: number;
  /** Digits of a mailed code (`[auth.email] otp_length`); default 6. */
  otpLength?: number;
  /** How long a mailed link stays valid (`[auth.email] otp_expiry`); default 3600. */
  otpExpirySeconds?: number;
  /** Default 3600. */
  accessTokenTtlSeconds?: number;
  /** The ES256 keys to reuse (in use, standby, previously used), e.g. the previous run's `signingKeys`. */
  signingKeys?: SigningKeySet;
  /** Told the private ES256 keys after each rotation or revocation, to keep them across restarts. */
  onSigningKeysChange?: (keys: SigningKeySet) => void | Promise<void>;
  /**
   * How long after its rotation a refresh token may still be exchanged (GoTrue's
   * `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, default 10 seconds); 0 refuses any reuse at once,
   * except of the parent of the session's active token, which GoTrue always answers with that token.
   */
  refreshTokenReuseIntervalSeconds?: number;
  /**
   * A reuse outside the interval deletes the session (GoTrue's
   * `GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED`, `[auth] enable_refresh_token_rotation`); default true.
   * Off, such a reuse is only refused.
   */
  refreshTokenRotation?: boolean;
  /**
   * When sessions end by themselves (`GOTRUE_SESSIONS_TIMEBOX`, `…_INACTIVITY_TIMEOUT`,
   * `…_SINGLE_PER_USER`; `[auth.sessions]`): on refresh and on admin routes, as GoTrue; default none.
   */
  sessionLimits?: SessionLimits;
  /** The clock sessions are judged by (default: the system's); tests move it instead of waiting. */
  now?: () => Date;
  /**
   * WebAuthn factors (`[auth.mfa.web_authn]`, GoTrue's `GOTRUE_MFA_WEB_AUTHN_*` and `GOTRUE_WEBAUTHN_RP_*`):
   * default off, as GoTrue; the relying party defaults to `siteUrl`'s host and origin, where GoTrue
   * refuses to start without one.
   */
  webAuthn?: Partial<WebAuthnSettings>;
}

/** GoTrue's defaults for {@linkcode AuthFeatures}. */
export const DEFAULT_FEATURES: AuthFeatures = {
  signup: true,
  emailProvider: true,
  totpEnroll: true,
  totpVerify: true,
  securePasswordChange: false,
  manualLinking: false,
};

/** A running (or mountable) Auth emulator. */
export interface AuthEmulator {
  /** Base URL, e.g. http://127.0.0.1:PORT ; routes live under /auth/v1/... */
  url: string;
  /** `${url}/auth/v1` (the `iss` claim). */
  issuer: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  mode: SigningMode;
  /** The private ES256 keys by state (es256 mode, or when some were given), to reuse across restarts. */
  readonly signingKeys: SigningKeySet | undefined;
  /** The JWKS document served at `/auth/v1/.well-known/jwks.json` now. */
  readonly jwks: { keys: JWK[] };
  /** Rotates the ES256 keys, as `POST /auth/v1/_emulator/signing-keys/rotate` does. */
  rotateSigningKeys(): Promise<SigningKeyStatus[]>;
  /** Revokes a previously used key, as `POST /auth/v1/_emulator/signing-keys/{kid}/revoke` does. */
  revokeSigningKey(kid: string): Promise<SigningKeyStatus[]>;
  /** How many requests each route has had, as `"GET /user"` → count (tests count Auth calls with it). */
  requestCounts(): Record<string, number>;
  /** Handles /auth/v1/* requests; lets a gateway mount the emulator on its own port. */
  handler(req: Request): Promise<Response>;
  /** Signs arbitrary claims with the current access-token key (tests use it for expired/forged-looking tokens). */
  signAccessToken(claims: Record<string, unknown>, options?: { kid?: string }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Creates the emulator without listening, for a gateway that serves `handler` on its own port.
 *
 * @param options The database, signing mode and keys, and the public base URL (`url`).
 * @returns The emulator; `stop()` closes its database client.
 * @throws {Error} When the secret or signing key is unusable, or the database lacks the auth schema.
 * @example Mount it behind your own server
 * ```ts ignore
 * const auth = await createAuthEmulator({ url: "http://127.0.0.1:54321", databaseUrl });
 * Deno.serve({ port: 54321 }, auth.handler);
 * ```
 */
export async function createAuthEmulator(
  options: AuthEmulatorOptions & { url: string },
): Promise<AuthEmulator> {
  const mode = options.mode ?? "es256";
  const keys = await createAuthKeys(mode, {
    jwtSecret: options.jwtSecret,
    keySet: options.signingKeys,
    onChange: options.onSigningKeysChange,
  });
  const sql = postgres(options.databaseUrl, { max: 4, onnotice: () => {} });
  // A Postgres restart must not end the process the emulator runs in (GoTrue, a Go process of its own, just
  // fails those requests): postgres.js 3.4.9 throws a write to a closed connection outside any promise, and
  // leaves some queries' connection failures unhandled (its type fetch, a failure shared by pipelined queries).
  const ignoreWriteAfterClose = (event: ErrorEvent) => {
    if (isWriteAfterClose(event.error)) event.preventDefault();
  };
  const ignoreConnectionFailure = (event: PromiseRejectionEvent) => {
    if (endsConnection(event.reason) || isWriteAfterClose(event.reason)) event.preventDefault();
  };
  globalThis.addEventListener("error", ignoreWriteAfterClose);
  globalThis.addEventListener("unhandledrejection", ignoreConnectionFailure);
  const unlisten = () => {
    globalThis.removeEventListener("error", ignoreWriteAfterClose);
    globalThis.removeEventListener("unhandledrejection", ignoreConnectionFailure);
  };
  try {
    await sql`select 1 from auth.users, auth.sessions, auth.refresh_tokens, auth.identities,
                            auth.one_time_tokens, auth.mfa_factors limit 0`;
  } catch (err) {
    await sql.end();
    unlisten();
    throw new Error(
      "The Auth emulator's database lacks the auth schema: apply dev/supabase_stand_in.sql first",
      { cause: err },
    );
  }

  const url = options.url.replace(/\/+$/, "");
  const smtp = options.smtp;
  const counts = new Map<string, number>();
  const ctx: AuthContext = {
    sql,
    issuer: `${url}${AUTH_PREFIX}`,
    keys,
    autoConfirm: options.autoConfirm ?? true,
    ttlSeconds: options.accessTokenTtlSeconds ?? 3600,
    reuseIntervalSeconds: options.refreshTokenReuseIntervalSeconds ?? 10,
    refreshTokenRotation: options.refreshTokenRotation ?? true,
    sessionLimits: options.sessionLimits ?? NO_SESSION_LIMITS,
    now: options.now ?? (() => new Date()),
    siteUrl: options.siteUrl ?? DEFAULT_SITE_URL,
    uriAllowList: options.redirectUrls ?? [],
    secureEmailChange: options.secureEmailChange ?? true,
    anonymousSignIns: options.anonymousSignIns ?? false,
    features: { ...DEFAULT_FEATURES, ...options.features },
    maxFrequencyMs: (options.maxFrequencySeconds ?? 1) * 1000,
    otpLength: options.otpLength ?? 6,
    otpExpirySeconds: options.otpExpirySeconds ?? 3600,
    webAuthn: webAuthnSettings(options.siteUrl ?? DEFAULT_SITE_URL, options.webAuthn),
    sendMail: smtp
      ? async (mail) => {
        await sendMail(smtp, mail);
      }
      : () => Promise.resolve(),
  };

  const router = createRouter(ctx);
  return {
    url,
    issuer: ctx.issuer,
    anonKey: keys.anonKey,
    serviceRoleKey: keys.serviceRoleKey,
    jwtSecret: keys.jwtSecret,
    mode,
    get signingKeys() {
      return keys.keySet;
    },
    get jwks() {
      return keys.jwks;
    },
    rotateSigningKeys: () => keys.rotate(),
    revokeSigningKey: (kid) => keys.revoke(kid),
    requestCounts: () => Object.fromEntries(counts),
    handler: (req) => {
      const { pathname } = new URL(req.url);
      const route = `${req.method} ${pathname.slice(AUTH_PREFIX.length)}`;
      counts.set(route, (counts.get(route) ?? 0) + 1);
      return router(req);
    },
    signAccessToken: keys.sign,
    stop: async () => {
      // Bounded: after a Postgres restart postgres.js may hold a query that never settles.
      await sql.end({ timeout: 5 });
      unlisten();
    },
  };
}

/**
 * Starts the emulator on its own port.
 *
 * @param options The database, port, signing mode and keys.
 * @returns The running emulator; `stop()` shuts the server down and closes its database client.
 * @throws {Error} When the port is taken, or as {@linkcode createAuthEmulator} does.
 * @example Sign up through supabase-js
 * ```ts ignore
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
  // Not a spread copy: `jwks` and `signingKeys` are getters that must stay live.
  const stopEmulator = emulator.stop;
  emulator.stop = async () => {
    await server.shutdown();
    await stopEmulator();
  };
  return emulator;
}

// The WebAuthn settings, the relying party taken from the site URL where none is given.
function webAuthnSettings(siteUrl: string, given: Partial<WebAuthnSettings> = {}): WebAuthnSettings {
  const site = new URL(siteUrl);
  return {
    enrollEnabled: false,
    verifyEnabled: false,
    rpId: site.hostname,
    rpOrigins: [site.origin],
    rpDisplayName: site.hostname,
    ...given,
  };
}
