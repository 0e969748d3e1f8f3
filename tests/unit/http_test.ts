import assert from "node:assert/strict";
import {
  bearerToken,
  type BodyReadState,
  corsHeaders,
  readBodyLimited,
} from "../../supabase/functions/_shared/core/http.ts";
import { parseTenantId } from "../../supabase/functions/_shared/core/tenant_id.ts";
import {
  readExchangeRequest,
  TOKEN_EXCHANGE_GRANT,
} from "../../supabase/functions/_shared/exchange/request.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

const TOKEN = "aaa.bbb.ccc";

function post(body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request("http://localhost/exchange-token", { method: "POST", body, headers });
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err.code;
  }
  return "ok";
}

Deno.test("corsHeaders() allows any origin by default and lists the headers supabase-js sends", () => {
  const headers = corsHeaders(
    new Request("http://x", { headers: { origin: "https://evil.example" } }),
    "*",
    "POST, OPTIONS",
  );
  assert.equal(headers["Access-Control-Allow-Origin"], "*");
  for (const name of ["authorization", "x-client-info", "apikey", "content-type", "x-retry-count"]) {
    assert.ok(headers["Access-Control-Allow-Headers"].split(", ").includes(name), name);
  }
  assert.equal(headers["Access-Control-Allow-Methods"], "POST, OPTIONS");
});

Deno.test("corsHeaders() echoes a listed origin only, and varies on Origin", () => {
  const allowed = ["https://app.example.com"];
  const ok = corsHeaders(
    new Request("http://x", { headers: { origin: "https://app.example.com" } }),
    allowed,
    "POST, OPTIONS",
  );
  assert.equal(ok["Access-Control-Allow-Origin"], "https://app.example.com");
  assert.equal(ok["Vary"], "Origin");
  const other = corsHeaders(
    new Request("http://x", { headers: { origin: "https://evil.example" } }),
    allowed,
    "POST, OPTIONS",
  );
  assert.equal(other["Access-Control-Allow-Origin"], undefined);
  assert.equal(other["Vary"], "Origin");
});

Deno.test("bearerToken() accepts RFC 6750 bearer tokens and refuses everything else", () => {
  assert.equal(bearerToken(`Bearer ${TOKEN}`, "exchange-token"), TOKEN);
  assert.equal(bearerToken(`bearer  ${TOKEN}`, "exchange-token"), TOKEN);
  for (
    const header of [
      null,
      "",
      "   ",
      "Bearer",
      "Bearer ",
      `Basic ${TOKEN}`,
      `Bearer ${TOKEN} extra`,
      "Bearer a,b",
    ]
  ) {
    assert.throws(
      () => bearerToken(header, "exchange-token"),
      (err) => err instanceof ApiError && err.code === "invalid_token",
      String(header),
    );
  }
  assert.throws(
    () => bearerToken(`Bearer ${"a".repeat(64 * 1024)}`, "exchange-token"),
    (err) => err instanceof ApiError && err.code === "invalid_token",
  );
});

Deno.test("bearerToken() challenges a request without bearer credentials with no error code (RFC 6750 §3.1)", () => {
  for (const header of [null, "", "   ", `Basic ${TOKEN}`, `Digest ${TOKEN}`]) {
    assert.throws(
      () => bearerToken(header, "exchange-token"),
      (err) =>
        err instanceof ApiError && err.code === "invalid_token" &&
        err.headers["WWW-Authenticate"] === 'Bearer realm="exchange-token"',
      String(header),
    );
  }
  for (
    const header of [
      "Bearer",
      "Bearer ",
      "Bearer a,b",
      `Bearer ${TOKEN} extra`,
      `Bearer ${"a".repeat(64 * 1024)}`,
    ]
  ) {
    assert.throws(
      () => bearerToken(header, "exchange-token"),
      (err) =>
        err instanceof ApiError && err.code === "invalid_token" && !("WWW-Authenticate" in err.headers),
      header.slice(0, 30),
    );
  }
});

Deno.test("parseTenantId() accepts well-formed ids and refuses wrong types and malformed strings", () => {
  assert.equal(parseTenantId(undefined), null);
  assert.equal(parseTenantId(null), null);
  assert.equal(parseTenantId("acme-42"), "acme-42");
  assert.equal(parseTenantId("0b0d5c8e-8f5e-4f2c-9a57-3e0a8f9b1c2d"), "0b0d5c8e-8f5e-4f2c-9a57-3e0a8f9b1c2d");
  for (const bad of [42, true, {}, [], "", " acme", "acme\n", "a\u0000b", "x".repeat(256), "\ud800"]) {
    assert.throws(
      () => parseTenantId(bad),
      (err) => err instanceof ApiError && err.code === "invalid_request",
      JSON.stringify(bad),
    );
  }
});

Deno.test("readExchangeRequest() reads an empty body, {} and a tenant_id", async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.deepEqual(
    await readExchangeRequest(post(null, auth), { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 }),
    {
      format: "json",
      token: TOKEN,
      tenantId: null,
    },
  );
  assert.deepEqual(
    await readExchangeRequest(post("{}", { ...auth, "content-type": "application/json" }), {
      maxBodyBytes: 16384,
      bodyTimeoutMs: 10_000,
    }),
    { format: "json", token: TOKEN, tenantId: null },
  );
  assert.deepEqual(
    await readExchangeRequest(
      post('{"tenant_id":"acme"}', { ...auth, "content-type": "application/json; charset=utf-8" }),
      {
        maxBodyBytes: 16384,
        bodyTimeoutMs: 10_000,
      },
    ),
    { format: "json", token: TOKEN, tenantId: "acme" },
  );
});

