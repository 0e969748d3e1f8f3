/**
 * Slow bodies against the local stack's function process: many connections drip a 16 KiB body a byte per
 * TCP segment. Each is answered 408 `request_timeout` at the body deadline (10 s), and the test prints the
 * function process's resident memory before and at its peak: a figure to read, not an assertion.
 */
import assert from "node:assert/strict";
import { startStack } from "../../dev/stack.ts";
import { dripRequest } from "../_drip.ts";
import { DB_POOLER } from "../_pooler.ts";

const CONNECTIONS = 20;

/** A field of /proc/<pid>/status in MiB (VmRSS: now; VmHWM: the peak so far). */
async function memoryMiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return Math.round(kib / 102.4) / 10;
}

Deno.test("slow bodies on many connections are cut off at the deadline; the function's RSS is printed", async () => {
  const stack = await startStack({ dbPooler: DB_POOLER });
  try {
    const url = new URL(stack.functionUrl);
    const before = await memoryMiB(stack.functionPid, "VmRSS");
    let peak = before;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await memoryMiB(stack.functionPid, "VmRSS").catch(() => 0));
    }, 100);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: CONNECTIONS }, () =>
        dripRequest(Number(url.port), {
          path: url.pathname,
          headers: { "content-type": "application/json", authorization: "Bearer a.b.c" },
          body: new Uint8Array(16 * 1024).fill(0x20),
        })),
    );
    clearInterval(sampler);
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    const sent = results.reduce((n, r) => n + r.bytesSent, 0);
    console.log(
      `slow bodies: ${CONNECTIONS} connections, ${sent} bytes dripped in ${seconds} s; function RSS ` +
        `${before} MiB before, ${peak} MiB at the peak (VmHWM ${await memoryMiB(
          stack.functionPid,
          "VmHWM",
        )} MiB)`,
    );
    for (const res of results) {
      assert.equal(res.status, 408, res.body);
      assert.equal(JSON.parse(res.body).error, "request_timeout");
      assert.equal(res.headers["access-control-allow-origin"], "*");
    }
  } finally {
    await stack.stop();
  }
});
