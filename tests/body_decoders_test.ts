import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import { ChunkedDecoder, END, LengthDecoder, NEED_MORE } from "../lib/http/body_decoders.ts";
import type { BodyDecoder, ChunkedLimits } from "../lib/http/body_decoders.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function latin1(view: Uint8Array): string {
  let text = "";
  for (const byte of view) text += String.fromCharCode(byte);
  return text;
}

function receive(rb: ReceiveBuffer, piece: Uint8Array): void {
  const space = rb.writable(piece.length);
  assert.ok(space.length >= piece.length);
  space.set(piece);
  rb.commit(piece.length);
}

type DecodeResult =
  /** END reached: the body, and the bytes left for the next request. */
  | { body: string; rest: string }
  /** The input ran out first. */
  | { partial: string }
  | { status: number };

/** Runs `decoder` over `pieces` as a connection would, stopping at END. */
function decode(decoder: BodyDecoder, pieces: Uint8Array[]): DecodeResult {
  const rb = new ReceiveBuffer(4, 1 << 20);
  let body = "";
  try {
    for (let index = 0; index < pieces.length; index++) {
      receive(rb, pieces[index]);
      for (;;) {
        const step = decoder.next(rb);
        assert.ok(rb.start <= rb.end, "never consumes more than it was given");
        if (step === NEED_MORE) break;
        if (step === END) {
          // Everything after the body stays, and END repeats.
          assert.equal(decoder.next(rb), END);
          const unread = pieces.slice(index + 1).map(latin1).join("");
          return { body, rest: latin1(rb.data.subarray(rb.start, rb.end)) + unread };
        }
        assert.ok(step.length > 0, "data steps are never empty");
        body += latin1(step);
      }
    }
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status };
    throw error;
  }
  return { partial: body };
}

function bytewise(text: string): Uint8Array[] {
  return Array.from(text, (c) => bytes(c));
}

const LIMITS: ChunkedLimits = { maxLineBytes: 32, maxTrailerBytes: 64, maxTrailerCount: 3 };
const chunked = () => new ChunkedDecoder(LIMITS);

interface ChunkedRow {
  name: string;
  wire: string;
  expect: DecodeResult;
}

const ok = (body: string, rest = "") => ({ body, rest });
const LAST = "0\r\n\r\n";

