/**
 * Ports for the stack's parts: bound, not guessed.
 *
 * - A server of this process (the gateway, the demo page, the mailbox's HTTP and SMTP sides, the Auth
 *   emulator on its own) binds the port asked for, or port 0, and reads the port it got from its listener.
 *   Nothing can take that port between a probe and the bind, because the bind is the probe.
 * - A child process must be told its port before it binds it (Postgres, PgBouncer, uvicorn, a function's
 *   worker), and no listener can be handed over to it. Its port comes from {@linkcode reservePort}: a
 *   listener on port 0, held until just before the child is spawned, so that no other `bind(0)` gets that
 *   port meanwhile (however long the setup before the spawn takes: `initdb`, a certificate). Between the
 *   release and the child's own bind something else may still take the port (most often an outgoing
 *   connection's ephemeral port, which the kernel picks from the same range); the child then fails with
 *   "Address already in use". Its starter tells (from the child's own log for Postgres and PgBouncer; for
 *   uvicorn and the function workers, `waitForPort` in `dev/_process.ts` checks that the listening socket is
 *   the child's own, and that a child that exited left the port held) and throws
 *   {@linkcode PortTakenError}, and {@linkcode startOnFreePort} (or the Edge runtime stand-in, for its
 *   workers) starts the child again on a new port, up to {@linkcode PORT_ATTEMPTS} times. A port the caller
 *   asked for is never moved: taken, it is a clear error.
 *
 * @module
 */

/** How many ports a child is started on before its starter gives up (see {@linkcode startOnFreePort}). */
export const PORT_ATTEMPTS = 5;

/**
 * A port on 127.0.0.1 that nothing listens on right now, for an address that must refuse connections
 * (a stopped upstream, a database that is down). Never for a server to bind later: a server binds port 0
 * itself, a child gets {@linkcode reservePort}'s port through {@linkcode startOnFreePort}.
 *
 * @returns The port.
 * @example An upstream that refuses connections
 * ```ts
 * const down = `http://127.0.0.1:${freePort()}`;
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * Throws a clear error when `port` on 127.0.0.1 is already taken.
 *
 * @param port The port asked for.
 * @param what The part that wants it, for the message ("mailbox").
 * @throws {Error} "Port … (…) is already in use; choose another one".
 */
export function assertPortFree(port: number, what: string): void {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } catch (err) {
    throw portError(err, port, what);
  }
}

/**
 * The error for a failed bind of a port that was asked for: "Port … (…) is already in use; choose another
 * one" when it is taken, else `err` itself.
 *
 * @param err What the bind threw.
 * @param port The port.
 * @param what The part that wanted it.
 * @returns The error to throw.
 */
export function portError(err: unknown, port: number, what: string): unknown {
  if (err instanceof Deno.errors.AddrInUse || err instanceof PortTakenError) {
    return new Error(`Port ${port} (${what}) is already in use; choose another one`, { cause: err });
  }
  return err;
}

/** A child could not bind the port it was given: something took it first. */
export class PortTakenError extends Error {
  /**
   * @param port The port it was given.
   * @param what The child ("Postgres").
   */
  constructor(readonly port: number, what: string) {
    super(`${what} could not bind port ${port}: already in use`);
    this.name = "PortTakenError";
  }
}

/** A free port held by a listener of this process until {@linkcode PortReservation.release}. */
export interface PortReservation {
  readonly port: number;
  /** Closes the listener, just before the child that gets the port is spawned. Idempotent. */
  release(): void;
}

/**
 * Reserves a free port on 127.0.0.1: binds port 0 and keeps the listener until released.
 *
 * @returns The reservation.
 * @example
 * ```ts
 * const reserved = reservePort();
 * // ... prepare the child with reserved.port ...
 * reserved.release(); // just before the spawn
 * ```
 */
export function reservePort(): PortReservation {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let open = true;
  return {
    port: listener.addr.port,
    release() {
      if (open) listener.close();
      open = false;
    },
  };
}

/**
 * Whether something holds `port` on 127.0.0.1 now (a listener, or a socket bound to it): a child that
 * exited before it listened on a port that is held now was beaten to it.
 *
 * @param port The port.
 * @returns True when binding it fails with "Address already in use".
 */
export function portHeld(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) return true;
    throw err;
  }
}

/**
 * Starts a child that must be told its port. With `port` (a port the caller chose), starts it there and
 * turns a taken port into a clear error. Without, reserves a free port for each attempt and starts it
 * again on a new one when `start` throws {@linkcode PortTakenError}, up to {@linkcode PORT_ATTEMPTS} times.
 * `start` releases the reservation just before it spawns the child (and on any path that does not spawn).
 *
 * @param what The child, for the messages ("the pooler").
 * @param port A port the caller chose, or 0/undefined for a free one.
 * @param start Starts the child on `reserved.port`; throws {@linkcode PortTakenError} when the child could not
 *   bind it.
 * @param first A reservation made earlier for the first attempt (held through a setup that names the port,
 *   or whose errors should), released here in any case.
 * @returns What `start` returned.
 * @throws {Error} When the chosen port is taken, a free one was taken {@linkcode PORT_ATTEMPTS} times, or
 *   `start` failed otherwise.
 * @example
 * ```ts ignore
 * const server = await startOnFreePort("Postgres", options.port, async (reserved) => {
 *   reserved.release();
 *   return await spawnPostgres(reserved.port);
 * });
 * ```
 */
export async function startOnFreePort<T>(
  what: string,
  port: number | undefined,
  start: (reserved: PortReservation) => Promise<T>,
  first?: PortReservation,
): Promise<T> {
  if (port) {
    first?.release();
    assertPortFree(port, what);
    try {
      return await start({ port, release: () => {} });
    } catch (err) {
      throw portError(err, port, what);
    }
  }
  for (let attempt = 1;; attempt++) {
    const reserved = attempt === 1 && first ? first : reservePort();
    try {
      return await start(reserved);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
    } finally {
      reserved.release();
    }
  }
}
