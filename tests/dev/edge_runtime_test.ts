/**
 * The Edge runtime stand-in (`dev/edge_runtime.ts`) behind the real gateway, with a function that
 * misbehaves on purpose (`tests/fixtures/misbehaving_function/`) in its own process, as the stack runs
 * `exchange-token`: each failure gets the runtime's status and body, and the next request a fresh worker.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createGateway } from "../../dev/gateway.ts";
import { type EdgeRuntime, runtimeErrorResponse, startEdgeRuntime } from "../../dev/edge_runtime.ts";
import { startFunction } from "../../dev/function_worker.ts";
import { startStack } from "../../dev/stack.ts";
import { parseEdgeDenoVersion } from "../../dev/edge_deno.ts";
import { PASSWORD } from "../_fixtures.ts";

const MISBEHAVING = {
  name: "misbehaving-function",
  entry: new URL("../fixtures/misbehaving_function/index.ts", import.meta.url),
};
const KEYS = {
  publishable: "sb_publishable_x",
  secret: "sb_secret_x",
  anon: "anon.jwt",
  serviceRole: "sr.jwt",
};

/** The runtime's three answers, byte for byte, as `supabase functions serve`'s main service sends them. */
const ANSWERS = {
  BOOT_ERROR: [503, '{"code":"BOOT_ERROR","message":"Worker failed to boot (please check logs)"}'],
  WORKER_ERROR: [
    500,
    '{"code":"WORKER_ERROR","message":"Function exited due to an error (please check logs)"}',
  ],
  WORKER_LIMIT: [
    546,
    '{"code":"WORKER_LIMIT","message":"Worker failed to respond due to a resource limit (please check logs)"}',
  ],
} as const;

/** The misbehaving function behind a supervisor and the gateway; counts the workers booted. */
function setup(options: { env?: Record<string, string>; wallClockLimitMs?: number; workers?: number } = {}) {
  const boots: number[] = [];
  const runtime: EdgeRuntime = startEdgeRuntime({
    boot: async (port) => {
      const worker = await startFunction(port, options.env ?? {}, { fn: MISBEHAVING });
      boots.push(worker.pid);
      return worker;
    },
    wallClockLimitMs: options.wallClockLimitMs,
    workers: options.workers,
  });
  const gateway = createGateway({
    auth: () => Promise.resolve(new Response(null, { status: 404 })),
    functions: { [MISBEHAVING.name]: runtime.fetch },
    keys: KEYS,
  });
  const call = (route: string, init: RequestInit = {}) =>
    gateway(
      new Request(`http://127.0.0.1:54321/functions/v1/${MISBEHAVING.name}/${route}`, {
        method: "POST",
        headers: { origin: "https://app.example", apikey: KEYS.publishable },
        ...init,
      }),
    );
  return {
    boots,
    runtime,
    call,
    /** The pid of the worker that answers `/ok`. */
    async servedBy(): Promise<number> {
      const res = await call("ok");
      assert.equal(res.status, 200);
      return (await res.json()).pid;
    },
    async [Symbol.asyncDispose]() {
      await runtime.stop();
    },
  };
}

