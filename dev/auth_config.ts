/**
 * The Auth settings of `supabase/config.toml` that the local stack follows, read as `supabase start` reads
 * them and hands them to Supabase Auth (supabase/cli `internal/start/start.go` `buildGotrueEnv`):
 *
 * | config.toml                                     | GoTrue                                            |
 * | ----------------------------------------------- | ------------------------------------------------- |
 * | `[auth] site_url`                               | `GOTRUE_SITE_URL`                                 |
 * | `[auth] additional_redirect_urls`               | `GOTRUE_URI_ALLOW_LIST`                           |
 * | `[auth] enable_signup`                          | `GOTRUE_DISABLE_SIGNUP` (negated)                 |
 * | `[auth] enable_anonymous_sign_ins`              | `GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED`         |
 * | `[auth] enable_manual_linking`                  | `GOTRUE_SECURITY_MANUAL_LINKING_ENABLED`          |
 * | `[auth] enable_refresh_token_rotation`          | `GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED`  |
 * | `[auth] refresh_token_reuse_interval`           | `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`    |
 * | `[auth.sessions] timebox`, `inactivity_timeout` | `GOTRUE_SESSIONS_TIMEBOX`, `…_INACTIVITY_TIMEOUT` |
 * | `[auth.email] enable_signup`                    | `GOTRUE_EXTERNAL_EMAIL_ENABLED`                   |
 * | `[auth.email] enable_confirmations`             | `GOTRUE_MAILER_AUTOCONFIRM` (negated)             |
 * | `[auth.email] secure_password_change`           | `GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTH…` |
 * | `[auth.email] double_confirm_changes`           | `GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED`       |
 * | `[auth.email] max_frequency`                    | `GOTRUE_SMTP_MAX_FREQUENCY`                       |
 * | `[auth.email] otp_length`, `otp_expiry`         | `GOTRUE_MAILER_OTP_LENGTH`, `…_OTP_EXP`           |
 * | `[auth.email.smtp]` (when `enabled`)            | `GOTRUE_SMTP_*`                                   |
 * | `[local_smtp]` (`[inbucket]` before) sender     | `GOTRUE_SMTP_ADMIN_EMAIL`, `…_SENDER_NAME`        |
 * | `[auth.mfa.totp] enroll_enabled`, `verify_…`    | `GOTRUE_MFA_TOTP_ENROLL_ENABLED`, `…_VERIFY_…`    |
 * | `[auth.mfa.web_authn]` `enroll_…`, `verify_…`   | `GOTRUE_MFA_WEB_AUTHN_ENROLL_…`, `…_VERIFY_…`     |
 * | `[auth.webauthn]` `rp_id`, `rp_display_name`, … | `GOTRUE_WEBAUTHN_RP_ID`, `…_RP_DISPLAY_NAME`, …   |
 *
 * Values written `env(NAME)` are taken from the environment passed in, as the CLI substitutes them.
 *
 * Single session per user (`GOTRUE_SESSIONS_SINGLE_PER_USER`) is a dashboard setting with no key in
 * `config.toml` (the CLI refuses unknown keys): it is read from `AUTH_SESSIONS_SINGLE_PER_USER` in the
 * environment, the name the function reads it by.
 *
 * @module
 */
import { parse } from "smol-toml";
import { DEFAULT_SENDER, type SmtpSettings } from "./mailbox/mod.ts";
import { parseGoDuration } from "../supabase/functions/_shared/core/go_duration.ts";
import { parseGoBool } from "../supabase/functions/_shared/core/go_bool.ts";
import type { SessionLimits } from "../supabase/functions/_shared/core/config.ts";
import type { WebAuthnSettings } from "./auth_emulator/mod.ts";

/** An `[auth.mfa.<factor>]` table's `enroll_enabled` and `verify_enabled`. */
export interface MfaFlags {
  enrollEnabled: boolean;
  verifyEnabled: boolean;
}

