/**
 * {@linkcode createBackendSession}: keeps one backend token for the signed-in Supabase user, obtained
 * from the `exchange-token` Edge Function, and hands it to the Python backend.
 *
 * - One exchange at a time: concurrent callers share the exchange in flight.
 * - The token is reused until `refreshMarginMs` before it expires (at most half its lifetime), then
 *   exchanged again, in the background when `autoRefresh` is on and on the next `getToken()` anyway.
 * - `SIGNED_OUT` or a different user drops the token at once; an exchange that was in flight when the
 *   user changed is aborted and its answer is never handed out.
 *
 * Browser-safe: only web APIs (`fetch`, `Request`, `AbortController`, timers), no supabase-js import.
 *
 * @module
 */
import { toBackendToken, toSessionError } from "./_exchange.ts";
import { readSession } from "./_invoke.ts";
import { BackendSessionError, type BackendSessionErrorCode } from "./errors.ts";
import type { BackendToken, SessionLike, SupabaseLike, Timers } from "./types.ts";

/**
 * Options of {@linkcode createBackendSession}.
 *
 * @example A fake clock in a test
 * ```ts ignore
 * const session = createBackendSession(fakeSupabase, { now: clock.now, timers: clock, fetch: fakeFetch });
 * ```
 */
export interface BackendSessionOptions {
  /** Name of the Edge Function. Default `"exchange-token"`. */
  functionName?: string;
  /** Tenant to ask for at first; `null` or absent asks for the caller's default tenant. */
  tenantId?: string | null;
  /**
   * Exchange again this many milliseconds before the token expires. Default 60 000. Capped at half the
   * token's lifetime, so a short-lived token is not exchanged on every call.
   */
  refreshMarginMs?: number;
  /** Refresh in the background (one timer) when the margin is reached. Default `true`. */
  autoRefresh?: boolean;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Timer functions. Default the global `setTimeout`/`clearTimeout`. */
  timers?: Timers;
  /** The `fetch` used by {@linkcode BackendSession.fetch}. Default the global `fetch`. */
  fetch?: (input: Request) => Promise<Response>;
  /**
   * How long to wait before each new try of an exchange that failed with `relay_error` (the Edge runtime
   * could not run the function: it failed to boot, crashed or went over a limit; the next request gets a
   * fresh worker). A `Retry-After` on the answer replaces the wait. Default `[500, 2000]`: two more tries;
   * `[]` never retries.
   */
  retryDelaysMs?: readonly number[];
}

/**
 * A backend session: the token for the current user and tenant, and a `fetch` that sends it.
 *
 * @example
 * ```ts ignore
 * const backend: BackendSession = createBackendSession(supabase);
 * const res = await backend.fetch(`${PYTHON_API}/me`);
 * ```
 */
export interface BackendSession {
  /**
   * Returns a backend token for the signed-in user, exchanging only when there is none, it is within
   * the refresh margin, or the user or tenant changed.
   *
   * @returns The backend JWT.
   * @throws {BackendSessionError} The contract's code (`invalid_token`, `no_tenant`, `not_a_member`,
   * `auth_unavailable`, ...) or the client's (`not_signed_in`, `network_error`, `relay_error`,
   * `unexpected_response`, `session_changed`, `disposed`).
   * @example Calling the backend by hand
   * ```ts ignore
   * const token = await session.getToken();
   * await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
   * ```
   */
  getToken(): Promise<string>;

  /**
   * `fetch` with `Authorization: Bearer <backend token>`. On a 401 from the backend it exchanges once
   * more and retries once, with the same user; a second 401 is returned as is. The body of a request
   * is buffered for the retry (`Request.clone()`); a relative URL needs a document base (browsers).
   *
   * @param input The URL or `Request`, as for `fetch`.
   * @param init Request options, as for `fetch`.
   * @returns The backend's response (the retry's, after a 401).
   * @throws {BackendSessionError} When no token can be obtained (see `getToken`).
   * @throws {TypeError} What `fetch` throws (network failure, invalid URL).
   * @example Calling the Python API
   * ```ts ignore
   * const res = await session.fetch("https://api.example.com/items");
   * ```
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;

  /**
   * Picks the tenant for the next exchanges (sent as `{ tenant_id }`), or the default with `null`.
   * A different choice drops the cached token and aborts an exchange in flight; the next `getToken()`
   * exchanges with the new body. Reset to the initial `tenantId` when the user changes.
   *
   * @param tenantId A tenant id of the caller's, or `null` for the default tenant.
   * @throws {TypeError} When `tenantId` is neither a non-empty string nor `null`.
   * @example Switching tenant
   * ```ts ignore
   * session.selectTenant("acme");
   * const token = await session.getToken(); // rejects with `not_a_member` if acme is not yours
   * ```
   */
  selectTenant(tenantId: string | null): void;