const CHUNKED_ROWS: ChunkedRow[] = [
  // --- valid ----------------------------------------------------------------
  { name: "empty body", wire: LAST, expect: ok("") },
  { name: "one chunk", wire: `5\r\nhello\r\n${LAST}`, expect: ok("hello") },
  {
    name: "several chunks",
    wire: `3\r\nabc\r\n1\r\nd\r\n2\r\nef\r\n${LAST}`,
    expect: ok("abcdef"),
  },
  { name: "uppercase hex", wire: `A\r\n0123456789\r\n${LAST}`, expect: ok("0123456789") },
  { name: "lowercase hex", wire: `a\r\n0123456789\r\n${LAST}`, expect: ok("0123456789") },
  {
    name: "mixed-case hex",
    wire: `aB\r\n${"x".repeat(0xab)}\r\n${LAST}`,
    expect: ok("x".repeat(0xab)),
  },
  { name: "leading zeros", wire: `0005\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "20 leading zeros", wire: `${"0".repeat(20)}5\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "last chunk with zeros", wire: "000\r\n\r\n", expect: ok("") },
  {
    name: "data holding CRLF and a last chunk",
    wire: `7\r\n0\r\n\r\n\r\n\r\n${LAST}`,
    expect: ok("0\r\n\r\n\r\n"),
  },
  { name: "binary data", wire: `4\r\n\x00\n\r\xff\r\n${LAST}`, expect: ok("\x00\n\r\xff") },
  { name: "extension name=value", wire: `5;a=b\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "extension after a space", wire: `5 ;a\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "extension after a tab", wire: `5\t;a\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "quoted extension value", wire: `5;a="q"\r\nhello\r\n${LAST}`, expect: ok("hello") },
  {
    name: "quoted value with ; and escapes",
    wire: `5;a="x;y\\"z"\r\nhello\r\n${LAST}`,
    expect: ok("hello"),
  },
  { name: "several extensions", wire: `5;a;b=c;d="e"\r\nhello\r\n${LAST}`, expect: ok("hello") },
  {
    name: "extension with BWS around =",
    wire: `5; a = b\r\nhello\r\n${LAST}`,
    expect: ok("hello"),
  },
  { name: "extension with obs-text", wire: `5;\xe9=\xff\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "empty extension", wire: `5;\r\nhello\r\n${LAST}`, expect: ok("hello") },
  { name: "extension on the last chunk", wire: "0;final=1\r\n\r\n", expect: ok("") },
  {
    name: "size line exactly at the limit",
    wire: `5;${"a".repeat(30)}\r\nhello\r\n${LAST}`,
    expect: ok("hello"),
  },
  { name: "one trailer", wire: "0\r\nX-Sum: abc\r\n\r\n", expect: ok("") },
  { name: "trailer count at the limit", wire: "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", expect: ok("") },
  { name: "trailer with empty value and OWS", wire: "0\r\nX:\t \r\n\r\n", expect: ok("") },
  { name: "trailer with obs-text", wire: "0\r\nX: caf\xe9\r\n\r\n", expect: ok("") },
  {
    name: "next request left in place",
    wire: `2\r\nhi\r\n${LAST}GET / HTTP/1.1\r\n`,
    expect: ok("hi", "GET / HTTP/1.1\r\n"),
  },
  { name: "largest safe size", wire: "1FFFFFFFFFFFFF\r\nabc", expect: { partial: "abc" } },
  { name: "unfinished last chunk", wire: "0\r\nX: 1\r\n", expect: { partial: "" } },

  // --- bad chunk sizes ----------------------------------------------------
  { name: "negative size", wire: `-1\r\nx\r\n${LAST}`, expect: { status: 400 } },
  { name: "0x prefix", wire: `0x5\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "empty size", wire: `\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "two sizes", wire: `5 5\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "plus sign", wire: `+5\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "leading space", wire: ` 5\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "trailing space", wire: `5 \r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "trailing tab", wire: `5\t\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "last chunk with trailing space", wire: "0 \r\n\r\n", expect: { status: 400 } },
  { name: "non-hex size", wire: `g\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "hex then junk", wire: `5g\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "extension without ;", wire: `5 a=b\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "17 hex digits", wire: `10000000000000000\r\n`, expect: { status: 400 } },
  { name: "16 F digits", wire: `FFFFFFFFFFFFFFFF\r\n`, expect: { status: 400 } },
  { name: "2^53", wire: `20000000000000\r\n`, expect: { status: 400 } },

  // --- bad extensions -------------------------------------------------------
  { name: "NUL in extension", wire: `5;a\x00\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "DEL in extension", wire: `5;a\x7f\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  {
    name: "control char in extension",
    wire: `5;a=\x01\r\nhello\r\n${LAST}`,
    expect: { status: 400 },
  },
  { name: "bare CR in extension", wire: `5;a\rb\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "bare CR after size", wire: `5\r;a\r\nhello\r\n${LAST}`, expect: { status: 400 } },

  // --- bad line endings and data framing ----------------------------------------
  { name: "data not followed by CRLF", wire: `5\r\nhelloX\r\n${LAST}`, expect: { status: 400 } },
  { name: "more data than the size", wire: `3\r\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "bare LF after data", wire: `5\r\nhello\n${LAST}`, expect: { status: 400 } },
  { name: "bare CR after data", wire: `5\r\nhello\r${LAST}`, expect: { status: 400 } },
  { name: "LF CR after data", wire: `5\r\nhello\n\r${LAST}`, expect: { status: 400 } },
  { name: "bare LF after size", wire: `5\nhello\r\n${LAST}`, expect: { status: 400 } },
  { name: "bare LF as the first byte", wire: "\n", expect: { status: 400 } },
  { name: "bare LF after last chunk", wire: "0\n\r\n", expect: { status: 400 } },
  { name: "bare LF ends the trailers", wire: "0\r\n\n", expect: { status: 400 } },
  { name: "bare LF after a trailer", wire: "0\r\nX: a\n\r\n", expect: { status: 400 } },
  {
    name: "size line too long",
    wire: `5;${"a".repeat(31)}\r\nhello\r\n${LAST}`,
    expect: { status: 400 },
  },
  { name: "size line too long, unfinished", wire: `5;${"a".repeat(40)}`, expect: { status: 400 } },

  // --- bad trailers --------------------------------------------------------
  { name: "folded trailer", wire: "0\r\nX: a\r\n b\r\n\r\n", expect: { status: 400 } },
  { name: "indented trailer", wire: "0\r\n X: a\r\n\r\n", expect: { status: 400 } },
  { name: "space before colon in trailer", wire: "0\r\nX : a\r\n\r\n", expect: { status: 400 } },
  { name: "trailer without colon", wire: "0\r\nX\r\n\r\n", expect: { status: 400 } },
  { name: "trailer with empty name", wire: "0\r\n: a\r\n\r\n", expect: { status: 400 } },
  { name: "NUL in trailer value", wire: "0\r\nX: a\x00\r\n\r\n", expect: { status: 400 } },
  { name: "control char in trailer name", wire: "0\r\nX\x01: a\r\n\r\n", expect: { status: 400 } },
  { name: "bare CR in trailer", wire: "0\r\nX: a\rb\r\n\r\n", expect: { status: 400 } },
  {
    name: "one trailer over the count",
    wire: "0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
    expect: { status: 431 },
  },
  {
    name: "trailer line longer than the section",
    wire: `0\r\nX: ${"v".repeat(70)}\r\n\r\n`,
    expect: { status: 400 },
  },
  {
    name: "trailer section over the size",
    wire: `0\r\nA: ${"1".repeat(22)}\r\nB: ${"2".repeat(22)}\r\nC: ${"3".repeat(22)}\r\n\r\n`,
    expect: { status: 400 },
  },
];

Deno.test("ChunkedDecoder: table, whole and one byte at a time", () => {
  assert.equal(new Set(CHUNKED_ROWS.map((row) => row.name)).size, CHUNKED_ROWS.length);
  for (const row of CHUNKED_ROWS) {
    assert.deepEqual(decode(chunked(), [bytes(row.wire)]), row.expect, row.name);
    assert.deepEqual(decode(chunked(), bytewise(row.wire)), row.expect, `${row.name} (bytewise)`);
  }
});

Deno.test("ChunkedDecoder: every two-piece split decodes the same", () => {
  const wire =
    `3;x=1\r\nabc\r\n00A \t;y="z"\r\n0123456789\r\n1\r\n\n\r\n0;e\r\nT: 1\r\nU:2\r\n\r\nNEXT`;
  const whole = decode(chunked(), [bytes(wire)]);
  assert.deepEqual(whole, { body: "abc0123456789\n", rest: "NEXT" });
  for (let cut = 0; cut <= wire.length; cut++) {
    assert.deepEqual(
      decode(chunked(), [bytes(wire.slice(0, cut)), bytes(wire.slice(cut))]),
      whole,
      `cut ${cut}`,
    );
  }
});

Deno.test("ChunkedDecoder: hands out data as it arrives", () => {
  const rb = new ReceiveBuffer(64, 64);
  const decoder = chunked();
  receive(rb, bytes("8\r\nabc"));
  const first = decoder.next(rb);
  assert.ok(first instanceof Uint8Array);
  assert.equal(latin1(first), "abc");
  assert.equal(decoder.next(rb), NEED_MORE);
  receive(rb, bytes("defgh\r"));
  assert.equal(latin1(decoder.next(rb) as Uint8Array), "defgh");
  assert.equal(decoder.next(rb), NEED_MORE, "waits for the whole CRLF");
  receive(rb, bytes("\n0\r\n\r\n"));
  assert.equal(decoder.next(rb), END);
  assert.equal(rb.length, 0);
});

Deno.test("ChunkedDecoder: an endless size line fails as soon as it passes the limit", () => {
  const rb = new ReceiveBuffer(64, 64);
  const decoder = chunked();
  receive(rb, bytes(`5;${"a".repeat(30)}\r`)); // 33 bytes: may still end in LF
  assert.equal(decoder.next(rb), NEED_MORE);
  receive(rb, bytes("a"));
  assert.throws(() => decoder.next(rb), (e) => e instanceof HttpError && e.status === 400);
});

Deno.test("LengthDecoder: takes exactly the length and leaves the rest", () => {
  const rb = new ReceiveBuffer(16, 64);
  const decoder = new LengthDecoder(5);
  assert.equal(decoder.remaining, 5);
  assert.equal(decoder.next(rb), NEED_MORE);
  receive(rb, bytes("he"));
  assert.equal(latin1(decoder.next(rb) as Uint8Array), "he");
  assert.equal(decoder.remaining, 3);
  assert.equal(decoder.next(rb), NEED_MORE);
  receive(rb, bytes("lloGET"));
  assert.equal(latin1(decoder.next(rb) as Uint8Array), "llo");
  assert.equal(decoder.remaining, 0);
  assert.equal(decoder.next(rb), END);
  assert.equal(decoder.next(rb), END);
  assert.equal(latin1(rb.data.subarray(rb.start, rb.end)), "GET");
});

Deno.test("LengthDecoder: zero length ends at once", () => {
  const rb = new ReceiveBuffer(16, 64);
  receive(rb, bytes("next"));
  assert.equal(new LengthDecoder(0).next(rb), END);
  assert.equal(rb.length, 4);
});

Deno.test("LengthDecoder: any split gives the same body", () => {
  const wire = "0123456789\r\n\x00\xffabcdefgREST";
  for (let cut = 0; cut <= wire.length; cut++) {
    const result = decode(new LengthDecoder(wire.length - 4), [
      bytes(wire.slice(0, cut)),
      bytes(wire.slice(cut)),
    ]);
    assert.deepEqual(result, { body: wire.slice(0, -4), rest: "REST" }, `cut ${cut}`);
  }
  assert.deepEqual(decode(new LengthDecoder(4), bytewise("abcdef")), { body: "abcd", rest: "ef" });
});
