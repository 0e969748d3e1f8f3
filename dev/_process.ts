/**
 * Helpers for the stack's child processes (the function, the example backend): their output as
 * prefixed log lines, and waiting until one listens.
 *
 * @module
 */
import { portHeld, PortTakenError } from "./ports.ts";

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
 * Resolves once the child listens on 127.0.0.1:`port`: something accepts connections there and, where
 * Linux's `/proc` can tell, the listening socket is the child's own, not another process's that took the
 * port between its reservation's release and the child's bind (`dev/ports.ts`). A child that exits first,
 * leaving the port held by something else, was beaten to it: that is a {@linkcode PortTakenError}, which its
 * starter answers with another port.
 *
 * @param port The port.
 * @param child The child process (its pid and its status, so that an early exit ends the wait).
 * @param what The child, for the error message ("the exchange-token function").
 * @param timeoutMs How long to wait.
 * @throws {PortTakenError} When the child exits first and the port is held by something else.
 * @throws {Error} When the child exits first otherwise, or the time runs out.
 */
export async function waitForPort(
  port: number,
  child: { pid: number; status: Promise<Deno.CommandStatus> },
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  let dead: Deno.CommandStatus | undefined;
  child.status.then((status) => dead = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead) {
      if (portHeld(port)) throw new PortTakenError(port, what);
      throw new Error(`${what} exited (code ${dead.code}) before listening`);
    }
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      // Someone else's listener: the child fails to bind, exits, and the check above says so.
      if (await listensItself(child.pid, port) !== false) return;
    } catch {
      // Nothing listens yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * Whether the socket listening on 127.0.0.1:`port` belongs to process `pid`: `/proc/net/tcp` names the
 * listening socket's inode, `/proc/<pid>/fd` the process's sockets. Undefined where `/proc` cannot tell
 * (not Linux, or the process's descriptors are not readable).
 */
async function listensItself(pid: number, port: number): Promise<boolean | undefined> {
  let table: string;
  try {
    table = await Deno.readTextFile("/proc/net/tcp");
  } catch {
    return undefined;
  }
  // 127.0.0.1 in the kernel's byte order, the port in hex; state 0A is LISTEN; the inode is field 9.
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const listening = new Set<string>();
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === "0A") listening.add(fields[9]);
  }
  try {
    for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && listening.has(inode)) return true;
    }
  } catch {
    return undefined;
  }
  return false;
}

/**
 * The CPU time process `pid`'s main thread has used, in ms (`/proc/<pid>/task/<pid>/stat`): the thread Deno
 * runs JavaScript on, without V8's garbage collector and compiler threads, as the Edge runtime counts a
 * worker's CPU time on its isolate's thread. Linux counts it in ticks of 10 ms (`USER_HZ` is 100).
 *
 * @param pid The process.
 * @returns Its main thread's user plus system time; undefined once it has exited, or where `/proc` is missing.
 */
export async function mainThreadCpuMs(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/task/${pid}/stat`);
  } catch {
    return undefined;
  }
  // After the command's name in parentheses (which may hold spaces): state, then utime and stime 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
