/**
 * What {@linkcode createTenantClient}'s calls answer with: the `tenants` and `invitations` Edge
 * Functions' JSON (docs/tenants.md), with camelCase names. Times stay ISO 8601 strings, as sent.
 *
 * @module
 */

/**
 * One of the caller's tenants (`GET /functions/v1/tenants`).
 *
 * @example A switcher's option
 * ```ts ignore
 * option.value = tenant.tenantId;
 * option.textContent = `${tenant.name} (${tenant.role})${tenant.isDefault ? " ★" : ""}`;
 * ```
 */
export interface Tenant {
  /** The id the backend knows and the exchange takes (`tenant_id`: the `external_id`, else the uuid). */
  readonly tenantId: string;
  /** The tenant's uuid (`tenant_uuid`). */
  readonly tenantUuid: string;
  /** Its name. */
  readonly name: string;
  /** The caller's role in it. */
  readonly role: string;
  /** Whether the exchange picks it when no tenant is asked for (`is_default`). */
  readonly isDefault: boolean;
}

/**
 * A member of a tenant (`GET /functions/v1/tenants/{tenant}/members`).
 *
 * @example
 * ```ts ignore
 * const owners = (await tenants.members("acme")).items.filter((m: Member) => m.role === "owner");
 * ```
 */
export interface Member {
  /** Supabase user id (`user_id`). */
  readonly userId: string;
  /** The user's email, or `null` when the user has none. */
  readonly email: string | null;
  /** The member's role. */
  readonly role: string;
  /** When they joined (`joined_at`, ISO 8601). */
  readonly joinedAt: string;
}

/**
 * An invitation as its tenant's managers see it (`GET` and `POST /functions/v1/tenants/{tenant}/invitations`,
 * `DELETE …/invitations/{id}`).
 *
 * @example
 * ```ts ignore
 * const line = `${invitation.email} as ${invitation.role}, until ${invitation.expiresAt}`;
 * ```
 */
export interface Invitation {
  /** The invitation's id. */
  readonly id: string;
  /** The invited address, lower-cased. */
  readonly email: string;
  /** The role it grants. */
  readonly role: string;
  /** Who invited (a user id, `invited_by`), or `null` once that user is deleted. */
  readonly invitedBy: string | null;
  /** Their address (`invited_by_email`), when known. */
  readonly invitedByEmail: string | null;
  /** When it was sent (`created_at`, ISO 8601). */
  readonly createdAt: string;
  /** When it expires (`expires_at`, ISO 8601). */
  readonly expiresAt: string;
}

/**
 * A role the caller may give in a tenant (`GET /functions/v1/tenants/{tenant}/roles`): one the operator
 * listed in `tenancy.roles`, `owner` for owners only.
 *
 * @example A role picker
 * ```ts ignore
 * for (const r of await tenants.grantableRoles("acme")) picker.add(new Option(r.role, r.role));
 * ```
 */
export interface GrantableRole {
  /** The role, as memberships, invitations and the backend token carry it. */
  readonly role: string;
  /** What it means to the backend, in the operator's words, or `null`. */
  readonly description: string | null;
}

/**
 * The answer to {@linkcode TenantClient.invite}: the invitation, and whether its mail went out.
 *
 * @example
 * ```ts ignore
 * const sent: SentInvitation = await tenants.invite("acme", "ada@example.com", "admin");
 * if (!sent.emailSent) showNotice(`Tell ${sent.invitation.email} yourself: no mail could be sent`);
 * ```
 */
export interface SentInvitation {
  /** The invitation. */
  readonly invitation: Invitation;
  /** Whether Auth took the mail telling the invitee (`email_sent`); the invitation stands either way. */
  readonly emailSent: boolean;
}

/**
 * An invitation waiting for the caller (`GET /functions/v1/invitations`).
 *
 * @example
 * ```ts ignore
 * for (const inv of (await tenants.pendingInvitations()).items) {
 *   console.log(`${inv.invitedByEmail} invites you to ${inv.tenantName} as ${inv.role}`);
 * }
 * ```
 */
export interface PendingInvitation {
  /** The invitation's id, for `accept` and `decline`. */
  readonly id: string;
  /** The tenant's id, as the exchange takes it (`tenant_id`). */
  readonly tenantId: string;
  /** The tenant's name (`tenant_name`). */
  readonly tenantName: string;
  /** The role it grants. */
  readonly role: string;
  /** Who invited (`invited_by_email`), or `null` when unknown. */
  readonly invitedByEmail: string | null;
  /** When it expires (`expires_at`, ISO 8601). */
  readonly expiresAt: string;
}

/**
 * One row of a tenant's audit trail (`GET /functions/v1/tenants/{tenant}/audit`). Addresses are kept as
 * they were, so the trail reads the same after a user is deleted (their ids become `null`).
 *
 * @example
 * ```ts ignore
 * const line = `${entry.at} ${entry.actorEmail} ${entry.action} ${entry.targetEmail ?? ""}`;
 * ```
 */
export interface AuditEntry {
  /** The entry's id; a page's `nextBefore` is one. */
  readonly id: number;
  /** When (`at`, ISO 8601). */
  readonly at: string;
  /** What happened: `tenant.created`, `invitation.created`, `member.role_changed`, `member.left`, ... */
  readonly action: string;
  /** Who acted (`actor_id`), or `null` once deleted. */
  readonly actorId: string | null;
  /** Their address then (`actor_email`). */
  readonly actorEmail: string | null;
  /** The member it happened to (`target_user_id`), when there is one. */
  readonly targetUserId: string | null;
  /** Their address then (`target_email`). */
  readonly targetEmail: string | null;
  /** The invitation it happened to (`invitation_id`), when there is one. */
  readonly invitationId: string | null;
  /** The state before (`{ role }`, `{ name }`, ...), or `null`. */
  readonly before: unknown;
  /** The state after, or `null`. */
  readonly after: unknown;
}

/**
 * One page of the audit trail, newest first.
 *
 * @example Reading every page
 * ```ts ignore
 * let page = await tenants.audit("acme");
 * while (page.nextBefore !== null) page = await tenants.audit("acme", { before: page.nextBefore });
 * ```
 */
export interface AuditPage {
  /** The entries, newest first. */
  readonly entries: readonly AuditEntry[];
  /** The `before` of the next (older) page (`next_before`), or `null` on the last page. */
  readonly nextBefore: number | null;
}

/**
 * One page of a list (`listTenants`, `members`, `pendingInvitations`), in the list's order.
 *
 * @example Reading every page
 * ```ts ignore
 * let page = await tenants.members("acme");
 * while (page.nextAfter !== null) page = await tenants.members("acme", { after: page.nextAfter });
 * ```
 */
export interface Page<T> {
  /** The items of this page. */
  readonly items: readonly T[];
  /** The `after` of the next page (`next_after`), or `null` on the last page. */
  readonly nextAfter: string | null;
}

/** Which page of a list to read. */
export interface PageOptions {
  /** Items per page, 1 to 100 (default 50). */
  limit?: number;
  /** A page's `nextAfter`: the page after it (default: the first). */
  after?: string;
}
