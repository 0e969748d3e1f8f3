/**
 * The routes of the `invitations` function, the invitee's side (docs/tenants.md): their pending
 * invitations, by their proven address, and accepting or declining one. Each runs one `tenancy.*` function
 * in the caller's transaction, which writes the audit row.
 *
 * @module
 */
import type { RunAsCaller } from "../core/caller.ts";
import type { Route } from "./handler.ts";
import { listPage, onlyRow, pageOf, toPendingInvitation, toTenant, uuidParam } from "./input.ts";

/**
 * The `invitations` function's routes.
 *
 * @param run The caller's transactions (with `tenancy.email_trusted` set from Auth's settings).
 * @returns The routes, for `createManagementHandler`.
 * @example
 * ```ts ignore
 * const routes = invitationsRoutes(run);
 * ```
 */
export function invitationsRoutes(run: RunAsCaller): Route[] {
  return [
    {
      method: "GET",
      path: "",
      handle: async ({ claims, query }) => {
        const page = listPage(query);
        const rows = await run(
          claims,
          (tx) => tx`select * from tenancy.my_invitations(${page.after}, ${page.limit})`,
        );
        const { items, next_after } = pageOf(rows, page.limit, toPendingInvitation);
        return { body: { invitations: items, next_after } };
      },
    },
    {
      method: "POST",
      path: "/:id/accept",
      handle: async ({ claims, params }) => {
        const id = uuidParam(params, "id");
        const rows = await run(claims, (tx) => tx`select * from tenancy.accept_invitation(${id})`);
        return { body: { tenant: toTenant(onlyRow(rows)) } };
      },
    },
    {
      method: "POST",
      path: "/:id/decline",
      handle: async ({ claims, params }) => {
        const id = uuidParam(params, "id");
        const rows = await run(claims, (tx) => tx`select * from tenancy.decline_invitation(${id})`);
        return { body: { invitation: toPendingInvitation(onlyRow(rows)) } };
      },
    },
  ];
}
