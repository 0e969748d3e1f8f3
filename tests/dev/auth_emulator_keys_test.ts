/**
 * The Auth emulator's signing keys go through Supabase's states: a standby key published before it signs,
 * rotation (standby → in use → previously used), revocation of a previously used key. The JWKS lists every
 * key not revoked, GoTrue verifies tokens of each, and the emulator's own route does it over HTTP with a
 * `service_role` token.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { decodeProtectedHeader } from "jose";
import { openTestDatabase } from "../_db.ts";
import { type AuthEmulator, type SigningKeySet, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { PASSWORD } from "../_fixtures.ts";

async function signUp(auth: AuthEmulator): Promise<string> {
  const supabase = createClient(auth.url, auth.anonKey, { auth: { persistSession: false } });
  const { data, error } = await supabase.auth.signUp({
    email: `key-${crypto.randomUUID().slice(0, 8)}@example.com`,
    password: PASSWORD,
  });
  assert.equal(error, null);
  return data.session!.access_token;
}

/** `GET /auth/v1/user` with a token: GoTrue's verdict on it. */
async function userStatus(auth: AuthEmulator, token: string): Promise<number> {
  const res = await auth.handler(
    new Request(`${auth.url}/auth/v1/user`, { headers: { Authorization: `Bearer ${token}` } }),
  );
  await res.body?.cancel();
  return res.status;
}

function keyRoute(auth: AuthEmulator, path: string, token: string, method = "POST") {
  return auth.handler(
    new Request(`${auth.url}/auth/v1/_emulator/signing-keys${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}` },
    }),
  );
}

Deno.test("the JWKS lists the key in use and the standby key; rotation moves them along", async () => {
  const db = await openTestDatabase();
  const changes: SigningKeySet[] = [];
  const auth = await startAuthEmulator({
    databaseUrl: db.authUrl,
    onSigningKeysChange: (keys) => void changes.push(keys),
  });
  try {
    const [inUse, standby] = auth.jwks.keys.map((key) => key.kid);
    assert.deepEqual(await (await fetch(`${auth.url}/auth/v1/.well-known/jwks.json`)).json(), auth.jwks);
    assert.equal(auth.jwks.keys.every((key) => !("d" in key) && key.key_ops?.[0] === "verify"), true);
    const before = await signUp(auth);
    assert.equal(decodeProtectedHeader(before).kid, inUse);

    const states = await auth.rotateSigningKeys();
    const third = states.find((key) => key.state === "standby")!.kid;
    assert.deepEqual(states, [
      { kid: standby, state: "in_use", algorithm: "ES256" },
      { kid: inUse, state: "previously_used", algorithm: "ES256" },
      { kid: third, state: "standby", algorithm: "ES256" },
    ]);
    assert.deepEqual(auth.jwks.keys.map((key) => key.kid), [standby, inUse, third]);
    assert.equal(decodeProtectedHeader(await signUp(auth)).kid, standby, "new tokens use the rotated-in key");
    assert.equal(await userStatus(auth, before), 200, "the previous key still verifies");
    assert.deepEqual(changes.at(-1)?.previouslyUsed.map((key) => key.kid), [inUse]);

    await auth.revokeSigningKey(inUse!);
    assert.deepEqual(auth.jwks.keys.map((key) => key.kid), [standby, third]);
    assert.equal(await userStatus(auth, before), 403, "a revoked key's tokens are refused");
    await assert.rejects(auth.revokeSigningKey(standby!), { status: 422 });
    await assert.rejects(auth.revokeSigningKey("no-such-kid"), { status: 404 });
  } finally {
    await auth.stop();
    await db.close();
  }
});

Deno.test("the emulator's key route rotates and revokes with a service_role token only", async () => {
  const db = await openTestDatabase();
  const auth = await startAuthEmulator({ databaseUrl: db.authUrl });
  try {
    const user = await signUp(auth);
    const denied = await keyRoute(auth, "/rotate", user);
    assert.equal(denied.status, 403);
    assert.equal((await denied.json()).error_code, "not_admin");

    const listed = await keyRoute(auth, "", auth.serviceRoleKey, "GET");
    const [inUse] = (await listed.json()).keys;
    assert.equal(inUse.state, "in_use");
    const rotated = await (await keyRoute(auth, "/rotate", auth.serviceRoleKey)).json();
    assert.deepEqual(rotated.keys.map((key: { state: string }) => key.state), [
      "in_use",
      "previously_used",
      "standby",
    ]);
    const revoked = await keyRoute(auth, `/${inUse.kid}/revoke`, auth.serviceRoleKey);
    assert.equal(revoked.status, 200);
    assert.equal((await revoked.json()).keys.some((key: { kid: string }) => key.kid === inUse.kid), false);
    const again = await keyRoute(auth, `/${inUse.kid}/revoke`, auth.serviceRoleKey);
    assert.equal(again.status, 404);
    await again.body?.cancel();
  } finally {
    await auth.stop();
    await db.close();
  }
});

Deno.test("keys given back to the emulator keep their states; hs256 mode does not rotate", async () => {
  const db = await openTestDatabase();
  const first = await startAuthEmulator({ databaseUrl: db.authUrl });
  await first.rotateSigningKeys();
  const kept = first.signingKeys!;
  await first.stop();
  const second = await startAuthEmulator({ databaseUrl: db.authUrl, signingKeys: kept });
  const hs256 = await startAuthEmulator({ databaseUrl: db.authUrl, mode: "hs256" });
  try {
    assert.deepEqual(second.jwks.keys.map((key) => key.kid), [
      kept.inUse.kid,
      ...kept.previouslyUsed.map((key) => key.kid),
      kept.standby!.kid,
    ]);
    assert.deepEqual(hs256.jwks, { keys: [] });
    await assert.rejects(hs256.rotateSigningKeys(), { status: 422 });
  } finally {
    await second.stop();
    await hs256.stop();
    await db.close();
  }
});
