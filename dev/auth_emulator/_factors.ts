/**
 * TOTP and WebAuthn factors, as GoTrue's MFA API (`internal/api/mfa.go`) serves them to supabase-js `auth.mfa`:
 * `POST /factors` (enroll), `POST /factors/{id}/challenge` and `POST /factors/{id}/verify`, which raises
 * the caller's session to `aal2` and answers with its new tokens. Factors, challenges and the amr claims
 * (`totp`, `mfa/webauthn`) live in GoTrue's tables (`auth.mfa_factors`, `auth.mfa_challenges`,
 * `auth.mfa_amr_claims`).
 *
 * WebAuthn factors share these routes; their ceremony is `_webauthn.ts`'s. `[auth.mfa.totp]` and
 * `[auth.mfa.web_authn]` `enroll_enabled` and `verify_enabled` switch enrolment and challenge/verify off
 * with GoTrue's refusals; listing and unenrolling factors is `_factor_management.ts`'s.
 *
 * Not emulated: phone factors, the factor limits (10 each), a QR code that scans (the SVG only carries the
 * `otpauth://` URI as text), the secret's encryption at rest, and the challenge's IP check.
 *
 * @module
 */
import type postgres from "postgres";
import { authenticate } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import type { FactorRow, FactorType } from "./_factor_json.ts";
import { readParams } from "./_params.ts";
import { issueSession } from "./_tokens.ts";
import { type Db, upgradeSessionToAal2 } from "./_store.ts";
import { generateTotpSecret, validateTotp } from "./_totp.ts";
import {
  beginWebAuthnCeremony,
  finishWebAuthnCeremony,
  readWebAuthnParams,
  type WebAuthnSessionData,
} from "./_webauthn.ts";

/** GoTrue's `GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION` default, in seconds. */
const CHALLENGE_EXPIRY_SECONDS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ChallengeRow {
  id: string;
  created_at: Date;
  verified_at: Date | null;
  web_authn_session_data: unknown;
}

/**
 * Enrolls an unverified TOTP or WebAuthn factor for the caller (GoTrue's `enrollTOTPFactor`,
 * `enrollWebAuthnFactor`). A user who already has a verified factor needs an aal2 session to add another.
 *
 * @param ctx The emulator's database, keys and site URL (the default TOTP issuer is its host).
 * @param req The request, with a bearer access token and `{ factor_type, friendly_name?, issuer? }`.
 * @returns 200 `{ id, type, friendly_name, totp: { qr_code, secret, uri } }` (WebAuthn: no `totp`).
 * @throws {HttpError} As `authenticate`; 400 `validation_failed` for a type other than totp or webauthn;
 *   422 `mfa_totp_enroll_not_enabled`, `mfa_webauthn_enroll_not_enabled`, `mfa_factor_name_conflict`; 403
 *   `insufficient_aal`.
 * @example
 * ```ts ignore
 * const routes = { "/factors": { POST: enrollFactor } };
 * ```
 */
export async function enrollFactor(ctx: AuthContext, req: Request): Promise<Response> {
  const { user, sessionId } = await authenticate(ctx, req);
  const params = await readParams(req, "EnrollFactorParams", {
    factor_type: "string",
    friendly_name: "string",
    issuer: "string",
  });
  if (params.factor_type !== "totp" && params.factor_type !== "webauthn") {
    throw new HttpError(400, "validation_failed", "factor_type needs to be totp, phone, or webauthn");
  }
  requireEnabled(ctx, params.factor_type, "enroll");
  const friendlyName = (params.friendly_name as string | undefined) ?? "";
  const factors = await ctx.sql<FactorRow[]>`select * from auth.mfa_factors where user_id = ${user.id}`;
  if (friendlyName !== "" && factors.some((factor) => factor.friendly_name === friendlyName)) {
    throw new HttpError(
      422,
      "mfa_factor_name_conflict",
      `A factor with the friendly name ${JSON.stringify(friendlyName)} for this user already exists`,
    );
  }
  if (factors.some((factor) => factor.status === "verified") && !(await isAal2(ctx.sql, sessionId))) {
    throw new HttpError(403, "insufficient_aal", "AAL2 required to enroll a new factor");
  }
  if (params.factor_type === "webauthn") {
    // GoTrue's enrollWebAuthnFactor: the factor only; its challenge carries the ceremony.
    const id = crypto.randomUUID();
    await ctx.sql`
      insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
      values (${id}, ${user.id}, ${friendlyName}, 'webauthn', 'unverified', now(), now())`;
    return Response.json({ id, type: "webauthn", friendly_name: friendlyName });
  }
  const issuer = (params.issuer as string | undefined) || new URL(ctx.siteUrl).host;
  const secret = generateTotpSecret();
  const id = crypto.randomUUID();
  await ctx.sql`
    insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
    values (${id}, ${user.id}, ${friendlyName}, 'totp', 'unverified', now(), now(), ${secret})`;
  const account = user.email ?? "";
  const uri = `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?algorithm=SHA1` +
    `&digits=6&issuer=${encodeURIComponent(issuer)}&period=30&secret=${secret}`;
  return Response.json({
    id,
    type: "totp",
    friendly_name: friendlyName,
    totp: {
      qr_code: `<svg xmlns="http://www.w3.org/2000/svg"><text>${escapeXml(uri)}</text></svg>`,
      secret,
      uri,
    },
  });
}

