/**
 * `npm pack`'s payload is built from the working tree, not from git: a maintainer's `.env` beside a function
 * (where the Supabase CLI reads function secrets), `_shared/.env.local` or an editor's swap file were copied
 * into `payload/`, listed in `payload.json`, published to npm and installed into every project by `init`.
 * Hidden files and folders stay out now.
 */
import assert from "node:assert/strict";
import { cp, readdir } from "node:fs/promises";
import { join } from "node:path";
import { packPayload } from "../../packages/supabase-exchange-token/src/install/pack_payload.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("the payload leaves out hidden files of the function folders (a maintainer's .env)", async () => {
  const work = await Deno.makeTempDir({ prefix: "payload-hidden-" });
  try {
    const source = join(work, "repo");
    for (const path of ["supabase/functions/", "supabase/migrations/", "supabase/config.toml", "deno.json"]) {
      await cp(new URL(path, ROOT), join(source, path), { recursive: true });
    }
    await Deno.writeTextFile(
      join(source, "supabase/functions/exchange-token/.env"),
      "BACKEND_JWT_SECRET=s3cret\n",
    );
    await Deno.writeTextFile(join(source, "supabase/functions/_shared/.env.local"), "SERVICE_ROLE=s3cret\n");
    await Deno.writeTextFile(join(source, "supabase/functions/_shared/core/.log.ts.swp"), "s3cret");
    await Deno.mkdir(join(source, "supabase/functions/tenants/.vscode"));
    await Deno.writeTextFile(join(source, "supabase/functions/tenants/.vscode/settings.json"), "{}");

    const out = join(work, "payload");
    const payload = await packPayload(source, out, "0.0.0");
    const listed = Object.keys(payload.files);
    assert.ok(listed.includes("supabase/functions/exchange-token/index.ts"));
    assert.ok(listed.includes("supabase/functions/_shared/core/log.ts"));
    assert.deepEqual(listed.filter((path) => path.split("/").some((part) => part.startsWith("."))), []);
    const written = (await readdir(out, { recursive: true })).map(String);
    assert.deepEqual(written.filter((path) => path.split("/").some((part) => part.startsWith("."))), []);
    for (const path of written) {
      const info = await Deno.stat(join(out, path));
      if (info.isFile) assert.ok(!(await Deno.readTextFile(join(out, path))).includes("s3cret"), path);
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
