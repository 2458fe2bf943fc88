/**
 * The send side of a connection: one buffer that gathers a response head and
 * its body so small responses leave in a single write.
 *
 * @module
 */

import type { BodySink } from "../http/message.ts";
import { NO_ROOM, writeField, writeLineEnd, writeStatusLine } from "../http/serialize.ts";
import {
  acquireBuffer,
  LARGE_BUFFER_BYTES,
  recycleBuffer,
  SMALL_BUFFER_BYTES,
} from "./buffer_pool.ts";

const encoder = new TextEncoder();
/** What a write that needed no wait returns: one settled promise for all of them. */
const DONE: Promise<void> = Promise.resolve();

/**
 * A write buffer over a connection. Small responses fill it and leave in one
 * `write`; a streamed body uses a large buffer (large reads and writes were
 * measured fastest here); a large in-memory body is written as it is. Buffers come from shared
 * pools and go back on `release()`, so an idle connection holds none.
 *
 * @example
 * ```ts
 * const out = new OutputBuffer((bytes) => conn.write(bytes));
 * out.writeStatusLine(204);
 * out.writeField("Date", "Sun, 06 Nov 1994 08:49:37 GMT");
 * out.endHead();
 * await out.flush();
 * out.release();
 * ```
 */
export class OutputBuffer implements BodySink {
  readonly #send: (bytes: Uint8Array) => Promise<number>;
  #buffer: Uint8Array | null = null;
  #used = 0;
  /** Bytes handed to the socket so far (for logs). */
  bytesSent = 0;

  /** @param send one socket write; may write fewer bytes than asked */
  constructor(send: (bytes: Uint8Array) => Promise<number>) {
    this.#send = send;
  }

  /** Bytes gathered and not yet sent. */
  get buffered(): number {
    return this.#used;
  }

  /** Appends a response head's status line. */
  writeStatusLine(status: number): void {
    while (!this.#advanceTo(writeStatusLine(status, this.#current(), this.#used)));
  }

  /** Appends a header field; throws if the name or value holds CR, LF or NUL (nothing appended then). */
  writeField(name: string, value: string): void {
    while (!this.#advanceTo(writeField(name, value, this.#current(), this.#used)));
  }

  /** Appends the blank line that ends a head. */
  endHead(): void {
    while (!this.#advanceTo(writeLineEnd(this.#current(), this.#used)));
  }

  /** Keeps bytes just written up to `end`; grows the buffer instead when they did not fit. */
  #advanceTo(end: number): boolean {
    if (end === NO_ROOM) {
      this.#grow(this.#current().length * 2);
      return false;
    }
    this.#used = end;
    return true;
  }

  /** Appends a string (ASCII in practice: chunk sizes), growing the buffer if it must. */
  writeString(text: string): void {
    for (;;) {
      const buffer = this.#current();
      const { read, written } = encoder.encodeInto(text, buffer.subarray(this.#used));
      this.#used += written;
      if (read === text.length) return;
      text = text.slice(read);
      this.#grow(buffer.length * 2);
    }
  }

  /**
   * Queues bytes, flushing first when they do not fit; bytes larger than the
   * buffer go straight to the socket after the flush, uncopied (a cached
   * 64 KiB body copied into a fresh large buffer cost a quarter of the CPU).
   */
  write(bytes: Uint8Array): Promise<void> {
    return this.append(bytes) ? DONE : this.#flushThenWrite(bytes);
  }

  /** Copies bytes into the buffer if they fit there now; false (nothing copied) if not. */
  append(bytes: Uint8Array): boolean {
    const buffer = this.#current();
    if (this.#used + bytes.length > buffer.length) return false;
    buffer.set(bytes, this.#used);
    this.#used += bytes.length;
    return true;
  }

  async #flushThenWrite(bytes: Uint8Array): Promise<void> {
    const buffer = this.#current();
    await this.flush();
    if (bytes.length >= buffer.length / 2) await this.#sendAll(bytes);
    else {
      buffer.set(bytes, 0);
      this.#used = bytes.length;
    }
  }

  /** Returns free space of at least `minBytes` (when possible) to fill in place; flushes if needed. */
  async region(minBytes: number): Promise<Uint8Array> {
    let buffer = this.#current();
    if (buffer.length < minBytes && buffer.length < LARGE_BUFFER_BYTES) {
      buffer = this.#grow(Math.max(LARGE_BUFFER_BYTES, minBytes));
    }
    if (buffer.length - this.#used < minBytes && this.#used > 0) await this.flush();
    return buffer.subarray(this.#used);
  }

  /** Marks `n` bytes of the last region as filled. */
  commit(n: number): void {
    this.#used += n;
  }

  /** Sends everything buffered. */
  flush(): Promise<void> {
    // Not async itself: every response calls it, and the send is the only wait.
    if (this.#used === 0 || this.#buffer === null) return DONE;
    const pending = this.#buffer.subarray(0, this.#used);
    this.#used = 0;
    return this.#sendAll(pending);
  }

  /** Gives the buffer back to its pool once everything is sent; call after each response. */
  release(): void {
    if (this.#buffer === null || this.#used > 0) return;
    recycleBuffer(this.#buffer);
    this.#buffer = null;
  }

  async #sendAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#send(bytes.subarray(offset));
    }
    this.bytesSent += bytes.length;
  }

  #current(): Uint8Array {
    return this.#buffer ??= acquireBuffer(SMALL_BUFFER_BYTES);
  }

  #grow(size: number): Uint8Array {
    const previous = this.#current();
    const next = acquireBuffer(size);
    next.set(previous.subarray(0, this.#used));
    recycleBuffer(previous);
    this.#buffer = next;
    return next;
  }
}
