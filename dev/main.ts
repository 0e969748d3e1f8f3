/**
 * `deno task dev`: the local stack on Supabase's local ports, with state kept in `.dev/` so a second start
 * reuses the database, the users and the keys.
 *
 * Settings (environment): `API_PORT` (54321), `DB_PORT` (54322), `AUTH_MODE` (`es256` | `hs256`),
 * `AUTO_CONFIRM` (`true` | `false`; default: the opposite of `supabase/config.toml`'s `[auth.email]
 * enable_confirmations`), `ALLOWED_ORIGINS` (`*`), `PG_MAJOR` (17), `STATE_DIR` (`.dev`), `DEMO_PORT`
 * (5173, the demo page; `0` picks a free port), `MAILBOX_PORT` (54324, the mailbox's page and API) and
 * `MAILBOX_SMTP_PORT` (54325).
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

const autoConfirm = env.AUTO_CONFIRM;
if (autoConfirm !== undefined && autoConfirm !== "true" && autoConfirm !== "false") {
  console.error(`deno task dev: AUTO_CONFIRM must be true or false, not ${autoConfirm}`);
  Deno.exit(1);
}

const stack = await startStack({
  apiPort: Number(env.API_PORT ?? 54321),
  dbPort: Number(env.DB_PORT ?? 54322),
  stateDir,
  mode,
  autoConfirm: autoConfirm === undefined ? undefined : autoConfirm === "true",
  allowedOrigins: env.ALLOWED_ORIGINS,
  demoPort: Number(env.DEMO_PORT ?? 5173),
  mailboxPort: Number(env.MAILBOX_PORT ?? 54324),
  mailboxSmtpPort: Number(env.MAILBOX_SMTP_PORT ?? 54325),
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
console.log(`Mailbox (every mail Auth sends): ${vars.MAILPIT_URL}`);

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