/** What the Auth emulator takes from `supabase/config.toml`. */
export interface AuthConfig {
  /** `[auth] site_url`: where links land when no allowed `redirect_to` is given. */
  siteUrl: string;
  /** `[auth] additional_redirect_urls`: further allowed `redirect_to` URLs (globs). */
  additionalRedirectUrls: string[];
  /** `[auth] enable_signup`: off, only invited (or admin-created) users join. */
  enableSignup: boolean;
  /** `[auth] enable_anonymous_sign_ins`. */
  enableAnonymousSignIns: boolean;
  /** `[auth] enable_manual_linking`. */
  enableManualLinking: boolean;
  /** `[auth] enable_refresh_token_rotation`: a refresh token reused outside the interval ends its session. */
  enableRefreshTokenRotation: boolean;
  /** `[auth] refresh_token_reuse_interval`, in seconds. */
  refreshTokenReuseIntervalSeconds: number;
  /**
   * `[auth.sessions] timebox` and `inactivity_timeout` (0 or unset: none, as the CLI passes them only when
   * positive), and `AUTH_SESSIONS_SINGLE_PER_USER` from the environment.
   */
  sessions: SessionLimits;
  /** `[auth.email] enable_signup`: the email provider itself (sign-up and sign-in by email). */
  emailEnableSignup: boolean;
  /** `[auth.email] secure_password_change`: a password change in an old session needs a mailed code. */
  securePasswordChange: boolean;
  /** `[auth.mfa.totp] enroll_enabled` and `verify_enabled`. */
  totp: MfaFlags;
  /** `[auth.email] enable_confirmations`: new addresses must be confirmed by mail. */
  enableConfirmations: boolean;
  /** `[auth.email] double_confirm_changes`: an email change is confirmed from both addresses. */
  doubleConfirmChanges: boolean;
  /** `[auth.email] max_frequency`, in seconds: the least time between two mails of a kind to a user. */
  maxFrequencySeconds: number;
  /** `[auth.email] otp_length`: digits of the code in each mail. */
  otpLength: number;
  /** `[auth.email] otp_expiry`, in seconds: how long a mailed link or code stays valid. */
  otpExpirySeconds: number;
  /** `[auth.email.smtp]` when `enabled = true`: mail goes there instead of the local mailbox. */
  smtp?: SmtpSettings;
  /** The local mailbox's sender (`[local_smtp]`/`[inbucket]` `admin_email`, `sender_name`). */
  sender: Pick<SmtpSettings, "admin_email" | "sender_name">;
  /**
   * `[auth.mfa.web_authn]` flags, and the relying party of `[auth.webauthn]` when that section is there
   * (newer CLIs; without it the emulator takes `site_url`'s host and origin).
   */
  webAuthn: Partial<WebAuthnSettings> & MfaFlags;
}

/** The values the CLI uses when `config.toml` leaves a setting out (its `config.toml` template). */
export const DEFAULT_AUTH_CONFIG: AuthConfig = {
  siteUrl: "http://127.0.0.1:3000",
  additionalRedirectUrls: [],
  enableSignup: true,
  enableAnonymousSignIns: false,
  enableManualLinking: false,
  enableRefreshTokenRotation: true,
  refreshTokenReuseIntervalSeconds: 10,
  sessions: { timeboxSeconds: null, inactivityTimeoutSeconds: null, singlePerUser: false },
  emailEnableSignup: true,
  securePasswordChange: false,
  totp: { enrollEnabled: false, verifyEnabled: false },
  enableConfirmations: false,
  doubleConfirmChanges: true,
  maxFrequencySeconds: 1,
  otpLength: 6,
  otpExpirySeconds: 3600,
  sender: DEFAULT_SENDER,
  webAuthn: { enrollEnabled: false, verifyEnabled: false },
};

/** The project's `supabase/config.toml`. */
export const CONFIG_TOML: URL = new URL("../supabase/config.toml", import.meta.url);

type Table = Record<string, unknown>;

const TYPE_CHECKS = {
  string: (value: unknown) => typeof value === "string",
  number: (value: unknown) => typeof value === "number",
  boolean: (value: unknown) => typeof value === "boolean",
  "string[]": (value: unknown) => Array.isArray(value) && value.every((v) => typeof v === "string"),
};

/**
 * Reads the Auth settings from the text of a `config.toml`.
 *
 * @param toml The file's text.
 * @param env The environment `env(NAME)` values are taken from.
 * @returns The settings, with the CLI's defaults for what the file leaves out.
 * @throws {Error} When the file is not TOML, or a setting has the wrong type, naming the setting.
 * @example
 * ```ts
 * const config = parseAuthConfig('[auth.email]\nenable_confirmations = true\n', {});
 * console.log(config.enableConfirmations, config.siteUrl); // true "http://127.0.0.1:3000"
 * ```
 */
