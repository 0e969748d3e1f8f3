/**
 * The installer as a team adopting exchange-token runs it: `npm pack` of `packages/supabase-exchange-token`,
 * `supabase init` of a new project (with a migration of its own, newer than the package's), `init` from the
 * tarball through npx, `supabase db push --db-url` with the pinned CLI into a fresh database of the local
 * Postgres (hosted Supabase's roles and `auth` schema, nothing else), the installed functions served by the
 * Edge runtime stand-in from the project's folder, and an exchange through them checked by PyJWT. Then the
 * re-run that changes nothing, and an upgrade to a newer payload: refused over a file the user changed,
 * then applied once the change is gone, its new migration named after the project's newest and pushed.
 */
import assert from "node:assert/strict";
import { cp, readdir, readFile, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { startStack } from "../../dev/stack.ts";
import { supabaseCli } from "../../dev/database.ts";
import { packPayload } from "../../packages/supabase-exchange-token/src/install/pack_payload.ts";
import { signUpByMail } from "../_mail.ts";
import { pyjwtDecode } from "../_pyjwt.ts";
import { PASSWORD } from "../_fixtures.ts";
import { packPackage } from "../packages/_run.ts";

const ROOT = new URL("../../", import.meta.url);
const CLI_VERSION = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).imports.supabase
  .replace("npm:supabase@", "");
const text = new TextDecoder();

/** Runs a command; its exit code and output. */
async function run(command: string, args: string[], cwd: string | URL) {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    env: { NO_COLOR: "1", npm_config_update_notifier: "false", npm_config_fund: "false" },
  }).output();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** Runs a command that must succeed; its standard output. */
