/**
 * Sending GoTrue's mails (`internal/api/mail.go`): each flow makes a fresh code, stores its hash on the
 * user and in `auth.one_time_tokens`, and mails a `/verify` link carrying the hash, all in the caller's
 * transaction, so that a mail that cannot be sent leaves nothing behind.
 *
 * @module
 */
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { createOneTimeToken, generateOtp, tokenHash } from "./_one_time_tokens.ts";
import { PKCE_PREFIX } from "./_pkce.ts";
import type { Db, UserRow } from "./_store.ts";
import { actionLink, type MailAction, renderMail, renderReauthenticationMail } from "./_templates.ts";

/**
 * Mails a sign-up confirmation (GoTrue's `sendConfirmation`).
 *
 * @param ctx The emulator's settings and mailer.
 * @param tx The transaction.
 * @param user The user to confirm.
 * @param redirectTo Where the link sends the browser afterwards.
 * @param pkce Whether the flow is PKCE's (the token stored and mailed with its `pkce_` prefix).
 * @returns The user with its new `confirmation_token` and `confirmation_sent_at`.
 * @throws {HttpError} 429 `over_email_send_rate_limit` within `max_frequency` of the last one; 500 when
 *   the mail cannot be sent.
 */
export async function sendConfirmation(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  redirectTo: string,
  pkce = false,
): Promise<UserRow> {
  checkFrequency(ctx, user.confirmation_sent_at);
  const hash = await mailToken(ctx, user, "signup", redirectTo, "Error sending confirmation email", pkce);
  const [row] = await tx<UserRow[]>`
    update auth.users set confirmation_token = ${hash}, confirmation_sent_at = now(), updated_at = now()
     where id = ${user.id} returning *`;
  await createOneTimeToken(tx, user.id, user.email!, hash, "confirmation_token");
  return row;
}

/**
 * Mails an invitation (GoTrue's `sendInvite`, which knows no `max_frequency`).
 *
 * @returns The user with its confirmation token, `invited_at` and `confirmation_sent_at`.
 * @throws {HttpError} 500 when the mail cannot be sent.
 */
export async function sendInvite(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  redirectTo: string,
): Promise<UserRow> {
  const hash = await mailToken(ctx, user, "invite", redirectTo, "Error sending invite email", false);
  const [row] = await tx<UserRow[]>`
    update auth.users set confirmation_token = ${hash}, confirmation_sent_at = now(), invited_at = now(),
                          updated_at = now()
     where id = ${user.id} returning *`;
  await createOneTimeToken(tx, user.id, user.email!, hash, "confirmation_token");
  return row;
}

/**
 * Mails a password-recovery link (GoTrue's `sendPasswordRecovery`) or a magic link (`sendMagicLink`,
 * "just a recovery with a different template"), both timed by `recovery_sent_at`.
 *
 * @returns The user with its new `recovery_token` and `recovery_sent_at`.
 * @throws {HttpError} 429 `over_email_send_rate_limit`; 500 when the mail cannot be sent.
 */
export async function sendRecovery(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  redirectTo: string,
  action: "recovery" | "magiclink",
  pkce = false,
): Promise<UserRow> {
  checkFrequency(ctx, user.recovery_sent_at);
  const failure = action === "recovery" ? "Error sending recovery email" : "Error sending magic link email";
  const hash = await mailToken(ctx, user, action, redirectTo, failure, pkce);
  const [row] = await tx<UserRow[]>`
    update auth.users set recovery_token = ${hash}, recovery_sent_at = now(), updated_at = now()
     where id = ${user.id} returning *`;
  await createOneTimeToken(tx, user.id, user.email!, hash, "recovery_token");
  return row;
}

/**
 * Mails an email change (GoTrue's `sendEmailChange`): to the new address, and, with secure email change
 * on and a current address, to that one too, each with its own token.
 *
 * @param ctx The emulator's settings and mailer.
 * @param tx The transaction.
 * @param user The user.
 * @param newEmail The address to change to (lower-cased).
 * @param redirectTo Where the links send the browser afterwards.
 * @param pkce Whether the flow is PKCE's (both tokens with the `pkce_` prefix).
 * @returns The user with `email_change`, its tokens, `email_change_sent_at` and status 0.
 * @throws {HttpError} 429 `over_email_send_rate_limit`; 500 when a mail cannot be sent.
 */
