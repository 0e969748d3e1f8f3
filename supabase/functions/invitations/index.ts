/**
 * The `invitations` Edge Function (docs/tenants.md), the invitee's side: their pending invitations,
 * accepting and declining them.
 *
 * A thin shell: the configuration is read once per isolate, the handler (and its Postgres pool) built once,
 * and every request served by it. The routes are `../_shared/management/invitations_routes.ts`, composed by
 * `../_shared/management/app.ts` on the request skeleton every function shares (`../_shared/core/serve.ts`).
 *
 * @module
 */
import { createManagementAppFromEnv } from "../_shared/management/app.ts";

const app = createManagementAppFromEnv("invitations", Deno.env.toObject());

// The Edge runtime signals an isolate's end with `beforeunload`; close the pool cleanly then.
globalThis.addEventListener("beforeunload", () => {
  app.close(1).catch(() => {});
});

Deno.serve(app.handler);
