/**
 * The signed-in user's backend token as an external store (the core of `useBackendToken()`): it follows
 * Supabase Auth, exchanges once a user is signed in and again whenever the session drops its token (a
 * tenant switch, `clear()`), and forgets everything at sign-out. Plain TypeScript, no React.
 *
 * @module
 */
import type {
  BackendSession,
  BackendSessionError,
  BackendToken,
  SupabaseLike,
} from "supabase-exchange-token/client";
import { createExternalStore } from "./_external_store.ts";
import { toSessionError } from "./_session_error.ts";

/** What `useBackendToken()` renders from. */
export interface TokenState {
  /** The signed-in Supabase user's id, or `null` when nobody is signed in. */
  readonly userId: string | null;
  /** The current backend token, or `null` while there is none (signed out, exchanging, refused). */
  readonly token: BackendToken | null;
  /** Why the last exchange failed (`no_tenant`, `not_a_member`, `network_error`, ...), else `null`. */
  readonly error: BackendSessionError | null;
  /** An exchange is under way. */
  readonly loading: boolean;
}

/** The store behind `useBackendToken()`. */
export interface TokenStore {
  /** `useSyncExternalStore`'s `subscribe`; the first subscriber starts following Auth and the session. */
  subscribe(onChange: () => void): () => void;
  /** `useSyncExternalStore`'s `getSnapshot`. */
  getSnapshot(): TokenState;
  /** Exchanges now (when none is cached); the outcome lands in the state, never as a rejection. */
  refresh(): Promise<void>;
}

const SIGNED_OUT: TokenState = { userId: null, token: null, error: null, loading: false };

/**
 * Creates the store for one supabase-js client and the backend session made from it.
 *
 * @param supabase The supabase-js client (`auth.onAuthStateChange` is followed).
 * @param session `createBackendSession(supabase)`.
 * @returns The store.
 * @example
 * ```ts ignore
 * const tokens = createTokenStore(supabase, createBackendSession(supabase));
 * const stop = tokens.subscribe(() => console.log(tokens.getSnapshot().token?.tenantId));
 * ```
 */
export function createTokenStore(supabase: SupabaseLike, session: BackendSession): TokenStore {
  // Bumped at every user change: an exchange started for an earlier user never lands in the state.
  let generation = 0;
  const store = createExternalStore<TokenState>(SIGNED_OUT, () => {
    const { data } = supabase.auth.onAuthStateChange((_event, authSession) => {
      const userId = authSession?.user.id ?? null;
      if (userId === store.getSnapshot().userId) return;
      generation++;
      store.update({ ...SIGNED_OUT, userId });
      if (userId) void refresh();
    });
    const stopTokens = session.onTokenChange((token) => {
      if (token) store.update({ token, error: null, loading: false });
      else if (store.getSnapshot().userId) void refresh(); // a tenant switch or clear(): exchange again
      else store.update({ token: null });
    });
    return () => {
      data.subscription.unsubscribe();
      stopTokens();
    };
  });

  async function refresh(): Promise<void> {
    const started = generation;
    store.update({ loading: true });
    try {
      await session.getToken();
      if (started === generation) store.update({ token: session.current, error: null, loading: false });
    } catch (err) {
      if (started === generation) store.update({ token: null, error: toSessionError(err), loading: false });
    }
  }

  return { subscribe: store.subscribe, getSnapshot: store.getSnapshot, refresh };
}
