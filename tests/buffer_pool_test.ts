import assert from "node:assert/strict";
import {
  acquireBuffer,
  LARGE_BUFFER_BYTES,
  recycleBuffer,
  SMALL_BUFFER_BYTES,
} from "../lib/server/buffer_pool.ts";

Deno.test("buffer pool: a recycled buffer is handed out again, of its own size only", () => {
  const small = acquireBuffer(SMALL_BUFFER_BYTES);
  const large = acquireBuffer(LARGE_BUFFER_BYTES);
  assert.deepEqual([small.length, large.length], [SMALL_BUFFER_BYTES, LARGE_BUFFER_BYTES]);
  recycleBuffer(small);
  recycleBuffer(large);
  assert.equal(acquireBuffer(LARGE_BUFFER_BYTES), large);
  assert.equal(acquireBuffer(SMALL_BUFFER_BYTES), small);
  assert.notEqual(acquireBuffer(SMALL_BUFFER_BYTES), small, "given out once, not twice");
});

Deno.test("buffer pool: views and sizes it does not pool are dropped", () => {
  const backing = new Uint8Array(SMALL_BUFFER_BYTES * 2);
  const view = backing.subarray(0, SMALL_BUFFER_BYTES);
  recycleBuffer(view);
  const odd = new Uint8Array(SMALL_BUFFER_BYTES + 1);
  recycleBuffer(odd);
  const next = acquireBuffer(SMALL_BUFFER_BYTES);
  assert.notEqual(next.buffer, backing.buffer, "a view of a larger array is never pooled");
  assert.equal(next.byteOffset, 0);
  assert.equal(acquireBuffer(SMALL_BUFFER_BYTES + 1).length, SMALL_BUFFER_BYTES + 1);
  assert.equal(odd.buffer.byteLength, 0, "an unpooled buffer is freed at once (detached)");
  assert.equal(backing.length, SMALL_BUFFER_BYTES * 2, "a view's larger array is left alone");
});

Deno.test("buffer pool: keeps a bounded number of buffers", () => {
  const many = Array.from({ length: 5000 }, () => new Uint8Array(SMALL_BUFFER_BYTES));
  for (const buffer of many) recycleBuffer(buffer);
  const handedOut = new Set<Uint8Array>();
  for (let i = 0; i < 5000; i++) handedOut.add(acquireBuffer(SMALL_BUFFER_BYTES));
  const reused = many.filter((buffer) => handedOut.has(buffer)).length;
  assert.ok(reused > 0 && reused < 5000, `reused ${reused} of 5000`);
  const freed = many.filter((buffer) => buffer.buffer.byteLength === 0).length;
  assert.equal(freed, 5000 - reused, "those beyond the bound are freed at once (detached)");
});
