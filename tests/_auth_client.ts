/**
 * Test support for calling Auth as an app does: a supabase-js client that keeps no session store and
 * refreshes nothing by itself, and GoTrue's refusal read off a supabase-js error in one comparable tuple.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AuthApiError, createClient, type SupabaseClient } from "@supabase/supabase-js";

/**
 * A supabase-js client on `url` with `key`, without a session store or automatic refreshes.
 *
 * @param url The project's URL (the gateway, or an Auth emulator's own).
 * @param key The publishable, secret or legacy key.
 * @returns The client.
 */
export function authClient(url: string, key: string): SupabaseClient {
  return createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } });
}

/**
 * GoTrue's refusal as `[status, error_code, message]`, for one `deepEqual` against GoTrue's own.
 *
 * @param error The `error` of a supabase-js `auth` call.
 * @returns The status, the code and the message.
 * @throws {AssertionError} When the call was not refused by Auth.
 */
export function refusal(error: unknown): [number, string | undefined, string] {
  assert.ok(error instanceof AuthApiError, `expected GoTrue's refusal, got ${error}`);
  return [error.status, error.code, error.message];
}
