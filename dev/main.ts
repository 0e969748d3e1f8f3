/**
 * `deno task dev`: the local stack on Supabase's local ports, with state kept in `.dev/` so a second start
 * reuses the database, the users and the keys.
 *
 * Settings (environment): `API_PORT` (54321), `DB_PORT` (54322), `AUTH_MODE` (`es256` | `hs256`),
 * `AUTO_CONFIRM` (`true` | `false`; default: the opposite of `supabase/config.toml`'s `[auth.email]
 * enable_confirmations`), `ALLOWED_ORIGINS` (`*`), `PG_MAJOR` (17), `STATE_DIR` (`.dev`), `DEMO_PORT`
 * (5173, the demo page; `0` picks a free port), `MAILBOX_PORT` (54324, the mailbox's page and API),
 * `MAILBOX_SMTP_PORT` (54325), `BACKEND_PORT` (8000, the example FastAPI backend), `BACKEND_JWT_ALGORITHM`
 * (`HS256`, or `ES256`/`EdDSA` with a key set kept in the state directory, or `BACKEND_JWT_PRIVATE_KEYS`
 * when set), `POOLER_PORT` (54329, the transaction pooler, PgBouncer with TLS: `dev/pooler.ts`),
 * `DB_POOLER` (`transaction` makes the function connect through it), `EDGE_DENO_VERSION` (2.1.4, the Deno the
 * functions run on: `dev/edge_deno.ts`), `EDGE_WALL_CLOCK_LIMIT_SEC` (400, a function's wall-clock limit as
 * on paid plans; 150 as on the free plan), `EDGE_WORKERS_PER_FUNCTION` (1, how many workers serve each
 * function at once, each with its own database pool, as isolates: `dev/edge_runtime.ts`),
 * `AUTH_SESSIONS_SINGLE_PER_USER`
 * (`false`; Auth's single session per user, which `config.toml` has no key for: Auth and the function both
 * follow it), `REQUIRE_AAL2` and `AUTH_HS256_TOKENS` (passed to all three functions: `exchange-token`,
 * `tenants`, `invitations`).
 *
 * Flags: `--database NAME` runs Auth and the functions on database NAME of the same Postgres, created when
 * missing with only what a new hosted project has (the roles, the `auth` schema), for another project's
 * `supabase db push --db-url "$DB_URL"`: this repository's migrations and seed stay out of it. `--project DIR`
 * serves the functions of the project at DIR (its `supabase/functions/`, e.g. as the installer left them)
 * instead of this checkout's. See docs/local-stack.md.
 *
 * The function gets this environment too, so its settings (`BACKEND_JWT_TTL_SECONDS`,
 * `BACKEND_JWT_ALGORITHM`, ...) apply as given. `BACKEND_JWT_SECRET` from the environment wins over the
 * one saved in `.dev/secrets.json` (which is kept for the starts without it); the start says which it
 * used, never its value.
 *
 * State in `.dev/`: `secrets.json` (the Supabase JWT secret, the ES256 signing key, the backend secret),
 * `stack.env` (the variables printed at start) and `postgres/` (the database). Delete `.dev/` to start
 * afresh. As root, Postgres runs as the OS user `postgres`; when that user cannot reach `.dev/` (a
 * checkout in root's home or another `0700` folder), the database lives in
 * `/var/lib/exchange-token/<hash of .dev's path>-postgres/` and `.dev/postgres` is a link to it: deleting
 * `.dev/` still starts afresh (data without its link is replaced), but the space is only given back at the
 * next start from the same folder, or by deleting that folder by hand. See `dev/postgres.ts`.
 *
 * Ctrl-C or SIGTERM stops everything and keeps `.dev/`. If the task runner is killed hard, this process
 * notices it lost its parent and stops the same way (and, started through npx, if the task runner lost its
 * own: npm's script shell or npm); if this process is killed hard, its watchdog
 * (`dev/watchdog.ts`) stops the function and Postgres.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startStack } from "./stack.ts";
import { parseDatabaseName } from "./database.ts";
import { parsePoolerMode, type PoolerMode } from "./pooler.ts";
import { parseEdgeDenoVersion } from "./edge_deno.ts";
import { EDGE_WALL_CLOCK_LIMIT_MS } from "./edge_runtime.ts";

const started = performance.now();
const env = Deno.env.toObject();
const stateDir = env.STATE_DIR ?? new URL("../.dev", import.meta.url).pathname;
const mode = env.AUTH_MODE ?? "es256";
if (mode !== "es256" && mode !== "hs256") {
  console.error(`deno task dev: AUTH_MODE must be es256 or hs256, not ${mode}`);
  Deno.exit(1);
}
let dbPooler: PoolerMode | undefined;
let edgeDenoVersion: string;
try {
  dbPooler = parsePoolerMode(env.DB_POOLER);
  edgeDenoVersion = parseEdgeDenoVersion(env.EDGE_DENO_VERSION);
} catch (err) {
  console.error(`deno task dev: ${(err as Error).message}`);
  Deno.exit(1);
}
const wallClockSeconds = Number(env.EDGE_WALL_CLOCK_LIMIT_SEC ?? EDGE_WALL_CLOCK_LIMIT_MS / 1000);
if (!Number.isInteger(wallClockSeconds) || wallClockSeconds <= 0) {
  console.error(
    `deno task dev: EDGE_WALL_CLOCK_LIMIT_SEC must be a whole number of seconds, not ${env.EDGE_WALL_CLOCK_LIMIT_SEC}`,
  );
  Deno.exit(1);
}

const workers = Number(env.EDGE_WORKERS_PER_FUNCTION ?? 1);
if (!Number.isInteger(workers) || workers < 1) {
  console.error(
    `deno task dev: EDGE_WORKERS_PER_FUNCTION must be a whole number from 1, not ${env.EDGE_WORKERS_PER_FUNCTION}`,
  );
  Deno.exit(1);
}

let database: string | undefined;
let projectRoot: URL | undefined;
try {
  const { values } = parseArgs({
    args: Deno.args,
    options: { database: { type: "string" }, project: { type: "string" } },
  });
  if (values.database !== undefined) database = parseDatabaseName(values.database);
  if (values.project !== undefined) {
    projectRoot = pathToFileURL(resolve(values.project) + "/");
    await Deno.stat(new URL("supabase/functions/", projectRoot)).catch(() => {
      throw new Error(`--project ${values.project} has no supabase/functions/ folder`);
    });
  }
} catch (err) {
  console.error(`deno task dev: ${(err as Error).message}`);
  Deno.exit(1);
}

const autoConfirm = env.AUTO_CONFIRM;
if (autoConfirm !== undefined && autoConfirm !== "true" && autoConfirm !== "false") {
  console.error(`deno task dev: AUTO_CONFIRM must be true or false, not ${autoConfirm}`);
  Deno.exit(1);
}

// The function inherits this environment; name the settings it will see from there (values may be secret).
const passed = Object.keys(env).filter((name) =>
  name.startsWith("BACKEND_JWT_") && name !== "BACKEND_JWT_SECRET"
);
if (passed.length > 0) console.log(`From the environment, for the function: ${passed.sort().join(", ")}`);
const backendJwtAlgorithm = env.BACKEND_JWT_ALGORITHM ?? "HS256";
if (backendJwtAlgorithm !== "HS256" && backendJwtAlgorithm !== "ES256" && backendJwtAlgorithm !== "EdDSA") {
  console.error(
    `deno task dev: BACKEND_JWT_ALGORITHM must be HS256, ES256 or EdDSA, not ${backendJwtAlgorithm}`,
  );
  Deno.exit(1);
}

// Read before the start: a runner killed while the stack starts must still count as a lost parent.
const parent = Deno.ppid;
const stack = await startStack({
  apiPort: Number(env.API_PORT ?? 54321),
  dbPort: Number(env.DB_PORT ?? 54322),
  stateDir,
  database,
  projectRoot,
  mode,
  autoConfirm: autoConfirm === undefined ? undefined : autoConfirm === "true",
  allowedOrigins: env.ALLOWED_ORIGINS,
  demoPort: Number(env.DEMO_PORT ?? 5173),
  mailboxPort: Number(env.MAILBOX_PORT ?? 54324),
  mailboxSmtpPort: Number(env.MAILBOX_SMTP_PORT ?? 54325),
  poolerPort: Number(env.POOLER_PORT ?? 54329),
  dbPooler,
  edgeDenoVersion,
  functionWallClockLimitMs: wallClockSeconds * 1000,
  functionWorkers: workers,
  backendJwtSecret: env.BACKEND_JWT_SECRET || undefined,
  backendPort: Number(env.BACKEND_PORT ?? 8000),
  backendJwtAlgorithm,
  // To all three functions, when set: a key set of your own (deno task backend-keys) wins over the one kept in
  // the state directory; the access-token settings apply as in production.
  functionEnv: Object.fromEntries(
    ["BACKEND_JWT_PRIVATE_KEYS", "REQUIRE_AAL2", "AUTH_HS256_TOKENS"].filter((name) => env[name])
      .map((name) => [name, env[name]]),
  ),
  log: (line) => console.log(line),
}).catch((err: Error) => {
  // A taken port or a failed part: say what, without a stack trace (startStack has stopped the rest).
  console.error(`deno task dev: ${err.message}`);
  Deno.exit(1);
});

const vars = stack.env();
// A secret the user brought (e.g. the Python service's real one) is neither echoed nor written to disk. With
// ES256/EdDSA backend tokens nobody needs the HMAC secret: backends verify through the JWKS, so that is shown.
const lines = Object.entries(vars).map(([name, value]) =>
  name !== "BACKEND_JWT_SECRET"
    ? `${name}="${value}"`
    : backendJwtAlgorithm !== "HS256"
    ? `BACKEND_JWKS_URL="${vars.FUNCTIONS_URL}/exchange-token/.well-known/jwks.json"`
    : env.BACKEND_JWT_SECRET
    ? `# ${name}: from the environment, not repeated here`
    : `${name}="${value}"`
);
await Deno.writeTextFile(`${stateDir}/stack.env`, lines.join("\n") + "\n", { mode: 0o600 });
console.log(`\n${lines.join("\n")}\n`);
console.log(
  `Ready in ${Math.round(performance.now() - started)} ms. Variables written to ${stateDir}/stack.env.`,
);
console.log(`Exchange: POST ${vars.FUNCTIONS_URL}/exchange-token. Ctrl-C stops everything.`);
console.log(
  `Functions: Using the Edge runtime stand-in (compatible with Deno v${stack.edgeDenoVersion}), ` +
    `wall clock ${wallClockSeconds} s (EDGE_WALL_CLOCK_LIMIT_SEC), ${workers} worker${
      workers === 1 ? "" : "s"
    } per function (EDGE_WORKERS_PER_FUNCTION)`,
);
console.log(
  `The function connects ${dbPooler ? "through POOLER_URL (transaction mode)" : "to DB_URL directly"}.`,
);
console.log(`Demo page: ${stack.demoUrl}`);
console.log(`Mailbox (every mail Auth sends): ${vars.MAILPIT_URL}`);
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
// `deno task dev` runs this as its child. If the task runner is killed hard (SIGKILL, a crashed
// supervisor), no signal reaches us: we are only re-parented. Notice that, and stop as on Ctrl-C.
// Through npx (npm_command=exec), the task runner's own parent is npm's script shell or npm: should that
// die (SIGTERM to npx with a script shell that does not pass it on, as Debian's sh; SIGKILL to npx), the
// task runner is re-parented and would keep the stack up. Notice that too.
const parentOf = (pid: number) => {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined; // No /proc (not Linux), or the task runner is gone (the first check sees that).
  }
};
const launcher = env.npm_command === "exec" ? parentOf(parent) : undefined;
setInterval(() => (Deno.ppid !== parent || (launcher && parentOf(parent) !== launcher)) && shutdown(), 250);
