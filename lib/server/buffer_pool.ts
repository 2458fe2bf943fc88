/**
 * Byte buffers of the two sizes connections use, kept for reuse so that a
 * stream of short connections does not allocate (and leave to the garbage
 * collector) new ones for each.
 *
 * Why: every `new Uint8Array` is memory outside V8's heap that is freed only
 * when a collection finds its wrapper dead, so buffers allocated per
 * connection pile up between collections (measured: 13,000 connections/s of
 * `Connection: close` raised peak RSS by 35 MB with fresh 8 KiB receive
 * buffers, by 5 MB with pooled ones).
 *
 * @module
 */

/** A connection's receive buffer to start with, and a response's write buffer. */
export const SMALL_BUFFER_BYTES = 8 * 1024;
/** A streamed body's write buffer (large reads and writes were measured fastest here). */
export const LARGE_BUFFER_BYTES = 256 * 1024;

/** Free buffers by size: many small ones (two per busy connection), few large ones. */
const pools = new Map<number, { free: Uint8Array[]; keep: number }>([
  [SMALL_BUFFER_BYTES, { free: [], keep: 2048 }],
  [LARGE_BUFFER_BYTES, { free: [], keep: 8 }],
]);

/**
 * A buffer of `size` bytes, reused when one is free. Its contents are
 * whatever its last user left: callers write before they read.
 */
export function acquireBuffer(size: number): Uint8Array {
  return pools.get(size)?.free.pop() ?? new Uint8Array(size);
}

/**
 * Gives a buffer back for reuse, or frees it at once when its size is not
 * pooled or the pool is full. The caller must not touch it, or any view of
 * it, again.
 *
 * Freed by detaching (`transfer(0)`), not left to the collector: 50 streams
 * of a large file each took a fresh 256 KiB buffer per response (only a few
 * are kept), and the dropped ones waited for a full collection, which V8
 * starts only once tens of megabytes of them have piled up outside its heap.
 */
export function recycleBuffer(buffer: Uint8Array): void {
  if (buffer.byteOffset !== 0 || buffer.byteLength !== buffer.buffer.byteLength) return;
  const pool = pools.get(buffer.length);
  if (pool !== undefined && pool.free.length < pool.keep) pool.free.push(buffer);
  else if (buffer.buffer instanceof ArrayBuffer) buffer.buffer.transfer(0);
}
