/**
 * Each function's `deno.lock` is one the Edge Runtime's Deno (2.1.4) reads: version 4, and enough for that
 * Deno to type-check and boot the function from its folder alone, copied as the README's copy list leaves it,
 * with the lockfile read and frozen (any change it would need is an error). The boot goes through a small
 * bootstrap, as 2.1.4 ignores `DENO_SERVE_ADDRESS`, and answers a request through the function's own handler.
 */
import assert from "node:assert/strict";
import { EDGE_DENO_ENV, EDGE_DENO_VERSION, edgeDenoPath } from "../../tools/edge_deno.ts";
import { functionNames } from "../../tools/function_locks.ts";
import { copyAsDeployed } from "../_deployed_copy.ts";
import { waitForPort } from "../../dev/_process.ts";
import { README } from "../_markdown.ts";

const FUNCTIONS = new URL("../../supabase/functions/", import.meta.url);
const text = new TextDecoder();

// Points the function's `Deno.serve` at BOOT_PORT, then loads it. Plain JavaScript, so only the function's
// own modules are type-checked; the import is literal, so `deno check` and the lockfile see its graph.
const bootstrap = (name: string) => `
const serve = Deno.serve;
const address = { hostname: "127.0.0.1", port: Number(Deno.env.get("BOOT_PORT")) };
Deno.serve = (first, ...rest) =>
  typeof first === "function" ? serve(address, first) : serve({ ...first, ...address }, ...rest);
await import("./supabase/functions/${name}/index.ts");
`;

/** Runs the Edge Runtime's Deno in `cwd` and returns its exit code and output. */
async function edgeDeno(args: string[], cwd: string) {
  const { code, stdout, stderr } = await new Deno.Command(await edgeDenoPath(), {
    args,
    cwd,
    env: { ...EDGE_DENO_ENV, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

/** A port nobody listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

Deno.test("the README's copy list names every file of exchange-token's folder, which the deploy checks copy", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL("exchange-token/", FUNCTIONS))) files.push(entry.name);
  const listed = (await Deno.readTextFile(README)).match(
    /`supabase\/functions\/exchange-token\/` \(([^)]*)\)/,
  );
  assert.ok(listed, "the README lists exchange-token's files");
  assert.deepEqual([...listed[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort(), files.sort());
});

for (const name of await functionNames()) {
  Deno.test(`the ${name} function's deno.lock is version 4, and Deno ${EDGE_DENO_VERSION} checks and boots the copied folder with it frozen`, async () => {
    const lockfile = await Deno.readTextFile(new URL(`${name}/deno.lock`, FUNCTIONS));
    assert.equal(JSON.parse(lockfile).version, "4");

    const copy = await copyAsDeployed(name);
    try {
      const config = `supabase/functions/${name}/deno.json`;
      await Deno.writeTextFile(`${copy.project}/boot.js`, bootstrap(name));
      const check = await edgeDeno(["check", "--frozen", "--config", config, "boot.js"], copy.project);
      assert.equal(check.code, 0, check.output);

      const port = freePort();
      const child = new Deno.Command(await edgeDenoPath(), {
        args: ["run", "--frozen", "--allow-net", "--allow-env", "--config", config, "boot.js"],
        cwd: copy.project,
        env: {
          ...EDGE_DENO_ENV,
          NO_COLOR: "1",
          BOOT_PORT: String(port),
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
