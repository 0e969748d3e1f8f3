/**
 * Test support for running an end-to-end test once per kind of API key a project can use: the new
 * `sb_publishable_…`/`sb_secret_…` keys (the default), or the legacy anon and service_role JWTs only.
 *
 * @module
 */
import type { LocalStack, StackOptions } from "../../dev/stack.ts";

/** Which API keys the frontend, the admin client and the function use. */
export type KeyKind = "publishable" | "legacy";

/** Every kind, the default first. */
export const KEY_KINDS: readonly KeyKind[] = ["publishable", "legacy"];

/**
 * The stack's options for `kind`: on legacy keys the function is given only `SUPABASE_ANON_KEY` (an empty
 * setting counts as unset), as a project that never had the new keys.
 *
 * @param kind The key kind.
 * @param options The test's own options.
 * @returns The options to start the stack with.
 */
export function stackOptionsFor(kind: KeyKind, options: StackOptions = {}): StackOptions {
  if (kind === "publishable") return options;
  const legacy = { SUPABASE_PUBLISHABLE_KEYS: "", SUPABASE_SECRET_KEYS: "" };
  return { ...options, functionEnv: { ...legacy, ...options.functionEnv } };
}

/**
 * The keys a frontend (`client`) and a server (`admin`) use on `stack` with `kind`.
 *
 * @param stack The running stack.
 * @param kind The key kind.
 * @returns The publishable and secret keys, or the anon and service_role JWTs.
 */
export function keysFor(stack: LocalStack, kind: KeyKind): { client: string; admin: string } {
  return kind === "publishable"
    ? { client: stack.publishableKey, admin: stack.secretKey }
    : { client: stack.anonKey, admin: stack.serviceRoleKey };
}
