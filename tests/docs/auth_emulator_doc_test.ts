/**
 * docs/auth-emulator.md is generated from the Auth emulator's own route table, so it cannot drift: these
 * tests fail while it is stale, and when a GoTrue route it lists as not served is served after all.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROUTE_TABLE } from "../../dev/auth_emulator/mod.ts";
import {
  AUTH_ROUTES_FILE,
  formatMarkdown,
  NOT_SERVED,
  REGENERATE,
  renderAuthRoutesDoc,
} from "../../tools/auth_routes_doc.ts";

Deno.test("docs/auth-emulator.md is the page generated from the emulator's route table", async () => {
  const expected = await formatMarkdown(renderAuthRoutesDoc());
  assert.equal(await Deno.readTextFile(AUTH_ROUTES_FILE), expected, `stale: run \`${REGENERATE}\``);
});

Deno.test("docs/auth-emulator.md lists every route the emulator serves, with a note", () => {
  const page = renderAuthRoutesDoc();
  for (const { path, methods } of ROUTE_TABLE) {
    for (const method of methods) {
      assert.ok(page.includes(`| \`${method}\` | \`${path}\` |`), `${method} ${path} is missing`);
    }
  }
  assert.ok(!page.includes("no note yet"), "a route has no note in tools/auth_routes_doc.ts");
});

Deno.test("no GoTrue route the page lists as not served is served by the emulator", () => {
  const served = new Set(
    ROUTE_TABLE.flatMap(({ path, methods }) => [path, ...methods.map((m) => `${m} ${path}`)]),
  );
  for (const { route } of NOT_SERVED) {
    for (const part of route.split(", ")) {
      // "GET/POST /callback" names methods; "/scim/v2/*" means the path and anything under it.
      const [, methods, path] = /^(?:([A-Z/]+) )?(\S+?)(?:\/\*)?$/.exec(part)!;
      const keys = methods ? methods.split("/").map((method) => `${method} ${path}`) : [path];
      for (const key of keys) {
        assert.ok(!served.has(key), `${key} is served: move it into the notes of tools/auth_routes_doc.ts`);
      }
    }
  }
});