export function parseAuthConfig(toml: string, env: Record<string, string>): AuthConfig {
  const root = parse(toml) as Table;
  const auth = table(root, "auth");
  const email = table(auth, "email", "auth");
  const smtp = table(email, "smtp", "auth.email");
  const sessions = table(auth, "sessions", "auth");
  const mfa = table(auth, "mfa", "auth");
  const relyingParty = table(auth, "webauthn", "auth");
  const local = { ...table(root, "inbucket"), ...table(root, "local_smtp") };
  const read = <T>(t: Table, key: string, where: string, type: keyof typeof TYPE_CHECKS, fallback: T): T => {
    const value = typeof t[key] === "string" ? substitute(t[key] as string, env) : t[key];
    if (value === undefined) return fallback;
    if (!TYPE_CHECKS[type](value)) {
      throw new Error(`supabase/config.toml: [${where}] ${key} must be a ${type}`);
    }
    return value as T;
  };
  const d = DEFAULT_AUTH_CONFIG;
  const duration = (t: Table, key: string, where: string, fallback: string): number => {
    const text = read(t, key, where, "string", fallback);
    try {
      return parseGoDuration(text);
    } catch (err) {
      throw new Error(`supabase/config.toml: [${where}] ${key}: ${(err as Error).message}`);
    }
  };
  const maxFrequencyMs = duration(email, "max_frequency", "auth.email", "1s");
  const positiveSeconds = (ms: number) => (ms > 0 ? ms / 1000 : null);
  const sender = {
    admin_email: read(local, "admin_email", "local_smtp", "string", d.sender.admin_email),
    sender_name: read(local, "sender_name", "local_smtp", "string", d.sender.sender_name),
  };
  // An `[auth.mfa.<factor>]` table's flags, with the CLI's own check (pkg/config `mfa.validate`), so that
  // a file it refuses is refused here too.
  const mfaFlags = (factor: "totp" | "web_authn", fallback: MfaFlags): MfaFlags => {
    const where = `auth.mfa.${factor}`;
    const t = table(mfa, factor, "auth.mfa");
    const flags = {
      enrollEnabled: read(t, "enroll_enabled", where, "boolean", fallback.enrollEnabled),
      verifyEnabled: read(t, "verify_enabled", where, "boolean", fallback.verifyEnabled),
    };
    if (flags.enrollEnabled && !flags.verifyEnabled) {
      throw new Error(`supabase/config.toml: [${where}] enroll_enabled requires verify_enabled`);
    }
    return flags;
  };
  return {
    siteUrl: read(auth, "site_url", "auth", "string", d.siteUrl),
    additionalRedirectUrls: read(
      auth,
      "additional_redirect_urls",
      "auth",
      "string[]",
      d.additionalRedirectUrls,
    )
      .map((url) => substitute(url, env)),
    enableSignup: read(auth, "enable_signup", "auth", "boolean", d.enableSignup),
    enableManualLinking: read(auth, "enable_manual_linking", "auth", "boolean", d.enableManualLinking),
    emailEnableSignup: read(email, "enable_signup", "auth.email", "boolean", d.emailEnableSignup),
    securePasswordChange: read(
      email,
      "secure_password_change",
      "auth.email",
      "boolean",
      d.securePasswordChange,
    ),
    totp: mfaFlags("totp", d.totp),
    enableAnonymousSignIns: read(
      auth,
      "enable_anonymous_sign_ins",
      "auth",
      "boolean",
      d.enableAnonymousSignIns,
    ),
    enableRefreshTokenRotation: read(
      auth,
      "enable_refresh_token_rotation",
      "auth",
      "boolean",
      d.enableRefreshTokenRotation,
    ),
    refreshTokenReuseIntervalSeconds: read(
      auth,
      "refresh_token_reuse_interval",
      "auth",
      "number",
      d.refreshTokenReuseIntervalSeconds,
    ),
    sessions: {
      timeboxSeconds: positiveSeconds(duration(sessions, "timebox", "auth.sessions", "0")),
      inactivityTimeoutSeconds: positiveSeconds(
        duration(sessions, "inactivity_timeout", "auth.sessions", "0"),
      ),
      singlePerUser: singlePerUser(env.AUTH_SESSIONS_SINGLE_PER_USER),
    },
    enableConfirmations: read(email, "enable_confirmations", "auth.email", "boolean", d.enableConfirmations),
    doubleConfirmChanges: read(
      email,
      "double_confirm_changes",
      "auth.email",
      "boolean",
      d.doubleConfirmChanges,
    ),
    maxFrequencySeconds: maxFrequencyMs / 1000,
    otpLength: read(email, "otp_length", "auth.email", "number", d.otpLength),
    otpExpirySeconds: read(email, "otp_expiry", "auth.email", "number", d.otpExpirySeconds),
    smtp: read(smtp, "enabled", "auth.email.smtp", "boolean", false)
      ? {
        host: read(smtp, "host", "auth.email.smtp", "string", ""),
        port: read(smtp, "port", "auth.email.smtp", "number", 587),
        user: read(smtp, "user", "auth.email.smtp", "string", ""),
        pass: read(smtp, "pass", "auth.email.smtp", "string", ""),
        admin_email: read(smtp, "admin_email", "auth.email.smtp", "string", sender.admin_email),
        sender_name: read(smtp, "sender_name", "auth.email.smtp", "string", sender.sender_name),
      }
      : undefined,
    sender,
    webAuthn: {
      ...mfaFlags("web_authn", d.webAuthn),
      ...(Object.keys(relyingParty).length > 0 && {
        rpId: read(relyingParty, "rp_id", "auth.webauthn", "string", ""),
        rpDisplayName: read(relyingParty, "rp_display_name", "auth.webauthn", "string", ""),
        rpOrigins: read(relyingParty, "rp_origins", "auth.webauthn", "string[]", [] as string[]),
      }),
    },
  };
}

