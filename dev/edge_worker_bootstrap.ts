/**
 * The first module of every worker the Edge runtime stand-in starts (`dev/function_worker.ts`), run on the
 * Edge runtime's Deno: it gives the worker what Deno's permission flags cannot, then imports the function.
 *
 * - `Deno.serve` listens on 127.0.0.1 at the port the stand-in chose: Deno 2.1 ignores `DENO_SERVE_ADDRESS`
 *   (and the runtime hands a worker's server its requests, whatever it asked to listen on).
 * - The APIs a user worker has only as the runtime's stubs (supabase/edge-runtime `ext/os/os.js`,
 *   `ext/env/lib.rs`, `ext/runtime/js/bootstrap.js`) behave as there: `Deno.Command` refuses to spawn with
 *   the runtime's message, `Deno.env.set`/`delete` throw `NotSupported`, and `Deno.exit`, `Deno.kill` and the
 *   signal listeners do nothing.
 *
 * Usage: `deno run <the worker's flags> dev/edge_worker_bootstrap.ts <port> <entry module URL>`.
 *
 * @module
 */

const [port, entry] = Deno.args;
if (!/^\d+$/.test(port ?? "") || !entry) {
  throw new Error("usage: edge_worker_bootstrap.ts <port> <entry module URL>");
}

const address = { hostname: "127.0.0.1", port: Number(port) };
const serve = Deno.serve;
// The three shapes of Deno.serve: (handler), (options, handler), (options with handler).
Deno.serve = ((first: unknown, second?: unknown) => {
  if (typeof first === "function") return serve(address, first as Deno.ServeHandler);
  type WithHandler = Deno.ServeTcpOptions & Deno.ServeInit;
  const options = { ...first as WithHandler, ...address };
  return second ? serve(options, second as Deno.ServeHandler) : serve(options);
}) as typeof Deno.serve;

const SPAWN_REFUSED = "Spawning subprocesses is not allowed on Supabase Edge Runtime.";
/** `Deno.Command` as a user worker has it (`ext/os/os.js`): it builds, and refuses to run. */
class EdgeRuntimeCommand {
  constructor(_command: string | URL, _options?: Deno.CommandOptions) {}
  output(): Promise<Deno.CommandOutput> {
    return Promise.reject(new Error(SPAWN_REFUSED));
  }
  outputSync(): Deno.CommandOutput {
    throw new Error(SPAWN_REFUSED);
  }
  spawn(): Deno.ChildProcess {
    throw new Error(SPAWN_REFUSED);
  }
}
const notSupported = () => {
  throw new Deno.errors.NotSupported("The operation is not supported");
};
const nothing = () => {};
Object.assign(Deno, {
  Command: EdgeRuntimeCommand,
  exit: nothing,
  kill: nothing,
  addSignalListener: nothing,
  removeSignalListener: nothing,
});
Object.assign(Deno.env, { set: notSupported, delete: notSupported });

// The runtime evaluates the module as it boots the worker: a module that throws is a boot error.
await import(entry);
