/**
 * The project's opaque API keys, `sb_publishable_…` and `sb_secret_…`, made in the shape `supabase start`
 * prints (supabase/cli `pkg/config/apikeys.go`: `sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH`), but
 * random per state directory rather than the CLI's fixed pair. Auth never sees them: the gateway checks them
 * and swaps them for the legacy JWTs (`dev/gateway.ts`).
 *
 * @module
 */

/** The two kinds of opaque key. */
export type ApiKeyKind = "publishable" | "secret";

/**
 * Makes a random key of one kind: `sb_<kind>_`, 22 base64url characters (16 random bytes), `_`, and 8 more.
 * On the platform those last 8 are a checksum whose algorithm is not public; here they are random too: the
 * gateway compares whole keys, and supabase-js looks only at the prefix.
 *
 * @param kind `publishable` or `secret`.
 * @returns The key.
 * @example A publishable key
 * ```ts
 * generateApiKey("publishable"); // "sb_publishable_Xq…_Ab…"
 * ```
 */
export function generateApiKey(kind: ApiKeyKind): string {
  return `sb_${kind}_${base64url(16)}_${base64url(6)}`;
}

function base64url(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}
