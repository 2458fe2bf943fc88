/**
 * One growable receive buffer per connection, read into in place.
 *
 * @module
 */

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

  /**
   * @param initialSize bytes allocated up front
   * @param maxSize the most the buffer may grow to
   */
  constructor(initialSize: number, maxSize: number) {
    this.data = new Uint8Array(initialSize);
    this.#maxSize = Math.max(initialSize, maxSize);
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

  /** Drops `n` bytes from the front. */
  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }
}
