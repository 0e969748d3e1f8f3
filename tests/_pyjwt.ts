/**
 * Test support: the Python backend's side of the contract, with the real PyJWT (Debian's `python3-jwt`,
 * run by `/usr/bin/python3`), decoding exactly as the backend does:
 * `jwt.decode(token, secret, algorithms=["HS256"])`, with no options.
 *
 * @module
 */

const PYTHON = "/usr/bin/python3";

// Reads token and secret from stdin (never argv, which `ps` shows); optionally runs the clock behind.
const SCRIPT = `
import json, sys, time
import jwt
request = json.load(sys.stdin)
if request["clock_behind_seconds"]:
    real_time = time.time
    time.time = lambda: real_time() - request["clock_behind_seconds"]
try:
    claims = jwt.decode(request["token"], request["secret"], algorithms=[request["algorithm"]])
    print(json.dumps({"claims": claims, "pyjwt": jwt.__version__}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "pyjwt": jwt.__version__}))
`;

/** What PyJWT made of a token. */
export type PyJwtResult =
  | { claims: Record<string, unknown>; pyjwt: string; error?: undefined }
  | { error: string; pyjwt: string; claims?: undefined };

/**
 * Decodes `token` with PyJWT as the Python backend does.
 *
 * @param token The backend JWT.
 * @param secret The shared secret (the backend's `JWT_SECRET`).
 * @param options `clockBehindSeconds` runs Python's clock that far behind; `algorithm` (default HS256).
 * @returns The claims, or the name of the exception PyJWT raised.
 */
export async function decodeWithPyJwt(
  token: string,
  secret: string,
  options: { clockBehindSeconds?: number; algorithm?: string } = {},
): Promise<PyJwtResult> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({
    token,
    secret,
    algorithm: options.algorithm ?? "HS256",
    clock_behind_seconds: options.clockBehindSeconds ?? 0,
  })));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) throw new Error(`python3 failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}
