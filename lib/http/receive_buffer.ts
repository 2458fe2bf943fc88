/**
 * One growable receive buffer per connection, read into in place.
 *
 * @module
 */

/** Something that reads bytes of a {@linkcode ReceiveBuffer} in place, until told to stop. */
export interface LentBytes {
  /** Copies what it still needs out of the buffer; the bytes may change after it returns. */
  detach(): void;
  /** Stops reading the buffer for good: its owner is done with it. */
  expire(): void;
}

/**
 * Bytes received and not yet consumed, stored in `data[start, end)`.
 *
 * The connection reads straight into {@linkcode ReceiveBuffer.writable} and
 * calls {@linkcode ReceiveBuffer.commit}; parsers index `data` directly and
 * call {@linkcode ReceiveBuffer.consume}. Views handed out from `data` stay
 * valid until the next `writable()` call, which may move the bytes.
 *
 * @example
 * ```ts
 * const rb = new ReceiveBuffer(1024, 4096);
 * const space = rb.writable();
 * space.set([0x68, 0x69]);
 * rb.commit(2);
 * rb.length; // 2
 * ```
 */
export class ReceiveBuffer {
  /** The backing store; valid bytes are `data[start, end)`. */
  data: Uint8Array;
  /** Offset of the first unconsumed byte. */
  start = 0;
  /** Offset just past the last received byte. */
  end = 0;
  readonly #maxSize: number;
  /** A reader of `data[start, end)` bytes already consumed, told before they are overwritten. */
  #lent: LentBytes | null = null;

  /**
   * @param initial bytes to allocate up front, or an array to start with (its contents are ignored)
   * @param maxSize the most the buffer may grow to
   */
  constructor(initial: number | Uint8Array, maxSize: number) {
    this.data = typeof initial === "number" ? new Uint8Array(initial) : initial;
    this.#maxSize = Math.max(this.data.length, maxSize);
  }

  /** Number of unconsumed bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /**
   * Free space at the end to read into, compacting or growing (up to the
   * maximum size) when less than `minFree` bytes are free. May be smaller
   * than `minFree` only when the buffer is full at its maximum size.
   */
  writable(minFree = 1): Uint8Array {
    if (this.start === this.end) this.start = this.end = 0;
    // Writing from offset 0 or compacting may overwrite consumed bytes; growing
    // into a new array leaves the old one to whoever still reads it.
    if (this.#lent !== null && (this.start === 0 || this.data.length - this.end < minFree)) {
      this.#lent.detach();
      this.#lent = null;
    }
    if (this.data.length - this.end < minFree && this.start > 0) {
      this.data.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    if (this.data.length - this.end < minFree && this.data.length < this.#maxSize) {
      const grown = new Uint8Array(
        Math.min(this.#maxSize, Math.max(this.data.length * 2, this.end + minFree)),
      );
      grown.set(this.data.subarray(0, this.end));
      this.data = grown;
    }
    return this.data.subarray(this.end);
  }

  /** Marks `n` bytes just written into `writable()` as received. */
  commit(n: number): void {
    this.end += n;
  }

  /**
   * Registers `reader`, which reads consumed bytes of `data` in place (a
   * parsed head's fields), to be detached before those bytes may be
   * overwritten; a reader lent before is detached now.
   */
  lend(reader: LentBytes): void {
    this.#lent?.detach();
    this.#lent = reader;
  }

  /**
   * Expires the reader lent last, if any, instead of detaching it: its
   * owner is done, so nothing needs copying before the bytes are reused.
   */
  release(): void {
    this.#lent?.expire();
    this.#lent = null;
  }

  /**
   * Ends this buffer's use and hands back its array for reuse: a reader
   * lent last is detached first (it keeps a copy), and the buffer is left
   * empty and holding nothing.
   */
  retire(): Uint8Array {
    this.#lent?.detach();
    this.#lent = null;
    const data = this.data;
    this.data = new Uint8Array(0);
    this.start = this.end = 0;
    return data;
  }

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }
}