/**
 * Reads the Auth settings from a `config.toml` file.
 *
 * @param path The file (default: the project's `supabase/config.toml`).
 * @param env The environment `env(NAME)` values are taken from.
 * @returns The settings.
 * @throws {Error} As {@linkcode parseAuthConfig}, or when the file cannot be read.
 * @example
 * ```ts ignore
 * const config = await loadAuthConfig(CONFIG_TOML, Deno.env.toObject());
 * ```
 */
export async function loadAuthConfig(
  path: URL = CONFIG_TOML,
  env: Record<string, string> = {},
): Promise<AuthConfig> {
  return parseAuthConfig(await Deno.readTextFile(path), env);
}

/**
 * The function's settings that keep it in step with Auth's session limits (on a hosted project, the
 * operator sets them as secrets to match the dashboard): every name, empty when the limit is off, so that
 * none is inherited from elsewhere.
 *
 * @param limits The session limits Auth runs with.
 * @returns `AUTH_SESSIONS_TIMEBOX`, `AUTH_SESSIONS_INACTIVITY_TIMEOUT` (Go durations) and
 *   `AUTH_SESSIONS_SINGLE_PER_USER`.
 * @example
 * ```ts
 * const env = sessionSecrets({ timeboxSeconds: 86400, inactivityTimeoutSeconds: null, singlePerUser: false });
 * console.log(env.AUTH_SESSIONS_TIMEBOX); // "86400s"
 * ```
 */
export function sessionSecrets(limits: SessionLimits): Record<string, string> {
  const seconds = (value: number | null) => (value ? `${value}s` : "");
  return {
    AUTH_SESSIONS_TIMEBOX: seconds(limits.timeboxSeconds),
    AUTH_SESSIONS_INACTIVITY_TIMEOUT: seconds(limits.inactivityTimeoutSeconds),
    AUTH_SESSIONS_SINGLE_PER_USER: String(limits.singlePerUser),
  };
}

// As the function reads it; a value the function would refuse is refused here first.
function singlePerUser(value: string | undefined): boolean {
  if (value === undefined || value.trim() === "") return false;
  const parsed = parseGoBool(value.trim());
  if (parsed === undefined) throw new Error("AUTH_SESSIONS_SINGLE_PER_USER must be true or false");
  return parsed;
}

function table(parent: Table, key: string, where?: string): Table {
  const value = parent[key];
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`supabase/config.toml: [${where ? `${where}.` : ""}${key}] must be a table`);
  }
  return value as Table;
}

// The CLI's `env(NAME)` values (pkg/config `LoadEnvHook`).
function substitute(value: string, env: Record<string, string>): string {
  const match = /^env\((\w+)\)$/.exec(value);
  return match ? env[match[1]] ?? "" : value;
}