/** Whether process `pid` still runs. */
function processAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Waits (up to 10 s) until `done()`. */
async function waitFor(done: () => boolean) {
  for (let tries = 0; !done(); tries++) {
    assert.ok(tries < 200, "still waiting after 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Asserts the runtime's answer: status, body, `Content-Type`, and no CORS or `Retry-After`. */
async function assertAnswer(res: Response, code: keyof typeof ANSWERS) {
  const [status, body] = ANSWERS[code];
  assert.equal(res.status, status);
  assert.equal(await res.text(), body);
  assert.deepEqual([...res.headers.keys()].filter((name) => name !== "content-length"), ["content-type"]);
  assert.equal(res.headers.get("content-type"), "application/json");
}

Deno.test("runtimeErrorResponse() answers as the Edge runtime's main service", async () => {
  for (const code of ["BOOT_ERROR", "WORKER_ERROR", "WORKER_LIMIT"] as const) {
    await assertAnswer(runtimeErrorResponse(code), code);
  }
});

Deno.test("a function that throws at boot is 503 BOOT_ERROR, and each request tries to boot it again", async () => {
  await using t = setup({ env: { MISBEHAVE_AT_BOOT: "throw" } });
  await assertAnswer(await t.call("ok"), "BOOT_ERROR");
  await assertAnswer(await t.call("ok"), "BOOT_ERROR");
  assert.equal(t.boots.length, 2);
  await assert.rejects(t.runtime.boot(), /exited \(code 1\) before listening/);
});

Deno.test("a worker that exits mid-request is 500 WORKER_ERROR; the next request boots a fresh one", async () => {
  await using t = setup();
  const before = await t.servedBy();
  await assertAnswer(await t.call("crash"), "WORKER_ERROR");
  const after = await t.servedBy();
  assert.notEqual(after, before);
  assert.deepEqual(t.boots, [before, after]);
  assert.equal(t.runtime.pid, after);
});

Deno.test("a worker past the 256 MiB heap is 546 WORKER_LIMIT; the next request boots a fresh one", async () => {
  await using t = setup();
  const before = await t.servedBy();
  await assertAnswer(await t.call("oom"), "WORKER_LIMIT");
  assert.notEqual(await t.servedBy(), before);
  assert.equal(t.boots.length, 2);
});

Deno.test("a request past the wall clock is 546 WORKER_LIMIT, with the worker's other requests", async () => {
  await using t = setup({ wallClockLimitMs: 1000 });
  const before = await t.servedBy();
  const started = performance.now();
  const [first, second] = await Promise.all([t.call("hang"), t.call("hang")]);
  const waited = performance.now() - started;
  await assertAnswer(first, "WORKER_LIMIT");
  await assertAnswer(second, "WORKER_LIMIT");
  assert.ok(waited >= 1000 && waited < 5000, `answered after ${Math.round(waited)} ms`);
  assert.notEqual(await t.servedBy(), before);
});

Deno.test("a worker runs on the Edge runtime's Deno (EDGE_DENO_VERSION, 2.1.4 by default)", async () => {
  await using t = setup();
  const res = await t.call("ok");
  assert.equal((await res.json()).deno, parseEdgeDenoVersion(Deno.env.get("EDGE_DENO_VERSION")));
});

Deno.test("a worker may not spawn, load libraries, write outside /tmp or set its environment", async () => {
  await using t = setup();
  const res = await t.call("forbidden");
  assert.equal(res.status, 200);
  const tried = await res.json();
  const denied = /^NotCapable: Requires (run|ffi|write|read) access/;
  assert.deepEqual(tried, {
    // The runtime's own refusal (supabase/edge-runtime ext/os/os.js), from the worker's bootstrap.
    command: "Error: Spawning subprocesses is not allowed on Supabase Edge Runtime.",
    childProcess: tried.childProcess.match(denied) ? tried.childProcess : "refused",
    ffi: tried.ffi.match(denied) ? tried.ffi : "refused",
    writeOutsideTmp: tried.writeOutsideTmp.match(denied) ? tried.writeOutsideTmp : "refused",
    readOutside: tried.readOutside.match(denied) ? tried.readOutside : "refused",
    // ext/env/lib.rs: op_set_env is not_supported().
    envSet: "NotSupported: The operation is not supported",
    writeTmp: "allowed",
  });
});

Deno.test("past 1 s of CPU a worker is retired: new requests go to a fresh one, its own finish", async () => {
  await using t = setup();
  const retiring = await t.servedBy();
  // A request held in flight on it: its body is sent only at the end.
  const released = Promise.withResolvers<void>();
  const held = t.call("body", {
    body: new ReadableStream({
      async pull(controller) {
        await released.promise;
        controller.enqueue(new TextEncoder().encode("{}"));
        controller.close();
      },
    }),
  });
  // Bursts of 250 ms: CPU time grows by at most that much each, so none reaches the hard limit.
  const burns: number[] = [];
  for (;;) {
    const res = await t.call("burn?ms=250");
    assert.equal(res.status, 200);
    const { pid } = await res.json();
    if (pid !== retiring) break;
    burns.push(pid);
    assert.ok(burns.length <= 40, "never retired");
  }
  assert.ok(burns.length >= 4, `retired after ${burns.length} bursts of 250 ms, under 1 s of CPU`);
  assert.notEqual(await t.servedBy(), retiring);
  assert.equal(processAlive(retiring), true);
  released.resolve();
  const finished = await held;
  assert.equal(finished.status, 200);
  assert.equal((await finished.json()).pid, retiring);
  await waitFor(() => !processAlive(retiring));
});

Deno.test("at 2 s of CPU a worker is ended: its request is 546 WORKER_LIMIT, the next boots a fresh one", async () => {
  await using t = setup();
  const before = await t.servedBy();
  const started = performance.now();
  await assertAnswer(await t.call("burn"), "WORKER_LIMIT");
  const waited = performance.now() - started;
  // CPU time never runs ahead of the wall clock.
  assert.ok(waited >= 2000, `answered after ${Math.round(waited)} ms`);
  await waitFor(() => !processAlive(before));
  assert.notEqual(await t.servedBy(), before);
});

Deno.test("a worker that ended while idle is booted again by the next request", async () => {
  await using t = setup();
  const before = await t.servedBy();
  Deno.kill(before, "SIGKILL");
  // Time for its exit to be seen: a request sent before that reaches the dead worker (WORKER_ERROR).
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.notEqual(await t.servedBy(), before);
});

Deno.test("with 3 workers, requests go to each in turn, each worker a process of its own", async () => {
  await using t = setup({ workers: 3 });
  await t.runtime.boot();
  assert.equal(t.boots.length, 3);
  const served = [];
  for (let i = 0; i < 6; i++) served.push(await t.servedBy());
  assert.deepEqual(served, [...t.boots, ...t.boots]);
  assert.equal(new Set(served).size, 3);
  assert.deepEqual(t.runtime.pids, t.boots);
});

Deno.test("with 2 workers, a crash ends one: the other keeps serving, the crashed one's turn boots afresh", async () => {
  await using t = setup({ workers: 2 });
  const [first, second] = [await t.servedBy(), await t.servedBy()];
  await assertAnswer(await t.call("crash"), "WORKER_ERROR"); // the first's turn
  assert.equal(await t.servedBy(), second);
  const fresh = await t.servedBy();
  assert.ok(fresh !== first && fresh !== second, "the first's slot booted a fresh worker");
  assert.equal(await t.servedBy(), second);
  assert.deepEqual(t.boots, [first, second, fresh]);
});

Deno.test("startEdgeRuntime() refuses a number of workers below 1, and one port for several", () => {
  const boot = () => Promise.reject(new Error("never booted"));
  assert.throws(() => startEdgeRuntime({ boot, workers: 0 }), RangeError);
  assert.throws(() => startEdgeRuntime({ boot, workers: 1.5 }), RangeError);
  assert.throws(() => startEdgeRuntime({ boot, workers: 2, port: 8081 }), RangeError);
});

Deno.test("exchange-token keeps working after its worker crashes, idle or mid-request", async () => {
  const stack = await startStack({ autoConfirm: true });
  try {
    const signUp = await fetch(`${stack.apiUrl}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: stack.publishableKey, "content-type": "application/json" },
      body: JSON.stringify({ email: "crash@example.com", password: PASSWORD }),
    });
    const { access_token: accessToken } = await signUp.json();
    const exchange = (body: BodyInit = "{}") =>
      fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
        body,
      });
    const assertExchanges = async () => {
      const res = await exchange();
      assert.equal(res.status, 200);
      assert.equal(typeof (await res.json()).backend_token, "string");
    };
    await assertExchanges();

    const idle = stack.functionPid;
    Deno.kill(idle, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assertExchanges();
    assert.notEqual(stack.functionPid, idle);

    // A body held back keeps the request at the worker until it is killed.
    const midRequest = stack.functionPid;
    const released = Promise.withResolvers<void>();
    const held = exchange(
      new ReadableStream({
        async pull(controller) {
          await released.promise;
          controller.enqueue(new TextEncoder().encode("{}"));
          controller.close();
        },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    Deno.kill(midRequest, "SIGKILL");
    const crashed = await held;
    released.resolve();
    assert.equal(crashed.status, 500);
    assert.equal((await crashed.json()).code, "WORKER_ERROR");
    await assertExchanges();
    assert.notEqual(stack.functionPid, midRequest);
  } finally {
    await stack.stop();
  }
});
