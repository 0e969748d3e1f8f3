/**
 * The local stack's lifecycle, run the way a user runs it: `deno task dev` from a fresh copy of the
 * checkout inside a `0700` folder (as root's home or `mktemp -d` are), stopped with Ctrl-C, stopped with
 * SIGTERM or SIGINT to the `npx` process the quick start's command starts (what a process manager or
 * `kill $!` sends; the repository's `.npmrc` is what makes npm's forwarded signal reach the stack), and
 * killed hard (SIGKILL) at the task runner and at the stack's own process. Also a throwaway stack (temporary
 * data, as the tests use) killed hard. After a kill, within a few seconds, no process of it may be left,
 * its ports must be closed and no temporary data directory may remain.
 */
import assert from "node:assert/strict";
import { jwtVerify } from "jose";
import { signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";
import { copyCheckout, removeCopy, userEnv } from "../_checkout.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** How long the stack may take to be gone after a kill. */
const GONE_WITHIN_MS = 5000;

Deno.test("deno task dev from a 0700 folder stops on Ctrl-C and leaves nothing when killed", async (t) => {
  const home = await Deno.makeTempDir({ prefix: "exchange-token-home-" });
  assert.equal((await Deno.stat(home)).mode! & 0o777, 0o700);
  const checkout = `${home}/app`;
  await copyCheckout(checkout);
  try {
    await t.step("Ctrl-C stops every process and keeps .dev/", async () => {
      const dev = await startDev(checkout);
      assertHasParts(dev.processes);
      // A terminal's Ctrl-C: SIGINT to the whole foreground process group.
      Deno.kill(-dev.runner.pid, "SIGINT");
      assert.equal((await dev.runner.status).code, 0);
      await assertGone(dev.processes, dev.ports);
      assert.ok(dev.output.some((line) => line === "Stopping…"));
      const secrets = JSON.parse(await Deno.readTextFile(`${checkout}/.dev/secrets.json`));
      assert.equal(typeof secrets.backendJwtSecret, "string");
      assert.ok((await Deno.stat(`${checkout}/.dev/postgres/PG_VERSION`)).isFile);
    });

    // SIGTERM also with Debian's sh as npm's script shell (as without the repository's .npmrc): sh dies of
    // it without passing it on, and dev/main.ts notices the task runner lost its launcher.
    const npxCases = [["SIGTERM", ""], ["SIGINT", ""], ["SIGTERM", "sh"]] as const;
    for (const [signal, shell] of npxCases) {
      await t.step(
        `${signal} to npx (npx -y deno@2.9.6 task dev${
          shell && `, script shell ${shell}`
        }) stops the whole stack within 5 s`,
        async () => {
          const env: Record<string, string> = shell ? { npm_config_script_shell: shell } : {};
          const dev = await startDev(checkout, env, ["npx", "-y", "deno@2.9.6", "task", "dev"]);
          assertHasParts(dev.processes);
          try {
            // Only the pid the user started, not its process group: what `kill`, systemd or a supervisor send.
            Deno.kill(dev.runner.pid, signal);
            await assertGone(dev.processes, dev.ports);
          } finally {
            // Should it fail, the rest of the group must not outlive the test (the watchdog stops the others).
            if (dev.processes.some((p) => startTime(p.pid) === p.started)) {
              try {
                Deno.kill(-dev.runner.pid, "SIGKILL");
              } catch {
                // The group ended meanwhile.
              }
            }
            await dev.runner.status;
          }
        },
      );
    }

    await t.step("as root, the database lives where the postgres user can reach it", async () => {
      const link = await Deno.readLink(`${checkout}/.dev/postgres`).catch(() => undefined);
      if (Deno.uid() === 0) assert.match(link ?? "", /^\/var\/lib\/exchange-token\/[0-9a-f]{16}-postgres$/);
      else assert.equal(link, undefined);
    });

    await t.step("SIGKILL of the task runner (deno task dev) stops the stack", async () => {
      const dev = await startDev(checkout);
      assertHasParts(dev.processes);
      Deno.kill(dev.runner.pid, "SIGKILL");
      await dev.runner.status;
      await assertGone(dev.processes, dev.ports);
    });

    await t.step("SIGKILL of the stack's own process (deno run dev/main.ts) stops its children", async () => {
      const dev = await startDev(checkout);
      const stack = dev.processes.find((p) => p.cmdline.includes("dev/main.ts"));
      assert.ok(stack, "the stack's process");
      Deno.kill(stack.pid, "SIGKILL");
      await dev.runner.status;
      await assertGone(dev.processes, dev.ports);
    });

    await t.step("the backend secret from the environment wins, and is named but never shown", async () => {
      const secret = "a-backend-secret-from-the-environment-0123456789";
      const dev = await startDev(checkout, { BACKEND_JWT_SECRET: secret, BACKEND_JWT_TTL_SECONDS: "3600" });
      const backendToken = await exchangeAsNewUser(dev.output);
      Deno.kill(-dev.runner.pid, "SIGTERM");
      await dev.runner.status;
      await assertGone(dev.processes, dev.ports);
      const { payload } = await jwtVerify(backendToken, new TextEncoder().encode(secret));
      assert.ok(payload.exp! - Math.floor(Date.now() / 1000) <= 3600, "BACKEND_JWT_TTL_SECONDS applies");
      assert.ok(dev.output.includes("BACKEND_JWT_SECRET from the environment"), dev.output.join("\n"));
      assert.ok(dev.output.includes("From the environment, for the function: BACKEND_JWT_TTL_SECONDS"));
      assert.ok(!dev.output.join("\n").includes(secret));
      assert.ok(!(await Deno.readTextFile(`${checkout}/.dev/stack.env`)).includes(secret));
      const saved = JSON.parse(await Deno.readTextFile(`${checkout}/.dev/secrets.json`));
      assert.notEqual(saved.backendJwtSecret, secret);

      const again = await startDev(checkout);
      Deno.kill(-again.runner.pid, "SIGTERM");
      await again.runner.status;
      await assertGone(again.processes, again.ports);
      assert.ok(again.output.includes(`BACKEND_JWT_SECRET saved in ${checkout}/.dev/secrets.json`));
    });

    await t.step(
      "with ES256 backend tokens it prints the JWKS URL, not the HMAC secret nobody uses",
      async () => {
        const dev = await startDev(checkout, { BACKEND_JWT_ALGORITHM: "ES256" });
        try {
          const printed = dev.output.find((line) => line.startsWith("BACKEND_JWKS_URL="));
          assert.ok(printed, dev.output.join("\n"));
          const jwks = await fetch(printed.slice("BACKEND_JWKS_URL=".length).replaceAll('"', ""));
          assert.equal(jwks.status, 200);
          const { keys } = await jwks.json();
          assert.deepEqual(keys.map((k: { kty: string; crv: string }) => [k.kty, k.crv]), [["EC", "P-256"]]);
          assert.ok(
            !dev.output.some((line) => line.startsWith("BACKEND_JWT_SECRET=")),
            dev.output.join("\n"),
          );
          const written = await Deno.readTextFile(`${checkout}/.dev/stack.env`);
          assert.match(
            written,
            /^BACKEND_JWKS_URL="http:\/\/127\.0\.0\.1:\d+\/functions\/v1\/exchange-token\/\.well-known\/jwks\.json"$/m,
          );
          assert.doesNotMatch(written, /BACKEND_JWT_SECRET/);
        } finally {
          Deno.kill(-dev.runner.pid, "SIGTERM");
          await dev.runner.status;
          await assertGone(dev.processes, dev.ports);
        }
      },
    );
  } finally {
    await removeCopy(home, checkout);
  }
});

Deno.test("a throwaway stack killed with SIGKILL leaves no process and no temporary data directory", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/dev/_throwaway_stack.ts"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = readLines(child.stdout);
  const started = JSON.parse((await lines.next()).value!);
  const processes = [self(child.pid), ...descendants(child.pid)];
  assertHasParts(processes);
  const ports = [started.apiUrl, started.functionUrl].map((url) => Number(new URL(url).port));
  ports.push(started.dbPort, started.poolerPort);
  const temporary = started.dataDir.replace(/\/data$/, "");
  assert.ok((await Deno.stat(temporary)).isDirectory);
  assert.ok((await Deno.stat(started.poolerDir)).isDirectory);

  Deno.kill(child.pid, "SIGKILL");
  await child.status;
  await Array.fromAsync(lines);
  await assertGone(processes, ports);
  await assert.rejects(Deno.stat(temporary), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(started.poolerDir), Deno.errors.NotFound);
});

