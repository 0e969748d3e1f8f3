/**
 * {@linkcode createTenantClient}: the signed-in user's tenants, members, roles, invitations and audit
 * trail, through the `tenants` and `invitations` Edge Functions (docs/tenants.md).
 *
 * Each call is one `supabase.functions.invoke` as the signed-in user; the functions check every right in
 * the database, so the client checks none. Failures are the same {@linkcode BackendSessionError}s as the
 * exchange's. When a call changes the caller's own membership of the tenant their backend token is for
 * (their role, or leaving it), the backend session's cached token is dropped, so the next `getToken()`
 * exchanges and the backend sees the change at once.
 *
 * Browser-safe: only web APIs, no supabase-js import.
 *
 * @module
 */
import { type FunctionCall, invokeFunction, readSession } from "./_invoke.ts";
import {
  listIn,
  oneIn,
  pageIn,
  toAuditPage,
  toGrantableRole,
  toInvitation,
  toMember,
  toPendingInvitation,
  toSentInvitation,
  toTenant,
} from "./_tenant_shapes.ts";
import type { BackendSession } from "./backend_session.ts";
import type {
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
import type { HttpMethod, SupabaseLike } from "./types.ts";

/**
 * Options of {@linkcode createTenantClient}.
 *
 * @example Following the backend session
 * ```ts ignore
 * const tenants = createTenantClient(supabase, { session: backend });
 * ```
 */
export interface TenantClientOptions {
  /** The backend session whose cached token must follow the caller's own membership changes. */
  session?: Pick<BackendSession, "current" | "tenantId" | "clear" | "selectTenant">;
  /** Name of the managers' function. Default `"tenants"`. */
  tenantsFunction?: string;
  /** Name of the invitees' function. Default `"invitations"`. */
  invitationsFunction?: string;
}

/**
 * The calls of {@linkcode createTenantClient}. `tenant` is a tenant's `tenantId` or uuid, as the exchange
 * takes it. Every call rejects with a {@linkcode BackendSessionError}: `not_signed_in`, `invalid_token`,
 * `invalid_request` (bad input), `not_found` (no such tenant, member or invitation, or a tenant the caller
 * is not a member of), `forbidden` (the caller's role does not allow it), `conflict` (the last owner, an
 * invitation already pending), `rate_limited` (with `retryAfter`), `auth_unavailable`,
 * `database_unavailable`, `network_error`, `relay_error` or `unexpected_response`.
 *
 * @example An owner invites, then promotes
 * ```ts ignore
 * const sent = await tenants.invite("acme", "ada@example.com", "user");
 * // ... Ada accepts ...
 * const ada = (await tenants.members("acme")).items.find((m) => m.email === "ada@example.com")!;
 * await tenants.setRole("acme", ada.userId, "admin");
 * ```
 */
export interface TenantClient {
  /**
   * A page of the caller's tenants, with their role in each and which one is the default: the default
   * first, then by name.
   *
   * @param options `limit` (1 to 100, default 50) and `after` (a page's `nextAfter`).
   * @returns The tenants and the next page's `after`.
   * @throws {BackendSessionError} `invalid_request` for a bad `limit` or `after`; see
   * {@linkcode TenantClient}.
   * @example A switcher
   * ```ts ignore
   * for (const t of (await tenants.listTenants()).items) addOption(t.tenantId, t.name, t.role);
   * ```
   */
  listTenants(options?: PageOptions): Promise<Page<Tenant>>;

  /**
   * Creates a tenant; the caller is its owner, and it is their default if it is their first. Only when the
   * operator turned self-service on (`tenancy.management_settings.self_service_tenants`), never for an
   * anonymous user.
   *
   * @param name Its name (1 to 200 characters).
   * @returns The new tenant, the caller's role in it (`owner`) and whether it is their default.
   * @throws {BackendSessionError} `forbidden` (self-service off, or an anonymous user), `conflict` (the
   * per-user limit of tenants), `rate_limited` (too many this hour, with `retryAfter`), `invalid_request`
   * (a bad name); see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * const acme = await tenants.createTenant("Acme");
   * backend.selectTenant(acme.tenantId);
   * ```
   */
  createTenant(name: string): Promise<Tenant>;

  /**
   * Renames a tenant (owners).
   *
   * @param tenant The tenant.
   * @param name The new name (1 to 200 characters).
   * @returns The tenant, renamed.
   * @throws {BackendSessionError} `forbidden` (not an owner), `not_found`, `invalid_request`; see
   * {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.renameTenant("acme", "Acme Corp");
   * ```
   */
  renameTenant(tenant: string, name: string): Promise<Tenant>;

  /**
   * Makes a tenant the caller's default, the one an exchange picks when none is asked for (any member).
   * When the backend session follows the default (no `selectTenant`), its cached token is dropped.
   *
   * @param tenant The tenant.
   * @returns The tenant, now the default.
   * @throws {BackendSessionError} `not_found`; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.setDefaultTenant("acme");
   * ```
   */
  setDefaultTenant(tenant: string): Promise<Tenant>;

  /**
   * The roles the caller may give in a tenant: those the operator listed (`tenancy.roles`, custom roles
   * included), all for an owner, all but `owner` for an admin; by name.
   *
   * @param tenant The tenant.
   * @returns The roles, with the operator's descriptions.
   * @throws {BackendSessionError} `forbidden` (not an owner or admin, or anonymous), `not_found`; see
   * {@linkcode TenantClient}.
   * @example A role picker
   * ```ts ignore
   * const roles = (await tenants.grantableRoles("acme")).map((r) => r.role); // ["admin", "billing", "user"]
   * ```
   */
  grantableRoles(tenant: string): Promise<GrantableRole[]>;

  /**
   * A page of a tenant's members, oldest first; any member may read them.
   *
   * @param tenant The tenant.
   * @param options `limit` (1 to 100, default 50) and `after` (a page's `nextAfter`).
   * @returns The members with their roles, and the next page's `after`.
   * @throws {BackendSessionError} `not_found` for a tenant the caller is not in, `invalid_request` for a bad
   * `limit` or `after`; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * const { items, nextAfter } = await tenants.members("acme", { limit: 20 });
   * ```
   */
  members(tenant: string, options?: PageOptions): Promise<Page<Member>>;

  /**
   * Invites an address into a tenant with a role (owners and admins; admins up to `admin`). The invitee
   * is told by mail; `emailSent` is `false` when the mail could not be sent (the invitation stands).
   *
   * @param tenant The tenant.
   * @param email The address to invite (lower-cased by the function).
   * @param role The role it grants (default `user`).
   * @returns The invitation, and `emailSent`.
   * @throws {BackendSessionError} `forbidden`, `conflict` (one is pending for the address already),
   * `rate_limited`; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.invite("acme", "ada@example.com", "admin");
   * ```
   */
  invite(tenant: string, email: string, role?: string): Promise<SentInvitation>;

  /**
   * A page of a tenant's pending invitations (not accepted, not expired), newest first (owners and admins).
   *
   * @param tenant The tenant.
   * @param options `limit` (1 to 100, default 50) and `after` (a page's `nextAfter`).
   * @returns The invitations, and the next page's `after`.
   * @throws {BackendSessionError} `forbidden`, `not_found`, `invalid_request` for a bad `limit` or `after`;
   * see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * const { items } = await tenants.invitations("acme");
   * ```
   */
  invitations(tenant: string, options?: PageOptions): Promise<Page<Invitation>>;

  /**
   * Revokes a pending invitation (owners; admins for invitations below `owner`); its link admits nobody.
   *
   * @param tenant The tenant.
   * @param invitationId The invitation's id.
   * @returns The revoked invitation.
   * @throws {BackendSessionError} `forbidden`, `not_found` (no such pending invitation: accepted, declined or
   * revoked already); see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.revokeInvitation("acme", invitation.id);
   * ```
   */
  revokeInvitation(tenant: string, invitationId: string): Promise<Invitation>;

  /**
   * Changes a member's role (owners; admins below `owner`). Changing one's own role drops the cached
   * backend token of that tenant.
   *
   * @param tenant The tenant.
   * @param userId The member's user id.
   * @param role The new role.
   * @returns The member, with the new role.
   * @throws {BackendSessionError} `forbidden`, `conflict` (the last owner); see {@linkcode TenantClient}.
   * @example Demoting
   * ```ts ignore
   * await tenants.setRole("acme", ada.userId, "user");
   * ```
   */
  setRole(tenant: string, userId: string, role: string): Promise<Member>;

  /**
   * Removes a member (owners; admins below `owner`); removing oneself is {@linkcode TenantClient.leave}.
   *
   * @param tenant The tenant.
   * @param userId The member's user id.
   * @returns The removed membership.
   * @throws {BackendSessionError} `forbidden`, `conflict` (the last owner); see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.remove("acme", ada.userId);
   * ```
   */
  remove(tenant: string, userId: string): Promise<Member>;

  /**
   * Leaves a tenant. When the backend session had picked it, it goes back to the default tenant; a
   * cached token of it is dropped either way.
   *
   * @param tenant The tenant.
   * @returns The membership left.
   * @throws {BackendSessionError} `conflict` for the last owner; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.leave("acme");
   * ```
   */
  leave(tenant: string): Promise<Member>;

  /**
   * A page of the invitations waiting for the caller's proven email address, newest first.
   *
   * @param options `limit` (1 to 100, default 50) and `after` (a page's `nextAfter`).
   * @returns The pending invitations, and the next page's `after`.
   * @throws {BackendSessionError} `invalid_request` for a bad `limit` or `after`; see
   * {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * const pending = (await tenants.pendingInvitations()).items;
   * ```
   */
  pendingInvitations(options?: PageOptions): Promise<Page<PendingInvitation>>;

  /**
   * Accepts an invitation: the caller joins its tenant with its role.
   *
   * @param invitationId The invitation's id.
   * @returns The caller's membership of its tenant.
   * @throws {BackendSessionError} `not_found` (not the caller's, expired, revoked); see
   * {@linkcode TenantClient}.
   * @example Joining, then working there
   * ```ts ignore
   * const tenant = await tenants.accept(invitation.id);
   * backend.selectTenant(tenant.tenantId);
   * ```
   */
  accept(invitationId: string): Promise<Tenant>;

  /**
   * Declines an invitation.
   *
   * @param invitationId The invitation's id.
   * @returns The declined invitation.
   * @throws {BackendSessionError} `not_found`; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * await tenants.decline(invitation.id);
   * ```
   */
  decline(invitationId: string): Promise<PendingInvitation>;

  /**
   * One page of a tenant's audit trail, newest first (owners and admins).
   *
   * @param tenant The tenant.
   * @param options `limit` (entries per page, 1 to 100, default 50) and `before` (a page's `nextBefore`).
   * @returns The entries and the next page's `before`.
   * @throws {BackendSessionError} `forbidden`; see {@linkcode TenantClient}.
   * @example
   * ```ts ignore
   * const { entries, next } = await tenants.audit("acme", { limit: 20 });
   * ```
   */
  audit(tenant: string, options?: { limit?: number; before?: number }): Promise<AuditPage>;
}

/**
 * Creates the tenant calls on top of a supabase-js client.
 *
 * @param supabase A supabase-js client (or anything with `auth.getSession` and `functions.invoke`).
 * @param options The backend session to keep in step, and the functions' names.
 * @returns The calls.
 * @example With the backend session
 * ```ts ignore
 * import { createClient } from "@supabase/supabase-js";
 * import { createBackendSession, createTenantClient } from "./mod.ts";
 *
 * const supabase = createClient(SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY);
 * const backend = createBackendSession(supabase);
 * const tenants = createTenantClient(supabase, { session: backend });
 * const mine = (await tenants.listTenants()).items;
 * backend.selectTenant(mine[0].tenantId);
 * ```
 */
export function createTenantClient(
  supabase: SupabaseLike,
  options: TenantClientOptions = {},
): TenantClient {
  const tenantsFunction = options.tenantsFunction ?? "tenants";
  const invitationsFunction = options.invitationsFunction ?? "invitations";
  const session = options.session;
  /** A tenant's other name (uuid ↔ tenant id), from the pages `listTenants` read, to recognise either. */
  const aliases = new Map<string, string>();

  function call(
    functionName: string,
    method: HttpMethod,
    path: string[],
    extra: Pick<FunctionCall, "body" | "query"> = {},
  ) {
    return invokeFunction(supabase, { functionName, method, path, ...extra });
  }

  /** Keeps the backend session in step after the caller's own membership of `tenant` changed. */
  function followOwnChange(tenant: string, left: boolean): void {
    if (!session) return;
    const names = new Set([tenant, aliases.get(tenant)]);
    const selected = session.tenantId;
    const holder = session.current?.tenantId;
    const isSelected = selected !== null && names.has(selected);
    // A token known to be another tenant's stays; otherwise (this tenant's, or the default's when the
    // client cannot tell which tenant that is) it goes.
    if (!isSelected && holder !== undefined && !names.has(holder)) return;
    if (left && isSelected) session.selectTenant(null);
    else session.clear();
  }

  return {
    async listTenants({ limit, after } = {}) {
      const { data } = await call(tenantsFunction, "GET", [], { query: { limit, after } });
      const page = pageIn(data, "tenants", toTenant);
      // A first page starts afresh; the pages after it add theirs.
      if (after === undefined) aliases.clear();
      for (const t of page.items) {
        aliases.set(t.tenantUuid, t.tenantId);
        aliases.set(t.tenantId, t.tenantUuid);
      }
      return page;
    },

    async createTenant(name) {
      return oneIn((await call(tenantsFunction, "POST", [], { body: { name } })).data, "tenant", toTenant);
    },

    async renameTenant(tenant, name) {
      const { data } = await call(tenantsFunction, "PATCH", [tenant], { body: { name } });
      return oneIn(data, "tenant", toTenant);
    },

    async setDefaultTenant(tenant) {
      const { data } = await call(tenantsFunction, "PUT", [tenant, "default"]);
      // A session that follows the default holds a token of the old default.
      if (session && session.tenantId === null) session.clear();
      return oneIn(data, "tenant", toTenant);
    },

    async grantableRoles(tenant) {
      return listIn((await call(tenantsFunction, "GET", [tenant, "roles"])).data, "roles", toGrantableRole);
    },

    async members(tenant, { limit, after } = {}) {
      const { data } = await call(tenantsFunction, "GET", [tenant, "members"], { query: { limit, after } });
      return pageIn(data, "members", toMember);
    },

    async invite(tenant, email, role) {
      const body = role === undefined ? { email } : { email, role };
      return toSentInvitation((await call(tenantsFunction, "POST", [tenant, "invitations"], { body })).data);
    },

    async invitations(tenant, { limit, after } = {}) {
      const { data } = await call(tenantsFunction, "GET", [tenant, "invitations"], {
        query: { limit, after },
      });
      return pageIn(data, "invitations", toInvitation);
    },

    async revokeInvitation(tenant, invitationId) {
      const { data } = await call(tenantsFunction, "DELETE", [tenant, "invitations", invitationId]);
      return oneIn(data, "invitation", toInvitation);
    },

    async setRole(tenant, userId, role) {
      const answer = await call(tenantsFunction, "PATCH", [tenant, "members", userId], { body: { role } });
      if (answer.session.user.id === userId) followOwnChange(tenant, false);
      return oneIn(answer.data, "member", toMember);
    },

    async remove(tenant, userId) {
      const answer = await call(tenantsFunction, "DELETE", [tenant, "members", userId]);
      if (answer.session.user.id === userId) followOwnChange(tenant, true);
      return oneIn(answer.data, "member", toMember);
    },

    async leave(tenant) {
      const { user } = await readSession(supabase);
      const { data } = await call(tenantsFunction, "DELETE", [tenant, "members", user.id]);
      followOwnChange(tenant, true);
      return oneIn(data, "member", toMember);
    },

    async pendingInvitations({ limit, after } = {}) {
      const { data } = await call(invitationsFunction, "GET", [], { query: { limit, after } });
      return pageIn(data, "invitations", toPendingInvitation);
    },

    async accept(invitationId) {
      return oneIn(
        (await call(invitationsFunction, "POST", [invitationId, "accept"])).data,
        "tenant",
        toTenant,
      );
    },

    async decline(invitationId) {
      const { data } = await call(invitationsFunction, "POST", [invitationId, "decline"]);
      return oneIn(data, "invitation", toPendingInvitation);
    },

    async audit(tenant, { limit, before } = {}) {
      const { data } = await call(tenantsFunction, "GET", [tenant, "audit"], { query: { limit, before } });
      return toAuditPage(data);
    },
  };
}
