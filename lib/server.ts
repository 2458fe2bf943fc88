/**
 * The accept loop: listens, admits connections up to the limit, sweeps
 * expired deadlines, and shuts down gracefully.
 *
 * @module
 */

import { Connection } from "./connection.ts";
import type { ConnectionContext } from "./connection.ts";
import type { Limits } from "./options.ts";
import { currentHttpDate } from "./http/date.ts";
import { serializeHead } from "./http/serialize.ts";

/** A listening server. */
export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets requests in flight finish within the grace period, then closes everything. */
  shutdown(): Promise<void>;
  /** Settles once the server has fully stopped. */
  readonly finished: Promise<void>;
}

const SWEEP_INTERVAL_MS = 250;

function overloadedResponse(): Uint8Array {
  const body = "503 Server is busy\n";
  return new TextEncoder().encode(
    serializeHead(503, [
      ["Date", currentHttpDate()],
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(body.length)],
      ["Connection", "close"],
      ["Retry-After", "1"],
    ]) + body,
  );
}

/**
 * The connections of one server: admits each accepted connection up to the
 * limit (503 beyond), serves it with the context its local address calls
 * for, sweeps expired deadlines, and drains everything on shutdown.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool(() => context);
 * pool.serve(await listener.accept());
 * await pool.shutdown();
 * ```
 */
export class ConnectionPool {
  readonly #connections = new Set<Connection>();
  readonly #contextFor: (conn: Deno.Conn) => ConnectionContext;
  readonly #limits: Limits;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #stopping = false;

  /**
   * @param contextFor the context for a connection (the guard depends on whether its local
   *   address is loopback)
   * @param limits the limits in force (the connection limit, the shutdown grace)
   */
  constructor(contextFor: (conn: Deno.Conn) => ConnectionContext, limits: Limits) {
    this.#contextFor = contextFor;
    this.#limits = limits;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const connection of this.#connections) {
        if (connection.deadline <= now) connection.expire();
      }
    }, SWEEP_INTERVAL_MS);
  }

  /** Serves `conn` until it ends (or refuses it when full); resolves once it is closed. */
  async serve(conn: Deno.Conn): Promise<void> {
    if (this.#stopping || this.#connections.size >= this.#limits.maxConnections) {
      return await refuse(conn);
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const connection = new Connection(conn, this.#contextFor(conn));
    this.#connections.add(connection);
    try {
      await connection.run();
    } finally {
      this.#connections.delete(connection);
    }
  }

  /** Lets requests in flight finish within the grace period, closes idle connections, then the rest. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    const connections = this.#connections;
    for (const connection of connections) connection.drain();
    const deadline = Date.now() + this.#limits.shutdownGraceMs;
    while (connections.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const connection of connections) connection.drain();
    }
    for (const connection of connections) connection.close();
    clearInterval(this.#sweeper);
  }
}

async function refuse(conn: Deno.Conn): Promise<void> {
  try {
    await conn.write(overloadedResponse());
  } catch {
    // The client left already.
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/**
 * Runs the accept loop on `listener` with one context for every connection,
 * until {@linkcode RunningServer.shutdown}.
 */
export function runServer(listener: Deno.Listener, context: ConnectionContext): RunningServer {
  const pool = new ConnectionPool(() => context, context.limits);
  return acceptInto(listener, pool, (error) => context.onError(error, null));
}

/**
 * Runs the accept loop on `listener`, handing connections to `pool`, until
 * {@linkcode RunningServer.shutdown}.
 */
export function acceptInto(
  listener: Deno.Listener,
  pool: ConnectionPool,
  onError: (error: unknown) => void,
): RunningServer {
  let stopping = false;
  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: back off briefly instead of spinning.
        onError(error);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      pool.serve(conn);
    }
  })();

  let finishedResolve!: () => void;
  const finished = new Promise<void>((resolve) => (finishedResolve = resolve));
  let shutdownPromise: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await acceptLoop;
      await pool.shutdown();
      finishedResolve();
    })();
    return shutdownPromise;
  };

  return { addr: listener.addr as Deno.NetAddr, shutdown, finished };
}
