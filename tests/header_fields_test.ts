/**
 * The lazily decoded header fields: the same answers as a Map built from the
 * head's lines, whether read in place, after the receive buffer reused the
 * bytes, or after a pipelined head; and an error, not another request's
 * bytes, when read after their exchange ended.
 *
 * @module
 */

import assert from "node:assert/strict";
import { TCHAR } from "../lib/http/abnf.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import type { RequestHead } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";
import { DEFAULT_LIMITS } from "../lib/server/limits.ts";

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function receive(rb: ReceiveBuffer, text: string): void {
  const data = bytes(text);
  rb.writable(data.length).set(data);
  rb.commit(data.length);
}

function parse(rb: ReceiveBuffer, parser = new HeadParser(DEFAULT_LIMITS)): RequestHead {
  const head = parser.parse(rb);
  assert.ok(head !== null, "a whole head parses");
  return head;
}

/** The oracle: a Map from the field lines, names lowercased, repeats joined, OWS trimmed. */
function expectedFields(lines: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    const previous = map.get(name);
    map.set(name, previous === undefined ? value : `${previous}, ${value}`);
  }
  return map;
}

const FIELD_LINES = [
  "Host: example.com",
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
  "Accept-Encoding: gzip",
  "X-Custom:  first \t",
  "Authorization: Basic dXNlcjpwYXNz",
  "accept-encoding: br",
  "X-Latin1: caf\xe9 cr\xe8me",
  "x-custom:second",
  "Content-Length: 4",
  "Empty:",
];
const RAW = `PUT /a.txt HTTP/1.1\r\n${FIELD_LINES.join("\r\n")}\r\n\r\nBODY`;

/** Asks `fields` everything the oracle knows, plus names it does not have. */
function assertSame(fields: ReadonlyMap<string, string>, expected: Map<string, string>): void {
  for (const [name, value] of expected) {
    assert.equal(fields.get(name), value, name);
    assert.ok(fields.has(name), name);
  }
  for (const absent of ["range", "if-none-match", "x-custo", "x-customs", "Host", "cookie"]) {
    assert.equal(fields.get(absent), undefined, absent);
    assert.equal(fields.has(absent), false, absent);
  }
  assert.deepEqual([...fields], [...expected]);
  assert.deepEqual([...fields.keys()], [...expected.keys()]);
  assert.deepEqual([...fields.values()], [...expected.values()]);
  assert.equal(fields.size, expected.size);
  const seen: [string, string][] = [];
  fields.forEach((value, name, map) => {
    assert.equal(map, fields);
    seen.push([name, value]);
  });
  assert.deepEqual(seen, [...expected]);
}

Deno.test("header fields: read in place, every name, repeated, unknown and latin1 ones too", () => {
  const rb = new ReceiveBuffer(1024, 4096);
  receive(rb, RAW);
  assertSame(parse(rb).headers, expectedFields(FIELD_LINES));
});

Deno.test("header fields: still right after the buffer reused their bytes", () => {
  for (const readFirst of [false, true]) {
    const rb = new ReceiveBuffer(1024, 4096);
    receive(rb, RAW);
    const head = parse(rb);
    // Some values decoded before, as a handler would before reading the body.
    if (readFirst) assert.equal(head.headers.get("host"), "example.com");
    rb.consume(rb.length); // the body, read
    receive(rb, "X".repeat(RAW.length)); // the next bytes land where the head was
    assert.equal(rb.start, 0, "the head's bytes were overwritten");
    assertSame(head.headers, expectedFields(FIELD_LINES));
  }
});

Deno.test("header fields: a compacting buffer and a pipelined head leave the first head's fields right", () => {
  const rb = new ReceiveBuffer(RAW.length + 8, 4096);
  const parser = new HeadParser(DEFAULT_LIMITS);
  receive(rb, RAW.slice(0, -4) + "GET /b HTTP/1.1\r\nHost: b\r\nX-Custom: 2\r\n\r\n");
  const first = parse(rb, parser);
  const second = parse(rb, parser);
  assert.equal(second.headers.get("x-custom"), "2");
  receive(rb, "Y".repeat(RAW.length)); // compacts over both heads
  assertSame(first.headers, expectedFields(FIELD_LINES));
  assertSame(second.headers, expectedFields(["Host: b", "X-Custom: 2"]));
});

Deno.test("header fields: reading them after their exchange was released throws", () => {
  const rb = new ReceiveBuffer(1024, 4096);
  receive(rb, RAW);
  const head = parse(rb);
  assert.equal(head.headers.get("host"), "example.com");
  rb.release();
  for (
    const read of [
      () => head.headers.get("host"),
      () => head.headers.has("range"),
      () => [...head.headers],
      () => head.headers.size,
    ]
  ) {
    assert.throws(read, /read after their exchange ended/);
  }
  // The next request on the buffer reads as usual.
  receive(rb, "GET / HTTP/1.1\r\nHost: next\r\n\r\n");
  assert.equal(parse(rb).headers.get("host"), "next");
});

Deno.test("header fields: a known name matches in any case and no other name does", () => {
  const tchars = Array.from({ length: 256 }, (_, b) => b).filter((b) => TCHAR[b] === 1);
  for (const name of ["host", "content-length", "transfer-encoding", "if-none-match", "te"]) {
    for (let position = 0; position < name.length; position++) {
      for (const byte of tchars) {
        const variant = name.slice(0, position) + String.fromCharCode(byte) +
          name.slice(position + 1);
        const rb = new ReceiveBuffer(256, 4096);
        receive(rb, `GET / HTTP/1.1\r\nHost: h\r\n${variant}: v\r\n\r\n`);
        const head = parse(rb);
        const same = variant.toLowerCase() === name;
        const expected = name === "host" ? (same ? "h, v" : "h") : same ? "v" : undefined;
        assert.equal(head.headers.get(name), expected, JSON.stringify(variant));
        assert.equal(
          head.headers.get(variant.toLowerCase()),
          variant.toLowerCase() === "host" ? "h, v" : "v",
        );
      }
    }
  }
});