/**
 * Creates a challenge for one of the caller's factors (GoTrue's `challengeTOTPFactor`,
 * `challengeWebAuthnFactor`: a WebAuthn challenge carries the ceremony's options).
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a bearer access token.
 * @param url `…/factors/{id}/challenge`.
 * @returns 200 `{ id, type, expires_at }`, and `webauthn` for a WebAuthn factor.
 * @throws {HttpError} As `authenticate`; 404 `mfa_factor_not_found`; 422 `mfa_totp_verify_not_enabled`,
 *   `mfa_webauthn_verify_not_enabled`.
 * @example
 * ```ts ignore
 * const patterns = [[/^\/factors\/[^/]+\/challenge$/, { POST: challengeFactor }]];
 * ```
 */
export async function challengeFactor(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const { user } = await authenticate(ctx, req);
  const factor = await loadFactor(ctx.sql, user.id, url);
  requireEnabled(ctx, factor.factor_type, "challenge");
  const ceremony = factor.factor_type === "webauthn"
    ? await beginWebAuthnCeremony(ctx.webAuthn, ctx.sql, user, factor.status)
    : undefined;
  const id = crypto.randomUUID();
  const [{ created_at: createdAt }] = await ctx.sql<{ created_at: Date }[]>`
    insert into auth.mfa_challenges (id, factor_id, created_at, ip_address, web_authn_session_data)
    values (${id}, ${factor.id}, now(), ${clientIp(req)},
            ${ceremony ? ctx.sql.json(ceremony.sessionData as unknown as postgres.JSONValue) : null})
    returning created_at`;
  await ctx.sql`update auth.mfa_factors set last_challenged_at = now() where id = ${factor.id}`;
  return Response.json({
    id,
    type: factor.factor_type,
    expires_at: Math.floor(createdAt.getTime() / 1000) + CHALLENGE_EXPIRY_SECONDS,
    ...(ceremony && { webauthn: ceremony.webauthn }),
  });
}

/**
 * Verifies a TOTP code or a WebAuthn ceremony against a challenge (GoTrue's `verifyTOTPFactor`,
 * `verifyWebAuthnFactor`): the factor becomes verified, the
 * caller's session aal2, and the answer is the session's new tokens.
 *
 * @param ctx The emulator's database, keys and token settings.
 * @param req The request, with a bearer access token and `{ challenge_id, code }` (WebAuthn: `webauthn`).
 * @param url `…/factors/{id}/verify`.
 * @returns 200 with GoTrue's `AccessTokenResponse`.
 * @throws {HttpError} As `authenticate`; 404 `mfa_factor_not_found`; 400 `validation_failed`; 422
 *   `mfa_totp_verify_not_enabled`, `mfa_webauthn_enroll_not_enabled` (GoTrue's code for a WebAuthn verify
 *   switched off), `mfa_factor_not_found` (no such challenge), `mfa_challenge_expired`,
 *   `mfa_verification_failed`; 500 for a WebAuthn ceremony that fails.
 * @example
 * ```ts ignore
 * const patterns = [[/^\/factors\/[^/]+\/verify$/, { POST: verifyFactor }]];
 * ```
 */
