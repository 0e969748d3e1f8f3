/**
 * The installer's pure core (`packages/supabase-exchange-token/src/install/`): migration names after the
 * project's newest, `config.toml` blocks as text, and the plan of `init` and `upgrade` over a project's
 * state, without a file system.
 */
import assert from "node:assert/strict";
import { nameMigrations } from "../../packages/supabase-exchange-token/src/install/migration_names.ts";
import {
  configAppendix,
  extractConfigBlocks,
} from "../../packages/supabase-exchange-token/src/install/config_blocks.ts";
import {
  InstallError,
  type Manifest,
  planInstall,
  type ProjectState,
} from "../../packages/supabase-exchange-token/src/install/plan.ts";
import type { Payload } from "../../packages/supabase-exchange-token/src/install/payload.ts";

Deno.test("nameMigrations() keeps the package's timestamps in a project whose migrations are all older", () => {
  assert.deepEqual(
    nameMigrations(["20261126000100_tenancy_schemas.sql", "20261126000200_tenancy_tables.sql"], [
      "20240101000000_app.sql",
      "README.md",
    ]),
    ["20261126000100_tenancy_schemas.sql", "20261126000200_tenancy_tables.sql"],
  );
});

Deno.test("nameMigrations() renames the package's migrations to follow the project's newest, in order", () => {
  assert.deepEqual(
    nameMigrations(
      ["20261126000100_tenancy_schemas.sql", "20261126000200_tenancy_tables.sql", "20271231235959_late.sql"],
      ["20261231235959_app.sql", "1_first.sql"],
    ),
    ["20270101000000_tenancy_schemas.sql", "20270101000001_tenancy_tables.sql", "20271231235959_late.sql"],
  );
});

Deno.test("nameMigrations() refuses, as an InstallError, a project whose newest migration is not YYYYMMDDHHMMSS", () => {
  assert.throws(
    () => nameMigrations(["20261126000100_tenancy_schemas.sql"], ["202701011200000_app.sql"]),
    (err) => err instanceof InstallError && /is not named YYYYMMDDHHMMSS_name\.sql/.test(err.message),
  );
});

Deno.test("nameMigrations() refuses a package migration without a YYYYMMDDHHMMSS_ prefix", () => {
  assert.throws(() => nameMigrations(["schema.sql"], []), /not named YYYYMMDDHHMMSS_name\.sql/);
});

const CONFIG = `[api]
port = 54321

# Why a.
[functions.a]
verify_jwt = false

# The next table's comment.
[functions."b"]  # trailing
enabled = true
`;

Deno.test("extractConfigBlocks() takes each block with the comment above it, and not the next one's", () => {
  assert.deepEqual(extractConfigBlocks(CONFIG, ["b", "a"]), [
    { name: "b", text: `# The next table's comment.\n[functions."b"]  # trailing\nenabled = true\n` },
    { name: "a", text: "# Why a.\n[functions.a]\nverify_jwt = false\n" },
  ]);
  assert.throws(() => extractConfigBlocks(CONFIG, ["c"]), /no \[functions\.c\] block/);
});

