/**
 * The send side of a connection: one buffer that gathers a response head and
 * its body so small responses leave in a single write.
 *
 * @module
 */

import type { BodySink } from "./http/message.ts";

const SMALL_BUFFER_BYTES = 16 * 1024;
const LARGE_BUFFER_BYTES = 256 * 1024;
const POOLED_LARGE_BUFFERS = 8;
const largePool: Uint8Array[] = [];
const encoder = new TextEncoder();

/**
 * A write buffer over a connection. Small responses fill it and leave in one
 * `write`; a streamed body borrows a 256 KiB buffer from a shared pool (large
 * reads and writes were measured fastest here) and returns it on `release()`.
 *
 * @example
 * ```ts
 * const out = new OutputBuffer((bytes) => conn.write(bytes));
 * out.writeString("HTTP/1.1 204 No Content\r\n\r\n");
 * await out.flush();
 * ```
 */
export class OutputBuffer implements BodySink {
  readonly #send: (bytes: Uint8Array) => Promise<number>;
  readonly #small = new Uint8Array(SMALL_BUFFER_BYTES);
  #buffer: Uint8Array = this.#small;
  #used = 0;
  /** Bytes handed to the socket so far (for logs). */
  bytesSent = 0;

  /** @param send one socket write; may write fewer bytes than asked */
  constructor(send: (bytes: Uint8Array) => Promise<number>) {
    this.#send = send;
  }

  /** Appends a string (ASCII in practice: heads and chunk sizes), growing the buffer if it must. */
  writeString(text: string): void {
    for (;;) {
      const { read, written } = encoder.encodeInto(text, this.#buffer.subarray(this.#used));
      this.#used += written;
      if (read === text.length) return;
      text = text.slice(read);
      this.#grow(this.#buffer.length * 2);
    }
  }

  /** Queues bytes, flushing first when they do not fit; large ones go straight to the socket. */
  async write(bytes: Uint8Array): Promise<void> {
    // A head and a body up to the large buffer's size still leave in one write.
    if (
      this.#buffer === this.#small && this.#used + bytes.length > this.#buffer.length &&
      this.#used + bytes.length <= LARGE_BUFFER_BYTES
    ) {
      this.#grow(LARGE_BUFFER_BYTES);
    }
    if (this.#used + bytes.length <= this.#buffer.length) {
      this.#buffer.set(bytes, this.#used);
      this.#used += bytes.length;
      return;
    }
    await this.flush();
    if (bytes.length >= this.#buffer.length / 2) await this.#sendAll(bytes);
    else {
      this.#buffer.set(bytes, 0);
      this.#used = bytes.length;
    }
  }

  /** Returns free space of at least `minBytes` (when possible) to fill in place; flushes if needed. */
  async region(minBytes: number): Promise<Uint8Array> {
    if (this.#buffer.length < minBytes && this.#buffer === this.#small) {
      this.#grow(Math.max(LARGE_BUFFER_BYTES, minBytes));
    }
    if (this.#buffer.length - this.#used < minBytes && this.#used > 0) await this.flush();
    return this.#buffer.subarray(this.#used);
  }

  /** Marks `n` bytes of the last region as filled. */
  commit(n: number): void {
    this.#used += n;
  }

  /** Sends everything buffered. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const pending = this.#buffer.subarray(0, this.#used);
    this.#used = 0;
    await this.#sendAll(pending);
  }

  /** Gives a borrowed large buffer back to the pool; call after each response. */
  release(): void {
    if (this.#buffer === this.#small || this.#used > 0) return;
    if (this.#buffer.length === LARGE_BUFFER_BYTES && largePool.length < POOLED_LARGE_BUFFERS) {
      largePool.push(this.#buffer);
    }
    this.#buffer = this.#small;
  }

  async #sendAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#send(bytes.subarray(offset));
    }
    this.bytesSent += bytes.length;
  }

  #grow(size: number): void {
    const next = size === LARGE_BUFFER_BYTES && largePool.length > 0
      ? largePool.pop()!
      : new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#used));
    this.#buffer = next;
  }
}