export async function verifyFactor(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  const { user, sessionId } = await authenticate(ctx, req);
  const factor = await loadFactor(ctx.sql, user.id, url);
  const params = await readParams(req, "VerifyFactorParams", {
    challenge_id: "string",
    code: "string",
    webauthn: "object",
  });
  requireEnabled(ctx, factor.factor_type, "verify");
  if (factor.factor_type !== "webauthn" && (typeof params.code !== "string" || params.code === "")) {
    throw new HttpError(400, "validation_failed", "Code needs to be non-empty");
  }
  const webauthn = factor.factor_type === "webauthn" ? readWebAuthnParams(params.webauthn) : undefined;
  if (sessionId === undefined) {
    throw new HttpError(400, "validation_failed", "A session is required to verify a factor");
  }
  const challengeId = typeof params.challenge_id === "string" && UUID.test(params.challenge_id)
    ? params.challenge_id
    : undefined;
  const [challenge] = challengeId
    ? await ctx.sql<ChallengeRow[]>`
        select id, created_at, verified_at, web_authn_session_data from auth.mfa_challenges
         where id = ${challengeId} and factor_id = ${factor.id}`
    : [];
  if (!challenge || challenge.verified_at) {
    throw new HttpError(422, "mfa_factor_not_found", "MFA factor with the provided challenge ID not found");
  }
  if (Date.now() > challenge.created_at.getTime() + CHALLENGE_EXPIRY_SECONDS * 1000) {
    await ctx.sql`delete from auth.mfa_challenges where id = ${challenge.id}`;
    throw new HttpError(
      422,
      "mfa_challenge_expired",
      `MFA challenge ${challenge.id} has expired, verify against another challenge or create a new challenge.`,
    );
  }
  const created = webauthn
    ? await finishWebAuthnCeremony(
      ctx.webAuthn,
      ctx.sql,
      user.id,
      challenge.web_authn_session_data as WebAuthnSessionData,
      webauthn,
    )
    : undefined;
  if (!webauthn && !validateTotp(factor.secret, params.code as string)) {
    throw new HttpError(422, "mfa_verification_failed", "Invalid TOTP code entered");
  }
  const session = await ctx.sql.begin(async (tx) => {
    // GoTrue consumes a WebAuthn challenge (deleted), and marks a TOTP one verified.
    if (webauthn) await tx`delete from auth.mfa_challenges where id = ${challenge.id}`;
    else await tx`update auth.mfa_challenges set verified_at = now() where id = ${challenge.id}`;
    if (factor.status !== "verified") {
      await tx`update auth.mfa_factors set status = 'verified', updated_at = now() where id = ${factor.id}`;
    }
    if (created) {
      await tx`update auth.mfa_factors
                  set web_authn_credential = ${tx.json(created.credential as unknown as postgres.JSONValue)},
                      web_authn_aaguid = ${created.aaguid}
                where id = ${factor.id}`;
    }
    if (webauthn) {
      // Factor.UpdateLastWebAuthnChallenge: what the browser answered, for the project to inspect.
      const last = {
        challenge: { id: challenge.id },
        type: webauthn.type,
        credential_response: webauthn.credential_response,
      };
      await tx`update auth.mfa_factors set last_webauthn_challenge_data = ${
        tx.json(last as unknown as postgres.JSONValue)
      } where id = ${factor.id}`;
    }
    const method = webauthn ? "mfa/webauthn" : "totp";
    const grant = await upgradeSessionToAal2(tx, user, sessionId, factor.id, method);
    // GoTrue's DeleteUnverifiedFactors: enrolments of the same type that were never verified.
    await tx`delete from auth.mfa_factors
              where user_id = ${user.id} and factor_type = ${factor.factor_type} and status = 'unverified'`;
    return await issueSession(ctx, grant, tx);
  });
  return Response.json(session);
}

/**
 * GoTrue's `loadFactor`: the factor named in the path, among the user's.
 *
 * @param db The database.
 * @param userId The factor's owner.
 * @param url The request's URL.
 * @param at Where the id is among the path's segments, counted from the end.
 * @returns The factor.
 * @throws {HttpError} 404 `validation_failed` for an id that is not a UUID, `mfa_factor_not_found`.
 */
export async function loadFactor(db: Db, userId: string, url: URL, at = -2): Promise<FactorRow> {
  const id = url.pathname.split("/").at(at) ?? "";
  if (!UUID.test(id)) throw new HttpError(404, "validation_failed", "factor_id must be an UUID");
  const [factor] = await db<FactorRow[]>`
    select * from auth.mfa_factors where id = ${id} and user_id = ${userId}`;
  if (!factor) throw new HttpError(404, "mfa_factor_not_found", "Factor not found");
  return factor;
}

/**
 * Whether a session is raised to aal2 (or beyond).
 *
 * @param db The database.
 * @param sessionId The session, if the token names one.
 * @returns Whether it is.
 */
export async function isAal2(db: Db, sessionId: string | undefined): Promise<boolean> {
  if (sessionId === undefined) return false;
  const [session] = await db<{ aal: string | null }[]>`select aal from auth.sessions where id = ${sessionId}`;
  return session?.aal === "aal2" || session?.aal === "aal3";
}

// GoTrue's utilities.GetIPAddress: the first X-Forwarded-For entry, else the peer (unknown here).
function clientIp(req: Request): string {
  const forwarded = req.headers.get("x-forwarded-for")?.split(",")[0].trim();
  return forwarded && /^[0-9a-fA-F.:]+$/.test(forwarded) ? forwarded : "127.0.0.1";
}

// GoTrue's checks of `GOTRUE_MFA_{TOTP,WEB_AUTHN}_{ENROLL,VERIFY}_ENABLED` in EnrollFactor, ChallengeFactor
// and VerifyFactor, with its codes: a WebAuthn verify refused carries, oddly, the enroll code.
function requireEnabled(ctx: AuthContext, type: FactorType, step: "enroll" | "challenge" | "verify"): void {
  const [name, slug, flags] = type === "webauthn"
    ? ["WebAuthn", "webauthn", { enroll: ctx.webAuthn.enrollEnabled, verify: ctx.webAuthn.verifyEnabled }]
    : ["TOTP", "totp", { enroll: ctx.features.totpEnroll, verify: ctx.features.totpVerify }];
  if (step === "enroll") {
    if (!flags.enroll) {
      throw new HttpError(422, `mfa_${slug}_enroll_not_enabled`, `MFA enroll is disabled for ${name}`);
    }
    return;
  }
  if (flags.verify) return;
  const code = type === "webauthn" && step === "verify" ? "enroll" : "verify";
  throw new HttpError(422, `mfa_${slug}_${code}_not_enabled`, `MFA verification is disabled for ${name}`);
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
