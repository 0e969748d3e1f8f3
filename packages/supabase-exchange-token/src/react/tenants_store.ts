/**
 * The signed-in user's tenants as an external store (the core of `useTenants()`): every page of
 * `listTenants()`, read once a newly signed-in user's first exchange has settled and on `reload()`,
 * emptied at sign-out. Plain TypeScript, no React.
 *
 * @module
 */
import type { BackendSessionError, Tenant, TenantClient } from "supabase-exchange-token/client";
import { createExternalStore } from "./_external_store.ts";
import { toSessionError } from "./_session_error.ts";
import type { TokenStore } from "./token_store.ts";

/** What `useTenants()` renders from. */
export interface TenantsState {
  /** The user's tenants with their role in each, or `null` before the first list (and when signed out). */
  readonly tenants: readonly Tenant[] | null;
  /** Why the last list failed, else `null`. */
  readonly error: BackendSessionError | null;
  /** A list is under way. */
  readonly loading: boolean;
}

/** The store behind `useTenants()`. */
export interface TenantsStore {
  /** `useSyncExternalStore`'s `subscribe`; the first subscriber starts following the signed-in user. */
  subscribe(onChange: () => void): () => void;
  /** `useSyncExternalStore`'s `getSnapshot`. */
  getSnapshot(): TenantsState;
  /** Reads the list again (after `accept()`, `leave()`, ...); the outcome lands in the state. */
  reload(): Promise<void>;
}

const EMPTY: TenantsState = { tenants: null, error: null, loading: false };

/**
 * Creates the store.
 *
 * @param client `createTenantClient(supabase, { session })`.
 * @param tokens The token store, whose `userId` says who is signed in.
 * @returns The store.
 * @example
 * ```ts ignore
 * const tenants = createTenantsStore(createTenantClient(supabase, { session }), tokens);
 * ```
 */
export function createTenantsStore(client: TenantClient, tokens: TokenStore): TenantsStore {
  let userId: string | null = null;
  let generation = 0; // bumped at every user change and reload: only the newest list lands
  const store = createExternalStore<TenantsState>(EMPTY, () => {
    const follow = () => {
      const { userId: next, token, error } = tokens.getSnapshot();
      if (next === userId) return;
      if (next === null) {
        userId = null;
        generation++;
        store.update(EMPTY);
      } else if (token || error) {
        // Read once the user's first exchange has settled: a domain claim or a personal tenant makes
        // the membership during that exchange, so a list read before it would miss the tenant.
        userId = next;
        void reload();
      }
    };
    const stop = tokens.subscribe(follow);
    follow();
    return () => {
      stop();
      userId = null;
    };
  });

  async function reload(): Promise<void> {
    const started = ++generation;
    store.update({ loading: true });
    try {
      const all: Tenant[] = [];
      let page = await client.listTenants({ limit: 100 });
      all.push(...page.items);
      while (page.nextAfter !== null) {
        page = await client.listTenants({ limit: 100, after: page.nextAfter });
        all.push(...page.items);
      }
      if (started === generation) store.update({ tenants: all, error: null, loading: false });
    } catch (err) {
      if (started === generation) store.update({ error: toSessionError(err), loading: false });
    }
  }

  return { subscribe: store.subscribe, getSnapshot: store.getSnapshot, reload };
}
