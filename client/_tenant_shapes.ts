/**
 * Private helpers: read the `tenants` and `invitations` functions' answers into the typed shapes of
 * `tenant_types.ts`, refusing an answer that is not the documented one (docs/tenants.md) with
 * `unexpected_response` rather than handing out `undefined` fields.
 *
 * @module
 */
import { BackendSessionError } from "./errors.ts";
import type {
  AuditEntry,
  AuditPage,
  GrantableRole,
  Invitation,
  Member,
  Page,
  PendingInvitation,
  SentInvitation,
  Tenant,
} from "./tenant_types.ts";

type Fields = Record<string, unknown>;

/** Reads one object of the documented shapes from its JSON fields. */
export type Reader<T> = (fields: Fields) => T;

/**
 * Reads the list under `key` of an answer (`{ tenants: [...] }`).
 *
 * @param data The answer's body.
 * @param key The list's name.
 * @param read The reader of one item.
 * @returns The items.
 * @throws {BackendSessionError} `unexpected_response` for another shape.
 * @example
 * ```ts ignore
 * const tenants = listIn(data, "tenants", toTenant);
 * ```
 */
export function listIn<T>(data: unknown, key: string, read: Reader<T>): T[] {
  const list = fieldsOf(data)[key];
  return Array.isArray(list) ? list.map((item) => read(fieldsOf(item))) : unexpected(key);
}

/**
 * Reads the object under `key` of an answer (`{ member: {...} }`).
 *
 * @param data The answer's body.
 * @param key The object's name.
 * @param read Its reader.
 * @returns The object.
 * @throws {BackendSessionError} `unexpected_response` for another shape.
 * @example
 * ```ts ignore
 * const member = oneIn(data, "member", toMember);
 * ```
 */
export function oneIn<T>(data: unknown, key: string, read: Reader<T>): T {
  return read(fieldsOf(fieldsOf(data)[key]));
}

/** Reads a `Tenant`. */
export const toTenant: Reader<Tenant> = (t) => ({
  tenantId: text(t, "tenant_id"),
  tenantUuid: text(t, "tenant_uuid"),
  name: text(t, "name"),
  role: text(t, "role"),
  isDefault: flag(t, "is_default"),
});

/** Reads a `Member`. */
export const toMember: Reader<Member> = (m) => ({
  userId: text(m, "user_id"),
  email: textOrNull(m, "email"),
  role: text(m, "role"),
  joinedAt: text(m, "joined_at"),
});

/** Reads an `Invitation` (a manager's view). */
export const toInvitation: Reader<Invitation> = (i) => ({
  id: text(i, "id"),
  email: text(i, "email"),
  role: text(i, "role"),
  invitedBy: textOrNull(i, "invited_by"),
  invitedByEmail: textOrNull(i, "invited_by_email"),
  createdAt: text(i, "created_at"),
  expiresAt: text(i, "expires_at"),
});

/** Reads a `GrantableRole`. */
export const toGrantableRole: Reader<GrantableRole> = (r) => ({
  role: text(r, "role"),
  description: textOrNull(r, "description"),
});

/** Reads a `PendingInvitation` (the invitee's view). */
export const toPendingInvitation: Reader<PendingInvitation> = (i) => ({
  id: text(i, "id"),
  tenantId: text(i, "tenant_id"),
  tenantName: text(i, "tenant_name"),
  role: text(i, "role"),
  invitedByEmail: textOrNull(i, "invited_by_email"),
  expiresAt: text(i, "expires_at"),
});

/** Reads an `AuditEntry`. */
export const toAuditEntry: Reader<AuditEntry> = (e) => ({
  id: count(e, "id"),
  at: text(e, "at"),
  action: text(e, "action"),
  actorId: textOrNull(e, "actor_id"),
  actorEmail: textOrNull(e, "actor_email"),
  targetUserId: textOrNull(e, "target_user_id"),
  targetEmail: textOrNull(e, "target_email"),
  invitationId: textOrNull(e, "invitation_id"),
  before: e.before ?? null,
  after: e.after ?? null,
});

/**
 * Reads the answer to `POST …/invitations`.
 *
 * @param data The answer's body.
 * @returns The invitation, and whether its mail went out.
 * @throws {BackendSessionError} `unexpected_response` for another shape.
 * @example
 * ```ts ignore
 * const sent = toSentInvitation(data);
 * ```
 */
export function toSentInvitation(data: unknown): SentInvitation {
  return {
    invitation: oneIn(data, "invitation", toInvitation),
    emailSent: flag(fieldsOf(data), "email_sent"),
  };
}

/**
 * Reads a page of `GET …/audit`.
 *
 * @param data The answer's body.
 * @returns The entries and the next page's `before`.
 * @throws {BackendSessionError} `unexpected_response` for another shape.
 * @example
 * ```ts ignore
 * const page = toAuditPage(data);
 * ```
 */
export function toAuditPage(data: unknown): AuditPage {
  const body = fieldsOf(data);
  return {
    entries: listIn(body, "entries", toAuditEntry),
    nextBefore: body.next_before === null ? null : count(body, "next_before"),
  };
}

/**
 * Reads a page of a list (`{ members: [...], next_after }`).
 *
 * @param data The answer's body.
 * @param key The list's name.
 * @param read The reader of one item.
 * @returns The items and the next page's `after`.
 * @throws {BackendSessionError} `unexpected_response` for another shape.
 * @example
 * ```ts ignore
 * const page = pageIn(data, "members", toMember);
 * ```
 */
export function pageIn<T>(data: unknown, key: string, read: Reader<T>): Page<T> {
  const body = fieldsOf(data);
  return { items: listIn(body, key, read), nextAfter: textOrNull(body, "next_after") };
}

function fieldsOf(value: unknown): Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Fields
    : unexpected("the body");
}

function text(fields: Fields, key: string): string {
  const value = fields[key];
  return typeof value === "string" ? value : unexpected(key);
}

function textOrNull(fields: Fields, key: string): string | null {
  const value = fields[key];
  return value == null ? null : typeof value === "string" ? value : unexpected(key);
}

function count(fields: Fields, key: string): number {
  const value = fields[key];
  return Number.isSafeInteger(value) ? value as number : unexpected(key);
}

function flag(fields: Fields, key: string): boolean {
  const value = fields[key];
  return typeof value === "boolean" ? value : unexpected(key);
}

function unexpected(what: string): never {
  throw new BackendSessionError("unexpected_response", `The answer has no usable ${what}`, { status: 200 });
}
