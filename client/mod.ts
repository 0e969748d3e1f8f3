/**
 * Browser client for the `exchange-token` Edge Function: trades the signed-in Supabase user's session
 * for the backend JWT the Python API trusts, keeps it fresh, and sends it.
 *
 * {@linkcode createBackendSession} takes a supabase-js client and returns a session with `getToken()`,
 * a `fetch()` that adds `Authorization: Bearer <backend token>` (and exchanges again and retries once
 * on a 401), `selectTenant()`, `clear()` and `onTokenChange()`. Failures are
 * {@linkcode BackendSessionError}s whose `code` is the contract's (docs/contract.md §2) or the client's own.
 *
 * {@linkcode createTenantClient} takes the same client and manages the user's tenants: `listTenants()`,
 * `createTenant()`, `renameTenant()`, `setDefaultTenant()`, `grantableRoles()`, `members()`, `invite()`,
 * `invitations()`, `revokeInvitation()`, `setRole()`, `remove()`, `leave()`, `pendingInvitations()`,
 * `accept()`, `decline()` and `audit()`: every route of them, through the `tenants` and `invitations` functions (docs/tenants.md), with
 * the same error class; given the backend session, it drops the cached token when the caller's own
 * membership of its tenant changes.
 *
 * Plain ES module: no Deno APIs, no supabase-js import (the client is typed structurally), so it works
 * from a bundler, a `<script type="module">` build, and Deno.
 *
 * @example Signing in, then calling the Python API
 * ```ts ignore
 * import { createClient } from "@supabase/supabase-js";
 * import { BackendSessionError, createBackendSession } from "./client/mod.ts";
 *
 * const supabase = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
 * const backend = createBackendSession(supabase);
 *
 * await supabase.auth.signInWithPassword({ email, password });
 * try {
 *   const res = await backend.fetch(`${PYTHON_API}/me`);
 *   console.log(await res.json());
 * } catch (err) {
 *   if (err instanceof BackendSessionError && err.code === "no_tenant") showNoTenantPage();
 *   else throw err;
 * }
 * ```
 *
 * @module
 */
export { type BackendSession, type BackendSessionOptions, createBackendSession } from "./backend_session.ts";
export {
  BackendSessionError,
  type BackendSessionErrorCode,
  type BackendSessionErrorOptions,
  type ClientErrorCode,
  EXCHANGE_ERROR_CODES,
  type ExchangeErrorCode,
  isExchangeErrorCode,
} from "./errors.ts";
export { createTenantClient, type TenantClient, type TenantClientOptions } from "./tenants.ts";
export type {
  AuditEntry,
  AuditPage,
  GrantableRole,
  Invitation,
  Member,
  Page,
  PageOptions,
  PendingInvitation,
  SentInvitation,
  Tenant,
} from "./tenant_types.ts";
export type { BackendToken, HttpMethod, InvokeResult, SessionLike, SupabaseLike, Timers } from "./types.ts";
