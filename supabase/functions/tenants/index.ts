/**
 * The `tenants` Edge Function (docs/tenants.md), a manager's side of tenants: the caller's tenants,
 * members and roles, invitations and the audit trail.
 *
 * A thin shell: the configuration is read once per isolate, the handler (and its Postgres pool) built once,
 * and every request served by it. The routes are `../_shared/management/tenants_routes.ts`, composed by
 * `../_shared/management/app.ts` on the request skeleton every function shares (`../_shared/core/serve.ts`).
 *
 * @module
 */
import { createManagementAppFromEnv } from "../_shared/management/app.ts";

const app = createManagementAppFromEnv("tenants", Deno.env.toObject());

// The Edge runtime signals an isolate's end with `beforeunload`; close the pool cleanly then.
globalThis.addEventListener("beforeunload", () => {
  app.close(1).catch(() => {});
});

Deno.serve(app.handler);
