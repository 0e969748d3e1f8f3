/**
 * What the management functions accept from a request (path segments, body fields, the audit page), checked
 * before any SQL runs, and what they answer (rows of the `tenancy.*` functions as docs/tenants.md's objects).
 *
 * The SQL functions check every rule again; these checks give a clear 400 for what Postgres could not even
 * take (a NUL, a lone surrogate, a number where a string goes) and keep junk out of the logs.
 *
 * @module
 */
import type postgres from "postgres";
import { ApiError } from "../core/errors.ts";
import { parseTenantId } from "../core/tenant_id.ts";
import { ERROR_BY_SQLSTATE } from "../core/db.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLE = /^[a-z][a-z0-9_]{0,31}$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The `{tenant}` of a path: a uuid or an `external_id`, as the exchange's `tenant_id`.
 *
 * @param params The path's captured segments.
 * @returns The tenant id.
 * @throws {ApiError} `invalid_request` when it is not a well-formed tenant id.
 * @example
 * ```ts
 * tenantParam({ tenant: "acme" }); // "acme"
 * ```
 */
export function tenantParam(params: Record<string, string>): string {
  return parseTenantId(params.tenant)!;
}

/**
 * A uuid segment of a path (`{user_id}`, `{id}`), lower-cased.
 *
 * @param params The path's captured segments.
 * @param name The segment's name.
 * @returns The uuid.
 * @throws {ApiError} `invalid_request` when it is not a uuid.
 * @example
 * ```ts
 * uuidParam({ id: "5D1C0B8E-0000-4000-8000-000000000000" }, "id"); // "5d1c0b8e-0000-4000-8000-000000000000"
 * ```
 */
export function uuidParam(params: Record<string, string>, name: string): string {
  const value = params[name];
  if (!UUID.test(value)) throw new ApiError("invalid_request", `${name} is not a uuid`);
  return value.toLowerCase();
}

/**
 * A required text field of a JSON body: a string of 1 to `max` characters, well-formed, without control
 * characters.
 *
 * @param body The body (null when there was none).
 * @param name The field.
 * @param max Its longest length.
 * @returns The string.
 * @throws {ApiError} `invalid_request` naming the field.
 * @example
 * ```ts
 * textField({ name: "Acme" }, "name", 200); // "Acme"
 * ```
 */
export function textField(body: Record<string, unknown> | null, name: string, max: number): string {
  const value = body?.[name];
  if (typeof value !== "string") {
    throw new ApiError("invalid_request", `${name} is required, as a string`);
  }
  if (value.trim() === "" || value.length > max || !value.isWellFormed() || CONTROL.test(value)) {
    throw new ApiError(
      "invalid_request",
      `${name} must be 1 to ${max} characters, without control characters`,
    );
  }
  return value;
}

/**
 * The `role` of a body: `^[a-z][a-z0-9_]{0,31}$`, or `fallback` when absent.
 *
 * @param body The body.
 * @param fallback The role when the field is absent (none: it is required).
 * @returns The role.
 * @throws {ApiError} `invalid_request` when it is missing (without a fallback) or malformed.
 * @example
 * ```ts
 * roleField({ role: "admin" }); // "admin"
 * ```
 */
export function roleField(body: Record<string, unknown> | null, fallback?: string): string {
  const value = body?.role ?? fallback;
  if (typeof value !== "string" || !ROLE.test(value)) {
    throw new ApiError(
      "invalid_request",
      "role must be a lower-case letter, then up to 31 lower-case letters, digits or _",
    );
  }
  return value;
}

/**
 * The audit page a query asks for: `limit` 1-100 (default 50), `before` an entry id.
 *
 * @param query The query string.
 * @returns The limit, and the id to start below (null for the newest).
 * @throws {ApiError} `invalid_request` when either is malformed.
 * @example
 * ```ts
 * auditPage(new URLSearchParams("limit=10&before=42")); // { limit: 10, before: "42" }
 * ```
 */
export function auditPage(query: URLSearchParams): { limit: number; before: string | null } {
  const limit = pageLimit(query);
  const before = query.get("before");
  if (before !== null && !/^[1-9][0-9]{0,17}$/.test(before)) {
    throw new ApiError("invalid_request", "before must be an audit entry's id");
  }
  return { limit, before };
}

/**
 * The page of a list a query asks for: `limit` 1-100 (default 50), `after` the `next_after` of the page
 * before (null for the first). The SQL function reads the cursor and refuses one it did not make.
 *
 * @param query The query string.
 * @returns The limit, and the cursor to start after.
 * @throws {ApiError} `invalid_request` when either is malformed.
 * @example
 * ```ts
 * listPage(new URLSearchParams("limit=10")); // { limit: 10, after: null }
 * ```
 */
