/**
 * `deno task dev`: the local stack on Supabase's local ports, with state kept in `.dev/` so a second start
 * reuses the database, the users and the keys.
 *
 * Settings (environment): `API_PORT` (54321), `DB_PORT` (54322), `AUTH_MODE` (`es256` | `hs256`),
 * `AUTO_CONFIRM` (`true` | `false`), `ALLOWED_ORIGINS` (`*`), `PG_MAJOR` (17), `STATE_DIR` (`.dev`),
 * `DEMO_PORT` (5173, the demo page; `0` picks a free port), `BACKEND_PORT` (8000, the example FastAPI
 * backend), `BACKEND_JWT_ALGORITHM` (`HS256`, or `ES256`/`EdDSA` with a key set kept in the state directory,
 * or `BACKEND_JWT_PRIVATE_KEYS` when set).
 *
 * @module
 */
import { startStack } from "./stack.ts";

const started = performance.now();
const env = Deno.env.toObject();
const stateDir = env.STATE_DIR ?? new URL("../.dev", import.meta.url).pathname;
const mode = env.AUTH_MODE ?? "es256";
if (mode !== "es256" && mode !== "hs256") {
  console.error(`deno task dev: AUTH_MODE must be es256 or hs256, not ${mode}`);
  Deno.exit(1);
}

const backendJwtAlgorithm = env.BACKEND_JWT_ALGORITHM ?? "HS256";
if (backendJwtAlgorithm !== "HS256" && backendJwtAlgorithm !== "ES256" && backendJwtAlgorithm !== "EdDSA") {
  console.error(
    `deno task dev: BACKEND_JWT_ALGORITHM must be HS256, ES256 or EdDSA, not ${backendJwtAlgorithm}`,
  );
  Deno.exit(1);
}

const stack = await startStack({
  apiPort: Number(env.API_PORT ?? 54321),
  dbPort: Number(env.DB_PORT ?? 54322),
  stateDir,
  mode,
  autoConfirm: env.AUTO_CONFIRM !== "false",
  allowedOrigins: env.ALLOWED_ORIGINS,
  demoPort: Number(env.DEMO_PORT ?? 5173),
  backendPort: Number(env.BACKEND_PORT ?? 8000),
  backendJwtAlgorithm,
  // A key set of your own (deno task backend-keys) wins over the one kept in the state directory.
  functionEnv: env.BACKEND_JWT_PRIVATE_KEYS
    ? { BACKEND_JWT_PRIVATE_KEYS: env.BACKEND_JWT_PRIVATE_KEYS }
    : undefined,
  log: (line) => console.log(line),
}).catch((err: Error) => {
  // A taken port or a failed part: say what, without a stack trace (startStack has stopped the rest).
  console.error(`deno task dev: ${err.message}`);
  Deno.exit(1);
});

const vars = stack.env();
const lines = Object.entries(vars).map(([name, value]) => `${name}="${value}"`);
await Deno.writeTextFile(`${stateDir}/stack.env`, lines.join("\n") + "\n", { mode: 0o600 });
console.log(`\n${lines.join("\n")}\n`);
console.log(
  `Ready in ${Math.round(performance.now() - started)} ms. Variables written to ${stateDir}/stack.env.`,
);
console.log(`Exchange: POST ${vars.FUNCTIONS_URL}/exchange-token. Ctrl-C stops everything.`);
console.log(`Demo page: ${stack.demoUrl}`);
if (stack.backendUrl) {
  console.log(`Example backend: GET ${stack.backendUrl}/me (${backendJwtAlgorithm} tokens)`);
}

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log("Stopping…");
  await stack.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", shutdown);
Deno.addSignalListener("SIGTERM", shutdown);