export async function sendEmailChange(
  ctx: AuthContext,
  tx: Db,
  user: UserRow,
  newEmail: string,
  redirectTo: string,
  pkce = false,
): Promise<UserRow> {
  checkFrequency(ctx, user.email_change_sent_at);
  const failure = "Error sending email change email";
  const prefix = pkce ? PKCE_PREFIX : "";
  const otpNew = generateOtp(ctx.otpLength);
  const hashNew = prefix + tokenHash(newEmail, otpNew);
  const current = user.email ?? "";
  const hashCurrent = ctx.secureEmailChange && current !== ""
    ? prefix + tokenHash(current, generateOtp(ctx.otpLength))
    : (user.email_change_token_current ?? "");
  const mails = [{ to: newEmail, hash: hashNew }];
  if (ctx.secureEmailChange && current !== "") mails.push({ to: current, hash: hashCurrent });
  for (const mail of mails) {
    await deliver(ctx, mail.to, "email_change", mail.hash, redirectTo, failure, newEmail);
  }
  const [row] = await tx<UserRow[]>`
    update auth.users set email_change = ${newEmail}, email_change_token_new = ${hashNew},
                          email_change_token_current = ${hashCurrent}, email_change_confirm_status = 0,
                          email_change_sent_at = now(), updated_at = now()
     where id = ${user.id} returning *`;
  if (hashCurrent !== "") {
    await createOneTimeToken(tx, user.id, current, hashCurrent, "email_change_token_current");
  }
  await createOneTimeToken(tx, user.id, newEmail, hashNew, "email_change_token_new");
  return row;
}

/**
 * Mails a reauthentication code (GoTrue's `sendReauthenticationOtp`): the code itself, no link.
 *
 * @returns The user with its new `reauthentication_token` and `reauthentication_sent_at`.
 * @throws {HttpError} 429 `over_email_send_rate_limit`; 500 when the mail cannot be sent.
 */
export async function sendReauthentication(ctx: AuthContext, tx: Db, user: UserRow): Promise<UserRow> {
  checkFrequency(ctx, user.reauthentication_sent_at);
  const email = user.email ?? "";
  const otp = generateOtp(ctx.otpLength);
  const hash = tokenHash(email, otp);
  try {
    await ctx.sendMail({ to: email, ...renderReauthenticationMail(otp) });
  } catch (err) {
    console.error(
      "Auth emulator: Error sending reauthentication email:",
      err instanceof Error ? err.message : err,
    );
    throw new HttpError(500, "unexpected_failure", "Error sending reauthentication email");
  }
  const [row] = await tx<UserRow[]>`
    update auth.users set reauthentication_token = ${hash}, reauthentication_sent_at = now()
     where id = ${user.id} returning *`;
  await createOneTimeToken(tx, user.id, email, hash, "reauthentication_token");
  return row;
}

// GoTrue's validateSentWithinFrequencyLimit.
function checkFrequency(ctx: AuthContext, sentAt: Date | null): void {
  if (!sentAt) return;
  const leftMs = sentAt.getTime() + ctx.maxFrequencyMs - Date.now();
  if (leftMs > 0) {
    throw new HttpError(
      429,
      "over_email_send_rate_limit",
      `For security purposes, you can only request this after ${Math.trunc(leftMs / 1000)} seconds.`,
    );
  }
}

// A fresh code for the user's address, mailed as a link; returns the hash to store (GoTrue's
// addFlowPrefixToToken: `pkce_` first in the PKCE flow).
async function mailToken(
  ctx: AuthContext,
  user: UserRow,
  action: MailAction,
  redirectTo: string,
  failure: string,
  pkce: boolean,
): Promise<string> {
  const email = user.email ?? "";
  const hash = (pkce ? PKCE_PREFIX : "") + tokenHash(email, generateOtp(ctx.otpLength));
  await deliver(ctx, email, action, hash, redirectTo, failure);
  return hash;
}

async function deliver(
  ctx: AuthContext,
  to: string,
  action: MailAction,
  hash: string,
  redirectTo: string,
  failure: string,
  newEmail?: string,
): Promise<void> {
  const confirmationUrl = actionLink(ctx.issuer, hash, action, redirectTo);
  try {
    await ctx.sendMail({ to, ...renderMail(action, { confirmationUrl, newEmail }) });
  } catch (err) {
    // The SMTP error names the server, never the link; the client gets GoTrue's generic message.
    console.error(`Auth emulator: ${failure}:`, err instanceof Error ? err.message : err);
    throw new HttpError(500, "unexpected_failure", failure);
  }
}
