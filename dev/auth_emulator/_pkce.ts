/**
 * PKCE, as GoTrue runs it for mailed links (`internal/api/pkce.go`, `internal/models/flow_state.go`,
 * `internal/security/pkce.go`, the `pkce` grant of `token.go`): a request carrying `code_challenge` and
 * `code_challenge_method` stores a flow state in `auth.flow_state` and mails a token prefixed `pkce_`; the
 * link's `GET /verify` then redirects with `?code=<auth code>` instead of a session, and `POST
 * /token?grant_type=pkce` trades that code and the verifier for the session.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { readParams } from "./_params.ts";
import { type Db, startSessionIn } from "./_store.ts";
import { issueSession } from "./_tokens.ts";
import { findUserById } from "./_users.ts";

/** What prefixes a mailed token of the PKCE flow (GoTrue's `PKCEPrefix`). */
export const PKCE_PREFIX = "pkce_";

/** GoTrue's `defaultFlowStateExpiryDuration` (also the least `GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION`). */
const FLOW_STATE_EXPIRY_SECONDS = 300;
const CODE_CHALLENGE = /^[a-zA-Z._~0-9-]+$/;

/** A request's PKCE parameters. */
export interface PkceChallenge {
  codeChallenge: string;
  codeChallengeMethod: string;
}

/**
 * The `code_challenge` and `code_challenge_method` of a request, checked as GoTrue's `validatePKCEParams`.
 *
 * @param params The request's params.
 * @returns The challenge, or undefined for the implicit flow (neither given).
 * @throws {HttpError} 400 `validation_failed` when only one is given, or the challenge is malformed.
 * @example
 * ```ts ignore
 * const pkce = readPkceChallenge(await readParams(req, "RecoverParams", { ...PKCE_FIELDS }));
 * ```
 */
export function readPkceChallenge(params: Record<string, unknown>): PkceChallenge | undefined {
  const codeChallenge = (params.code_challenge as string | undefined) ?? "";
  const codeChallengeMethod = (params.code_challenge_method as string | undefined) ?? "";
  if ((codeChallenge === "") !== (codeChallengeMethod === "")) {
    throw new HttpError(
      400,
      "validation_failed",
      "PKCE flow requires code_challenge_method and code_challenge",
    );
  }
  if (codeChallenge === "") return undefined;
  if (codeChallenge.length < 43 || codeChallenge.length > 128) {
    throw new HttpError(400, "validation_failed", "code challenge has to be between 43 and 128 characters");
  }
  if (!CODE_CHALLENGE.test(codeChallenge)) {
    throw new HttpError(
      400,
      "validation_failed",
      "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes",
    );
  }
  return { codeChallenge, codeChallengeMethod };
}

/** The fields {@linkcode readPkceChallenge} reads, for `readParams`. */
export const PKCE_FIELDS = { code_challenge: "string", code_challenge_method: "string" } as const;

/**
 * Stores a flow state with a fresh auth code (GoTrue's `generateFlowState`).
 *
 * @param tx The transaction.
 * @param userId The user the code will sign in.
 * @param providerType GoTrue's `provider_type` (`email`, `magiclink`, `recovery`, `email_change`).
 * @param authenticationMethod GoTrue's `AuthenticationMethod` (`email/signup`, `magiclink`, …).
 * @param pkce The challenge.
 * @throws {Error} For a method other than s256 or plain (GoTrue's `NewFlowState` fails: a 500).
 */
export async function createFlowState(
  tx: Db,
  userId: string,
  providerType: string,
  authenticationMethod: string,
  pkce: PkceChallenge,
): Promise<void> {
  const method = pkce.codeChallengeMethod.toLowerCase();
  if (method !== "s256" && method !== "plain") {
    throw new Error(`unsupported code_challenge method "${pkce.codeChallengeMethod}"`);
  }
  await tx`
    insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                                 authentication_method, created_at, updated_at)
    values (${crypto.randomUUID()}, ${userId}, ${crypto.randomUUID()}, ${method}, ${pkce.codeChallenge},
            ${providerType}, ${authenticationMethod}, now(), now())`;
}

/**
 * GoTrue's `ParseAuthenticationMethod` for a verification type: any `…signup` is `email/signup`.
 *
 * @param type The `/verify` type.
 * @returns The flow state's authentication method.
 */
export function authenticationMethodOf(type: string): string {
  return type.endsWith("signup") ? "email/signup" : type;
}

/**
 * The auth code of the user's newest flow state for a method, its issue time recorded (GoTrue's
 * `issueAuthCode`).
 *
 * @param tx The transaction.
 * @param userId The user whose link was verified.
 * @param authenticationMethod The method the link's type stands for.
 * @returns The auth code.
 * @throws {HttpError} 400 `flow_state_not_found`, as `verifyGet` wraps `issueAuthCode`'s refusal.
 */
