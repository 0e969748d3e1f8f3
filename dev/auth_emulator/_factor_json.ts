/**
 * MFA factors as GoTrue's JSON shows them: alone (`models.Factor`), and as the `factors` of a user, which
 * GoTrue loads with the user and supabase-js `auth.mfa.listFactors()` reads from `GET /user`.
 *
 * @module
 */
import type { FactorRow } from "./_factors.ts";
import type { Db } from "./_store.ts";

/**
 * A user's JSON with its `factors`, as GoTrue's `User` carries them (left out when there are none).
 *
 * @param db The database.
 * @param json The user's JSON (`userJson`).
 * @returns The same, with `factors` when the user has any.
 */
export async function withFactors(db: Db, json: Record<string, unknown>): Promise<Record<string, unknown>> {
  const factors = await db<FactorRow[]>`
    select * from auth.mfa_factors where user_id = ${json.id as string} order by created_at`;
  return factors.length === 0 ? json : { ...json, factors: factors.map(factorJson) };
}

/**
 * GoTrue's `models.Factor` JSON (the secret never leaves).
 *
 * @param factor The row.
 * @returns The JSON.
 */
export function factorJson(factor: FactorRow): Record<string, unknown> {
  return {
    id: factor.id,
    created_at: factor.created_at.toISOString(),
    updated_at: factor.updated_at.toISOString(),
    status: factor.status,
    ...(factor.friendly_name ? { friendly_name: factor.friendly_name } : {}),
    factor_type: factor.factor_type,
    phone: factor.phone ?? "",
    last_challenged_at: factor.last_challenged_at?.toISOString() ?? null,
  };
}
