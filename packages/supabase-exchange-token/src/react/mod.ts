/**
 * React bindings for the exchange-token helper: {@linkcode BackendProvider} holds one backend session
 * for the app, {@linkcode useBackendToken} renders the signed-in user's backend token (exchanging when
 * a user signs in or switches tenant), and {@linkcode useTenants} the user's tenants. Both hooks read
 * plain external stores through `useSyncExternalStore` (React 18 or later, a peer dependency).
 *
 * @example An app
 * ```tsx ignore
 * import { createClient } from "@supabase/supabase-js";
 * import { createBackendSession } from "supabase-exchange-token/client";
 * import { BackendProvider, useBackendToken, useTenants } from "supabase-exchange-token/react";
 *
 * const supabase = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
 * const session = createBackendSession(supabase); // once per app, outside React
 *
 * function Who() {
 *   const { token, error } = useBackendToken();
 *   const { tenants } = useTenants();
 *   if (error) return <p>{error.code}</p>;
 *   return <p>{token ? `${token.email} in ${token.tenantId}` : "…"} ({tenants?.length ?? 0} tenants)</p>;
 * }
 *
 * root.render(<BackendProvider supabase={supabase} session={session}><Who /></BackendProvider>);
 * ```
 *
 * @module
 */
import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useMemo,
  useSyncExternalStore,
} from "react";
import {
  type BackendSession,
  createTenantClient,
  type SupabaseLike,
  type TenantClient,
} from "supabase-exchange-token/client";
import { createTenantsStore, type TenantsState, type TenantsStore } from "./tenants_store.ts";
import { createTokenStore, type TokenState, type TokenStore } from "./token_store.ts";

export { createTenantsStore, createTokenStore };
export type { TenantsState, TenantsStore, TokenState, TokenStore };

/** {@linkcode BackendProvider}'s props. */
export interface BackendProviderProps {
  /** The app's supabase-js client. */
  supabase: SupabaseLike;
  /** `createBackendSession(supabase)`, made once, outside any component. */
  session: BackendSession;
  /** The tenant client; default `createTenantClient(supabase, { session })`. */
  tenantClient?: TenantClient;
  children?: ReactNode;
}

interface Backend {
  session: BackendSession;
  tenantClient: TenantClient;
  tokens: TokenStore;
  tenants: TenantsStore;
}

const BackendContext = createContext<Backend | null>(null);

/**
 * Makes the session and its stores available to the hooks below it.
 *
 * @param props The supabase-js client, the backend session, optionally the tenant client.
 * @returns The provider element.
 * @example
 * ```tsx ignore
 * <BackendProvider supabase={supabase} session={session}><App /></BackendProvider>
 * ```
 */
export function BackendProvider(props: BackendProviderProps): ReactNode {
  const { supabase, session, tenantClient, children } = props;
  const backend = useMemo(() => {
    const client = tenantClient ?? createTenantClient(supabase, { session });
    const tokens = createTokenStore(supabase, session);
    return { session, tenantClient: client, tokens, tenants: createTenantsStore(client, tokens) };
  }, [supabase, session, tenantClient]);
  return createElement(BackendContext.Provider, { value: backend }, children);
}

function useBackend(hook: string): Backend {
  const backend = useContext(BackendContext);
  if (!backend) throw new Error(`${hook} needs a <BackendProvider> above it`);
  return backend;
}

/** What {@linkcode useBackendToken} returns. */
export interface BackendTokenHook extends TokenState {
  /** The session, for `fetch()` to the Python API and `selectTenant()`. */
  session: BackendSession;
  /** Exchanges again now (e.g. after an error the user can fix); never rejects. */
  refresh(): Promise<void>;
}

/**
 * The signed-in user's backend token: `null` while signed out or exchanging, the exchange's error in
 * `error` (a `BackendSessionError`; switch on `code`).
 *
 * @returns The token state, the session and `refresh()`.
 * @throws {Error} Outside a {@linkcode BackendProvider}.
 * @example
 * ```tsx ignore
 * const { token, error, session } = useBackendToken();
 * ```
 */
export function useBackendToken(): BackendTokenHook {
  const { session, tokens } = useBackend("useBackendToken()");
  const state = useSyncExternalStore(tokens.subscribe, tokens.getSnapshot, tokens.getSnapshot);
  return { ...state, session, refresh: tokens.refresh };
}

/** What {@linkcode useTenants} returns. */
export interface TenantsHook extends TenantsState {
  /** The tenant client, for members, invitations and the audit trail. */
  client: TenantClient;
  /** Reads the list again (after `accept()`, `leave()`, ...); never rejects. */
  reload(): Promise<void>;
}

/**
 * The signed-in user's tenants (every page), with their role in each.
 *
 * @returns The list state, the tenant client and `reload()`.
 * @throws {Error} Outside a {@linkcode BackendProvider}.
 * @example
 * ```tsx ignore
 * const { tenants } = useTenants();
 * ```
 */
export function useTenants(): TenantsHook {
  const { tenantClient, tenants } = useBackend("useTenants()");
  const state = useSyncExternalStore(tenants.subscribe, tenants.getSnapshot, tenants.getSnapshot);
  return { ...state, client: tenantClient, reload: tenants.reload };
}
