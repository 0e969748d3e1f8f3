/**
 * Private helpers: read the signed-in user's session, and call an Edge Function through
 * `supabase.functions.invoke`, turning its failures into {@linkcode BackendSessionError}s.
 *
 * @module
 */
import { toSessionError } from "./_exchange.ts";
import { BackendSessionError } from "./errors.ts";
import type { HttpMethod, SessionLike, SupabaseLike } from "./types.ts";

/**
 * Reads supabase-js's current session.
 *
 * @param supabase The client.
 * @returns The session, with its user.
 * @throws {BackendSessionError} `not_signed_in` without a session (or when it cannot be read),
 * `network_error` when Auth could not be reached to refresh it.
 * @example
 * ```ts ignore
 * const { user } = await readSession(supabase);
 * ```
 */
export async function readSession(supabase: SupabaseLike): Promise<SessionLike> {
  let result;
  try {
    result = await supabase.auth.getSession();
  } catch (err) {
    result = { data: { session: null }, error: err };
  }
  const { data, error } = result;
  if (error) {
    const name = (error as { name?: unknown }).name;
    throw name === "AuthRetryableFetchError"
      ? new BackendSessionError("network_error", "Supabase Auth could not be reached", { cause: error })
      : new BackendSessionError("not_signed_in", "The Supabase session could not be read", { cause: error });
  }
  if (!data.session?.user?.id) {
    throw new BackendSessionError("not_signed_in", "Sign in with Supabase first");
  }
  return data.session;
}

/** One call of {@linkcode invokeFunction}. */
export interface FunctionCall {
  /** The function's name, e.g. `tenants`. */
  functionName: string;
  /** Path segments after the function's name, encoded here (`["acme", "members"]`). */
  path?: readonly string[];
  /** Query parameters; `undefined` values are left out. */
  query?: Record<string, string | number | undefined>;
  /** The HTTP method. */
  method: HttpMethod;
  /** A JSON body (for `POST`, `PUT`, `PATCH`). */
  body?: Record<string, unknown>;
}

/**
 * Calls an Edge Function as the signed-in user and returns its parsed answer.
 *
 * @param supabase The client; its session's access token is sent.
 * @param call The function, path, query, method and body.
 * @returns The session it was called with, and the answer's body (`""` for an empty one).
 * @throws {BackendSessionError} `invalid_request` (status 0, nothing sent) for an empty, `.` or `..` path
 * segment; `not_signed_in`, the function's code from its JSON error body (with the
 * HTTP `status` and `retryAfter`), `network_error` or `relay_error`.
 * @example Listing a tenant's members
 * ```ts ignore
 * const { data } = await invokeFunction(supabase, {
 *   functionName: "tenants",
 *   path: ["acme", "members"],
 *   method: "GET",
 * });
 * ```
 */
export async function invokeFunction(
  supabase: SupabaseLike,
  call: FunctionCall,
): Promise<{ session: SessionLike; data: unknown }> {
  // encodeURIComponent leaves `.` alone, and URL parsing drops a `.` or `..` segment (also spelt `%2e`): an
  // id of ".." from the app's input would send `DELETE tenants/acme/members/..` as `DELETE tenants/acme`,
  // or the user's token to another function. No id the functions accept is empty, `.` or `..`.
  for (const segment of call.path ?? []) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new BackendSessionError(
        "invalid_request",
        `${JSON.stringify(segment)} is not an id: a path segment must not be empty, . or ..`,
      );
    }
  }
  const session = await readSession(supabase);
  const segments = [call.functionName, ...(call.path ?? []).map(encodeURIComponent)];
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(call.query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const query = params.toString() === "" ? "" : `?${params}`;
  let result;
  try {
    result = await supabase.functions.invoke(`${segments.join("/")}${query}`, {
      method: call.method,
      ...(call.body === undefined ? {} : { body: call.body }),
    });
  } catch (err) {
    result = { data: null, error: err };
  }
  if (result.error) throw await toSessionError(result.error, call.functionName);
  return { session, data: result.data };
}
