/**
 * The Python package as a wheel: `/usr/bin/python3 -m pip wheel --no-deps --no-build-isolation ./python`
 * builds it (python/README.md), pip installs it with `--no-index` into a fresh virtualenv that sees
 * Debian's packages (PyJWT, FastAPI, pytest), and the package's own tests pass against that installed
 * copy, run from outside python/ so the source tree is not importable.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run } from "./_run.ts";

const PYTHON = "/usr/bin/python3";
const REPO = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("the wheel installs with --no-index into a virtualenv, and the package's tests pass on it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tenant-auth-wheel-" });
  try {
    // Built from a copy of python/, so setuptools' build/ and egg-info land there, not in the checkout.
    await run("cp", ["-r", `${REPO}python`, `${tmp}/python`]);
    await run(
      PYTHON,
      ["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", "wheels", "./python"],
      {
        cwd: tmp,
      },
    );
    const wheels = [...Deno.readDirSync(`${tmp}/wheels`)].map((e) => e.name);
    assert.deepEqual(wheels, ["tenant_auth-0.1.0-py3-none-any.whl"]);

    await run(PYTHON, ["-m", "venv", "--system-site-packages", `${tmp}/venv`]);
    const venvPython = `${tmp}/venv/bin/python`;
    await run(venvPython, ["-m", "pip", "install", "--no-index", `${tmp}/wheels/${wheels[0]}`], { cwd: tmp });

    // From an empty folder, with the repo's tests (and the example backend they load) as they are.
    const work = await Deno.makeTempDir({ dir: tmp });
    const { stdout } = await run(
      venvPython,
      ["-m", "pytest", "-p", "no:cacheprovider", `${REPO}python/tests`],
      { cwd: work, env: { PYTHONPATH: "", PYTHONDONTWRITEBYTECODE: "1" } },
    );
    const installed = `${tmp}/venv/lib/`;
    const from = /tenant_auth from (\S+)/.exec(stdout)?.[1] ?? "";
    assert.ok(from.startsWith(installed) && from.includes("/site-packages/tenant_auth/"), from);
    assert.match(stdout, /=+ \d+ passed in /);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