  /**
   * Forgets the cached token and aborts an exchange in flight (listeners get `null`). The tenant
   * choice and the auth subscription stay.
   *
   * @example Forcing a fresh token after a role change
   * ```ts ignore
   * session.clear();
   * await session.getToken();
   * ```
   */
  clear(): void;

  /**
   * Subscribes to token changes: called with the new token after each exchange, and with `null` when
   * the token is dropped (sign-out, user or tenant change, `clear()`, a refused refresh).
   *
   * @param callback Receives the new token or `null`.
   * @returns A function that unsubscribes.
   * @example Showing the tenant
   * ```ts ignore
   * const unsubscribe = session.onTokenChange((t) => render(t?.tenantId ?? "signed out"));
   * ```
   */
  onTokenChange(callback: (token: BackendToken | null) => void): () => void;

  /**
   * The cached token while it has not expired, else `null`. Never exchanges.
   *
   * @example
   * ```ts ignore
   * const tenant = session.current?.tenantId;
   * ```
   */
  readonly current: BackendToken | null;

  /**
   * The tenant the exchanges ask for (the last `selectTenant`, else the initial `tenantId`), or `null`
   * for the caller's default tenant.
   *
   * @example
   * ```ts ignore
   * const asking = session.tenantId ?? "(default)";
   * ```
   */
  readonly tenantId: string | null;

  /**
   * Stops everything: unsubscribes from Supabase Auth, cancels the refresh timer and an exchange in
   * flight, drops the token and the listeners. Later `getToken()` calls reject with `disposed`.
   *
   * @example Tearing down
   * ```ts ignore
   * session.dispose();
   * ```
   */
  dispose(): void;
}

const DEFAULT_REFRESH_MARGIN_MS = 60_000;
/** The Edge runtime sends no `Retry-After` with its errors: the session's own backoff. */
const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [500, 2000];
/** Longest delay `setTimeout` honours (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;
/** How often `getToken()` starts over after the user or tenant changed under it. */
const MAX_ATTEMPTS = 3;
/** Failures after which a cached token must not be used any more. */
const FATAL_CODES: ReadonlySet<BackendSessionErrorCode> = new Set<BackendSessionErrorCode>([
  "not_signed_in",
  "invalid_token",
  "insufficient_user_authentication",
  "no_tenant",
  "not_a_member",
]);

interface CacheEntry {
  value: BackendToken;
  /** `now()` from which the token is exchanged again. */
  refreshAt: number;
}

interface Flight {
  /** The generation it was started in; its answer is used only if it is still current. */
  epoch: number;
  promise: Promise<BackendToken>;
  controller: AbortController;
  /** The user the session belonged to when the exchange was sent, once known. */
  userId?: string;
}

/** Thrown inside a flight whose generation ended; never reaches a caller. */
class StaleExchange extends Error {}

/**
 * Creates a backend session on top of a supabase-js client.
 *
 * @param supabase A supabase-js client (or anything with `auth.getSession`, `auth.onAuthStateChange`
 * and `functions.invoke`).
 * @param options Tenant, refresh margin, and the clock, timers and `fetch` to use.
 * @returns The session; call `dispose()` when done with it.
 * @throws {TypeError} When `refreshMarginMs` is negative or not a number, or `tenantId` is an empty
 * string.
 * @example With supabase-js
 * ```ts ignore
 * import { createClient } from "@supabase/supabase-js";
 * import { createBackendSession } from "./mod.ts";
 *
 * const supabase = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
 * const backend = createBackendSession(supabase, { refreshMarginMs: 60_000 });
 * await supabase.auth.signInWithPassword({ email, password });
 * const res = await backend.fetch("https://api.example.com/me");
 * ```
 */
