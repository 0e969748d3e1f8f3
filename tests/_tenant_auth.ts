/**
 * Test support: the Python package (`python/tenant_auth`) verifying tokens in a long-running
 * `/usr/bin/python3` process, on one PyJWT install, one token per line; so its JWKS cache lives across a
 * test's steps as it would in a backend.
 *
 * @module
 */
import { type PyJwtInstall, PYTHON, pythonEnv } from "./_pyjwt.ts";

// Reads {"token": ...} lines, answers one JSON line each: the caller, or the reason it was refused.
const SCRIPT = `
import json, sys
import jwt
from tenant_auth import BackendTokenVerifier, InvalidBackendToken, KeySetUnavailable, Settings

verifier = BackendTokenVerifier(Settings(**json.loads(sys.argv[1])))
for line in sys.stdin:
    token = json.loads(line)["token"]
    try:
        caller = verifier.decode(token)
        out = {"ok": True, "user_id": caller.user_id, "tenant_id": caller.tenant_id}
    except (InvalidBackendToken, KeySetUnavailable) as error:
        out = {"ok": False, "error": type(error).__name__, "reason": str(error)}
    out["version"] = jwt.__version__
    out["fetches"] = verifier.jwks.fetches if verifier.jwks else 0
    print(json.dumps(out), flush=True)
`;

/** One verification's outcome. */
export type VerifyResult =
  & { version: string; fetches: number }
  & ({ ok: true; user_id: string; tenant_id: string } | { ok: false; error: string; reason: string });

/** A running verifier. */
export interface PythonVerifier {
  verify(token: string): Promise<VerifyResult>;
  close(): Promise<void>;
}

/**
 * Starts a verifier with `tenant_auth.Settings(**settings)`.
 *
 * @param install Which PyJWT.
 * @param settings The Settings' fields, e.g. `{ jwks_url, jwks_algorithms: ["ES256"] }`.
 * @returns The verifier; close it when done.
 */
export function startPythonVerifier(
  install: PyJwtInstall,
  settings: Record<string, unknown>,
): PythonVerifier {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT, JSON.stringify(settings)],
    env: pythonEnv(install),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the Python verifier exited");
      buffered += value;
    }
    const [line, ...rest] = buffered.split("\n");
    buffered = rest.join("\n");
    return line;
  };
  return {
    async verify(token) {
      await writer.write(new TextEncoder().encode(JSON.stringify({ token }) + "\n"));
      return JSON.parse(await readLine());
    },
    async close() {
      await writer.close();
      await lines.cancel();
      await child.status;
    },
  };
}