Deno.test("readExchangeRequest() refuses bodies that are not JSON objects, with invalid_request", async () => {
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  for (
    const body of [
      "[]",
      "null",
      "42",
      '"acme"',
      "{",
      '{"tenant_id":42}',
      '{"tenant_id":["a"]}',
      '{"tenant_id":""}',
    ]
  ) {
    assert.equal(
      await code(readExchangeRequest(post(body, headers), { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 })),
      "invalid_request",
      body,
    );
  }
  const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  assert.equal(
    await code(
      readExchangeRequest(post(invalidUtf8, headers), { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 }),
    ),
    "invalid_request",
  );
});

Deno.test("readExchangeRequest() refuses a body that is neither JSON nor a form with unsupported_media_type", async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.equal(
    await code(
      readExchangeRequest(post("hello", { ...auth, "content-type": "text/plain" }), {
        maxBodyBytes: 16384,
        bodyTimeoutMs: 10_000,
      }),
    ),
    "unsupported_media_type",
  );
  assert.equal(
    await code(
      readExchangeRequest(post(new Uint8Array([1, 2]), auth), { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 }),
    ),
    "unsupported_media_type",
  );
});

const LIMITS = { maxBytes: 16, timeoutMs: 10_000 };

Deno.test("readBodyLimited() refuses a body over the limit, declared or streamed", async () => {
  assert.equal(
    await code(readBodyLimited(post("x".repeat(17), { "content-length": "17" }), LIMITS)),
    "payload_too_large",
  );
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(8));
    },
  });
  assert.equal(await code(readBodyLimited(post(stream), LIMITS)), "payload_too_large");
  assert.equal((await readBodyLimited(post("x".repeat(16)), LIMITS)).byteLength, 16);
});

Deno.test("readBodyLimited() copies every chunk into one buffer that never outgrows the limit", async () => {
  const bytes = new TextEncoder().encode('{"tenant_id":"acme-42"}');
  let sent = 0;
  // One byte per chunk, each a view into a 64 KiB buffer, as a network read hands them over.
  const drip = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === bytes.length) return controller.close();
      const backing = new Uint8Array(64 * 1024);
      backing[0] = bytes[sent++];
      controller.enqueue(backing.subarray(0, 1));
    },
  });
  const states: BodyReadState[] = [];
  const body = await readBodyLimited(post(drip), {
    maxBytes: 1000,
    timeoutMs: 10_000,
    observe: (state) => states.push(state),
  });
  assert.deepEqual(body, bytes);
  assert.equal(states.length, bytes.length);
  assert.deepEqual(states.at(-1), { received: bytes.length, chunks: bytes.length, capacity: 1000 });
  // Undeclared: one buffer of min(1 KiB, limit). Declared: exactly Content-Length.
  assert.ok(states.every((s) => s.capacity === 1000));
  const declared: BodyReadState[] = [];
  await readBodyLimited(post("x".repeat(10), { "content-length": "10" }), {
    ...LIMITS,
    observe: (s) => declared.push(s),
  });
  assert.equal(declared.at(-1)?.capacity, 10);
  const grown: BodyReadState[] = [];
  await readBodyLimited(post("x".repeat(3000)), {
    maxBytes: 5000,
    timeoutMs: 10_000,
    observe: (s) => grown.push(s),
  });
  assert.ok(grown.every((s) => s.capacity >= s.received && s.capacity <= 5000), JSON.stringify(grown));
});

Deno.test("readBodyLimited() answers request_timeout when the body stops arriving", async () => {
  let cancelled = false;
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array([0x7b]));
    },
    cancel() {
      cancelled = true;
    },
  });
  const started = performance.now();
  const err = await readBodyLimited(post(stalled), { maxBytes: 16, timeoutMs: 50 }).catch((e) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.code, "request_timeout");
  assert.equal(err.status, 408);
  assert.ok(performance.now() - started < 1000);
  assert.ok(cancelled, "the body stream is cancelled");
});

Deno.test("readExchangeRequest() reads the RFC 8693 form and its audience", async () => {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: TOKEN,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    audience: "acme",
  });
  assert.deepEqual(await readExchangeRequest(post(form), { maxBodyBytes: 16384, bodyTimeoutMs: 10_000 }), {
    format: "oauth",
    token: TOKEN,
    tenantId: "acme",
  });
});

Deno.test("readExchangeRequest() refuses malformed token-exchange forms", async () => {
  const base = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: TOKEN,
    subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
  };
  const cases: Array<[string, string]> = [
    [new URLSearchParams({ ...base, grant_type: "password" }).toString(), "invalid_request"],
    [new URLSearchParams({ ...base, subject_token: "" }).toString(), "invalid_request"],
    [new URLSearchParams({ ...base, subject_token_type: "urn:x" }).toString(), "invalid_request"],
    [
      new URLSearchParams({ ...base, requested_token_type: "urn:ietf:params:oauth:token-type:saml2" })
        .toString(),
      "invalid_request",
    ],
    [new URLSearchParams({ ...base, actor_token: TOKEN }).toString(), "invalid_request"],
    [new URLSearchParams({ ...base, audience: "a", resource: "b" }).toString(), "invalid_request"],
    [new URLSearchParams({ ...base }).toString() + "&audience=a&audience=b", "invalid_request"],
    [new URLSearchParams({ ...base, subject_token: "not a token" }).toString(), "invalid_token"],
  ];
  for (const [body, expected] of cases) {
    assert.equal(
      await code(
        readExchangeRequest(post(body, { "content-type": "application/x-www-form-urlencoded" }), {
          maxBodyBytes: 16384,
          bodyTimeoutMs: 10_000,
        }),
      ),
      expected,
      body,
    );
  }
});
