/**
 * The documentation's snippets that are not SQL, taken from the Markdown itself: docs/operations.md's Python
 * rotation recipe, run with Debian's PyJWT against tokens the function's signer made, and the contract's
 * `config.toml` block, which must be the one the repository deploys with.
 * (The SQL is tests/db/tenancy_doc_sql_test.ts's; the README's quick start is quick_start_test.ts's.)
 */
import assert from "node:assert/strict";
import { createBackendSigner } from "../../supabase/functions/_shared/exchange/sign.ts";
import { codeBlocks, CONTRACT, OPERATIONS_DOC } from "../_markdown.ts";

const CONFIG_TOML = new URL("../../supabase/config.toml", import.meta.url);
const OLD = "the-old-secret-the-python-service-had-0123456789";
const NEW = "the-new-secret-set-with-supabase-secrets-9876543210";
const OTHER = "a-secret-nobody-configured-for-this-backend-00000";
const SUBJECT = {
  userId: "6f0c3f4e-1d2b-4c5a-9e8f-0a1b2c3d4e5f",
  tenantId: "acme-42",
  role: "user",
  email: null,
};

/** Signs a backend token with `secret`, issued at `now`. */
async function sign(secret: string, now = new Date()): Promise<string> {
  const signer = createBackendSigner({
    secret: new TextEncoder().encode(secret),
    algorithm: "HS256",
    ttlSeconds: 604800,
  });
  return (await signer(SUBJECT, now)).token;
}

/** Runs docs/operations.md's Python block with [NEW, OLD] as the secrets, then decodes each token with it. */
async function decodeWithRotationSnippet(tokens: string[]): Promise<string[]> {
  const [snippet] = codeBlocks(await Deno.readTextFile(OPERATIONS_DOC), "python").filter((b) =>
    b.includes("def decode_backend_token")
  );
  assert.ok(snippet, "docs/operations.md has the rotation snippet");
  const script = `${snippet}

import json, sys
BACKEND_JWT_SECRETS = [${JSON.stringify(NEW)}, ${JSON.stringify(OLD)}]
out = []
for token in sys.argv[1:]:
    try:
        out.append(decode_backend_token(token)["tenant_id"])
    except Exception as e:
        out.append(type(e).__name__)
print(json.dumps(out))
`;
  const { code, stdout, stderr } = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", script, ...tokens],
    stdin: "null",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("docs/operations.md's rotation snippet accepts the new and the old secret, and nothing else", async () => {
  const longAgo = new Date(Date.now() - 604801_000);
  assert.deepEqual(
    await decodeWithRotationSnippet([
      await sign(NEW),
      await sign(OLD),
      await sign(OTHER),
      // An expired token fails as expired, whichever secret signed it (not as "no secret matched").
      await sign(NEW, longAgo),
      await sign(OLD, longAgo),
    ]),
    ["acme-42", "acme-42", "InvalidSignatureError", "ExpiredSignatureError", "ExpiredSignatureError"],
  );
});

Deno.test("the config.toml block in the contract is the repository's own", async () => {
  const config = await Deno.readTextFile(CONFIG_TOML);
  const settings = (block: string) =>
    block.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  // The README shows none since the installer appends the repository's own blocks (tests/install/).
  const blocks = codeBlocks(await Deno.readTextFile(CONTRACT), "toml");
  assert.equal(blocks.length, 1, `${CONTRACT.pathname} has one toml block`);
  const lines = settings(blocks[0]).map((l) => l.trim());
  assert.equal(lines[0], "[functions.exchange-token]");
  const section = config.slice(config.indexOf("[functions.exchange-token]"));
  assert.deepEqual(lines, settings(section).map((l) => l.trim()), CONTRACT.pathname);
});