export function createBackendSession(
  supabase: SupabaseLike,
  options: BackendSessionOptions = {},
): BackendSession {
  const functionName = options.functionName ?? "exchange-token";
  const initialTenant = options.tenantId ?? null;
  const refreshMarginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  const autoRefresh = options.autoRefresh ?? true;
  const now = options.now ?? (() => Date.now());
  const timers: Timers = options.timers ?? {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
  const fetchImpl = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  if (typeof refreshMarginMs !== "number" || !(refreshMarginMs >= 0)) {
    throw new TypeError("refreshMarginMs must be a number of milliseconds, 0 or more");
  }
  if (!Array.isArray(retryDelaysMs) || !retryDelaysMs.every((ms) => typeof ms === "number" && ms >= 0)) {
    throw new TypeError("retryDelaysMs must be a list of milliseconds, each 0 or more");
  }
  assertTenantId(initialTenant);

  /** Bumped whenever the user, the tenant or the token is reset; stale flights compare against it. */
  let epoch = 0;
  let cached: CacheEntry | null = null;
  let flight: Flight | null = null;
  let tenantId = initialTenant;
  /** The user of the last auth event: `undefined` before the first one, `null` when signed out. */
  let knownUserId: string | null | undefined = undefined;
  let timer: unknown = undefined;
  let disposed = false;
  const listeners = new Set<(token: BackendToken | null) => void>();

  function notify(value: BackendToken | null): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (err) {
        reportListenerError(err);
      }
    }
  }

  function setCached(entry: CacheEntry | null): void {
    const previous = cached;
    cached = entry;
    cancelTimer();
    if (entry) schedule(entry);
    if ((previous?.value ?? null) !== (entry?.value ?? null)) notify(entry?.value ?? null);
  }

  function cancelTimer(): void {
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
  }

  function schedule(entry: CacheEntry): void {
    if (!autoRefresh || disposed) return;
    const delay = Math.min(Math.max(0, entry.refreshAt - now()), MAX_TIMER_DELAY_MS);
    timer = timers.setTimeout(onTimer, delay);
  }

  function onTimer(): void {
    timer = undefined;
    if (disposed || !cached) return;
    if (now() < cached.refreshAt) return schedule(cached);
    if (!flight) startFlight();
  }

  /** Ends the current generation: no token, no exchange in flight, and optionally the initial tenant. */
  function invalidate(resetTenant: boolean): void {
    epoch++;
    flight?.controller.abort();
    flight = null;
    if (resetTenant) tenantId = initialTenant;
    setCached(null);
  }

  function startFlight(): Flight {
    const f: Flight = {
      epoch,
      controller: new AbortController(),
      promise: undefined as unknown as Promise<BackendToken>,
    };
    f.promise = exchange(f);
    const settle = () => {
      if (flight === f) flight = null;
    };
    f.promise.then(settle, settle);
    flight = f;
    return f;
  }

  async function exchange(f: Flight): Promise<BackendToken> {
    const body: Record<string, string> = tenantId === null ? {} : { tenant_id: tenantId };
    try {
      const session = await readSession(supabase);
      if (f.epoch !== epoch) throw new StaleExchange();
      f.userId = session.user.id;

      let sentAt: number;
      let result;
      for (let tries = 0;; tries++) {
        sentAt = now();
        try {
          result = await supabase.functions.invoke(functionName, { body, signal: f.controller.signal });
        } catch (err) {
          result = { data: null, error: err };
        }
        if (f.epoch !== epoch) throw new StaleExchange();
        if (!result.error) break;
        const err = await toSessionError(result.error, functionName);
        if (err.code !== "relay_error" || tries >= retryDelaysMs.length) throw err;
        await sleep(err.retryAfter === undefined ? retryDelaysMs[tries] : err.retryAfter * 1000, f);
        if (f.epoch !== epoch) throw new StaleExchange();
      }
      const value = toBackendToken(result.data, sentAt);
      if (f.epoch !== epoch) throw new StaleExchange();

      if (value.userId !== f.userId) {
        // The session changed between getSession() and the request, and its auth event has not
        // arrived yet: the answer is not for the user we asked for. Start over as that event would.
        invalidate(true);
        throw new StaleExchange();
      }

      const lifetime = value.expiresAt - sentAt;
      const margin = Math.min(refreshMarginMs, Math.max(0, lifetime) / 2);
      setCached({ value, refreshAt: value.expiresAt - margin });
      return value;
    } catch (err) {
      if (
        err instanceof BackendSessionError && f.epoch === epoch && FATAL_CODES.has(err.code) && cached
      ) {
        setCached(null);
      }
      throw err;
    }
  }

  /** Waits `ms`, or less if the flight is aborted (its caller then sees it is stale). */
  function sleep(ms: number, f: Flight): Promise<void> {
    return new Promise((resolve) => {
      const signal = f.controller.signal;
      const done = () => {
        timers.clearTimeout(handle);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const handle = timers.setTimeout(done, Math.min(ms, MAX_TIMER_DELAY_MS));
      signal.addEventListener("abort", done);
    });
  }

  /** Returns the token, exchanging as needed; `rejected` is a token the backend just refused. */
  async function acquire(rejected?: string): Promise<BackendToken> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (disposed) throw new BackendSessionError("disposed", "The backend session was disposed");
      const entry = cached;
      if (entry && entry.value.token !== rejected && now() < entry.refreshAt) return entry.value;
      const f = flight ?? startFlight();
      try {
        const value = await f.promise;
        if (f.epoch === epoch) return value;
      } catch (err) {
        if (f.epoch === epoch) {
          // A refresh inside the margin failed for a passing reason: the old token is still good.
          const still = cached;
          if (still && still.value.token !== rejected && now() < still.value.expiresAt) return still.value;
          throw err;
        }
      }
      // The user, the tenant or the token was reset while we waited: start over in the new generation.
    }
    throw new BackendSessionError(
      "session_changed",
      "The Supabase session kept changing while a backend token was being obtained",
    );
  }

  function onAuthEvent(event: string, session: SessionLike | null): void {
    if (disposed) return;
    const userId = session?.user?.id ?? null;
    const previous = knownUserId;
    knownUserId = userId;
    const holder = cached?.value.userId ?? flight?.userId;
    if (event === "SIGNED_OUT" || userId === null) return invalidate(true);
    if ((previous != null && previous !== userId) || (holder !== undefined && holder !== userId)) {
      return invalidate(true);
    }
    if (
      event === "USER_UPDATED" && cached && (cached.value.email || null) !== (session?.user.email || null)
    ) {
      // The token carries the email claim; do not let the backend see the old one for days.
      invalidate(false);
    }
  }

  const { data: { subscription } } = supabase.auth.onAuthStateChange(onAuthEvent);

  async function send(request: Request, token: string): Promise<Response> {
    request.headers.set("Authorization", `Bearer ${token}`);
    return await fetchImpl(request);
  }

  return {
    async getToken() {
      return (await acquire()).token;
    },

    async fetch(input, init) {
      const request = new Request(input, init);
      const first = await acquire();
      const response = await send(request.clone(), first.token);
      if (response.status !== 401) return response;
      let second: BackendToken;
      try {
        second = await acquire(first.token);
      } catch (err) {
        await response.body?.cancel();
        throw err;
      }
      // Never replay a request made for one user with another user's token.
      if (second.userId !== first.userId) return response;
      await response.body?.cancel();
      return await send(request, second.token);
    },

    selectTenant(id) {
      assertTenantId(id);
      if (id === tenantId) return;
      tenantId = id;
      invalidate(false);
    },

    clear() {
      invalidate(false);
    },

    onTokenChange(callback) {
      const listener = (token: BackendToken | null) => callback(token);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    get current() {
      return cached && now() < cached.value.expiresAt ? cached.value : null;
    },

    get tenantId() {
      return tenantId;
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      subscription.unsubscribe();
      invalidate(true);
      listeners.clear();
    },
  };
}

function assertTenantId(tenantId: unknown): asserts tenantId is string | null {
  if (tenantId !== null && (typeof tenantId !== "string" || tenantId === "")) {
    throw new TypeError("tenantId must be a non-empty string, or null for the default tenant");
  }
}

function reportListenerError(err: unknown): void {
  const report = (globalThis as { reportError?: (err: unknown) => void }).reportError;
  if (typeof report === "function") report(err);
  else console.error(err);
}
