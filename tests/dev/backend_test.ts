import assert from "node:assert/strict";
import { startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { missingBackendPackages, PYTHON } from "../../examples/backend.ts";
import { PASSWORD } from "../_fixtures.ts";

Deno.test("BACKEND_JWT_ALGORITHM=ES256: the stack keeps its key set, and the backend verifies through the JWKS", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "exchange-token-state-" });
  await Deno.chmod(stateDir, 0o755);
  try {
    const kids: string[] = [];
    for (let start = 0; start < 2; start++) {
      const stack = await startStack({ stateDir, backendPort: 0, backendJwtAlgorithm: "ES256" });
      try {
        assert.equal(stack.env().BACKEND_URL, stack.backendUrl);
        const jwks = await (await fetch(`${stack.apiUrl}/functions/v1/exchange-token/.well-known/jwks.json`))
          .json();
        kids.push(jwks.keys[0].kid);
        const { accessToken } = await signUpByMail(
          { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
          `k${start}@example.com`,
          PASSWORD,
        );
        const exchange = await fetch(`${stack.apiUrl}/functions/v1/exchange-token`, {
          method: "POST",
          headers: { authorization: `Bearer ${accessToken}` },
        });
        const { backend_token: token } = await exchange.json();
        const me = await fetch(`${stack.backendUrl}/me`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(me.status, 200);
        assert.equal((await me.json()).email, `k${start}@example.com`);
      } finally {
        await stack.stop();
      }
    }
    assert.equal(kids[0], kids[1], "the same key after a restart");
    const saved = JSON.parse(await Deno.readTextFile(`${stateDir}/backend_keys.json`));
    assert.equal(saved.keys[0].kid, kids[0]);
    assert.equal((await Deno.stat(`${stateDir}/backend_keys.json`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("without Debian's FastAPI and uvicorn the backend is skipped with one line saying how to get them", async () => {
  assert.equal(await missingBackendPackages(PYTHON, true), null);
  // An interpreter that does not see Debian's packages (no site-packages), as a pyenv python3 would not.
  const dir = await Deno.makeTempDir();
  try {
    const bare = `${dir}/python3`;
    await Deno.writeTextFile(bare, `#!/bin/sh\nexec ${PYTHON} -S "$@"\n`, { mode: 0o755 });
    assert.equal(
      await missingBackendPackages(bare, false),
      `Example backend not started: ${bare} lacks python3-fastapi python3-uvicorn python3-jwt ` +
        `(sudo apt-get install python3-fastapi python3-uvicorn python3-jwt).`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
