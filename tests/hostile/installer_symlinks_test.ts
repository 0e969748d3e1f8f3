/**
 * Hostile replay of the installer (`supabase-exchange-token init|upgrade`, `runCommand` as the bin runs it)
 * in a project someone else prepared, e.g. a cloned repository: its manifest and its paths may be links out
 * of the project. A manifest naming `supabase/functions/cache/notes.txt`, with `supabase/functions/cache` a
 * link to a folder of the user's, had `upgrade --force` (which the refusal of a changed file tells the user to
 * pass) delete the user's notes; a function folder linked out of the project had `init` write the payload
 * into the user's folder, over their file with `--force`. Now the installer refuses any link on a path it
 * writes, removes or appends to, and writes nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runCommand } from "../../packages/supabase-exchange-token/src/install/command.ts";

const INDEX = "supabase/functions/exchange-token/index.ts";
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** A payload of one function file, version 2.0.0, and a project beside a folder of the user's own. */
async function setup() {
  const base = await Deno.makeTempDir({ prefix: "installer-links-" });
  const payloadDir = join(base, "payload");
  await Deno.mkdir(join(payloadDir, "supabase/functions/exchange-token"), { recursive: true });
  await Deno.writeTextFile(join(payloadDir, INDEX), "// the package's function\n");
  await Deno.writeTextFile(
    join(payloadDir, "payload.json"),
    JSON.stringify({
      version: "2.0.0",
      supabaseCliVersion: "2.117.0",
      functions: ["exchange-token"],
      files: { [INDEX]: sha("// the package's function\n") },
      migrations: {},
      configBlocks: [],
    }),
  );
  const project = join(base, "project");
  await Deno.mkdir(join(project, "supabase/functions"), { recursive: true });
  await Deno.writeTextFile(join(project, "supabase/config.toml"), 'project_id = "cloned"\n');
  const mine = join(base, "mine");
  await Deno.mkdir(mine);
  await Deno.writeTextFile(join(mine, "notes.txt"), "the user's notes\n");
  await Deno.writeTextFile(join(mine, "index.ts"), "// the user's own code\n");
  const lines: string[] = [];
  const run = (...argv: string[]) =>
    runCommand([...argv, "--dir", project], {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
      cwd: project,
      payloadDir,
    });
  return { base, project, mine, run, lines };
}

Deno.test("upgrade --force removes nothing through a link named by the manifest", async () => {
  const { base, project, mine, run, lines } = await setup();
  try {
    await Deno.symlink(mine, join(project, "supabase/functions/cache"));
    await Deno.mkdir(join(project, "supabase/functions/exchange-token"));
    await Deno.writeTextFile(join(project, INDEX), "// changed, so that the user is told to --force\n");
    await Deno.writeTextFile(
      join(project, "supabase/supabase-exchange-token.json"),
      JSON.stringify({
        package: "supabase-exchange-token",
        version: "1.0.0",
        files: { [INDEX]: sha("old"), "supabase/functions/cache/notes.txt": sha("anything") },
        migrations: {},
      }),
    );
    assert.equal(await run("upgrade"), 1, lines.join("\n"));
    assert.equal(await run("upgrade", "--force"), 1, lines.join("\n"));
    assert.match(lines.at(-1)!, /supabase\/functions\/cache is a symbolic link/);
    assert.equal(await Deno.readTextFile(join(mine, "notes.txt")), "the user's notes\n");
    assert.equal(
      await Deno.readTextFile(join(project, INDEX)),
      "// changed, so that the user is told to --force\n",
      "a refused plan writes nothing",
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("init writes nothing through a linked function folder, nor a linked file", async () => {
  const { base, project, mine, run, lines } = await setup();
  try {
    await Deno.symlink(mine, join(project, "supabase/functions/exchange-token"));
    assert.equal(await run("init", "--force"), 1, lines.join("\n"));
    assert.match(lines.at(-1)!, /supabase\/functions\/exchange-token is a symbolic link/);
    assert.equal(await Deno.readTextFile(join(mine, "index.ts")), "// the user's own code\n");

    await Deno.remove(join(project, "supabase/functions/exchange-token"));
    await Deno.mkdir(join(project, "supabase/functions/exchange-token"));
    await Deno.symlink(join(mine, "index.ts"), join(project, INDEX));
    assert.equal(await run("init", "--force"), 1, lines.join("\n"));
    assert.match(lines.at(-1)!, /exchange-token\/index\.ts is a symbolic link/);
    assert.equal(await Deno.readTextFile(join(mine, "index.ts")), "// the user's own code\n");

    // Nor the manifest or config.toml as links (a dangling one would be created out of the project).
    await Deno.remove(join(project, INDEX));
    await Deno.symlink(
      join(mine, "created-by-installer.json"),
      join(project, "supabase/supabase-exchange-token.json"),
    );
    assert.equal(await run("init"), 1, lines.join("\n"));
    assert.match(lines.at(-1)!, /supabase-exchange-token\.json is a symbolic link/);
    await assert.rejects(Deno.stat(join(mine, "created-by-installer.json")));
    await assert.rejects(Deno.stat(join(project, INDEX)), "a refused plan writes nothing");

    // A real project installs as before.
    await Deno.remove(join(project, "supabase/supabase-exchange-token.json"));
    assert.equal(await run("init"), 0, lines.join("\n"));
    assert.equal(await Deno.readTextFile(join(project, INDEX)), "// the package's function\n");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
