/**
 * The `exchange-token` Edge Function: trades a Supabase access token for the backend's JWT (HS256 with a
 * shared secret by default, or ES256/EdDSA with a published JWKS).
 *
 * A thin shell: the configuration is read once per isolate, the handler (and its Postgres pool) built
 * once, and every request served by it. The HTTP contract is `docs/contract.md`; the composition root is
 * `../_shared/exchange/app.ts`, the routes `../_shared/exchange/routes.ts`, on the request skeleton every
 * function shares (`../_shared/core/serve.ts`).
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
