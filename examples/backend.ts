/**
 * The local stack's Python side: the example FastAPI backend (`examples/fastapi_backend`, built on
 * `python/tenant_auth`) on Debian's uvicorn, and the key set of ES256/EdDSA backend tokens kept in the
 * state directory.
 *
 * Debian's `/usr/bin/python3` runs it: a `python3` earlier on PATH may be another interpreter that does
 * not see Debian's packages. Where FastAPI or uvicorn is missing, {@linkcode missingBackendPackages} says
 * in one line how to get them, and the stack goes on without the backend.
 *
 * @module
 */
import type { Watchdog } from "../dev/watchdog.ts";
import { generateSigningKey, type SigningKeySet } from "../tools/backend_keys.ts";
import { pumpLines, waitForPort } from "../dev/_process.ts";
import { startOnFreePort } from "../dev/ports.ts";
import type { AsymmetricAlgorithm } from "../supabase/functions/_shared/exchange/signing_keys.ts";

const ROOT = new URL("../", import.meta.url);
/** Debian's interpreter, the one that sees python3-fastapi and python3-uvicorn. */
export const PYTHON = "/usr/bin/python3";

/** Options for {@linkcode startExampleBackend}. */
export interface ExampleBackendOptions {
  /** The port on 127.0.0.1; 0 or undefined for a free one. */
  port?: number;
  /** Its settings: `JWT_SECRET` or `JWT_JWKS_URL` (and `JWT_ALGORITHMS`), `ALLOWED_ORIGINS`. */
  env: Record<string, string>;
  /** Where its log lines go, prefixed `[backend]` (default: nowhere). */
  log?: (line: string) => void;
  /** The interpreter (default Debian's). */
  python?: string;
  /** The stack's watchdog, which stops the backend if the stack is killed outright. */
  watchdog?: Watchdog;
}

/** A running example backend. */
export interface ExampleBackend {
  /** Its URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Says what is missing to run the example backend, in one line, or null when nothing is.
 *
 * @param python The interpreter to check.
 * @param asymmetric Whether it verifies ES256/EdDSA tokens (which need python3-cryptography).
 * @returns The line to print, or null.
 * @example
 * ```ts
 * const missing = await missingBackendPackages(PYTHON, false);
 * if (missing) console.log(missing);
 * ```
 */
export async function missingBackendPackages(python: string, asymmetric: boolean): Promise<string | null> {
  const modules = { fastapi: "python3-fastapi", uvicorn: "python3-uvicorn", jwt: "python3-jwt" };
  const wanted: Record<string, string> = asymmetric
    ? { ...modules, cryptography: "python3-cryptography" }
    : modules;
  const script = `import importlib.util, sys
print(" ".join(p for m, p in ${JSON.stringify(wanted)}.items() if importlib.util.find_spec(m) is None))`;
  let missing: string;
  try {
    const { stdout } = await new Deno.Command(python, { args: ["-c", script], stdin: "null", stderr: "null" })
      .output();
    missing = new TextDecoder().decode(stdout).trim();
  } catch {
    missing = Object.values(wanted).join(" ");
  }
  if (!missing) return null;
  return `Example backend not started: ${python} lacks ${missing} (sudo apt-get install ${missing}).`;
}

/**
 * Starts the example backend and resolves once it accepts connections.
 *
 * @param options Port, settings, log and interpreter.
 * @returns The running backend.
 * @throws {Error} When its port is taken, or it exits before listening or takes over 20 s.
 * @example
 * ```ts ignore
 * const backend = await startExampleBackend({ port: 8000, env: { JWT_SECRET: secret } });
 * await backend.stop();
 * ```
 */
export async function startExampleBackend(options: ExampleBackendOptions): Promise<ExampleBackend> {
  // uvicorn is told its port (`--port`): a free one is reserved until just before the spawn, and when
  // uvicorn exits on a port something else took meanwhile, it starts again on another (dev/ports.ts).
  return await startOnFreePort("example backend", options.port, async (reserved) => {
    reserved.release();
    return await spawnExampleBackend(options, reserved.port);
  });
}

async function spawnExampleBackend(options: ExampleBackendOptions, port: number): Promise<ExampleBackend> {
  const child = new Deno.Command(options.python ?? PYTHON, {
    args: [
      "-m",
      "uvicorn",
      "main:app",
      "--app-dir",
      new URL("examples/fastapi_backend", ROOT).pathname,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--no-access-log", // the app logs each request itself, with the caller
      "--log-level",
      "warning",
    ],
    cwd: ROOT,
    env: {
      ...options.env,
      PYTHONPATH: new URL("python", ROOT).pathname,
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
    },
    stdin: "null",
    stdout: options.log ? "piped" : "null",
    stderr: options.log ? "piped" : "null",
  }).spawn();
  const watched = options.watchdog?.watchProcess(child.pid, "SIGTERM");
  const log = options.log;
  const pumps = log
    ? Promise.all([pumpLines(child.stdout, log, "backend"), pumpLines(child.stderr, log, "backend")])
    : Promise.resolve();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
    await pumps;
    await watched;
    await options.watchdog?.forgetProcess(child.pid);
  };
  try {
    await waitForPort(port, child, "the example backend");
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop };
}