Deno.test("the blocks a project gets from this repository's config.toml name docs/ as this repository's", async () => {
  // A project has no docs/ of its own: a bare "docs/tenants.md" in an appended comment would point nowhere.
  const config = await Deno.readTextFile(new URL("../../supabase/config.toml", import.meta.url));
  const blocks = extractConfigBlocks(config, ["exchange-token", "invitations", "tenants"]);
  for (const { name, text } of blocks) {
    const prose = text.replaceAll(/\n\s*#\s*/g, " ");
    for (const match of prose.matchAll(/docs\/[\w./-]+/g)) {
      const after = prose.slice(match.index + match[0].length);
      assert.match(
        after,
        /^ of the exchange-token repository/,
        `[functions.${name}]: ${match[0]}${after.slice(0, 40)}`,
      );
    }
  }
  assert.match(blocks[2].text, /docs\/tenants\.md of the exchange-token/);
});

Deno.test("configAppendix() appends only the blocks of functions the file has no table for, as text", () => {
  const blocks = [{ name: "a", text: "[functions.a]\nx = 1\n" }, {
    name: "c",
    text: "[functions.c]\ny = 2\n",
  }];
  assert.equal(
    configAppendix("# mine\n[functions.'a']\n", blocks, "1.0.0"),
    "\n# Added by supabase-exchange-token 1.0.0.\n[functions.c]\ny = 2\n",
  );
  assert.equal(configAppendix("[functions.a]\n[functions.c]", blocks, "1.0.0"), "");
});

const PAYLOAD: Payload = {
  version: "1.0.0",
  supabaseCliVersion: "2.117.0",
  functions: ["f"],
  files: { "supabase/functions/f/index.ts": "h-index", "supabase/functions/_shared/x.ts": "h-x" },
  migrations: { "20261126000100_t_one.sql": "h-one" },
  configBlocks: [{ name: "f", text: "[functions.f]\n" }],
};
const FRESH: ProjectState = { hashes: {}, migrationFiles: ["20270101000000_app.sql"], configText: "" };

/** The state of a project right after `plan` was applied to `state` (each write has the payload's hash). */
function installed(state: ProjectState, payload: Payload): ProjectState {
  const plan = planInstall(payload, state, { command: "init" });
  const hashes = { ...state.hashes };
  for (const [path, hash] of Object.entries(plan.manifest.files)) hashes[path] = hash;
  return {
    manifest: plan.manifest,
    hashes,
    migrationFiles: Object.values(plan.manifest.migrations).map((path) => path.split("/").pop()!)
      .concat(state.migrationFiles),
    configText: state.configText + plan.configAppend,
  };
}

Deno.test("planInstall() init writes every file, names the migration after the project's, records hashes", () => {
  const plan = planInstall(PAYLOAD, FRESH, { command: "init" });
  assert.deepEqual(plan.writes, [
    { path: "supabase/functions/f/index.ts", source: "supabase/functions/f/index.ts" },
    { path: "supabase/functions/_shared/x.ts", source: "supabase/functions/_shared/x.ts" },
    {
      path: "supabase/migrations/20270101000001_t_one.sql",
      source: "supabase/migrations/20261126000100_t_one.sql",
    },
  ]);
  assert.deepEqual(
    plan.manifest,
    {
      package: "supabase-exchange-token",
      version: "1.0.0",
      files: {
        "supabase/functions/_shared/x.ts": "h-x",
        "supabase/functions/f/index.ts": "h-index",
        "supabase/migrations/20270101000001_t_one.sql": "h-one",
      },
      migrations: { "20261126000100_t_one.sql": "supabase/migrations/20270101000001_t_one.sql" },
    } satisfies Manifest,
  );
  assert.match(plan.configAppend, /\[functions\.f\]/);
  assert.equal(plan.noop, false);
});

Deno.test("planInstall() init run again over its own install is a no-op, even with a file the user changed", () => {
  const state = installed(FRESH, PAYLOAD);
  assert.equal(planInstall(PAYLOAD, state, { command: "init" }).noop, true);
  const edited = { ...state, hashes: { ...state.hashes, "supabase/functions/_shared/x.ts": "h-mine" } };
  const plan = planInstall(PAYLOAD, edited, { command: "init" });
  assert.equal(plan.noop, true);
  assert.deepEqual(plan.conflicts, []);
});

Deno.test("planInstall() init refuses a file the package did not install, and writes it with force", () => {
  const state = { ...FRESH, hashes: { "supabase/functions/_shared/x.ts": "h-theirs" } };
  const plan = planInstall(PAYLOAD, state, { command: "init" });
  assert.deepEqual(plan.conflicts, [{
    path: "supabase/functions/_shared/x.ts",
    reason: "not_installed_by_package",
  }]);
  const forced = planInstall(PAYLOAD, state, { command: "init", force: true });
  assert.deepEqual(forced.conflicts, []);
  assert.ok(forced.writes.some((w) => w.path === "supabase/functions/_shared/x.ts"));
});

const NEXT: Payload = {
  ...PAYLOAD,
  version: "1.1.0",
  files: { "supabase/functions/f/index.ts": "h-index", "supabase/functions/_shared/x.ts": "h-x2" },
  migrations: { ...PAYLOAD.migrations, "20261201000000_t_two.sql": "h-two" },
};

Deno.test("planInstall() upgrade writes what the newer version changed or added, migrations after the newest", () => {
  const plan = planInstall(NEXT, installed(FRESH, PAYLOAD), { command: "upgrade" });
  assert.deepEqual(plan.conflicts, []);
  assert.deepEqual(plan.writes, [
    { path: "supabase/functions/_shared/x.ts", source: "supabase/functions/_shared/x.ts" },
    {
      path: "supabase/migrations/20270101000002_t_two.sql",
      source: "supabase/migrations/20261201000000_t_two.sql",
    },
  ]);
  assert.equal(plan.manifest.version, "1.1.0");
  assert.equal(plan.configAppend, "");
});

Deno.test("planInstall() upgrade refuses a file the user changed that the newer version changes, unless forced", () => {
  const state = installed(FRESH, PAYLOAD);
  state.hashes["supabase/functions/_shared/x.ts"] = "h-mine";
  const plan = planInstall(NEXT, state, { command: "upgrade" });
  assert.deepEqual(plan.conflicts, [{ path: "supabase/functions/_shared/x.ts", reason: "changed" }]);
  const forced = planInstall(NEXT, state, { command: "upgrade", force: true });
  assert.deepEqual(forced.conflicts, []);
  assert.ok(forced.writes.some((w) => w.path === "supabase/functions/_shared/x.ts"));
});

Deno.test("planInstall() upgrade removes a file the newer version dropped, and keeps one the user changed", () => {
  const state = installed(FRESH, PAYLOAD);
  const dropped = { ...PAYLOAD, version: "2.0.0", files: { "supabase/functions/f/index.ts": "h-index" } };
  assert.deepEqual(planInstall(dropped, state, { command: "upgrade" }).removals, [
    "supabase/functions/_shared/x.ts",
  ]);
  state.hashes["supabase/functions/_shared/x.ts"] = "h-mine";
  const plan = planInstall(dropped, state, { command: "upgrade" });
  assert.deepEqual([plan.removals, plan.kept], [[], ["supabase/functions/_shared/x.ts"]]);
});

Deno.test("planInstall() refuses init over another version's install, and upgrade where nothing is installed", () => {
  assert.throws(
    () => planInstall(NEXT, installed(FRESH, PAYLOAD), { command: "init" }),
    (err) => err instanceof InstallError && /1\.0\.0 is installed here.*run upgrade/.test(err.message),
  );
  assert.throws(
    () => planInstall(PAYLOAD, FRESH, { command: "upgrade" }),
    (err) => err instanceof InstallError && /nothing to upgrade/.test(err.message),
  );
});

Deno.test("planInstall() refuses a manifest that names a path outside the installed folders", () => {
  const state = installed(FRESH, PAYLOAD);
  for (
    const path of [
      "../outside.ts",
      "supabase/functions/../../etc/passwd",
      "/etc/passwd",
      "supabase/config.toml",
    ]
  ) {
    const manifest = { ...state.manifest!, files: { ...state.manifest!.files, [path]: "h" } };
    assert.throws(
      () => planInstall(NEXT, { ...state, manifest }, { command: "upgrade" }),
      (err) => err instanceof InstallError && err.message.includes(JSON.stringify(path)),
      path,
    );
  }
  assert.equal(planInstall(NEXT, state, { command: "upgrade" }).conflicts.length, 0);
});
