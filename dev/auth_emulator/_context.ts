/**
 * What every route of the Auth emulator is given: its database, its keys, its settings and its mailer.
 *
 * @module
 */
import type postgres from "postgres";
import type { AuthKeys } from "./_keys.ts";
import type { SessionLimits } from "./_sessions.ts";
import type { WebAuthnSettings } from "./_webauthn.ts";

/** One mail as GoTrue's template mailer hands it to its SMTP client. */
export interface AuthMail {
  to: string;
  subject: string;
  html: string;
}

/**
 * The project's switches for what Auth offers, as `supabase start` hands them to GoTrue (each named by its
 * `GOTRUE_*` variable). Switched off, GoTrue answers with its own refusal, and so does the emulator.
 */
export interface AuthFeatures {
  /** Anyone may sign up (`GOTRUE_DISABLE_SIGNUP`, negated; `[auth] enable_signup`). */
  signup: boolean;
  /** The email provider (`GOTRUE_EXTERNAL_EMAIL_ENABLED`; `[auth.email] enable_signup`). */
  emailProvider: boolean;
  /** TOTP factors may be enrolled (`GOTRUE_MFA_TOTP_ENROLL_ENABLED`; `[auth.mfa.totp] enroll_enabled`). */
  totpEnroll: boolean;
  /** TOTP factors may be challenged and verified (`GOTRUE_MFA_TOTP_VERIFY_ENABLED`). */
  totpVerify: boolean;
  /**
   * A password change in a session older than 24 hours needs a reauthentication code
   * (`GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION`; `[auth.email] secure_password_change`).
   */
  securePasswordChange: boolean;
  /** Users may link and unlink identities (`GOTRUE_SECURITY_MANUAL_LINKING_ENABLED`). */
  manualLinking: boolean;
}

/** The shared state of one emulator instance, built once by `createAuthEmulator`. */
export interface AuthContext {
  /** The client for `auth.*` of the project's database. */
  sql: postgres.Sql;
  /** The `iss` claim, and GoTrue's `API_EXTERNAL_URL`: the public base URL followed by `/auth/v1`. */
  issuer: string;
  /** Signs and verifies access tokens, and publishes the JWKS. */
  keys: Pick<AuthKeys, "sign" | "verify" | "jwks" | "status" | "rotate" | "revoke">;
  /** Whether sign-ups are confirmed at once (GoTrue's `GOTRUE_MAILER_AUTOCONFIRM`). */
  autoConfirm: boolean;
  /** Access-token lifetime (GoTrue's `GOTRUE_JWT_EXP`). */
  ttlSeconds: number;
  /** GoTrue's `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`. */
  reuseIntervalSeconds: number;
  /** GoTrue's `GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED`: a reuse outside the interval ends the session. */
  refreshTokenRotation: boolean;
  /** GoTrue's `GOTRUE_SESSIONS_TIMEBOX`, `…_INACTIVITY_TIMEOUT` and `…_SINGLE_PER_USER`. */
  sessionLimits: SessionLimits;
  /** The clock sessions are judged by (refresh, admin routes); tests move it instead of waiting. */
  now(): Date;
  /** GoTrue's `GOTRUE_SITE_URL`: where links land by default. */
  siteUrl: string;
  /** GoTrue's `GOTRUE_URI_ALLOW_LIST`: further allowed redirect URLs (globs). */
  uriAllowList: string[];
  /** GoTrue's `GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED`: an email change is confirmed from both addresses. */
  secureEmailChange: boolean;
  /** GoTrue's `GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED`. */
  anonymousSignIns: boolean;
  /** What the project switched on and off. */
  features: AuthFeatures;
  /** GoTrue's `GOTRUE_SMTP_MAX_FREQUENCY`, in milliseconds. */
  maxFrequencyMs: number;
  /** GoTrue's `GOTRUE_MAILER_OTP_LENGTH`. */
  otpLength: number;
  /** GoTrue's `GOTRUE_MAILER_OTP_EXP`, in seconds. */
  otpExpirySeconds: number;
  /** GoTrue's `[auth.mfa.web_authn]` flags and relying party (`GOTRUE_WEBAUTHN_RP_*`). */
  webAuthn: WebAuthnSettings;
  /** Sends a mail (GoTrue's SMTP client, or its no-op client when no SMTP host is set). */
  sendMail(mail: AuthMail): Promise<void>;
}

/** A route: the request, its parsed URL and the emulator's context in, GoTrue's answer out. */
export type Route = (ctx: AuthContext, req: Request, url: URL) => Promise<Response>;