/** A process seen while the stack ran: its start time tells it from a later process with the same pid. */
interface Seen {
  pid: number;
  started: string;
  cmdline: string;
}

/**
 * Runs `deno task dev` (or `command`, e.g. through npx) in its own process group (as a terminal would) and
 * waits for "Ready".
 */
async function startDev(
  checkout: string,
  env: Record<string, string> = {},
  [program, ...args]: string[] = [Deno.execPath(), "task", "dev"],
) {
  // Every part on a port it binds itself (0), read back from what the stack prints.
  const ports = {
    API_PORT: 0,
    DB_PORT: 0,
    DEMO_PORT: 0,
    POOLER_PORT: 0,
    MAILBOX_PORT: 0,
    MAILBOX_SMTP_PORT: 0,
    BACKEND_PORT: 0,
  };
  const runner = new Deno.Command(program, {
    args,
    cwd: checkout,
    env: userEnv({
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      NO_COLOR: "1",
      ...env,
    }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    detached: true,
  }).spawn();
  const output: string[] = [];
  const lines = readLines(runner.stdout);
  // Not `for await ... break`: that would close the pipe, and the stack's next line would hit EPIPE.
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    output.push(next.value);
    if (next.value.startsWith("Ready in")) break;
  }
  // Keep reading (the stack prints until it stops); `status` below resolves once it has.
  const drained = Array.fromAsync(lines, (line) => output.push(line));
  const functionPort = Number(
    output.find((l) => l.startsWith("exchange-token function on port"))?.split(" ").at(-1),
  );
  assert.ok(functionPort > 0, output.join("\n"));
  return {
    runner: { pid: runner.pid, status: Promise.all([runner.status, drained]).then(([status]) => status) },
    processes: [self(runner.pid), ...descendants(runner.pid)],
    ports: printedPorts(output),
    output,
  };
}

