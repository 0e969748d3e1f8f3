/**
 * Every shell block of every Markdown file, run from the file itself as a reader would: in reading order
 * (tests/_doc_shell.ts), from a fresh copy of the checkout, on the stack its own background block starts
 * (`npx -y deno@2.9.6 task dev`), one bash session per file. The rules a block follows (runnable,
 * `background` or `illustrative`) are tests/_doc_shell.ts's. A failure names the file, the line and the
 * command, with the block's output; every file is run, so one run lists every broken block.
 */
import assert from "node:assert/strict";
import { inlineCommandProblems, readingOrder, type ShellBlock, shellBlocks } from "../_doc_shell.ts";
import { checkoutFiles, copyCheckout, removeCopy, userEnv } from "../_checkout.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** How long one block may run (the slowest runs the Python suite twice) before it counts as hung. */
const BLOCK_TIMEOUT_MS = 300_000;
/** How long a background block may take to print its `Ready` line (the stack's first start installs). */
const READY_TIMEOUT_MS = 240_000;
/** Every port of the stack picked free, so a developer's own stack (or a test's) is left alone. */
const PORTS = [
  "API_PORT",
  "DB_PORT",
  "DEMO_PORT",
  "POOLER_PORT",
  "MAILBOX_PORT",
  "MAILBOX_SMTP_PORT",
  "BACKEND_PORT",
];
const ENV = userEnv({ NO_COLOR: "1", ...Object.fromEntries(PORTS.map((name) => [name, "0"])) });

/** Every shell block of the checkout's Markdown, in reading order, and every rule they break. */
async function allBlocks(): Promise<{ blocks: ShellBlock[]; problems: string[] }> {
  const files = (await checkoutFiles()).filter((f) => f.endsWith(".md"));
  const ordered = readingOrder(files, await Deno.readTextFile(`${ROOT}README.md`));
  const found = await Promise.all(
    ordered.map(async (f) => {
      const markdown = await Deno.readTextFile(`${ROOT}${f}`);
      const { blocks, problems } = shellBlocks(markdown, f);
      return { blocks, problems: [...problems, ...inlineCommandProblems(markdown, f)] };
    }),
  );
  return { blocks: found.flatMap((f) => f.blocks), problems: found.flatMap((f) => f.problems) };
}

Deno.test("every shell block in the Markdown runs as printed, or is fenced illustrative and says why", async () => {
  const { blocks, problems } = await allBlocks();
  assert.deepEqual(problems, []);
  assert.ok(
    blocks.some((b) => b.file === "README.md" && b.kind === "background"),
    "the quick start starts the stack",
  );
});

Deno.test("every runnable shell block in the Markdown runs, in reading order, on a fresh stack", async () => {
  const { blocks } = await allBlocks();
  const home = await Deno.makeTempDir({ prefix: "doc-blocks-" });
  const checkout = `${home}/app`;
  await copyCheckout(checkout);
  const failures: string[] = [];
  let stack: Background | undefined;
  try {
    for (const file of new Set(blocks.map((b) => b.file))) {
      const session = new Session(checkout, `${home}/blocks`);
      for (const block of blocks.filter((b) => b.file === file && b.kind !== "illustrative")) {
        let failure: string | undefined;
        if (block.kind === "background") {
          await stack?.stop();
          stack = new Background(block, checkout);
          failure = await stack.ready();
        } else {
          failure = await session.run(block);
        }
        if (failure) {
          failures.push(failure);
          break; // The file's next blocks build on this one.
        }
      }
      await session.close();
    }
  } finally {
    await stack?.stop();
    await removeCopy(home, checkout);
  }
  const count = (kind: ShellBlock["kind"]) => blocks.filter((b) => b.kind === kind).length;
  console.log(
    `${count("run")} blocks run, ${count("background")} in the background, ${
      count("illustrative")
    } illustrative`,
  );
  if (failures.length > 0) assert.fail(failures.join("\n\n"));
});

/** The last lines of `output`, for a failure message. */
function tail(output: string[]): string {
  return output.slice(-40).map((line) => `    | ${line}`).join("\n");
}

/** Polls `done` every 100 ms until it holds or `ms` have passed; whether it holds. */
async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return done();
}

/**
 * A bash started in a process group of its own (so that whatever it starts can be stopped with it), in the
 * copy, with its stdout and stderr collected as lines.
 */
class Bash {
  readonly child: Deno.ChildProcess;
  readonly output: string[] = [];
  exited = false;
  /** Exited, and every process that held its output has let go of it. */
  ended = false;
  #done: Promise<void>;

  constructor(args: string[], cwd: string, stdin: "piped" | "null") {
    this.child = new Deno.Command("bash", {
      args: ["--noprofile", "--norc", ...args],
      cwd,
      env: ENV,
      clearEnv: true,
      stdin,
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.#done = Promise.all([
      this.#collect(this.child.stdout),
      this.#collect(this.child.stderr),
      this.child.status.then(() => this.exited = true),
    ]).then(() => {
      this.ended = true;
    });
  }

