/**
 * A body dripped a byte per TCP segment, over a real socket: the reader copies each byte into one buffer
 * capped at the limit (it keeps no chunk), and the function answers 408 `request_timeout` with CORS once
 * the body's deadline passes.
 */
import assert from "node:assert/strict";
import { dripRequest } from "../_drip.ts";
import { type BodyReadState, readBodyLimited } from "../../supabase/functions/_shared/core/http.ts";
import { openHarness } from "./_setup.ts";
import { ORIGIN } from "../_fixtures.ts";

Deno.test("readBodyLimited() holds one capped buffer while a body arrives a byte per TCP segment", async () => {
  const states: BodyReadState[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await readBodyLimited(req, {
      maxBytes: 1024,
      timeoutMs: 10_000,
      observe: (state) => states.push(state),
    });
    return new Response(String(body.byteLength));
  });
  try {
    const body = new TextEncoder().encode(JSON.stringify({ tenant_id: "x".repeat(180) }));
    const res = await dripRequest(server.addr.port, { path: "/", body, intervalMs: 1 });
    assert.equal(res.status, 200);
    assert.equal(res.body, String(body.byteLength));
    const last = states.at(-1)!;
    // The drip really came a few bytes per read, so the old reader would have kept hundreds of chunks...
    assert.ok(last.chunks > body.byteLength / 4, `${last.chunks} reads for ${body.byteLength} bytes`);
    // ...while this one held one buffer of exactly the declared length throughout.
    assert.ok(states.every((s) => s.capacity === body.byteLength), JSON.stringify(states.slice(0, 3)));
    assert.equal(last.received, body.byteLength);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a body that does not arrive in time gets 408 request_timeout, JSON, with CORS", async () => {
  const h = await openHarness();
  const app = h.appWith({ bodyTimeoutMs: 500 });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.handler);
  try {
    const started = performance.now();
    const res = await dripRequest(server.addr.port, {
      path: "/functions/v1/exchange-token",
      headers: { origin: ORIGIN, "content-type": "application/json", authorization: "Bearer a.b.c" },
      body: new Uint8Array(16 * 1024).fill(0x20),
      intervalMs: 5,
    });
    const elapsed = performance.now() - started;
    assert.equal(res.status, 408, res.body);
    assert.equal(JSON.parse(res.body).error, "request_timeout");
    assert.match(res.headers["content-type"], /^application\/json/);
    assert.equal(res.headers["access-control-allow-origin"], ORIGIN);
    assert.ok(elapsed >= 500 && elapsed < 3000, `answered after ${elapsed} ms`);
    assert.ok(res.bytesSent < 16 * 1024, "answered before the body was complete");
    assert.equal(h.logs.at(-1)?.outcome, "request_timeout");
  } finally {
    await server.shutdown();
    await h.close();
  }
});
