/**
 * The shapes the browser client shares with its callers: the backend token it hands out, and the
 * structural slice of a supabase-js client it uses, so that a real `SupabaseClient` fits without this
 * module importing supabase-js.
 *
 * @module
 */

/**
 * A backend token with the claims the `exchange-token` function reported for it.
 *
 * @example Showing who and where the user is
 * ```ts ignore
 * session.onTokenChange((t: BackendToken | null) => {
 *   label.textContent = t ? `${t.email} in ${t.tenantId} (${t.role})` : "signed out";
 * });
 * ```
 */
export interface BackendToken {
  /** The HS256 JWT for the Python backend (`backend_token`). */
  readonly token: string;
  /** Supabase user id the token was issued to (`user_id`). */
  readonly userId: string;
  /** The tenant id the backend knows (`tenant_id`). */
  readonly tenantId: string;
  /** The caller's role in that tenant (`role`). */
  readonly role: string;
  /** The user's email, or `null` when the user has none (`email`). */
  readonly email: string | null;
  /**
   * When the token expires, in milliseconds since the epoch on the client's clock (`now()`), counted
   * from when the exchange was sent plus `expires_in`, so a skewed browser clock does not matter.
   */
  readonly expiresAt: number;
}

/**
 * The part of a supabase-js `Session` the client reads.
 *
 * @example The smallest session a fake needs
 * ```ts
 * const session: SessionLike = { user: { id: "6f1c...", email: "ada@example.com" } };
 * ```
 */
export interface SessionLike {
  /** The signed-in user. */
  user: {
    /** Supabase user id. */
    id: string;
    /** The user's email, when known. */
    email?: string | null;
  };
}

/**
 * The answer of `supabase.functions.invoke` (`FunctionsResponse`).
 *
 * @example A success and a failure
 * ```ts ignore
 * const ok: InvokeResult = { data: { backend_token: "eyJ..." }, error: null };
 * const failed: InvokeResult = { data: null, error: new FunctionsHttpError(response) };
 * ```
 */
export interface InvokeResult {
  /** The parsed body on success. */
  data: unknown;
  /** A `FunctionsHttpError`, `FunctionsRelayError` or `FunctionsFetchError` on failure. */
  error: unknown;
}

/**
 * The slice of a supabase-js client used by {@linkcode createBackendSession} and
 * {@linkcode createTenantClient}: `auth.getSession`, `auth.onAuthStateChange` and `functions.invoke`. A
 * `SupabaseClient` from `@supabase/supabase-js` satisfies it.
 *
 * @example A real client fits
 * ```ts ignore
 * import { createClient } from "@supabase/supabase-js";
 *
 * const supabase: SupabaseLike = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
 * ```
 */
export interface SupabaseLike {
  /** Supabase Auth. */
  auth: {
    /** Reads the current session (refreshing it first when it has expired). */
    getSession(): Promise<{ data: { session: SessionLike | null }; error: unknown }>;
    /** Subscribes to auth events (`INITIAL_SESSION`, `SIGNED_IN`, `SIGNED_OUT`, ...). */
    onAuthStateChange(
      callback: (event: string, session: SessionLike | null) => void,
    ): { data: { subscription: { unsubscribe(): void } } };
  };
  /** Supabase Edge Functions. */
  functions: {
    /**
     * Calls an Edge Function with the session's access token; `functionName` may go on with a path and a
     * query (`tenants/acme/members`), and `method` defaults to `POST`.
     */
    invoke(
      functionName: string,
      options: { body?: Record<string, unknown>; method?: HttpMethod; signal?: AbortSignal },
    ): Promise<InvokeResult>;
  };
}

/**
 * The HTTP methods `supabase.functions.invoke` sends.
 *
 * @example
 * ```ts
 * const method: HttpMethod = "PATCH";
 * ```
 */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Timer functions, injectable so tests can drive a fake clock.
 *
 * @example The default, spelled out
 * ```ts
 * const timers: Timers = {
 *   setTimeout: (callback, ms) => setTimeout(callback, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as number),
 * };
 * ```
 */
export interface Timers {
  /** Schedules `callback` after `ms` milliseconds and returns a handle. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a handle returned by `setTimeout`. */
  clearTimeout(handle: unknown): void;
}
