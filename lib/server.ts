/**
 * The accept loop: listens, admits connections up to the limit, sweeps
 * expired deadlines, and shuts down gracefully.
 *
 * @module
 */

import { Connection } from "./connection.ts";
import type { ConnectionContext } from "./connection.ts";
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
 * Runs the accept loop on `listener` until {@linkcode RunningServer.shutdown}.
 * Each connection is served by its own task.
 */
export function runServer(listener: Deno.Listener, context: ConnectionContext): RunningServer {
  const connections = new Set<Connection>();
  const limits = context.limits;
  let stopping = false;

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      if (connection.deadline <= now) connection.expire();
    }
  }, SWEEP_INTERVAL_MS);

  const refuse = async (conn: Deno.Conn) => {
    try {
      await conn.write(overloadedResponse());
    } catch {
      // The client left already.
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };

  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping) return;
        if (error instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: back off briefly instead of spinning.
        context.onError(error, null);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (connections.size >= limits.maxConnections) {
        refuse(conn);
        continue;
      }
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const connection = new Connection(conn, context);
      connections.add(connection);
      connection.run().finally(() => connections.delete(connection));
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
      for (const connection of connections) connection.drain();
      const deadline = Date.now() + limits.shutdownGraceMs;
      while (connections.size > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const connection of connections) connection.drain();
      }
      for (const connection of connections) connection.close();
      clearInterval(sweeper);
      finishedResolve();
    })();
    return shutdownPromise;
  };

  return { addr: listener.addr as Deno.NetAddr, shutdown, finished };
}
