/**
 * The routes of the `tenants` function, a manager's side (docs/tenants.md): each parses its input, runs one
 * `tenancy.*` function in the caller's transaction, and shapes the rows. The rules (roles, the last owner,
 * limits, the audit row) are the SQL functions'; the one thing done here is the invitation's mail, after the
 * transaction committed, and the audit row of a mail that did not go out.
 *
 * @module
 */
import type { RunAsCaller } from "../core/caller.ts";
import type { SendInvitationMail } from "./invitation_mail.ts";
import type { Route } from "./handler.ts";
import {
  auditPage,
  listPage,
  onlyRow,
  pageOf,
  roleField,
  tenantParam,
  textField,
  toAuditEntry,
  toInvitation,
  toMember,
  toTenant,
  uuidParam,
} from "./input.ts";

/** What the `tenants` routes need. */
export interface TenantsRoutesDeps {
  run: RunAsCaller;
  sendMail: SendInvitationMail;
}

/**
 * The `tenants` function's routes.
 *
 * @param deps The caller's transactions and the invitation mailer.
 * @returns The routes, for `createManagementHandler`.
 * @example
 * ```ts ignore
 * const routes = tenantsRoutes({ run, sendMail });
 * ```
 */
export function tenantsRoutes({ run, sendMail }: TenantsRoutesDeps): Route[] {
  return [
    {
      method: "GET",
      path: "",
      handle: async ({ claims, query }) => {
        const page = listPage(query);
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.list_tenants(${page.after}, ${page.limit})`,
        );
        const { items, next_after } = pageOf(rows, page.limit, toTenant);
        return { body: { tenants: items, next_after } };
      },
    },
    {
      method: "POST",
      path: "",
      handle: async ({ claims, body }) => {
        const name = textField(await body(), "name", 200);
        const rows = await run(claims, (tx) => tx`select * from tenancy.create_tenant(${name})`);
        return { status: 201, body: { tenant: toTenant(onlyRow(rows)) } };
      },
    },
    {
      method: "PATCH",
      path: "/:tenant",
      handle: async ({ claims, params, body }) => {
        const tenant = tenantParam(params);
        const name = textField(await body(), "name", 200);
        const rows = await run(claims, (tx) => tx`select * from tenancy.rename_tenant(${tenant}, ${name})`);
        return { body: { tenant: toTenant(onlyRow(rows)) } };
      },
    },
    {
      method: "PUT",
      path: "/:tenant/default",
      handle: async ({ claims, params }) => {
        const tenant = tenantParam(params);
        const rows = await run(claims, (tx) => tx`select * from tenancy.set_default_tenant(${tenant})`);
        return { body: { tenant: toTenant(onlyRow(rows)) } };
      },
    },
    {
      method: "GET",
      path: "/:tenant/members",
      handle: async ({ claims, params, query }) => {
        const tenant = tenantParam(params);
        const page = listPage(query);
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.list_members(${tenant}, ${page.after}, ${page.limit})`,
        );
        const { items, next_after } = pageOf(rows, page.limit, toMember);
        return { body: { members: items, next_after } };
      },
    },
    {
      method: "PATCH",
      path: "/:tenant/members/:user_id",
      handle: async ({ claims, params, body }) => {
        const tenant = tenantParam(params);
        const userId = uuidParam(params, "user_id");
        const role = roleField(await body());
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.set_member_role(${tenant}, ${userId}, ${role})`,
        );
        return { body: { member: toMember(onlyRow(rows)) } };
      },
    },
    {
      method: "DELETE",
      path: "/:tenant/members/:user_id",
      handle: async ({ claims, params }) => {
        const tenant = tenantParam(params);
        const userId = uuidParam(params, "user_id");
        const rows = await run(claims, (tx) => tx`select * from tenancy.remove_member(${tenant}, ${userId})`);
        return { body: { member: toMember(onlyRow(rows)) } };
      },
    },
    {
      method: "GET",
      path: "/:tenant/invitations",
      handle: async ({ claims, params, query }) => {
        const tenant = tenantParam(params);
        const page = listPage(query);
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.list_invitations(${tenant}, ${page.after}, ${page.limit})`,
        );
        const { items, next_after } = pageOf(rows, page.limit, toInvitation);
        return { body: { invitations: items, next_after } };
      },
    },
    {
      method: "POST",
      path: "/:tenant/invitations",
      handle: async ({ claims, params, body, entry }) => {
        const tenant = tenantParam(params);
        const fields = await body();
        const email = textField(fields, "email", 254);
        const role = roleField(fields, "user");
        const row = onlyRow(
          await run(
            claims,
            (tx) => tx`select * from tenancy.create_invitation(${tenant}, ${email}, ${role})`,
          ),
        );
        // After the commit: the invitation stands whatever the mail does.
        const mail = await sendMail({
          email: row.email,
          account: async () => {
            const [account] = await run(claims, (tx) => tx`select * from tenancy.invitee_account(${row.id})`);
            return account
              ? {
                id: account.user_id,
                confirmed: account.confirmed,
                pristine: account.pristine,
                hasPassword: account.has_password,
              }
              : null;
          },
        });
        entry.email_sent = mail.sent;
        if (!mail.sent) {
          // Best effort: the answer already says so, and the log line too.
          await run(
            claims,
            (tx) => tx`select tenancy.record_invitation_mail_failure(${row.id}, ${mail.reason})`,
          )
            .catch(() => {});
        }
        return { status: 201, body: { invitation: toInvitation(row), email_sent: mail.sent } };
      },
    },
    {
      method: "DELETE",
      path: "/:tenant/invitations/:id",
      handle: async ({ claims, params }) => {
        const tenant = tenantParam(params);
        const id = uuidParam(params, "id");
        const rows = await run(claims, (tx) => tx`select * from tenancy.revoke_invitation(${tenant}, ${id})`);
        return { body: { invitation: toInvitation(onlyRow(rows)) } };
      },
    },
    {
      method: "GET",
      path: "/:tenant/roles",
      handle: async ({ claims, params }) => {
        const tenant = tenantParam(params);
        const rows = await run(claims, (tx) => tx`select * from tenancy.grantable_roles(${tenant})`);
        return {
          body: {
            roles: rows.map((r) => ({ role: r.role as string, description: r.description as string | null })),
          },
        };
      },
    },
    {
      method: "GET",
      path: "/:tenant/audit",
      handle: async ({ claims, params, query }) => {
        const tenant = tenantParam(params);
        const page = auditPage(query);
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.list_audit(${tenant}, ${page.before}, ${page.limit})`,
        );
        const entries = rows.map(toAuditEntry);
        // A full page may have more behind it; the next page starts below its last entry.
        const nextBefore = entries.length === page.limit ? entries[entries.length - 1].id : null;
        return { body: { entries, next_before: nextBefore } };
      },
    },
  ];
}
