/**
 * Test support for the hostile replays: calling the functions through the local stack's gateway as any HTTP
 * client does, and a supabase-js client that keeps nothing between calls.
 *
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { LocalStack } from "../../dev/stack.ts";

/** A supabase-js client of the stack that persists and refreshes nothing. */
export function client(stack: LocalStack): SupabaseClient {
  return createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

/** A call to `/functions/v1{path}` through the gateway, with a bearer token and the publishable key. */
export async function invoke(
  stack: LocalStack,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const res = await fetch(`${stack.apiUrl}/functions/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      apikey: stack.publishableKey,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // The body as JSON, untyped: each replay reads the fields its finding is about.
  return { status: res.status, headers: res.headers, body: await res.json() };
}
