/**
 * The README's quick start, run as written: its curl block, in bash, against a local stack with
 * confirmations on (as `supabase/config.toml` says), reading `.dev/stack.env` as `deno task dev` writes it.
 */
import assert from "node:assert/strict";
import { startStack } from "../../dev/stack.ts";
import { codeBlocks, README } from "../_markdown.ts";

Deno.test("the README's quick start signs up, confirms through the mailbox, and exchanges", async () => {
  const [block] = codeBlocks(await Deno.readTextFile(README), "sh").filter((b) =>
    b.includes("/api/v1/message/latest")
  );
  assert.ok(block, "the README has the quick start's curl block");
  const stack = await startStack();
  const dir = await Deno.makeTempDir({ prefix: "quick-start-" });
  try {
    await Deno.mkdir(`${dir}/.dev`);
    const env = Object.entries(stack.env()).map(([name, value]) => `${name}="${value}"`);
    await Deno.writeTextFile(`${dir}/.dev/stack.env`, env.join("\n") + "\n");
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: ["-euo", "pipefail", "-c", block],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, `${out}\n${new TextDecoder().decode(stderr)}`);
    const lines = out.trim().split("\n");
    const signUp = JSON.parse(lines[0]);
    assert.equal(signUp.email, "ada@example.com");
    assert.equal(signUp.access_token, undefined, "no session before the link");
    const exchanged = JSON.parse(lines.at(-1)!);
    assert.deepEqual(
      [exchanged.tenant_id, exchanged.role, exchanged.email, exchanged.token_type],
      ["demo", "user", "ada@example.com", "Bearer"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await stack.stop();
  }
});