  async #collect(stream: ReadableStream<Uint8Array>) {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      this.output.push(...lines);
    }
    if (partial) this.output.push(partial);
  }

  /** Sends `signal` (if any) to its process group, then SIGKILL if it has not ended within `ms`. */
  async stop(signal: Deno.Signal | undefined, ms: number) {
    if (signal) this.#signalGroup(signal);
    if (!await waitUntil(() => this.ended, ms)) this.#signalGroup("SIGKILL");
    await this.#done;
  }

  #signalGroup(signal: Deno.Signal) {
    try {
      Deno.kill(-this.child.pid, signal);
    } catch {
      // The group has ended.
    }
  }
}

/**
 * One reader's terminal: a bash reading commands from a pipe, each block `source`d from a file of its own
 * so that a failure's line is the block's line (the ERR trap and bash's own messages name both).
 */
class Session {
  #bash: Bash;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #marker = `@@${crypto.randomUUID()}`;
  #count = 0;

  constructor(cwd: string, private scripts: string) {
    this.#bash = new Bash(["-Eeuo", "pipefail", "-s"], cwd, "piped");
    this.#stdin = this.#bash.child.stdin.getWriter();
    this.#send(`trap 'echo "${this.#marker} failed \${BASH_SOURCE[0]:-} $LINENO" >&2' ERR`);
  }

  #send(line: string) {
    // A bash that has exited (a failed block) reads no more: its closed pipe is not a second failure.
    return this.#stdin.write(new TextEncoder().encode(line + "\n")).catch(() => {});
  }

  /** Runs `block`; undefined when it succeeded, else the failure's message. */
  async run(block: ShellBlock): Promise<string | undefined> {
    const n = this.#count++;
    await Deno.mkdir(this.scripts, { recursive: true });
    const script = `${this.scripts}/${block.file.replaceAll("/", "_")}-${block.line}.sh`;
    await Deno.writeTextFile(script, block.body + "\n");
    const from = this.#bash.output.length;
    await this.#send(`source '${script}' </dev/null; echo "${this.#marker} ok ${n}" >&2`);
    const ok = `${this.#marker} ok ${n}`;
    await waitUntil(() => this.#bash.exited || this.#bash.output.includes(ok, from), BLOCK_TIMEOUT_MS);
    const output = this.#bash.output.slice(from);
    if (output.includes(ok)) return undefined;
    const timedOut = !this.#bash.exited;
    await this.close();
    // The ERR trap's line, or bash's own "<script>: line N: ..." (an unset variable does not trap).
    const trapped = output.find((l) => l.startsWith(`${this.#marker} failed ${script} `));
    const said = output.map((l) => l.startsWith(`${script}: line `) ? l.slice(script.length + 7) : "")
      .find(Boolean);
    const at = Number(trapped?.split(" ").at(-1) ?? said?.split(":")[0]) || 0;
    const command = at > 0 ? block.body.split("\n")[at - 1].trim() : "(no line: see the output)";
    const why = timedOut ? `still running after ${BLOCK_TIMEOUT_MS / 1000} s` : "failed";
    const shown = output.filter((l) => !l.startsWith(this.#marker));
    return `${block.file}:${block.line + at}: ${command}\n  ${why}; the block's output:\n${tail(shown)}`;
  }

  /** Ends the session, and everything a hung block started. */
  async close() {
    await this.#stdin.close().catch(() => {});
    await this.#bash.stop(undefined, 5000);
  }
}

/** A background block: started in a process group of its own, awaited until it prints `Ready…`. */
class Background {
  #bash: Bash;

  constructor(private block: ShellBlock, cwd: string) {
    this.#bash = new Bash(["-c", block.body], cwd, "null");
  }

  /** Undefined once it printed its `Ready` line; else the failure's message. */
  async ready(): Promise<string | undefined> {
    const ready = () => this.#bash.output.some((l) => l.startsWith("Ready"));
    if (await waitUntil(() => this.#bash.exited || ready(), READY_TIMEOUT_MS) && ready()) return undefined;
    const why = this.#bash.exited
      ? "exited before it was ready"
      : `not ready after ${READY_TIMEOUT_MS / 1000} s`;
    const command = this.block.body.split("\n")[0];
    return `${this.block.file}:${this.block.line + 1}: ${command}\n  ${why}; its output:\n${
      tail(this.#bash.output)
    }`;
  }

  /**
   * Ctrl-C in its terminal: SIGINT to its process group (the signal to npx's pid alone is
   * tests/dev/lifecycle_test.ts's); SIGKILL if it has not ended within 15 s.
   */
  async stop() {
    await this.#bash.stop("SIGINT", 15_000);
  }
}
