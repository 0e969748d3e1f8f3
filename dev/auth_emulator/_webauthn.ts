/**
 * WebAuthn factors, as GoTrue's MFA API serves them (`internal/api/mfa.go`: `enrollWebAuthnFactor`,
 * `challengeWebAuthnFactor`, `verifyWebAuthnFactor`; `internal/models/factor.go`), with the ceremony
 * itself checked by `@simplewebauthn/server` where GoTrue uses go-webauthn: an unverified factor's
 * challenge asks the browser to create a credential (`webauthn.type: "create"`), a verified one's to use
 * one of the user's (`"request"`); the verified credential is kept on the factor as go-webauthn's
 * `Credential` JSON (`web_authn_credential`, `web_authn_aaguid`).
 *
 * The relying party is the server's setting, as in GoTrue since v2.190 (`GOTRUE_WEBAUTHN_RP_ID`,
 * `…_RP_ORIGINS`, `…_RP_DISPLAY_NAME`); the `rpId`/`rpOrigins` supabase-js still sends are ignored, as
 * there.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { HttpError } from "./_errors.ts";
import type { Db } from "./_store.ts";

/** GoTrue's `[auth.mfa.web_authn]` flags and its relying party (`GOTRUE_WEBAUTHN_RP_*`). */
export interface WebAuthnSettings {
  /** `GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED` (`[auth.mfa.web_authn] enroll_enabled`). */
  enrollEnabled: boolean;
  /** `GOTRUE_MFA_WEB_AUTHN_VERIFY_ENABLED` (`[auth.mfa.web_authn] verify_enabled`). */
  verifyEnabled: boolean;
  /** The RP ID: the page's host or a registrable suffix of it, e.g. `localhost`. */
  rpId: string;
  /** The origins a ceremony may come from, e.g. `http://localhost:5173`. */
  rpOrigins: string[];
  rpDisplayName: string;
}

/** What a WebAuthn challenge keeps in `auth.mfa_challenges.web_authn_session_data` (go-webauthn's). */
export interface WebAuthnSessionData {
  challenge: string;
  rpId: string;
  user_id: string;
  userVerification: "preferred";
}

/** The `webauthn` of a challenge's answer: what supabase-js hands `navigator.credentials`. */
export interface WebAuthnChallengeData {
  type: "create" | "request";
  credential_options: { publicKey: unknown };
}

/** The `webauthn` of `POST /factors/{id}/verify`, checked. */
export interface WebAuthnParams {
  type: "create" | "request";
  credential_response: Record<string, unknown>;
}

interface StoredCredential {
  id: string;
  publicKey: string;
  attestationType: string;
  transport: string[];
  flags: { userPresent: boolean; userVerified: boolean; backupEligible: boolean; backupState: boolean };
  authenticator: { AAGUID: string; signCount: number; cloneWarning: boolean; attachment: string };
}

// go-webauthn's default credential parameters: ES256/384/512, RS256/384/512, PS256/384/512, EdDSA.
const ALGORITHMS = [-7, -35, -36, -257, -258, -259, -37, -38, -39, -8];
const TIMEOUT_MS = 300_000;

/**
 * The options of a new ceremony for a factor (GoTrue's `BeginRegistration` for an unverified factor, with
 * the user's credentials excluded, `BeginLogin` for a verified one, allowing them).
 *
 * @param settings The relying party.
 * @param db Where the user's factors are.
 * @param user The user (`id`, `email`).
 * @param factorStatus The factor's status.
 * @returns The answer's `webauthn` and what the challenge row keeps.
 */
export async function beginWebAuthnCeremony(
  settings: WebAuthnSettings,
  db: Db,
  user: { id: string; email: string | null },
  factorStatus: "unverified" | "verified",
): Promise<{ webauthn: WebAuthnChallengeData; sessionData: WebAuthnSessionData }> {
  const credentials = await userCredentials(db, user.id);
  const userId = Buffer.from(user.id).toString("base64url");
  if (factorStatus === "unverified") {
    const options = await generateRegistrationOptions({
      rpName: settings.rpDisplayName,
      rpID: settings.rpId,
      userID: new TextEncoder().encode(user.id),
      userName: user.email ?? "",
      userDisplayName: user.email ?? "",
      attestationType: "none",
      timeout: TIMEOUT_MS,
      supportedAlgorithmIDs: ALGORITHMS,
      authenticatorSelection: { userVerification: "preferred", residentKey: "discouraged" },
      excludeCredentials: credentials.map((c) => ({ id: toBase64Url(c.id), transports: ["usb", "nfc"] })),
    });
    return {
      webauthn: { type: "create", credential_options: { publicKey: options } },
      sessionData: sessionData(options.challenge, settings.rpId, userId),
    };
  }
  const options = await generateAuthenticationOptions({
    rpID: settings.rpId,
    timeout: TIMEOUT_MS,
    userVerification: "preferred",
    allowCredentials: credentials.map((c) => ({
      id: toBase64Url(c.id),
      transports: c.transport as AuthenticatorTransport[],
    })),
  });
  return {
    webauthn: { type: "request", credential_options: { publicKey: options } },
    sessionData: sessionData(options.challenge, settings.rpId, userId),
  };
}

