/**
 * A tenant id as a caller names it (the exchange's `tenant_id`, `audience` or `resource`, the management
 * functions' `{tenant}` segment): a uuid or an `external_id`, checked before any SQL sees it.
 *
 * @module
 */
import { ApiError } from "./errors.ts";

/** Longest tenant id accepted (the database's `external_id` limit). */
export const MAX_TENANT_ID_LENGTH = 255;

/**
 * Checks a tenant id the caller sent: a string of 1 to 255 characters, well-formed Unicode, without
 * control characters or surrounding spaces.
 *
 * @param value The value of `tenant_id` (JSON) or `audience`/`resource` (form).
 * @returns The tenant id, or null when absent (`undefined`, `null`).
 * @throws {ApiError} `invalid_request` when it is of the wrong type or not well formed.
 * @example
 * ```ts
 * parseTenantId("acme"); // "acme"
 * ```
 */
export function parseTenantId(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw new ApiError("invalid_request", "tenant_id must be a string");
  if (
    value.length === 0 || value.length > MAX_TENANT_ID_LENGTH || !value.isWellFormed() ||
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(value) || value.trim() !== value
  ) {
    throw new ApiError("invalid_request", "tenant_id is not a well-formed tenant id");
  }
  return value;
}
