/**
 * The accept loop: listens, admits connections up to the limit, sweeps
 * expired deadlines, and shuts down gracefully.
 *
 * @module
 */

import { Connection } from "./connection.ts";
import { errorCode, isResourceExhaustion } from "../storage/fs_errors.ts";
import type { ConnectionContext } from "./connection.ts";
import type { Limits } from "./limits.ts";
import { currentHttpDate } from "../http/date.ts";
import { serializeHead } from "../http/serialize.ts";

/** A listening server. */
export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets requests in flight finish within the grace period, then closes everything. */
  shutdown(): Promise<void>;
  /** Settles once the server has fully stopped. */
  readonly finished: Promise<void>;
  /** How many connections are being served now. */
  readonly openConnections: number;
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
  /**
   * The connections being served, each at its `poolSlot`. Not a `Set`: a
   * long-lived set's table lives in V8's old generation, and the tables it
   * discards as connections come and go keep pointing at young connections,
   * which the young-generation collector must then keep and promote. Under
   * 14,000 short connections a second that took peak RSS from 104 to 170 MB
   * (measured); an array whose slots are overwritten holds nothing it drops.
   */
  readonly #connections: Connection[] = [];
  readonly #contextFor: (conn: Deno.Conn) => ConnectionContext;
  readonly #limits: Limits;
  readonly #sweeper: ReturnType<typeof setInterval>;
  /** The pending confirmation of overdue connections, if any. */
  #confirming: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;

  /**
   * @param contextFor the context for a connection (the guard depends on whether its local
   *   address is loopback)
   * @param limits the limits in force (the connection limit, the shutdown grace)
   */
  constructor(contextFor: (conn: Deno.Conn) => ConnectionContext, limits: Limits) {
    this.#contextFor = contextFor;
    this.#limits = limits;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
  }

  /**
   * Expires the connections whose deadline has passed, but only on the next
   * turn of the event loop, once it has polled the sockets. A process that
   * did not run for a while (CPU starvation, a long GC, a blocking task)
   * finds this timer and the reads that became ready meanwhile due at once,
   * and runs timers first: a client that sent in time would be cut off for
   * the server's own stall. A connection that made progress meanwhile has a
   * new deadline and is spared.
   */
  #sweep(): void {
    if (this.#confirming !== undefined) return;
    const now = Date.now();
    const overdue: [Connection, number][] = [];
    for (const connection of this.#connections) {
      if (connection.deadline <= now) overdue.push([connection, connection.deadline]);
    }
    if (overdue.length === 0) return;
    this.#confirming = setTimeout(() => {
      this.#confirming = undefined;
      for (const [connection, deadline] of overdue) {
        if (connection.deadline === deadline) connection.expire();
      }
    }, 0);
  }

  /** How many connections are open (being served) now. */
  get size(): number {
    return this.#connections.length;
  }

  /**
   * Serves `conn` until it ends (or refuses it when full); resolves once it
   * is closed and never rejects: every step from accept to close is inside
   * one handler, so a socket that fails at any point (a reset between accept
   * and the first call on it makes even `setNoDelay` throw on some systems)
   * is closed and forgotten, never an unhandled rejection.
   */
  async serve(conn: Deno.Conn): Promise<void> {
    if (this.#stopping || this.#connections.length >= this.#limits.maxConnections) {
      return await refuse(conn);
    }
    let connection: Connection | null = null;
    try {
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      connection = new Connection(conn, this.#contextFor(conn));
      this.#add(connection);
      await connection.run();
    } catch {
      // Only set-up can throw (run() never does, and closes the socket itself):
      // the socket died before it was served.
      closeQuietly(conn);
    } finally {
      if (connection !== null) this.#remove(connection);
    }
  }

  #add(connection: Connection): void {
    connection.poolSlot = this.#connections.length;
    this.#connections.push(connection);
  }

  /** Moves the last connection into the slot `connection` leaves. */
  #remove(connection: Connection): void {
    const last = this.#connections.pop()!;
    if (last !== connection) {
      this.#connections[connection.poolSlot] = last;
      last.poolSlot = connection.poolSlot;
    }
    connection.poolSlot = -1;
  }

  /** Lets requests in flight finish within the grace period, closes idle connections, then the rest. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    const connections = this.#connections;
    for (const connection of connections) connection.drain();
    const deadline = Date.now() + this.#limits.shutdownGraceMs;
    while (connections.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const connection of connections) connection.drain();
    }
    for (const connection of connections) connection.close();
    clearInterval(this.#sweeper);
    clearTimeout(this.#confirming);
  }
}

async function refuse(conn: Deno.Conn): Promise<void> {
  try {
    await conn.write(overloadedResponse());
  } catch {
    // The client left already.
  } finally {
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already (by the connection itself, or by a failed write).
  }
}

/** Where the accept loop reports what goes wrong with accepting. */
export interface AcceptReporting {
  /** An accept error of an unknown kind (the loop backs off and goes on). */
  onError(error: unknown): void;
  /** A summary line for the operator (at most one a minute of each kind). */
  onNotice(message: string): void;
}

