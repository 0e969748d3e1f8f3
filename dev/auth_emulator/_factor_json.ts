/**
 * A user's MFA factors as GoTrue's `models.Factor` renders them in the user's JSON (`factors`, left out
 * when empty), which supabase-js `auth.mfa.listFactors()` reads from `GET /user`.
 *
 * @module
 */
import type { Db } from "./_store.ts";

/** GoTrue's `Factor` JSON: never the TOTP secret nor the WebAuthn credential. */
export interface FactorJson {
  id: string;
  created_at: string;
  updated_at: string;
  status: string;
  friendly_name?: string;
  factor_type: string;
  phone: string | null;
  last_challenged_at: string | null;
  web_authn_aaguid?: string;
  last_webauthn_challenge_data?: unknown;
}

/**
 * The user's factors, oldest first.
 *
 * @param db Where the factors are.
 * @param userId The user.
 * @returns The factors' JSON.
 * @example
 * ```ts ignore
 * const factors = await listFactorsJson(ctx.sql, user.id);
 * ```
 */
export async function listFactorsJson(db: Db, userId: string): Promise<FactorJson[]> {
  const rows = await db<{
    id: string;
    created_at: Date;
    updated_at: Date;
    status: string;
    friendly_name: string | null;
    factor_type: string;
    phone: string | null;
    last_challenged_at: Date | null;
    web_authn_aaguid: string | null;
    last_webauthn_challenge_data: unknown;
  }[]>`
    select id, created_at, updated_at, status, friendly_name, factor_type, phone, last_challenged_at,
           web_authn_aaguid, last_webauthn_challenge_data
      from auth.mfa_factors where user_id = ${userId} order by created_at, id`;
  return rows.map((row) => ({
    id: row.id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    status: row.status,
    ...(row.friendly_name ? { friendly_name: row.friendly_name } : {}),
    factor_type: row.factor_type,
    phone: row.phone,
    last_challenged_at: row.last_challenged_at?.toISOString() ?? null,
    ...(row.web_authn_aaguid ? { web_authn_aaguid: row.web_authn_aaguid } : {}),
    ...(row.last_webauthn_challenge_data
      ? { last_webauthn_challenge_data: row.last_webauthn_challenge_data }
      : {}),
  }));
}
