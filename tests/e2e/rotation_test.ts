/**
 * The key-rotation recipe, end to end: the function (its own process, restarted with each new
 * `BACKEND_JWT_PRIVATE_KEYS`, as `supabase secrets set` redeploys it) issues real backend tokens through
 * the exchange and publishes its JWKS; the Python package verifies them through that JWKS in a
 * long-running process, on PyJWT 2.6 and 2.10. Add the next key, publish, switch the signer, retire the
 * old one: tokens of both keys verify during the overlap, and the old key's stop once it is retired.
 *
 * The waits between steps are the verifiers' JWKS cache lifetime, set to 1 s here (5 minutes by default,
 * plus the JWKS's own max-age in HTTP caches: see the recipe in python/README.md).
 */
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import { startStack } from "../../dev/stack.ts";
import { startFunction } from "../../dev/function_worker.ts";
import { startEdgeRuntime } from "../../dev/edge_runtime.ts";
import { signUpByMail } from "../_mail.ts";
import {
  addKey,
  generateSigningKey,
  promoteNewest,
  retireOld,
  type SigningKeySet,
} from "../../tools/backend_keys.ts";
import { PYJWT_INSTALLS } from "../_pyjwt.ts";
import { type PythonVerifier, startPythonVerifier } from "../_tenant_auth.ts";
import { DB_POOLER } from "../_pooler.ts";
import { PASSWORD } from "../_fixtures.ts";

const CACHE_SECONDS = 1;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const algorithm of ["ES256", "EdDSA"] as const) {
  Deno.test(`rotating ${algorithm} backend keys: add, publish, switch, retire; Python verifies throughout`, async (t) => {
    const stack = await startStack({ dbPooler: DB_POOLER });
    // The function under a runtime of its own, which gives it a free port and keeps it across deployments.
    let env = stack.functionEnv;
    let fn: Awaited<ReturnType<typeof startFunction>> | undefined;
    const runtime = startEdgeRuntime({ boot: async (port) => fn = await startFunction(port, env) });
    let base = "";
    const verifiers: PythonVerifier[] = [];
    /** Deploys the function with a key set (stopping the previous deployment). */
    const deploy = async (set: SigningKeySet) => {
      await fn?.stop();
      env = {
        ...stack.functionEnv,
        BACKEND_JWT_ALGORITHM: set.algorithm,
        BACKEND_JWT_PRIVATE_KEYS: JSON.stringify({ keys: set.keys }),
      };
      await runtime.boot();
      base = `${runtime.url}/exchange-token`;
    };
    try {
      const { accessToken, userId } = await signUpByMail(
        { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
        "rota@example.com",
        PASSWORD,
      );
      const exchange = async () => {
        const res = await fetch(base, {
          method: "POST",
          headers: { authorization: `Bearer ${accessToken}` },
        });
        assert.equal(res.status, 200);
        const token: string = (await res.json()).backend_token;
        return { token, kid: decodeProtectedHeader(token).kid };
      };
      const published = async () => {
        const res = await fetch(`${base}/.well-known/jwks.json`);
        return (await res.json()).keys.map((key: { kid: string }) => key.kid);
      };
      /** What each PyJWT install says of a token: "ok" or the reason it was refused. */
      const verdicts = async (token: string) => {
        const results = await Promise.all(verifiers.map((v) => v.verify(token)));
        for (const [i, result] of results.entries()) {
          assert.ok(result.version.startsWith(`${PYJWT_INSTALLS[i].version}.`), result.version);
          if (result.ok) assert.equal(result.user_id, userId);
        }
        return results.map((result) => result.ok ? "ok" : result.reason);
      };

      let set: SigningKeySet = { algorithm, keys: [await generateSigningKey(algorithm)] };
      const [first] = set.keys;
      await deploy(set);
      const old = await exchange();
      for (const install of PYJWT_INSTALLS) {
        verifiers.push(startPythonVerifier(install, {
          jwks_url: `${base}/.well-known/jwks.json`,
          jwks_algorithms: [algorithm],
          jwks_cache_seconds: CACHE_SECONDS,
        }));
      }

      await t.step("before: one key signs and is published; Python verifies its tokens", async () => {
        assert.equal(old.kid, first.kid);
        assert.deepEqual(await published(), [first.kid]);
        assert.deepEqual(await verdicts(old.token), ["ok", "ok"]);
      });

      await t.step("1. add the next key: published at once, not signing yet", async () => {
        set = await addKey(set);
        await deploy(set);
        assert.deepEqual(await published(), [first.kid, set.keys[1].kid]);
        assert.equal((await exchange()).kid, first.kid);
        await wait(CACHE_SECONDS * 1000 + 200); // 2. publish: wait until every cache has the new key
      });

      const next = set.keys[1];
      let fresh = old;
      await t.step("3. switch the signer: new tokens use the next key, both keys verify", async () => {
        set = promoteNewest(set);
        await deploy(set);
        assert.deepEqual(await published(), [next.kid, first.kid]);
        fresh = await exchange();
        assert.equal(fresh.kid, next.kid);
        assert.deepEqual(await verdicts(fresh.token), ["ok", "ok"]);
        assert.deepEqual(await verdicts(old.token), ["ok", "ok"], "the old key's tokens, during the overlap");
      });

      await t.step("4. retire the old key: its tokens stop verifying, the new key's go on", async () => {
        set = retireOld(set);
        await deploy(set);
        assert.deepEqual(await published(), [next.kid]);
        await wait(CACHE_SECONDS * 1000 + 200);
        assert.deepEqual(await verdicts(fresh.token), ["ok", "ok"]);
        const unpublished = "the token's key (kid) is not published";
        assert.deepEqual(await verdicts(old.token), [unpublished, unpublished]);
      });
    } finally {
      for (const verifier of verifiers) await verifier.close();
      await runtime.stop();
      await stack.stop();
    }
  });
}