/**
 * Checks the `webauthn` of a verify request as GoTrue does before it looks at the challenge.
 *
 * @param raw The request's `webauthn`.
 * @returns The checked params.
 * @throws {HttpError} 400 `validation_failed`.
 */
export function readWebAuthnParams(raw: unknown): WebAuthnParams {
  if (raw === undefined || raw === null) {
    throw new HttpError(400, "validation_failed", "WebAuthn config required");
  }
  const params = raw as Record<string, unknown>;
  if (params.type !== "create" && params.type !== "request") {
    throw new HttpError(400, "validation_failed", "WebAuthn type must be create or request");
  }
  const response = params.credential_response;
  if (response === undefined || response === null) {
    throw new HttpError(400, "validation_failed", "credential_response required");
  }
  if (typeof response !== "object" || typeof (response as Record<string, unknown>).id !== "string") {
    throw new HttpError(400, "validation_failed", "Invalid credential_response");
  }
  return { type: params.type, credential_response: response as Record<string, unknown> };
}

/**
 * Verifies the browser's answer to a challenge (go-webauthn's `CreateCredential` or `ValidateLogin`):
 * the challenge, origin, RP ID and signature; for `request`, against one of the user's credentials.
 *
 * @param settings The relying party.
 * @param db Where the user's factors are.
 * @param userId The user.
 * @param session The challenge's session data.
 * @param params The checked `webauthn` params.
 * @returns For `create`, the credential and AAGUID to keep on the factor.
 * @throws {HttpError} 500 as GoTrue answers a failed ceremony: `unexpected_failure` (create), "Failed to
 *   validate WebAuthn MFA response" (request).
 */
export async function finishWebAuthnCeremony(
  settings: WebAuthnSettings,
  db: Db,
  userId: string,
  session: WebAuthnSessionData,
  params: WebAuthnParams,
): Promise<{ credential: StoredCredential; aaguid: string | null } | undefined> {
  const expected = {
    expectedChallenge: session.challenge,
    expectedOrigin: settings.rpOrigins,
    expectedRPID: settings.rpId,
    requireUserVerification: false,
  };
  if (params.type === "create") {
    let info;
    try {
      const result = await verifyRegistrationResponse({
        ...expected,
        response: params.credential_response as unknown as RegistrationResponseJSON,
      });
      info = result.verified ? result.registrationInfo : undefined;
    } catch (err) {
      console.error(
        "Auth emulator: WebAuthn registration refused:",
        err instanceof Error ? err.message : err,
      );
    }
    if (!info) {
      throw new HttpError(
        500,
        "unexpected_failure",
        "Unexpected failure, please check server logs for more information",
      );
    }
    const response = params.credential_response as unknown as RegistrationResponseJSON;
    const aaguid = info.aaguid === "00000000-0000-0000-0000-000000000000" ? null : info.aaguid;
    return {
      aaguid,
      credential: {
        id: Buffer.from(info.credential.id, "base64url").toString("base64"),
        publicKey: Buffer.from(info.credential.publicKey).toString("base64"),
        attestationType: info.fmt,
        transport: response.response.transports ?? [],
        flags: {
          userPresent: true,
          userVerified: info.userVerified,
          backupEligible: info.credentialDeviceType === "multiDevice",
          backupState: info.credentialBackedUp,
        },
        authenticator: {
          AAGUID: Buffer.from(info.aaguid.replaceAll("-", ""), "hex").toString("base64"),
          signCount: info.credential.counter,
          cloneWarning: false,
          attachment: (response.authenticatorAttachment as string | undefined) ?? "",
        },
      },
    };
  }
  const response = params.credential_response as unknown as AuthenticationResponseJSON;
  const stored = (await userCredentials(db, userId)).find((c) => toBase64Url(c.id) === response.rawId);
  let verified = false;
  try {
    verified = stored !== undefined && (await verifyAuthenticationResponse({
      ...expected,
      response,
      credential: {
        id: toBase64Url(stored.id),
        publicKey: new Uint8Array(Buffer.from(stored.publicKey, "base64")),
        counter: stored.authenticator.signCount,
        transports: stored.transport,
      },
    })).verified;
  } catch (err) {
    console.error("Auth emulator: WebAuthn assertion refused:", err instanceof Error ? err.message : err);
  }
  if (!verified) throw new HttpError(500, "unexpected_failure", "Failed to validate WebAuthn MFA response");
  return undefined;
}

// User.WebAuthnCredentials: the credentials of the user's verified WebAuthn factors.
async function userCredentials(db: Db, userId: string): Promise<StoredCredential[]> {
  const rows = await db<{ web_authn_credential: StoredCredential }[]>`
    select web_authn_credential from auth.mfa_factors
     where user_id = ${userId} and factor_type = 'webauthn' and status = 'verified'
       and web_authn_credential is not null`;
  return rows.map((row) => row.web_authn_credential);
}

function sessionData(challenge: string, rpId: string, userId: string): WebAuthnSessionData {
  return { challenge, rpId, user_id: userId, userVerification: "preferred" };
}

function toBase64Url(base64: string): string {
  return Buffer.from(base64, "base64").toString("base64url");
}
