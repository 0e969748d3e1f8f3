/**
 * Test support: runs Debian's PyJWT (`/usr/bin/python3`, package python3-jwt) the way the Python backend
 * does. Without it the tests fail rather than skip: `.ci/run` installs it.
 *
 * @module
 */

const PYTHON = "/usr/bin/python3";

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

/** Decodes `token` with PyJWT, its clock moved by `skewSeconds` (negative: the backend runs behind). */
export async function pyjwtDecode(token: string, secret: string, skewSeconds = 0): Promise<PyJwtResult> {
  const { code, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT],
    env: { TOKEN: token, SECRET: secret, SKEW_SECONDS: String(skewSeconds) },
    stdin: "null",
  }).output();
  if (code !== 0) throw new Error(`python3 failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}