async function ok(command: string, args: string[], cwd: string | URL): Promise<string> {
  const result = await run(command, args, cwd);
  assert.equal(result.code, 0, `${command} ${args.join(" ")}:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Every file under `dir` with its contents' hash and modification time: what "nothing changed" compares. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.parentPath.includes("/.temp")) continue;
    const path = join(entry.parentPath, entry.name);
    const hash = createHash("sha256").update(await readFile(path)).digest("hex");
    files[path.slice(dir.length + 1)] = `${hash} ${(await stat(path)).mtimeMs}`;
  }
  return files;
}

/** The project's own migration, newer than the package's: the installed ones must come after it. */
const APP_MIGRATION = "20270101000000_app_notes.sql";
/** How many migrations the package installs: the repository's. */
const packaged = (await readdir(new URL("supabase/migrations/", ROOT))).length;

/** The migration timestamp `seconds` after the project's own (2027-01-01 00:00:00 UTC). */
function secondsAfterApp(seconds: number): string {
  return new Date(Date.UTC(2027, 0, 1, 0, 0, seconds)).toISOString().replace(/\D/g, "").slice(0, 14);
}

Deno.test("a project made by supabase init adopts exchange-token with the packed installer, pushes, and exchanges", async (t) => {
  const work = await Deno.makeTempDir({ prefix: "installer-" });
  const project = join(work, "app");
  let tarball = "";
  const init = () => run("npx", ["-y", `--package=${tarball}`, "supabase-exchange-token", "init"], project);
  try {
    await t.step("npm pack builds the installer and its payload from the repository", async () => {
      const packed = await packPackage(work);
      const paths = packed.paths;
      assert.ok(paths.includes("dist/install/cli.js"), paths.join(", "));
      assert.ok(paths.includes("payload/supabase/functions/_shared/core/errors.ts"));
      assert.ok(paths.includes("payload/supabase/migrations/20261126000100_tenancy_schemas.sql"));
      assert.ok(!paths.some((path) => path.startsWith("src/") || path.includes("pack_payload")));
      tarball = packed.tarball;
    });

    await t.step("supabase init makes the project, with a migration of its own", async () => {
      await Deno.mkdir(project);
      await supabaseCli(["init"], project);
      await Deno.mkdir(join(project, "supabase/migrations"));
      await Deno.writeTextFile(
        join(project, "supabase/migrations", APP_MIGRATION),
        "create table public.notes (id bigint primary key generated always as identity, body text);\n",
      );
    });
    const config = await Deno.readTextFile(join(project, "supabase/config.toml"));

    await t.step("init from the tarball installs everything after the project's migration", async () => {
      const { code, stdout, stderr } = await init();
      assert.equal(code, 0, stdout + stderr);
      assert.match(stdout, new RegExp(`npx -y supabase@${CLI_VERSION.replaceAll(".", "\\.")} db push`));
      assert.match(stdout, /functions deploy exchange-token invitations tenants/);
      assert.match(stdout, /BACKEND_JWT_SECRET/);
      for (const path of ["exchange-token/index.ts", "tenants/deno.lock", "invitations/deno.json"]) {
        await stat(join(project, "supabase/functions", path));
      }
      const after = await Deno.readTextFile(join(project, "supabase/config.toml"));
      assert.ok(after.startsWith(config), "the project's config.toml is kept as it was, then appended to");
      assert.deepEqual(after.match(/^\[functions\.[a-z-]+\]/gm), [
        "[functions.exchange-token]",
        "[functions.invitations]",
        "[functions.tenants]",
      ]);
      const migrations = (await readdir(join(project, "supabase/migrations"))).sort();
      assert.equal(migrations[0], APP_MIGRATION);
      assert.equal(migrations[1], `${secondsAfterApp(1)}_tenancy_schemas.sql`);
      assert.equal(migrations.length, 1 + packaged);
      assert.match(migrations.at(-1)!, new RegExp(`^${secondsAfterApp(packaged)}_tenancy_`));
    });

    await t.step("init run again changes nothing", async () => {
      const before = await snapshot(project);
      const { code, stdout } = await init();
      assert.equal(code, 0);
      assert.match(stdout, /nothing to do/);
      assert.deepEqual(await snapshot(project), before);
    });

    // A throwaway Postgres with a fresh database as `--database` makes it, and the project's functions.
    const stack = await startStack({ database: "adopted_app", projectRoot: new URL(`file://${project}/`) });
    try {
      await t.step(
        "supabase db push applies the project's and the installed migrations to the database",
        async () => {
          const dbUrl = new URL(stack.dbUrl);
          dbUrl.searchParams.set("sslmode", "disable");
          assert.equal(dbUrl.pathname, "/adopted_app");
          // The worker runs the project's copy, not this checkout's.
          const worker = await Deno.readTextFile(`/proc/${stack.functionPid}/cmdline`);
          assert.ok(worker.includes(`${project}/supabase/functions/exchange-token/index.ts`), worker);
          const output = await supabaseCli(["db", "push", "--db-url", dbUrl.href, "--yes"], project);
          assert.match(output, new RegExp(`Applying migration ${APP_MIGRATION}`));
          assert.match(output, new RegExp(`Applying migration ${secondsAfterApp(1)}_tenancy_schemas`));
        },
      );

      await t.step(
        "the installed functions exchange a session for a backend token PyJWT accepts",
        async () => {
          // As docs/tenancy.md has an operator do it: a tenant, and a domain claim for proven addresses.
          const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
          try {
            const [{ id }] = await sql`insert into tenancy.tenants (external_id, name) values ('acme', 'Acme')
                                     returning id`;
            await sql`insert into tenancy.domain_claims (domain, tenant_id, role) values ('example.com', ${id}, 'user')`;
          } finally {
            await sql.end();
          }
          const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
          const { userId } = await signUpByMail(mailed, "ada@example.com", PASSWORD);
          const supabase = createClient(stack.apiUrl, stack.publishableKey, {
            auth: { persistSession: false, autoRefreshToken: false },
          });
          const { error: signInError } = await supabase.auth.signInWithPassword({
            email: "ada@example.com",
            password: PASSWORD,
          });
          assert.equal(signInError, null);
          const { data, error } = await supabase.functions.invoke("exchange-token");
          assert.equal(error, null);
          assert.deepEqual([data.user_id, data.tenant_id, data.role], [userId, "acme", "user"]);
          const decoded = await pyjwtDecode(data.backend_token, stack.backendJwtSecret);
          assert.ok(decoded.ok, JSON.stringify(decoded));
          assert.equal(decoded.claims.tenant_id, "acme");
          const tenants = await supabase.functions.invoke("tenants", { method: "GET" });
          assert.equal(tenants.error, null);
          assert.deepEqual(tenants.data.tenants.map((tenant: { tenant_id: string }) => tenant.tenant_id), [
            "acme",
          ]);
        },
      );

      await t.step(
        "upgrade refuses a file the user changed, then adds the newer version's migration",
        async () => {
          // A newer version: the repository with one more migration and a changed _shared/ file.
          const source = join(work, "next");
          for (
            const path of ["supabase/functions/", "supabase/migrations/", "supabase/config.toml", "deno.json"]
          ) {
            await cp(new URL(path, ROOT), join(source, path), { recursive: true });
          }
          await Deno.writeTextFile(
            join(source, "supabase/migrations/20261231000000_tenancy_next.sql"),
            "comment on schema tenancy is 'exchange-token, next';\n",
          );
          const log = "supabase/functions/_shared/core/log.ts";
          await Deno.writeTextFile(join(source, log), "// next\n", { append: true });
          await ok("tar", ["xzf", tarball, "-C", work], work);
          await packPayload(source, join(work, "package/payload"), "99.0.0");
          const upgrade = () => run("node", [join(work, "package/dist/install/cli.js"), "upgrade"], project);

          const installed = await Deno.readTextFile(join(project, log));
          await Deno.writeTextFile(join(project, log), "// mine\n", { append: true });
          const before = await snapshot(project);
          const refused = await upgrade();
          assert.equal(refused.code, 1, refused.stdout + refused.stderr);
          assert.match(refused.stderr, new RegExp(`${log}  \\(changed since installed\\)`));
          assert.deepEqual(await snapshot(project), before, "a refused upgrade writes nothing");

          await Deno.writeTextFile(join(project, log), installed);
          const applied = await upgrade();
          assert.equal(applied.code, 0, applied.stdout + applied.stderr);
          assert.equal(await Deno.readTextFile(join(project, log)), installed + "// next\n");
          const manifest = JSON.parse(
            await Deno.readTextFile(join(project, "supabase/supabase-exchange-token.json")),
          );
          assert.equal(manifest.version, "99.0.0");
          const added = manifest.migrations["20261231000000_tenancy_next.sql"];
          assert.equal(added, `supabase/migrations/${secondsAfterApp(packaged + 1)}_tenancy_next.sql`);
          const dbUrl = new URL(stack.dbUrl);
          dbUrl.searchParams.set("sslmode", "disable");
          const output = await supabaseCli(["db", "push", "--db-url", dbUrl.href, "--yes"], project);
          assert.match(
            output,
            new RegExp(`Applying migration ${secondsAfterApp(packaged + 1)}_tenancy_next`),
          );
          assert.doesNotMatch(output, /tenancy_schemas/);
        },
      );
    } finally {
      await stack.stop();
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
