/**
 * The npm package as a React app gets it: `npm pack` of packages/supabase-exchange-token (its prepack
 * compiles client/ and the React bindings with tsc), installed from the tarball into a fresh Vite + React +
 * TypeScript app (tests/fixtures/react_vite_app, pinned versions from npm), type-checked and built by
 * Vite, served as static files, and driven in headless Chromium against the local stack: sign in, the
 * backend token through `useBackendToken()`, the tenants through `useTenants()`, `GET /me` on the example
 * backend through the session's `fetch`, and sign-out clearing both hooks. npm's downloads are cached in
 * .cache/npm, so a repeat run installs offline.
 *
 * @module
 */
import assert from "node:assert/strict";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { startStack } from "../../dev/stack.ts";
import { startBackend } from "../../examples/backend.ts";
import { PASSWORD } from "../_fixtures.ts";
import { signUpByMail } from "../_mail.ts";
import { launchBrowser } from "../browser/_browser.ts";
import { packPackage, run } from "./_run.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const NPM = ["--no-audit", "--no-fund", "--prefer-offline", "--cache", `${REPO}.cache/npm`];

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Serves Vite's dist/ as a static host would, index.html for every path without a file. */
function serveStatic(root: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const file = path.includes("..") || path.endsWith("/") ? "/index.html" : path;
    try {
      const body = await Deno.readFile(`${root}${file}`);
      return new Response(body, {
        headers: { "content-type": TYPES[extname(file)] ?? "application/octet-stream" },
      });
    } catch {
      return new Response(await Deno.readFile(`${root}/index.html`), {
        headers: { "content-type": TYPES[".html"] },
      });
    }
  });
}

/** Packs the package and checks the browser entry points are built; returns the tarball's path. */
async function packBrowserPackage(into: string): Promise<string> {
  const { tarball, paths } = await packPackage(into);
  for (
    const entry of ["dist/client/mod.js", "dist/client/mod.d.ts", "dist/react/mod.js", "dist/react/mod.d.ts"]
  ) {
    assert.ok(paths.includes(entry), `the tarball has ${entry}: ${paths.join(", ")}`);
  }
  // The installer's payload/ is the functions' TypeScript, written into a user's project as is.
  assert.ok(
    !paths.some((p) => p.endsWith(".ts") && !p.endsWith(".d.ts") && !p.startsWith("payload/")),
    "no TypeScript sources in the tarball outside the installer's payload",
  );
  return tarball;
}

Deno.test("a Vite + React app built with the tarball signs in, exchanges, lists tenants and calls the backend in Chromium", async () => {
  const lines: string[] = [];
  const stack = await startStack({ log: (line) => lines.push(line) });
  const tmp = await Deno.makeTempDir({ prefix: "react-vite-app-" });
  let site: Deno.HttpServer<Deno.NetAddr> | undefined;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let browser: Browser | undefined;
  try {
    const tarball = await packBrowserPackage(tmp);
    const app = `${tmp}/app`;
    await run("cp", ["-r", `${REPO}tests/fixtures/react_vite_app`, app]);
    await run("npm", ["install", ...NPM, tarball], { cwd: app });

    site = serveStatic(`${app}/dist`);
    const origin = `http://127.0.0.1:${site.addr.port}`;
    backend = await startBackend({
      port: 0,
      apiUrl: stack.apiUrl,
      functionEnv: stack.functionEnv,
      allowedOrigin: origin,
      log: (line) => lines.push(line),
    });
    assert.ok(backend, `the example backend runs; log: ${lines.join("\n")}`);
    await run("npm", ["run", "build"], {
      cwd: app,
      env: {
        VITE_SUPABASE_URL: stack.apiUrl,
        VITE_SUPABASE_PUBLISHABLE_KEY: stack.publishableKey,
        VITE_BACKEND_URL: backend.url,
      },
    });
    await signUpByMail(
      { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl },
      "vi@example.com",
      PASSWORD,
    );

    browser = await launchBrowser();
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(origin);
    assert.equal(await page.getAttribute("#token", "data-user"), "", "nobody is signed in yet");

    await page.fill("#email", "vi@example.com");
    await page.fill("#password", PASSWORD);
    await page.click("#sign-in button");
    await page.waitForSelector('#token[data-tenant="demo"]');
    assert.equal(await page.getAttribute("#token", "data-role"), "user");
    assert.equal(await page.textContent("#token"), "vi@example.com in demo as user");

    await page.waitForSelector('#tenants[data-loaded="true"]', { state: "attached" });
    const listed = await page.$$eval(
      "#tenants li",
      (items) => items.map((li) => li.getAttribute("data-tenant-id")),
    );
    assert.deepEqual(listed, ["demo"]);

    await page.click("#call-backend");
    await page.waitForSelector('#backend[data-status="200"]');
    const me = JSON.parse((await page.textContent("#backend"))!);
    assert.deepEqual([me.tenant_id, me.role, me.email], ["demo", "user", "vi@example.com"]);

    await page.click("#sign-out");
    await page.waitForSelector('#token[data-user=""]', { state: "attached" });
    assert.equal(await page.getAttribute("#token", "data-tenant"), "");
    assert.equal(await page.getAttribute("#tenants", "data-loaded"), "false");
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await backend?.stop();
    await site?.shutdown();
    await stack.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