/** Every port the stack printed: its parts' "on port N" lines and the URLs of its variables. */
function printedPorts(output: string[]): number[] {
  const ports = new Set<number>();
  for (const line of output) {
    for (const [, port] of line.matchAll(/(?:\bport |127\.0\.0\.1:)(\d+)/g)) ports.add(Number(port));
  }
  return [...ports];
}

/** Signs up a new user through the printed API_URL, PUBLISHABLE_KEY and MAILPIT_URL; returns their backend token. */
async function exchangeAsNewUser(output: string[]): Promise<string> {
  const value = (name: string) => output.find((l) => l.startsWith(`${name}=`))!.slice(name.length + 2, -1);
  const [apiUrl, apiKey, mailboxUrl] = [value("API_URL"), value("PUBLISHABLE_KEY"), value("MAILPIT_URL")];
  // config.toml has confirmations on: the address is confirmed through the stack's mailbox.
  const { accessToken } = await signUpByMail(
    { apiUrl, apiKey, mailboxUrl },
    `${crypto.randomUUID()}@example.com`,
    PASSWORD,
  );
  const exchange = await fetch(`${apiUrl}/functions/v1/exchange-token`, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const body = await exchange.json();
  assert.equal(exchange.status, 200, JSON.stringify(body));
  return body.backend_token;
}

/** Asserts that the stack's parts were among the processes seen, so that their absence later means something. */
function assertHasParts(processes: Seen[]) {
  const commands = processes.map((p) => p.cmdline).join("\n");
  assert.match(commands, /\/bin\/postgres -D /, "Postgres");
  assert.match(commands, /exchange-token\/index\.ts/, "the function");
  assert.match(commands, /pgbouncer .*\/pgbouncer\.ini/, "the pooler");
  assert.match(commands, /dev\/watchdog\.ts/, "the watchdog");
}

/** Waits until none of `processes` runs and nothing listens on `ports`; fails after GONE_WITHIN_MS. */
async function assertGone(processes: Seen[], ports: number[]) {
  const deadline = Date.now() + GONE_WITHIN_MS;
  let left: string[] = [];
  do {
    const running = processes.filter((p) => startTime(p.pid) === p.started).map((p) => p.cmdline);
    const open = [];
    for (const port of ports) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        open.push(`port ${port}`);
      } catch {
        // Closed, as it should be.
      }
    }
    left = [...running, ...open];
    if (left.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < deadline);
  assert.fail(`still there ${GONE_WITHIN_MS} ms later:\n${left.join("\n")}`);
}

/** Every live descendant of `pid`, from `/proc`. */
function descendants(pid: number): Seen[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const child = Number(entry.name);
    const parent = Number(stat(child)?.[1]);
    if (!child || !parent) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: Seen[] = [];
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      const seen = self(child);
      if (seen.started) found.push(seen);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

function self(pid: number): Seen {
  const cmdline = (() => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
    } catch {
      return "";
    }
  })();
  return { pid, started: startTime(pid) ?? "", cmdline };
}

/** Fields 3 onwards of `/proc/PID/stat` (state first), or undefined when it is gone. */
function stat(pid: number): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** A live process's start time; undefined when it is gone or a zombie. */
function startTime(pid: number): string | undefined {
  const fields = stat(pid);
  return fields && fields[0] !== "Z" ? fields[19] : undefined;
}

async function* readLines(stream: ReadableStream<Uint8Array>) {
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    yield* lines;
  }
  if (partial) yield partial;
}
