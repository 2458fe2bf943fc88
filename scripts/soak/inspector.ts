/**
 * A minimal client of the V8 inspector (Chrome DevTools protocol over a
 * WebSocket), so the soak can force a full garbage collection in the server
 * before reading its memory. Without it, resident memory at a quiet moment
 * depends on when V8 last collected: measured here, the same idle server read
 * 137 MiB and, once V8's memory reducer ran about 9 s later, 91 MiB.
 *
 * @module
 */

const CALL_TIMEOUT_MS = 10_000;

/** The V8 heap figures of `Runtime.getHeapUsage`. */
export interface HeapUsage {
  /** Bytes used by live and not yet collected objects. */
  usedSize: number;
  /** Bytes the heap holds. */
  totalSize: number;
  /** Bytes of ArrayBuffer contents (outside the heap: a retained buffer shows here). */
  backingStorageSize: number;
}

/** A connection to a process's inspector. */
export class Inspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const resolve = this.#pending.get(message.id);
      if (resolve === undefined) return;
      this.#pending.delete(message.id);
      resolve(message);
    };
  }

  /** Connects to `url` (`ws://127.0.0.1:PORT/UUID`, as `--inspect` prints it). */
  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`cannot reach the inspector at ${url}`));
    });
    return new Inspector(socket);
  }

  /** Calls a protocol method and resolves with its result. */
  async call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const message = await new Promise<{ result?: unknown; error?: unknown }>(
        (resolve, reject) => {
          this.#pending.set(id, resolve);
          timer = setTimeout(() => {
            this.#pending.delete(id);
            reject(new Error(`inspector: no answer to ${method} in ${CALL_TIMEOUT_MS} ms`));
          }, CALL_TIMEOUT_MS);
          this.#socket.send(JSON.stringify({ id, method, params }));
        },
      );
      if (message.error !== undefined) {
        throw new Error(`inspector: ${method}: ${JSON.stringify(message.error)}`);
      }
      return message.result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a full, forced garbage collection. */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** The V8 heap's size and use. */
  async heapUsage(): Promise<HeapUsage> {
    const result = await this.call("Runtime.getHeapUsage") as HeapUsage;
    return {
      usedSize: result.usedSize,
      totalSize: result.totalSize,
      backingStorageSize: result.backingStorageSize ?? NaN,
    };
  }

  /** Closes the connection and waits until it is closed. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => (this.#socket.onclose = () => resolve()));
    this.#socket.close();
    await closed;
  }
}
