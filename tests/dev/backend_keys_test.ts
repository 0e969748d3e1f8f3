import assert from "node:assert/strict";
import { parseEnvFile } from "../../tools/backend_keys.ts";
import { loadExchangeConfig } from "../../supabase/functions/_shared/exchange/config.ts";
import { PROJECT_ENV } from "../_fixtures.ts";

const SCRIPT = new URL("../../tools/backend_keys.ts", import.meta.url).pathname;

async function run(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", SCRIPT, ...args],
    env: { NO_COLOR: "1" },
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr).trim() };
}

Deno.test("deno task backend-keys new prints the function's settings and the public JWK", async () => {
  const { code, stdout } = await run("new");
  assert.equal(code, 0);
  const set = parseEnvFile(stdout);
  assert.equal(set.algorithm, "ES256");
  const publicLine = stdout.split("\n").find((line) => line.startsWith("# {"))!;
  const publicJwk = JSON.parse(publicLine.slice(2));
  const { d: _private, ...publicPart } = set.keys[0];
  assert.deepEqual(publicJwk, { ...publicPart, alg: "ES256", use: "sig" });
  // What the function would load from these lines.
  const env = Object.fromEntries(
    stdout.split("\n").filter((line) => /^[A-Z_]+=/.test(line)).map((line) => {
      const [name, ...value] = line.split("=");
      return [name, value.join("=").replace(/^'(.*)'$/, "$1")];
    }),
  );
  const config = loadExchangeConfig({ ...PROJECT_ENV, ...env });
  assert.equal(config.backendJwt.algorithm, "ES256");
});

Deno.test("deno task backend-keys walks a key file through add, promote and retire", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/keys.env`;
  try {
    assert.equal((await run("new", file, "--alg", "EdDSA")).code, 0);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, "a secret: readable by its owner only");
    assert.match((await run("new", file)).stderr, /^backend-keys: File exists/, "never overwritten");
    const [first] = parseEnvFile(await Deno.readTextFile(file)).keys;

    assert.match(
      (await run("add", file)).stderr,
      new RegExp(`EdDSA: signs with ${first.kid}; also published: `),
    );
    const [, next] = parseEnvFile(await Deno.readTextFile(file)).keys;
    assert.equal(
      (await run("promote", file)).stderr,
      `${file}: EdDSA: signs with ${next.kid}; also published: ${first.kid}`,
    );
    assert.equal(
      (await run("retire", file)).stderr,
      `${file}: EdDSA: signs with ${next.kid}; no other key published`,
    );
    const refused = await run("promote", file);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, "backend-keys: there is no newer key to promote: add one first");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
