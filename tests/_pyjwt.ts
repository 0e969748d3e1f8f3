/**
 * Test support: runs Debian's PyJWT (`/usr/bin/python3`, package python3-jwt) the way the Python backend
 * does, on Debian 12's PyJWT 2.6 (the system's) and on Debian 13's 2.10 (`python/fetch_pyjwt.sh` puts it in
 * `.cache/`; `deno task test` runs it first). Without either the tests fail rather than skip: `.ci/run`
 * installs python3-jwt.
 *
 * @module
 */

/** Debian's interpreter: a `python3` earlier on PATH may not see Debian's packages. */
export const PYTHON = "/usr/bin/python3";

/** A PyJWT to test with: the system's, or Debian 13's put first on `PYTHONPATH`. */
export interface PyJwtInstall {
  /** `2.6` or `2.10`: what the install's `jwt.__version__` starts with. */
  version: string;
  /** `PYTHONPATH` that selects it ("" for the system's). */
  pythonPath: string;
}

/** Debian 13's PyJWT, unpacked by `python/fetch_pyjwt.sh`. */
const TRIXIE_SITE = new URL("../.cache/pyjwt-trixie/usr/lib/python3/dist-packages", import.meta.url).pathname;

/** Both PyJWTs the backend may run: Debian 12's 2.6 and Debian 13's 2.10. */
export const PYJWT_INSTALLS: readonly PyJwtInstall[] = [
  { version: "2.6", pythonPath: "" },
  { version: "2.10", pythonPath: TRIXIE_SITE },
];

/** The environment that runs Python on an install (and with the `python/` package importable). */
export function pythonEnv(install: PyJwtInstall): Record<string, string> {
  if (install.pythonPath) {
    try {
      Deno.statSync(`${install.pythonPath}/jwt/__init__.py`);
    } catch {
      throw new Error(`No PyJWT ${install.version} in ${install.pythonPath}: run deno task pyjwt`);
    }
  }
  const pkg = new URL("../python", import.meta.url).pathname;
  return { PYTHONPATH: [install.pythonPath, pkg].filter(Boolean).join(":"), PYTHONDONTWRITEBYTECODE: "1" };
}

// jwt.decode(token, secret, algorithms=["HS256"]) with no options, exactly as the backend calls it.
// SKEW_SECONDS moves PyJWT's clock (it reads datetime.now(tz=timezone.utc) in jwt.api_jwt).
const SCRIPT = `
import json, os, sys
from datetime import datetime, timedelta, timezone
import jwt, jwt.api_jwt

skew = int(os.environ.get("SKEW_SECONDS", "0"))
class SkewedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(seconds=skew)
jwt.api_jwt.datetime = SkewedDatetime

try:
    claims = jwt.decode(os.environ["TOKEN"], os.environ["SECRET"], algorithms=["HS256"])
    print(json.dumps({"ok": True, "claims": claims, "version": jwt.__version__}))
except Exception as e:
    print(json.dumps({"ok": False, "error": type(e).__name__, "version": jwt.__version__}))
`;

/** The outcome of PyJWT's decode. */
export type PyJwtResult =
  | { ok: true; claims: Record<string, unknown>; version: string }
  | { ok: false; error: string; version: string };

/**
 * Decodes `token` with PyJWT, its clock moved by `skewSeconds` (negative: the backend runs behind).
 *
 * @param token The backend JWT.
 * @param secret The shared secret.
 * @param skewSeconds How far the backend's clock is off.
 * @param install Which PyJWT (default the system's).
 * @returns PyJWT's claims, or the name of the exception it raised, and its version.
 */
export async function pyjwtDecode(
  token: string,
  secret: string,
  skewSeconds = 0,
  install: PyJwtInstall = PYJWT_INSTALLS[0],
): Promise<PyJwtResult> {
  const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT],
    env: { ...pythonEnv(install), TOKEN: token, SECRET: secret, SKEW_SECONDS: String(skewSeconds) },
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(`python3 failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}
