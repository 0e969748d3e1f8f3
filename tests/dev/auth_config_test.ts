/**
 * Reading `supabase/config.toml`'s Auth settings as `supabase start` hands them to Supabase Auth.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CONFIG_TOML,
  DEFAULT_AUTH_CONFIG,
  loadAuthConfig,
  parseAuthConfig,
  sessionSecrets,
} from "../../dev/auth_config.ts";

Deno.test("parseAuthConfig() takes the CLI's defaults for what the file leaves out", () => {
  assert.deepEqual(parseAuthConfig("", {}), { ...DEFAULT_AUTH_CONFIG, smtp: undefined });
});

Deno.test("parseAuthConfig() reads [auth], [auth.email] and the local mailbox's sender", () => {
  const config = parseAuthConfig(
    `
[local_smtp]
admin_email = "auth@example.com"
sender_name = "Example"

[auth]
site_url = "http://localhost:5173"
additional_redirect_urls = ["https://app.example.com/**"]
enable_signup = false
enable_anonymous_sign_ins = true
enable_manual_linking = true
enable_refresh_token_rotation = false
refresh_token_reuse_interval = 0

[auth.sessions]
timebox = "24h"
inactivity_timeout = "8h30m"

[auth.mfa.totp]
enroll_enabled = true
verify_enabled = true

[auth.email]
enable_signup = false
secure_password_change = true
enable_confirmations = true
double_confirm_changes = false
max_frequency = "1m30s"
otp_length = 8
otp_expiry = 600
`,
    {},
  );
  assert.deepEqual(config, {
    siteUrl: "http://localhost:5173",
    additionalRedirectUrls: ["https://app.example.com/**"],
    enableSignup: false,
    enableAnonymousSignIns: true,
    enableManualLinking: true,
    emailEnableSignup: false,
    securePasswordChange: true,
    totp: { enrollEnabled: true, verifyEnabled: true },
    enableRefreshTokenRotation: false,
    refreshTokenReuseIntervalSeconds: 0,
    sessions: { timeboxSeconds: 86400, inactivityTimeoutSeconds: 30600, singlePerUser: false },
    enableConfirmations: true,
    doubleConfirmChanges: false,
    maxFrequencySeconds: 90,
    otpLength: 8,
    otpExpirySeconds: 600,
    smtp: undefined,
    sender: { admin_email: "auth@example.com", sender_name: "Example" },
    webAuthn: { enrollEnabled: false, verifyEnabled: false },
  });
});

Deno.test("parseAuthConfig() reads [auth.mfa.web_authn] and the relying party of [auth.webauthn]", () => {
  const flags = `
[auth.mfa.web_authn]
enroll_enabled = true
verify_enabled = true
`;
  assert.deepEqual(parseAuthConfig(flags, {}).webAuthn, { enrollEnabled: true, verifyEnabled: true });
  const config = parseAuthConfig(
    `${flags}
[auth.webauthn]
rp_display_name = "Example"
rp_id = "localhost"
rp_origins = ["http://localhost:5173"]
`,
    {},
  );
  assert.deepEqual(config.webAuthn, {
    enrollEnabled: true,
    verifyEnabled: true,
    rpId: "localhost",
    rpDisplayName: "Example",
    rpOrigins: ["http://localhost:5173"],
  });
  assert.throws(
    () => parseAuthConfig('[auth.mfa.web_authn]\nenroll_enabled = "yes"\n', {}),
    /\[auth\.mfa\.web_authn\] enroll_enabled must be a boolean/,
  );
});

Deno.test("parseAuthConfig() sends through [auth.email.smtp] only when enabled, with env() values", () => {
  const smtp = `
[auth.email.smtp]
enabled = ENABLED
host = "smtp.example.com"
port = 587
user = "apikey"
pass = "env(SMTP_PASS)"
admin_email = "no-reply@example.com"
sender_name = "Example"
`;
  assert.equal(parseAuthConfig(smtp.replace("ENABLED", "false"), {}).smtp, undefined);
  assert.deepEqual(parseAuthConfig(smtp.replace("ENABLED", "true"), { SMTP_PASS: "s3cret" }).smtp, {
    host: "smtp.example.com",
    port: 587,
    user: "apikey",
    pass: "s3cret",
    admin_email: "no-reply@example.com",
    sender_name: "Example",
  });
});

Deno.test("parseAuthConfig() takes no session limit from a zero duration, as the CLI passes none", () => {
  const config = parseAuthConfig('[auth.sessions]\ntimebox = "0s"\ninactivity_timeout = "0"\n', {});
  assert.deepEqual(config.sessions, DEFAULT_AUTH_CONFIG.sessions);
});

Deno.test("parseAuthConfig() takes single session per user from AUTH_SESSIONS_SINGLE_PER_USER", () => {
  assert.equal(parseAuthConfig("", { AUTH_SESSIONS_SINGLE_PER_USER: "true" }).sessions.singlePerUser, true);
  assert.equal(parseAuthConfig("", { AUTH_SESSIONS_SINGLE_PER_USER: "0" }).sessions.singlePerUser, false);
  assert.throws(
    () => parseAuthConfig("", { AUTH_SESSIONS_SINGLE_PER_USER: "yes" }),
    /AUTH_SESSIONS_SINGLE_PER_USER must be true or false/,
  );
});

Deno.test("sessionSecrets() gives the function every session setting, empty when off", () => {
  assert.deepEqual(
    sessionSecrets({ timeboxSeconds: 86400, inactivityTimeoutSeconds: 1.5, singlePerUser: true }),
    {
      AUTH_SESSIONS_TIMEBOX: "86400s",
      AUTH_SESSIONS_INACTIVITY_TIMEOUT: "1.5s",
      AUTH_SESSIONS_SINGLE_PER_USER: "true",
    },
  );
  assert.deepEqual(sessionSecrets(DEFAULT_AUTH_CONFIG.sessions), {
    AUTH_SESSIONS_TIMEBOX: "",
    AUTH_SESSIONS_INACTIVITY_TIMEOUT: "",
    AUTH_SESSIONS_SINGLE_PER_USER: "false",
  });
});

Deno.test("parseAuthConfig() names a setting of the wrong type or a bad duration", () => {
  assert.throws(
    () => parseAuthConfig('[auth.email]\nenable_confirmations = "yes"\n', {}),
    /\[auth\.email\] enable_confirmations must be a boolean/,
  );
  assert.throws(
    () => parseAuthConfig('[auth.email]\nmax_frequency = "1d"\n', {}),
    /\[auth\.email\] max_frequency: time: unknown unit "d" in duration "1d"/,
  );
  assert.throws(
    () => parseAuthConfig('[auth.sessions]\ntimebox = "1d"\n', {}),
    /\[auth\.sessions\] timebox: time: unknown unit "d" in duration "1d"/,
  );
  assert.throws(
    () => parseAuthConfig('[auth]\nrefresh_token_reuse_interval = "10"\n', {}),
    /\[auth\] refresh_token_reuse_interval must be a number/,
  );
});

Deno.test("parseAuthConfig() refuses MFA enrolment without verification, as the CLI does", () => {
  assert.throws(
    () => parseAuthConfig("[auth.mfa.totp]\nenroll_enabled = true\nverify_enabled = false\n", {}),
    /\[auth\.mfa\.totp\] enroll_enabled requires verify_enabled/,
  );
  // pkg/config's mfa.validate checks WebAuthn the same way (its verify_enabled defaults to false).
  assert.throws(
    () => parseAuthConfig("[auth.mfa.web_authn]\nenroll_enabled = true\n", {}),
    /\[auth\.mfa\.web_authn\] enroll_enabled requires verify_enabled/,
  );
});

Deno.test("the project's config.toml reads as it is written", async () => {
  const toml = await Deno.readTextFile(CONFIG_TOML);
  const config = await loadAuthConfig();
  const confirmations = /^\[auth\.email\][\s\S]*?^enable_confirmations = (true|false)$/m.exec(toml)![1];
  assert.equal(config.enableConfirmations, confirmations === "true");
  assert.equal(config.siteUrl, /^site_url = "([^"]*)"$/m.exec(toml)![1]);
  // TOTP on, as hosted projects have it (issue 20); sign-ups open.
  assert.deepEqual(config.totp, { enrollEnabled: true, verifyEnabled: true });
  assert.equal(config.enableSignup, true);
  assert.equal(
    config.refreshTokenReuseIntervalSeconds,
    Number(/^refresh_token_reuse_interval = (\d+)$/m.exec(toml)![1]),
  );
});
