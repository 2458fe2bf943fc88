import assert from "node:assert/strict";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";

/** Writes `text` through writable()/commit(), as a socket read would. */
function put(rb: ReceiveBuffer, text: string): void {
  const space = rb.writable(text.length);
  assert.ok(space.length >= text.length, "room for the write");
  for (let i = 0; i < text.length; i++) space[i] = text.charCodeAt(i);
  rb.commit(text.length);
}

function contents(rb: ReceiveBuffer): string {
  return String.fromCharCode(...rb.data.subarray(rb.start, rb.end));
}

Deno.test("ReceiveBuffer: starts empty with the initial size free", () => {
  const rb = new ReceiveBuffer(8, 64);
  assert.equal(rb.length, 0);
  assert.equal(rb.data.length, 8);
  assert.equal(rb.writable().length, 8);
});

Deno.test("ReceiveBuffer: commit and consume move the window", () => {
  const rb = new ReceiveBuffer(16, 16);
  put(rb, "hello");
  assert.equal(rb.length, 5);
  rb.consume(2);
  assert.equal(contents(rb), "llo");
  assert.deepEqual([rb.start, rb.end], [2, 5]);
  assert.equal(rb.writable(1).length, 11, "free space at the end only");
});

Deno.test("ReceiveBuffer: consuming everything rewinds to the front", () => {
  const rb = new ReceiveBuffer(16, 16);
  put(rb, "abcdef");
  rb.consume(6);
  assert.deepEqual([rb.start, rb.end, rb.length], [0, 0, 0]);
});

Deno.test("ReceiveBuffer: compacts instead of growing when that makes room", () => {
  const rb = new ReceiveBuffer(8, 64);
  put(rb, "abcdefgh");
  rb.consume(5);
  const before = rb.data;
  const space = rb.writable(4);
  assert.equal(rb.data, before, "same backing store");
  assert.deepEqual([rb.start, rb.end], [0, 3]);
  assert.equal(space.length, 5);
  assert.equal(contents(rb), "fgh");
});

Deno.test("ReceiveBuffer: does not move bytes while there is enough room", () => {
  const rb = new ReceiveBuffer(16, 64);
  put(rb, "abcd");
  rb.consume(2);
  rb.writable(8);
  assert.deepEqual([rb.start, rb.end], [2, 4]);
});

Deno.test("ReceiveBuffer: grows by doubling, keeping unconsumed bytes", () => {
  const rb = new ReceiveBuffer(8, 1024);
  put(rb, "01234567");
  rb.consume(1);
  const space = rb.writable(3);
  assert.equal(rb.data.length, 16, "compaction freed 1 byte, not 3: doubled");
  assert.equal(space.length, 9);
  assert.equal(contents(rb), "1234567");
});

Deno.test("ReceiveBuffer: grows to fit a large request when doubling is not enough", () => {
  const rb = new ReceiveBuffer(8, 1024);
  put(rb, "abcd");
  rb.writable(100);
  assert.equal(rb.data.length, 104);
  assert.equal(contents(rb), "abcd");
});

Deno.test("ReceiveBuffer: never grows past the maximum", () => {
  const rb = new ReceiveBuffer(8, 20);
  put(rb, "abcdefgh");
  assert.equal(rb.writable(4).length, 8);
  assert.equal(rb.data.length, 16, "doubled");
  put(rb, "ijklmnopqrst");
  assert.equal(rb.data.length, 20, "needed 24, capped at the maximum");
  assert.equal(rb.length, 20);
  const full = rb.writable(1);
  assert.equal(full.length, 0, "full at the maximum: nothing writable");
  assert.equal(rb.data.length, 20);
  rb.consume(3);
  assert.equal(rb.writable(3).length, 3, "consuming makes room again");
  assert.equal(contents(rb), "defghijklmnopqrst");
});

Deno.test("ReceiveBuffer: a maximum below the initial size is the initial size", () => {
  const rb = new ReceiveBuffer(32, 4);
  put(rb, "x".repeat(32));
  assert.equal(rb.writable(1).length, 0);
  assert.equal(rb.data.length, 32);
});

Deno.test("ReceiveBuffer: long mixed traffic keeps every byte in order", () => {
  const rb = new ReceiveBuffer(4, 256);
  let sent = "";
  let received = "";
  let counter = 0;
  for (let round = 0; round < 500; round++) {
    const piece = String.fromCharCode(
      ...Array.from({ length: 1 + (round % 37) }, () => counter++ % 251),
    );
    put(rb, piece);
    sent += piece;
    const take = (round * 7) % (rb.length + 1);
    received += String.fromCharCode(...rb.data.subarray(rb.start, rb.start + take));
    rb.consume(take);
    assert.ok(rb.data.length <= 256);
  }
  received += contents(rb);
  assert.equal(received, sent);
});

Deno.test("ReceiveBuffer: starts in a given array, and retire() hands it back after detaching the lent reader", () => {
  const array = new Uint8Array(16).fill(0x7a);
  const rb = new ReceiveBuffer(array, 64);
  assert.equal(rb.data, array, "the given array, not a copy");
  put(rb, "GET /");
  const calls: string[] = [];
  rb.lend({ detach: () => calls.push("detach"), expire: () => calls.push("expire") });
  assert.equal(rb.retire(), array);
  assert.deepEqual(calls, ["detach"], "a reader still lent keeps its own copy");
  assert.deepEqual([rb.data.length, rb.length], [0, 0], "holds nothing afterwards");
});

Deno.test("ReceiveBuffer: retire() after growth hands back the grown array", () => {
  const rb = new ReceiveBuffer(new Uint8Array(4), 64);
  put(rb, "0123456789");
  const grown = rb.data;
  assert.ok(grown.length >= 10);
  assert.equal(rb.retire(), grown);
});
