/**
 * The README's quick start, run as written: its curl block, in bash, against a local stack with
 * confirmations on (as `supabase/config.toml` says), reading `.dev/stack.env` as `deno task dev` writes it;
 * then pasted again after a restart that keeps `.dev/` (the user exists and is confirmed, the mailbox is
 * empty), which must still end in a backend token.
 */
import assert from "node:assert/strict";
import { startStack } from "../../dev/stack.ts";
import { codeBlocks, README } from "../_markdown.ts";
import { removeCopy } from "../_checkout.ts";

/** Starts a stack keeping its state in `dir`/.dev, runs `block` in `dir`, stops the stack; the output's lines. */
async function runOnStack(block: string, dir: string): Promise<string[]> {
  const stack = await startStack({ stateDir: `${dir}/.dev` });
  try {
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
    return out.trim().split("\n");
  } finally {
    await stack.stop();
  }
}

Deno.test("the README's quick start signs up, confirms through the mailbox, exchanges, and does again after a restart", async () => {
  const [block] = codeBlocks(await Deno.readTextFile(README), "sh").filter((b) =>
    b.includes("/api/v1/message/latest")
  );
  assert.ok(block, "the README has the quick start's curl block");
  const dir = await Deno.makeTempDir({ prefix: "quick-start-" });
  try {
    const first = await runOnStack(block, dir);
    const signUp = JSON.parse(first[0]);
    assert.equal(signUp.email, "ada@example.com");
    assert.equal(signUp.access_token, undefined, "no session before the link");
    for (const lines of [first, await runOnStack(block, dir)]) {
      const exchanged = JSON.parse(lines.at(-1)!);
      assert.deepEqual(
        [exchanged.tenant_id, exchanged.role, exchanged.email, exchanged.token_type],
        ["demo", "user", "ada@example.com", "Bearer"],
      );
    }
  } finally {
    await removeCopy(dir, dir);
  }
});
