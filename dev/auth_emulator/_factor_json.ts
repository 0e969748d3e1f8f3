/**
 * MFA factors: their `auth.mfa_factors` row, and GoTrue's JSON of it (`models.Factor`), alone as the admin
 * factor routes answer, and as the `factors` of a user, which GoTrue loads with the user and supabase-js
 * `auth.mfa.listFactors()` reads from `GET /user` and from a session's `user`.
 *
 * @module
 */
import type { Db } from "./_store.ts";

/** The factor types the emulator enrols. */
export type FactorType = "totp" | "webauthn";

/** An `auth.mfa_factors` row. */
export interface FactorRow {
  id: string;
  user_id: string;
  friendly_name: string | null;
  factor_type: FactorType;
  status: "unverified" | "verified";
  secret: string;
  created_at: Date;
  updated_at: Date;
  phone: string | null;
  last_challenged_at: Date | null;
  web_authn_aaguid: string | null;
  last_webauthn_challenge_data: unknown;
}

/** GoTrue's `Factor` JSON: never the TOTP secret nor the WebAuthn credential. */
export interface FactorJson {
  id: string;
  created_at: string;
  updated_at: string;
  status: string;
  friendly_name?: string;
  factor_type: string;
  /** `storage.NullString`, a plain string in JSON: `""` when there is none. */
  phone: string;
  last_challenged_at: string | null;
  web_authn_aaguid?: string;
  last_webauthn_challenge_data?: unknown;
}

/**
 * GoTrue's `models.Factor` JSON (the secret and the WebAuthn credential never leave; the `omitempty`
 * fields are left out when empty).
 *
 * @param factor The row.
 * @returns The JSON.
 */
export function factorJson(factor: FactorRow): FactorJson {
  return {
    id: factor.id,
    created_at: factor.created_at.toISOString(),
    updated_at: factor.updated_at.toISOString(),
    status: factor.status,
    ...(factor.friendly_name ? { friendly_name: factor.friendly_name } : {}),
    factor_type: factor.factor_type,
    phone: factor.phone ?? "",
    last_challenged_at: factor.last_challenged_at?.toISOString() ?? null,
    ...(factor.web_authn_aaguid ? { web_authn_aaguid: factor.web_authn_aaguid } : {}),
    ...(factor.last_webauthn_challenge_data
      ? { last_webauthn_challenge_data: factor.last_webauthn_challenge_data }
      : {}),
  };
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
  const rows = await db<FactorRow[]>`
    select * from auth.mfa_factors where user_id = ${userId} order by created_at, id`;
  return rows.map(factorJson);
}

/**
 * A user's JSON with its `factors`, as GoTrue's `User` carries them (left out when there are none).
 *
 * @param db The database.
 * @param json The user's JSON (`userJson`).
 * @returns The same, with `factors` when the user has any.
 */
export async function withFactors(db: Db, json: Record<string, unknown>): Promise<Record<string, unknown>> {
  const factors = await listFactorsJson(db, json.id as string);
  return factors.length === 0 ? json : { ...json, factors };
}