/**
 * Runs the accept loop on `listener` with one context for every connection,
 * until {@linkcode RunningServer.shutdown}.
 */
export function runServer(listener: Deno.Listener, context: ConnectionContext): RunningServer {
  const pool = new ConnectionPool(() => context, context.limits);
  return acceptInto(listener, pool, {
    onError: (error) => context.onError(error, null),
    onNotice: (message) => console.error(`filedrop: ${message}`),
  });
}

/**
 * Accept errors that belong to the one connection being accepted (it was
 * reset or aborted before the kernel or Deno finished with it), not to the
 * listener: the next accept works at once.
 */
const CONNECTION_FAILURE_CODES = new Set(["ECONNABORTED", "ENOTCONN", "ECONNRESET", "EPROTO"]);

/** Back-off after an accept error that is not one connection's, as Go's `net/http` does. */
const FIRST_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 1_000;
/** Summary lines of one kind are at most this frequent. */
const NOTICE_INTERVAL_MS = 60_000;

function isConnectionFailure(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionReset ||
    CONNECTION_FAILURE_CODES.has(errorCode(error) ?? "");
}

/** Counts events of one kind and says so at most once per {@linkcode NOTICE_INTERVAL_MS}. */
class Tally {
  #count = 0;
  #lastNotice = -Infinity;
  readonly #describe: (count: number) => string;
  readonly #notify: (message: string) => void;

  constructor(describe: (count: number) => string, notify: (message: string) => void) {
    this.#describe = describe;
    this.#notify = notify;
  }

  /** Counts one event; the first after a quiet minute is reported with those before it. */
  add(): void {
    this.#count++;
    const now = Date.now();
    if (now - this.#lastNotice >= NOTICE_INTERVAL_MS) this.flush(now);
  }

  /** Reports what was counted since the last report, if anything. */
  flush(now = Date.now()): void {
    if (this.#count === 0) return;
    this.#notify(this.#describe(this.#count));
    this.#count = 0;
    this.#lastNotice = now;
  }
}

/**
 * Runs the accept loop on `listener`, handing connections to `pool`, until
 * {@linkcode RunningServer.shutdown}. A connection that fails before it is
 * served (reset by a port scanner or a flaky network) costs one accept call
 * and nothing else: no delay, no log line of its own. Running out of file
 * descriptors or memory pauses accepting with a growing delay (5 ms doubling
 * to 1 s), so the server comes back as soon as some are freed.
 */
export function acceptInto(
  listener: Deno.Listener,
  pool: ConnectionPool,
  reporting: AcceptReporting,
): RunningServer {
  let stopping = false;
  const failedConnections = new Tally(
    (count) => `${count} connection(s) reset or aborted before they could be served`,
    reporting.onNotice,
  );
  const exhausted = new Tally(
    (count) => `accepting paused ${count} time(s): out of file descriptors or memory`,
    reporting.onNotice,
  );
  const acceptLoop = (async () => {
    let backoffMs = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) return;
        if (isConnectionFailure(error)) {
          failedConnections.add();
          continue;
        }
        if (isResourceExhaustion(error)) exhausted.add();
        else reporting.onError(error);
        backoffMs = Math.min(backoffMs === 0 ? FIRST_BACKOFF_MS : backoffMs * 2, MAX_BACKOFF_MS);
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
        continue;
      }
      backoffMs = 0;
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
      failedConnections.flush();
      exhausted.flush();
      finishedResolve();
    })();
    return shutdownPromise;
  };

  return {
    addr: listener.addr as Deno.NetAddr,
    get openConnections() {
      return pool.size;
    },
    shutdown,
    finished,
  };
}
