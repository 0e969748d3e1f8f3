/**
 * The Python backend's contract (docs/contract.md §3): Debian's PyJWT decodes the backend JWT with
 * `jwt.decode(token, secret, algorithms=["HS256"])` and no options, even when its clock runs 60 s behind;
 * on Debian 12's PyJWT 2.6 and on Debian 13's 2.10 (which checks `sub`, `jti` and `iat` more strictly).
 */
import assert from "node:assert/strict";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import { PYJWT_INSTALLS, pyjwtDecode } from "../_pyjwt.ts";

const SECRET = "python-shares-this-secret-0123456789";
const SUBJECT = {
  userId: "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
  tenantId: "acme",
  role: "user",
  email: "a@example.com",
};
const sign = createBackendSigner({
  secret: new TextEncoder().encode(SECRET),
  algorithm: "HS256",
  ttlSeconds: 604800,
});

for (const install of PYJWT_INSTALLS) {
  const on = `on PyJWT ${install.version}`;

  Deno.test({
    name: `the backend JWT decodes with PyJWT's jwt.decode(token, secret, algorithms=['HS256']) ${on}`,
    async fn() {
      const { token } = await sign(SUBJECT, new Date());
      const result = await pyjwtDecode(token, SECRET, 0, install);
      assert.ok(result.ok, JSON.stringify(result));
      assert.ok(result.version.startsWith(`${install.version}.`), result.version);
      assert.deepEqual(Object.keys(result.claims), ["user_id", "tenant_id", "role", "email", "exp"]);
      assert.equal(result.claims.user_id, SUBJECT.userId);
      assert.equal(result.claims.tenant_id, "acme");
    },
  });

  Deno.test({
    name: `the backend JWT decodes with PyJWT when the backend's clock runs 60 s behind ${on}`,
    async fn() {
      const { token } = await sign(SUBJECT, new Date());
      const behind = await pyjwtDecode(token, SECRET, -60, install);
      assert.ok(behind.ok, JSON.stringify(behind));
      // The same from the other side: the signer's clock 60 s ahead, Python's real.
      const ahead = await sign(SUBJECT, new Date(Date.now() + 60_000));
      const result = await pyjwtDecode(ahead.token, SECRET, 0, install);
      assert.ok(result.ok, JSON.stringify(result));
    },
  });

  Deno.test({
    name: `PyJWT refuses the backend JWT with another secret or once expired ${on}`,
    async fn() {
      const { token } = await sign(SUBJECT, new Date());
      const wrong = await pyjwtDecode(token, "another-secret-of-enough-length-000000", 0, install);
      assert.deepEqual([wrong.ok, !wrong.ok && wrong.error], [false, "InvalidSignatureError"]);
      const old = await sign(SUBJECT, new Date(Date.now() - 604801_000));
      const expired = await pyjwtDecode(old.token, SECRET, 0, install);
      assert.deepEqual([expired.ok, !expired.ok && expired.error], [false, "ExpiredSignatureError"]);
    },
  });
}
