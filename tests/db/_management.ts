/**
 * Test support for the management functions (`tenancy.list_tenants()` … `tenancy.decline_invitation()`):
 * calling one as a user, committed, as the `tenants` and `invitations` functions do, and asserting the
 * SQLSTATE it raises.
 *
 * @module
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { allowRoles, asRole, createTenant, createUser } from "../_db.ts";
import type { UserWithSession } from "../_users.ts";

/**
 * Runs `query` as `user` in one committed transaction as `authenticated`, with `tenancy.email_trusted` on
 * (a project that confirms addresses by mail), as the functions run each request.
 */
export async function callAs<T extends postgres.Row>(
  sql: postgres.Sql,
  user: UserWithSession,
  query: (tx: postgres.TransactionSql) => Promise<postgres.RowList<T[]>>,
): Promise<T[]> {
  return await asRole(sql, "authenticated", user.claims, async (tx) => {
    await tx`select set_config('tenancy.email_trusted', 'on', true)`;
    return [...await query(tx)];
  }, { commit: true });
}

/** Asserts that `promise` fails with a Postgres error of the given SQLSTATE, and returns the error. */
export async function assertSqlState(
  promise: Promise<unknown>,
  code: string,
): Promise<{ code: string; detail?: string }> {
  let caught: { code: string; detail?: string } | undefined;
  await assert.rejects(promise, (err: { code: string; detail?: string }) => {
    assert.equal(err.code, code, String(err));
    caught = err;
    return true;
  });
  return caught!;
}

/** Adds a membership with a role, as an operator would. */
export async function addMember(sql: postgres.Sql, tenantId: string, user: UserWithSession, role: string) {
  await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${tenantId}, ${user.id}, ${role})`;
}

/** A tenant with an owner, an admin, a `user` and a member of a custom role. */
export async function tenantWithRoles(sql: postgres.Sql, externalId: string | null = null) {
  await allowRoles(sql, "billing");
  const tenant = await createTenant(sql, "Acme", externalId);
  const [owner, admin, user, custom, outsider] = await Promise.all(
    [1, 2, 3, 4, 5].map(() => createUser(sql)),
  );
  await addMember(sql, tenant, owner, "owner");
  await addMember(sql, tenant, admin, "admin");
  await addMember(sql, tenant, user, "user");
  await addMember(sql, tenant, custom, "billing");
  return { tenant, owner, admin, user, custom, outsider };
}

/** A member's role, or undefined when they are not one. */
export async function roleOf(
  sql: postgres.Sql,
  tenantId: string,
  userId: string,
): Promise<string | undefined> {
  const [row] =
    await sql`select role from tenancy.memberships where tenant_id = ${tenantId} and user_id = ${userId}`;
  return row?.role;
}

/** The tenant's audit actions, oldest first. */
export async function auditActions(sql: postgres.Sql, tenantId: string): Promise<string[]> {
  const rows = await sql`select action from tenancy.audit_log where tenant_id = ${tenantId} order by id`;
  return rows.map((r) => r.action);
}

/** The transaction a {@linkcode callAs} query runs in. */
export type Tx = postgres.TransactionSql;
