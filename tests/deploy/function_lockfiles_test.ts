/**
 * Each function's `deno.lock` is one the Edge Runtime's Deno (2.1.4) reads: version 4, and enough for that
 * Deno to type-check and boot the function from its folder alone, copied as the installer leaves it,
 * with the lockfile read and frozen (any change it would need is an error). The boot goes through the Edge
 * runtime stand-in's bootstrap (`dev/edge_worker_bootstrap.ts`), as 2.1.4 ignores `DENO_SERVE_ADDRESS`, and answers a request through the function's own handler.
 */
import assert from "node:assert/strict";
import {
  EDGE_DENO_DEFAULT_VERSION as EDGE_DENO_VERSION,
  edgeDenoEnv,
  resolveEdgeDeno,
} from "../../dev/edge_deno.ts";
import { functionNames } from "../../tools/function_locks.ts";
import { copyAsDeployed } from "../_deployed_copy.ts";
import { waitForPort } from "../../dev/_process.ts";
import { freePort } from "../../dev/ports.ts";
import { README } from "../_markdown.ts";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { packPayload } from "../../packages/supabase-exchange-token/src/install/pack_payload.ts";

const FUNCTIONS = new URL("../../supabase/functions/", import.meta.url);
const BOOTSTRAP = new URL("../../dev/edge_worker_bootstrap.ts", import.meta.url).pathname;
const text = new TextDecoder();

/** Runs the Edge Runtime's Deno in `cwd` and returns its exit code and output. */
async function edgeDeno(args: string[], cwd: string) {
  const { code, stdout, stderr } = await new Deno.Command(await resolveEdgeDeno(EDGE_DENO_VERSION), {
    args,
    cwd,
    env: { ...edgeDenoEnv(EDGE_DENO_VERSION), NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

Deno.test("the installer's payload holds every file of the three function folders and _shared/, which the deploy checks copy", async () => {
  const out = await Deno.makeTempDir({ prefix: "payload-" });
  try {
    const payload = await packPayload(fileURLToPath(new URL("../../", import.meta.url)), out, "0.0.0");
    const expected: string[] = [];
    for (const folder of [...await functionNames(), "_shared"]) {
      for (
        const entry of await readdir(new URL(folder, FUNCTIONS), { recursive: true, withFileTypes: true })
      ) {
        if (entry.isFile()) {
          expected.push(
            `supabase/functions/${relative(fileURLToPath(FUNCTIONS), join(entry.parentPath, entry.name))}`,
          );
        }
      }
    }
    assert.deepEqual(Object.keys(payload.files).sort(), expected.sort());
    assert.match(await Deno.readTextFile(README), /npx -y --package=\S+\.tgz supabase-exchange-token init/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

for (const name of await functionNames()) {
  Deno.test(`the ${name} function's deno.lock is version 4, and Deno ${EDGE_DENO_VERSION} checks and boots the copied folder with it frozen`, async () => {
    const lockfile = await Deno.readTextFile(new URL(`${name}/deno.lock`, FUNCTIONS));
    assert.equal(JSON.parse(lockfile).version, "4");

    const copy = await copyAsDeployed(name);
    try {
      const config = `supabase/functions/${name}/deno.json`;
      const entry = `supabase/functions/${name}/index.ts`;
      const check = await edgeDeno(["check", "--frozen", "--config", config, entry], copy.project);
      assert.equal(check.code, 0, check.output);

      const port = freePort();
      const child = new Deno.Command(await resolveEdgeDeno(EDGE_DENO_VERSION), {
        // The stand-in's bootstrap points `Deno.serve` at the port (2.1.4 ignores `DENO_SERVE_ADDRESS`).
        args: [
          "run",
          "--frozen",
          "--allow-net",
          "--allow-env",
          `--allow-read=${copy.project}`,
          "--config",
          config,
          BOOTSTRAP,
          String(port),
          new URL(entry, `file://${copy.project}/`).href,
        ],
        cwd: copy.project,
        env: {
          ...edgeDenoEnv(EDGE_DENO_VERSION),
          NO_COLOR: "1",
          SUPABASE_URL: "http://127.0.0.1:9",
          SUPABASE_ANON_KEY: "anon-key-of-nobody",
          SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:9/postgres",
          BACKEND_JWT_SECRET: "a-backend-secret-for-the-boot-check-0123456789",
          ALLOWED_ORIGINS: "https://app.example.com",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      try {
        await waitForPort(port, child, `${name} on Deno ${EDGE_DENO_VERSION}`, 60_000);
        // A token that is not a JWT: refused by the function's own verification (jose, on 2.1.4), which
        // only a function that booted with its configuration loaded reaches.
        const res = await fetch(`http://127.0.0.1:${port}/functions/v1/${name}`, {
          method: name === "exchange-token" ? "POST" : "GET",
          headers: { authorization: "Bearer not-a-jwt" },
        });
        assert.equal(res.status, 401, await res.clone().text());
        assert.equal((await res.json()).error, "invalid_token");
      } finally {
        child.kill();
        const [stdout, stderr] = await output;
        await child.status;
        assert.doesNotMatch(stdout + stderr, /^error: /m, "the worker's output");
      }
      assert.equal(
        await Deno.readTextFile(`${copy.folder}deno.lock`),
        lockfile,
        "the lockfile is left as it was",
      );
    } finally {
      await copy.remove();
    }
  });
}