export async function issueAuthCode(tx: Db, userId: string, authenticationMethod: string): Promise<string> {
  const [flowState] = await tx<{ id: string; auth_code: string | null }[]>`
    select id, auth_code from auth.flow_state
     where user_id = ${userId} and authentication_method = ${authenticationMethod}
     order by created_at desc, id desc limit 1`;
  const reason = !flowState
    ? "No valid flow state found for user."
    : flowState.auth_code
    ? undefined
    : "Flow state does not have an auth code (not a PKCE flow).";
  // verifyGet wraps issueAuthCode's 422 with its HTTPError text, "<status>: <message>".
  if (reason) {
    throw new HttpError(400, "flow_state_not_found", `No associated flow state found. 422: ${reason}`);
  }
  await tx`update auth.flow_state set auth_code_issued_at = now(), updated_at = now() where id = ${flowState.id}`;
  return flowState.auth_code!;
}

/**
 * `POST /token?grant_type=pkce` (GoTrue's `PKCE`): the auth code and the verifier its challenge was made
 * from buy the session, once.
 *
 * @param ctx The emulator's database, keys and token settings.
 * @param req The request, with `{ auth_code, code_verifier }`.
 * @returns The session.
 * @throws {HttpError} 400 `validation_failed` (a part missing), `bad_code_verifier`; 404
 *   `flow_state_not_found`; 422 `flow_state_expired`.
 * @example
 * ```ts ignore
 * if (url.searchParams.get("grant_type") === "pkce") return await pkceGrant(ctx, req);
 * ```
 */
export async function pkceGrant(ctx: AuthContext, req: Request): Promise<Response> {
  const params = await readParams(req, "PKCEGrantParams", { auth_code: "string", code_verifier: "string" });
  const authCode = (params.auth_code as string | undefined) ?? "";
  const codeVerifier = (params.code_verifier as string | undefined) ?? "";
  if (authCode === "" || codeVerifier === "") {
    throw new HttpError(
      400,
      "validation_failed",
      "invalid request: both auth code and code verifier should be non-empty",
    );
  }
  const session = await ctx.sql.begin(async (tx) => {
    const [flowState] = await tx<FlowStateRow[]>`
      select id, user_id, code_challenge, code_challenge_method, authentication_method, created_at,
             auth_code_issued_at
        from auth.flow_state where auth_code = ${authCode} limit 1 for update`;
    if (!flowState?.user_id) {
      throw new HttpError(404, "flow_state_not_found", "invalid flow state, no valid flow state found");
    }
    if (isExpired(flowState, ctx.now())) {
      throw new HttpError(422, "flow_state_expired", "invalid flow state, flow state has expired");
    }
    const user = await findUserById(tx, flowState.user_id);
    if (!user) throw new Error("the flow state's user is gone");
    const mismatch = verifyPkceChallenge(flowState, codeVerifier);
    if (mismatch) throw new HttpError(400, "bad_code_verifier", mismatch);
    await tx`delete from auth.flow_state where id = ${flowState.id}`;
    return await issueSession(ctx, await startSessionIn(tx, user.id, req.headers.get("User-Agent")), tx);
  });
  return Response.json(session);
}

interface FlowStateRow {
  id: string;
  user_id: string | null;
  code_challenge: string | null;
  code_challenge_method: string | null;
  authentication_method: string;
  created_at: Date;
  auth_code_issued_at: Date | null;
}

// FlowState.IsExpired: a magic link's code counts from its issue, any other from the flow's start.
function isExpired(flowState: FlowStateRow, now: Date): boolean {
  const start = flowState.auth_code_issued_at && flowState.authentication_method === "magiclink"
    ? flowState.auth_code_issued_at
    : flowState.created_at;
  return now.getTime() > start.getTime() + FLOW_STATE_EXPIRY_SECONDS * 1000;
}

// security.VerifyPKCEChallenge, in constant time; returns GoTrue's message on a mismatch.
function verifyPkceChallenge(flowState: FlowStateRow, codeVerifier: string): string | undefined {
  const challenge = flowState.code_challenge ?? "";
  let expected: string;
  switch ((flowState.code_challenge_method ?? "").toLowerCase()) {
    case "s256":
      expected = createHash("sha256").update(codeVerifier).digest("base64url");
      break;
    case "plain":
      expected = codeVerifier;
      break;
    default:
      return "code challenge method not supported";
  }
  const a = new TextEncoder().encode(challenge);
  const b = new TextEncoder().encode(expected);
  const same = a.length === b.length && timingSafeEqual(a, b);
  return same ? undefined : "code challenge does not match previously saved code verifier";
}