export function listPage(query: URLSearchParams): { limit: number; after: string | null } {
  const limit = pageLimit(query);
  const after = query.get("after");
  // Cursors are digits, hex, dots and dashes; the longest (a tenant's, with a 200-character name) is 1,640.
  if (after !== null && !/^[0-9a-f.-]{1,2000}$/.test(after)) {
    throw new ApiError("invalid_request", "after must be the next_after of a previous page");
  }
  return { limit, after };
}

function pageLimit(query: URLSearchParams): number {
  const limit = query.get("limit");
  if (limit === null) return 50;
  if (!/^[0-9]{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 100) {
    throw new ApiError("invalid_request", "limit must be a whole number from 1 to 100");
  }
  return Number(limit);
}

/**
 * A page of a list: its rows as `view` shows them, and the cursor of the next page, the last row's, when
 * the page is full (a full page may have more behind it; a short one is the last).
 *
 * @param rows The rows of a paged `tenancy.*` list, each with its `cursor`.
 * @param limit The page size asked for.
 * @param view How the API shows a row.
 * @returns The items and `next_after` (null on the last page).
 * @example
 * ```ts ignore
 * const { items, next_after } = pageOf(rows, page.limit, toMember);
 * ```
 */
export function pageOf<T>(
  rows: readonly postgres.Row[],
  limit: number,
  view: (row: postgres.Row) => T,
): { items: T[]; next_after: string | null } {
  return {
    items: rows.map(view),
    next_after: rows.length === limit ? rows[rows.length - 1].cursor : null,
  };
}

/** A tenant as the API shows it (docs/tenants.md "Objects"). */
export interface TenantView {
  tenant_id: string;
  tenant_uuid: string;
  name: string;
  role: string;
  is_default: boolean;
}

/**
 * A row of `tenancy.list_tenants()` and its kin as a {@linkcode TenantView}.
 *
 * @param row The row.
 * @returns The tenant.
 * @example
 * ```ts ignore
 * const tenants = rows.map(toTenant);
 * ```
 */
export function toTenant(row: postgres.Row): TenantView {
  return {
    tenant_id: row.tenant_id,
    tenant_uuid: row.tenant_uuid,
    name: row.name,
    role: row.role,
    is_default: row.is_default,
  };
}

/**
 * A row of `tenancy.create_invitation()` as the API shows it, without what only the function needs.
 *
 * @param row The row.
 * @returns The invitation.
 * @example
 * ```ts ignore
 * const invitation = toInvitation(row);
 * ```
 */
export function toInvitation(row: postgres.Row): Record<string, unknown> {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    invited_by: row.invited_by,
    invited_by_email: row.invited_by_email,
    created_at: row.created_at,
    expires_at: row.expires_at,
  };
}

/**
 * A row of `tenancy.list_members()` and its kin as a member (docs/tenants.md "Objects").
 *
 * @param row The row.
 * @returns The member.
 * @example
 * ```ts ignore
 * const members = rows.map(toMember);
 * ```
 */
export function toMember(row: postgres.Row): Record<string, unknown> {
  return { user_id: row.user_id, email: row.email, role: row.role, joined_at: row.joined_at };
}

/**
 * A row of `tenancy.my_invitations()` and its kin as the invitee sees it (docs/tenants.md "Objects").
 *
 * @param row The row.
 * @returns The invitation.
 * @example
 * ```ts ignore
 * const invitations = rows.map(toPendingInvitation);
 * ```
 */
export function toPendingInvitation(row: postgres.Row): Record<string, unknown> {
  return {
    id: row.id,
    tenant_id: row.tenant_id,
    tenant_name: row.tenant_name,
    role: row.role,
    invited_by_email: row.invited_by_email,
    expires_at: row.expires_at,
  };
}

/**
 * A row of `tenancy.list_audit()` as an audit entry, its id a number (Postgres' bigint arrives as text).
 *
 * @param row The row.
 * @returns The entry.
 * @example
 * ```ts ignore
 * const entries = rows.map(toAuditEntry);
 * ```
 */
export function toAuditEntry(row: postgres.Row): Record<string, unknown> {
  return { ...row, id: Number(row.id) };
}

/**
 * The one row of a function that returns exactly one.
 *
 * The SQL functions raise TNFND rather than return nothing, but a row a concurrent request removed between
 * the change and the answer must not become a 500: none is `404 not_found`, as TNFND would be.
 *
 * @param rows The rows.
 * @returns The row.
 * @throws {ApiError} `not_found` when there is none.
 * @throws {Error} When there are several (a bug).
 * @example
 * ```ts ignore
 * const tenant = toTenant(onlyRow(await tx`select * from tenancy.create_tenant(${name})`));
 * ```
 */
export function onlyRow(rows: readonly postgres.Row[]): postgres.Row {
  if (rows.length === 0) throw new ApiError("not_found", ERROR_BY_SQLSTATE.TNFND.message);
  if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
  return rows[0];
}
