/**
 * The `exchange-token` Edge Function: trades a Supabase access token for the backend's HS256 JWT.
 *
 * A thin shell: the configuration is read once per isolate, the handler (and its Postgres pool) built
 * once, and every request served by it. The HTTP contract is `docs/contract.md`; the request pipeline is
 * `../_shared/handler.ts`.
 *
 * @module
 */
import { createExchangeAppFromEnv } from "../_shared/exchange/app.ts";

const app = createExchangeAppFromEnv(Deno.env.toObject());

// The Edge runtime signals an isolate's end with `beforeunload`; close the pool cleanly then.
globalThis.addEventListener("beforeunload", () => {
  app.close(1).catch(() => {});
});

Deno.serve(app.handler);
