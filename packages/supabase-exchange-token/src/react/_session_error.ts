/**
 * One error class in every hook's state, so `switch (error.code)` narrows.
 *
 * @module
 */
import { BackendSessionError } from "supabase-exchange-token/client";

/**
 * The client's calls reject with {@linkcode BackendSessionError}; anything else (a bug) is wrapped as
 * `unexpected_response`, its original kept as `cause`.
 *
 * @param err What a call rejected with.
 * @returns The error to put in the state.
 * @example
 * ```ts ignore
 * session.getToken().catch((err) => store.update({ error: toSessionError(err) }));
 * ```
 */
export function toSessionError(err: unknown): BackendSessionError {
  if (err instanceof BackendSessionError) return err;
  return new BackendSessionError("unexpected_response", "The call failed unexpectedly", { cause: err });
}
