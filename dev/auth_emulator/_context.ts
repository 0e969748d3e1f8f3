/**
 * What every route of the Auth emulator is given: its database, its keys and its settings.
 *
 * @module
 */
import type postgres from "postgres";
import type { AuthKeys } from "./_keys.ts";

/** The shared state of one emulator instance, built once by `createAuthEmulator`. */
export interface AuthContext {
  /** The client for `auth.*` of the project's database. */
  sql: postgres.Sql;
  /** The `iss` claim: the public base URL followed by `/auth/v1`. */
  issuer: string;
  /** Signs and verifies access tokens, and publishes the JWKS. */
  keys: Pick<AuthKeys, "sign" | "verify" | "jwks">;
  /** Whether sign-ups are confirmed at once (GoTrue's `GOTRUE_MAILER_AUTOCONFIRM`). */
  autoConfirm: boolean;
  /** Access-token lifetime (GoTrue's `GOTRUE_JWT_EXP`). */
  ttlSeconds: number;
  /** GoTrue's `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`. */
  reuseIntervalSeconds: number;
}

/** A route: the request, its parsed URL and the emulator's context in, GoTrue's answer out. */
export type Route = (ctx: AuthContext, req: Request, url: URL) => Promise<Response>;
