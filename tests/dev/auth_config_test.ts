/**
 * Reading `supabase/config.toml`'s Auth settings as `supabase start` hands them to Supabase Auth.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CONFIG_TOML, DEFAULT_AUTH_CONFIG, loadAuthConfig, parseAuthConfig } from "../../dev/auth_config.ts";

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
enable_anonymous_sign_ins = true

[auth.email]
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
    enableAnonymousSignIns: true,
    enableConfirmations: true,
    doubleConfirmChanges: false,
    maxFrequencySeconds: 90,
    otpLength: 8,
    otpExpirySeconds: 600,
    smtp: undefined,
    sender: { admin_email: "auth@example.com", sender_name: "Example" },
  });
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

Deno.test("parseAuthConfig() names a setting of the wrong type or a bad duration", () => {
  assert.throws(
    () => parseAuthConfig('[auth.email]\nenable_confirmations = "yes"\n', {}),
    /\[auth\.email\] enable_confirmations must be a boolean/,
  );
  assert.throws(
    () => parseAuthConfig('[auth.email]\nmax_frequency = "1d"\n', {}),
    /\[auth\.email\] max_frequency: time: unknown unit "d" in duration "1d"/,
  );
});

Deno.test("the project's config.toml reads as it is written", async () => {
  const toml = await Deno.readTextFile(CONFIG_TOML);
  const config = await loadAuthConfig();
  const confirmations = /^\[auth\.email\][\s\S]*?^enable_confirmations = (true|false)$/m.exec(toml)![1];
  assert.equal(config.enableConfirmations, confirmations === "true");
  assert.equal(config.siteUrl, /^site_url = "([^"]*)"$/m.exec(toml)![1]);
});
