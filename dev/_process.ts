/**
 * Helpers for the stack's child processes (the function, the example backend): their output as
 * prefixed log lines, and waiting until one listens.
 *
 * @module
 */

/**
 * Passes each whole line of `stream` to `log`, prefixed with `[name] `.
 *
 * @param stream A child's stdout or stderr.
 * @param log Where the lines go.
 * @param name The child's name.
 * @returns Resolves when the stream ends.
 */
export async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  log: (line: string) => void,
  name: string,
): Promise<void> {
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) log(`[${name}] ${line}`);
  }
  if (partial.trim()) log(`[${name}] ${partial}`);
}

/**
 * Resolves once something accepts connections on 127.0.0.1:`port`.
 *
 * @param port The port.
 * @param exited The child's status, so an early exit ends the wait.
 * @param what The child, for the error message ("the exchange-token function").
 * @param timeoutMs How long to wait.
 * @throws {Error} When the child exits first or the time runs out.
 */
export async function waitForPort(
  port: number,
  exited: Promise<Deno.CommandStatus>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  let dead: Deno.CommandStatus | undefined;
  exited.then((status) => dead = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited (code ${dead.code}) before listening`);
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}