/** Options for {@linkcode startBackend}. */
export interface BackendOptions {
  /** The port on 127.0.0.1; 0 or undefined for a free one. */
  port?: number;
  /** The gateway's URL (the function's JWKS is under it). */
  apiUrl: string;
  /** The function's environment: the backend verifies what it signs. */
  functionEnv: Record<string, string>;
  /** The origin a browser may call it from (the demo page's). */
  allowedOrigin?: string;
  /** Where its log lines and the "missing packages" line go. */
  log?: (line: string) => void;
  /** The stack's watchdog, which stops the backend if the stack is killed outright. */
  watchdog?: Watchdog;
}

/**
 * Starts the example backend set to verify what the function signs: with its shared secret, or through
 * its JWKS for ES256/EdDSA. Where Debian's FastAPI or uvicorn is missing, logs one line saying how to get
 * them and resolves to undefined.
 *
 * @param options Port, the function's settings, the demo's origin and the log.
 * @returns The running backend, or undefined.
 * @throws {Error} When it fails to start.
 * @example
 * ```ts ignore
 * const backend = await startBackend({ port: 8000, apiUrl, functionEnv, allowedOrigin: demoOrigin });
 * ```
 */
export async function startBackend(options: BackendOptions): Promise<ExampleBackend | undefined> {
  const fn = options.functionEnv;
  const algorithm = fn.BACKEND_JWT_ALGORITHM ?? "HS256";
  const asymmetric = algorithm === "ES256" || algorithm === "EdDSA";
  const missing = await missingBackendPackages(PYTHON, asymmetric);
  if (missing) {
    options.log?.(missing);
    return undefined;
  }
  const env: Record<string, string> = asymmetric
    ? { JWT_JWKS_URL: `${options.apiUrl}/functions/v1/exchange-token/.well-known/jwks.json` }
    : { JWT_SECRET: fn.BACKEND_JWT_SECRET };
  env.JWT_ALGORITHMS = algorithm;
  if (fn.BACKEND_JWT_AUDIENCE) env.JWT_AUDIENCE = fn.BACKEND_JWT_AUDIENCE;
  if (fn.BACKEND_JWT_ISSUER) env.JWT_ISSUER = fn.BACKEND_JWT_ISSUER;
  env.ALLOWED_ORIGINS = options.allowedOrigin ?? "";
  return await startExampleBackend({ port: options.port, env, log: options.log, watchdog: options.watchdog });
}

/**
 * The function's settings for `BACKEND_JWT_ALGORITHM`: none for HS256 (the stack's shared secret), and
 * for ES256/EdDSA the algorithm and a private key set kept in `<stateDir>/backend_keys.json`, so tokens
 * signed before a restart still verify (a new set when there is none for this algorithm).
 *
 * @param stateDir The stack's state directory, or undefined for a throwaway stack.
 * @param algorithm The signing algorithm (default HS256).
 * @returns Environment entries for the function.
 * @example
 * ```ts
 * const env = await backendJwtSettings(".dev", "ES256"); // { BACKEND_JWT_ALGORITHM, BACKEND_JWT_PRIVATE_KEYS }
 * ```
 */
export async function backendJwtSettings(
  stateDir: string | undefined,
  algorithm: "HS256" | AsymmetricAlgorithm = "HS256",
): Promise<Record<string, string>> {
  if (algorithm === "HS256") return {};
  const file = stateDir ? `${stateDir}/backend_keys.json` : undefined;
  let set: SigningKeySet | undefined;
  if (file) {
    try {
      set = JSON.parse(await Deno.readTextFile(file)) as SigningKeySet;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (set?.algorithm !== algorithm) {
    set = { algorithm, keys: [await generateSigningKey(algorithm)] };
    if (file) await Deno.writeTextFile(file, JSON.stringify(set, null, 2), { mode: 0o600 });
  }
  return { BACKEND_JWT_ALGORITHM: algorithm, BACKEND_JWT_PRIVATE_KEYS: JSON.stringify({ keys: set.keys }) };
}
