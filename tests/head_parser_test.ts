import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import { HeadParser, scanFieldLine } from "../lib/http/head_parser.ts";
import type { HeadLimits, RequestHead } from "../lib/http/head_parser.ts";
import { interpretHead } from "../lib/http/framing.ts";
import type { RequestFraming } from "../lib/http/framing.ts";
import { ChunkedDecoder, END, LengthDecoder, NEED_MORE } from "../lib/http/body_decoders.ts";
import type { BodyDecoder, ChunkedLimits } from "../lib/http/body_decoders.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";

// ---------------------------------------------------------------------------
// Byte helpers. Test inputs are written as strings of char codes 0-255, so
// "\xe9" is the single byte 0xE9, exactly as it goes on the wire.

function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new Error(`not a byte string at ${i}`);
    out[i] = code;
  }
  return out;
}

function latin1(view: Uint8Array): string {
  let text = "";
  for (const byte of view) text += String.fromCharCode(byte);
  return text;
}

const CRLF = "\r\n";

/** A head from its lines: each line gets a CRLF, then the blank line ends the head. */
function head(...lines: string[]): string {
  return lines.join(CRLF) + CRLF + CRLF;
}

/** Splits `data` at the given ascending offsets. */
function splitAt(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(data.subarray(from, cut));
    from = cut;
  }
  pieces.push(data.subarray(from));
  return pieces;
}

function oneByteAtATime(data: Uint8Array): Uint8Array[] {
  return Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
}

/** Copies `piece` into the buffer the way a socket read would, growing it as needed. */
function receive(rb: ReceiveBuffer, piece: Uint8Array): void {
  let offset = 0;
  while (offset < piece.length) {
    const space = rb.writable(piece.length - offset);
    assert.ok(space.length > 0, "receive buffer full");
    const n = Math.min(space.length, piece.length - offset);
    space.set(piece.subarray(offset, offset + n));
    rb.commit(n);
    offset += n;
  }
}

function assertBufferSane(rb: ReceiveBuffer): void {
  assert.ok(0 <= rb.start && rb.start <= rb.end && rb.end <= rb.data.length, "buffer bounds");
}

// ---------------------------------------------------------------------------
// Head-only parsing: feed pieces, stop calling parse once a head is out.

type ParseResult = { head: RequestHead | null; unconsumed: number } | { status: number };

function parsePieces(pieces: Uint8Array[], limits: HeadLimits): ParseResult {
  const rb = new ReceiveBuffer(8, 1 << 22);
  const parser = new HeadParser(limits);
  let parsed: RequestHead | null = null;
  try {
    for (const piece of pieces) {
      receive(rb, piece);
      if (parsed === null) parsed = parser.parse(rb);
      assertBufferSane(rb);
    }
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status };
    throw error;
  }
  // A Map of the fields: deepEqual sees its contents (a HeaderFields keeps them private).
  const head = parsed === null ? null : { ...parsed, headers: new Map(parsed.headers) };
  return { head, unconsumed: rb.length };
}

const TABLE_LIMITS: HeadLimits = {
  maxRequestLineBytes: 200,
  maxHeadBytes: 1024,
  maxHeaderCount: 10,
};

type HeadExpectation =
  & Partial<
    Pick<
      RequestHead,
      "method" | "target" | "targetForm" | "path" | "query" | "authority" | "minorVersion"
    >
  >
  & { headers?: [string, string][] };

interface HeadRow {
  name: string;
  raw: string;
  /** The HttpError status expected; absent for a head that must parse. */
  status?: number;
  expect?: HeadExpectation;
}

const GET = "GET / HTTP/1.1";
const HOST = "Host: example.com";

/** A request line of exactly `length` bytes (CRLF excluded). */
function requestLineOf(length: number): string {
  return `GET /${"a".repeat(length - 14)} HTTP/1.1`;
}

/** A head of exactly `length` bytes, padded in one header value. */
function headOf(length: number): string {
  const bare = head(GET, HOST, "X-Pad: ");
  return head(GET, HOST, `X-Pad: ${"p".repeat(length - bare.length)}`);
}

const fields = (count: number) => Array.from({ length: count }, (_, i) => `X-${i}: v`);

const HEAD_ROWS: HeadRow[] = [
  // --- valid heads --------------------------------------------------------
  {
    name: "origin-form GET",
    raw: head("GET /index.html HTTP/1.1", HOST),
    expect: {
      method: "GET",
      target: "/index.html",
      targetForm: "origin",
      path: "/index.html",
      query: "",
      authority: null,
      minorVersion: 1,
      headers: [["host", "example.com"]],
    },
  },
  {
    name: "query split at the first ?",
    raw: head("GET /a/b?x=1&y=2?z HTTP/1.1", HOST),
    expect: { path: "/a/b", query: "x=1&y=2?z" },
  },
  { name: "empty query", raw: head("GET /a? HTTP/1.1", HOST), expect: { path: "/a", query: "" } },
  {
    name: "one leading empty line skipped",
    raw: CRLF + head(GET, HOST),
    expect: { method: "GET" },
  },
  { name: "several leading empty lines", raw: CRLF.repeat(3) + head(GET, HOST), expect: {} },
  {
    name: "OPTIONS *",
    raw: head("OPTIONS * HTTP/1.1", HOST),
    expect: { targetForm: "asterisk", target: "*", path: "/", query: "" },
  },
  {
    name: "absolute-form",
    raw: head("GET http://example.com/a?b HTTP/1.1", HOST),
    expect: { targetForm: "absolute", authority: "example.com", path: "/a", query: "b" },
  },
  {
    name: "absolute-form https with port",
    raw: head("GET https://example.com:8443/x/y HTTP/1.1", HOST),
    expect: { authority: "example.com:8443", path: "/x/y", query: "" },
  },
  {
    name: "absolute-form without a path",
    raw: head("GET http://example.com HTTP/1.1", HOST),
    expect: { authority: "example.com", path: "/", query: "" },
  },
  {
    name: "absolute-form with only a query",
    raw: head("GET http://example.com?q=1 HTTP/1.1", HOST),
    expect: { path: "/", query: "q=1" },
  },
  {
    name: "absolute-form scheme is case-insensitive",
    raw: head("GET HTTP://Example.COM/ HTTP/1.1", HOST),
    expect: { targetForm: "absolute", authority: "Example.COM" },
  },
  {
    name: "absolute-form IPv6 literal",
    raw: head("GET http://[::1]:8080/p HTTP/1.1", HOST),
    expect: { authority: "[::1]:8080", path: "/p" },
  },
  {
    name: "absolute-form empty port",
    raw: head("GET http://example.com:/ HTTP/1.1", HOST),
    expect: { authority: "example.com:" },
  },
  {
    name: "absolute-form percent-encoded host",
    raw: head("GET http://ex%41mple.com/ HTTP/1.1", HOST),
    expect: { authority: "ex%41mple.com" },
  },
  {
    name: "CONNECT authority-form",
    raw: head("CONNECT example.com:443 HTTP/1.1", HOST),
    expect: { targetForm: "authority", authority: "example.com:443", path: "/", query: "" },
  },
  {
    name: "CONNECT IPv6 authority",
    raw: head("CONNECT [2001:db8::1]:443 HTTP/1.1", HOST),
    expect: { targetForm: "authority", authority: "[2001:db8::1]:443" },
  },
  { name: "HTTP/1.0", raw: head("GET / HTTP/1.0"), expect: { minorVersion: 0, headers: [] } },
  {
    name: "HTTP/1.9 is treated as 1.1",
    raw: head("GET / HTTP/1.9", HOST),
    expect: { minorVersion: 1 },
  },
  {
    name: "HTTP/1.2 is treated as 1.1",
    raw: head("GET / HTTP/1.2", HOST),
    expect: { minorVersion: 1 },
  },
  {
    name: "extension method",
    raw: head("M-SEARCH / HTTP/1.1", HOST),
    expect: { method: "M-SEARCH" },
  },
  {
    name: "method made of every tchar",
    raw: head("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1", HOST),
    expect: { method: "!#$%&'*+-.^_`|~09azAZ" },
  },
  { name: "method case is kept", raw: head("get / HTTP/1.1", HOST), expect: { method: "get" } },
  { name: "field without OWS", raw: head(GET, "Host:v"), expect: { headers: [["host", "v"]] } },
  {
    name: "OWS trimmed, inner whitespace kept",
    raw: head(GET, HOST, "X: \t v a\tl \t "),
    expect: { headers: [["host", "example.com"], ["x", "v a\tl"]] },
  },
  {
    name: "empty value",
    raw: head(GET, HOST, "X:"),
    expect: { headers: [["host", "example.com"], ["x", ""]] },
  },
  {
    name: "whitespace-only value",
    raw: head(GET, HOST, "X: \t "),
    expect: { headers: [["host", "example.com"], ["x", ""]] },
  },
  {
    name: "obs-text value kept byte for byte",
    raw: head(GET, HOST, "X: caf\xe9 \x80\xff"),
    expect: { headers: [["host", "example.com"], ["x", "caf\xe9 \x80\xff"]] },
  },
  {
    name: "value with colon, quotes and commas",
    raw: head(GET, HOST, 'X: a:b, "c, d"'),
    expect: { headers: [["host", "example.com"], ["x", 'a:b, "c, d"']] },
  },
  {
    name: "repeated field joined in order",
    raw: head(GET, HOST, "Accept: a", "ACCEPT: b", "accept: c"),
    expect: { headers: [["host", "example.com"], ["accept", "a, b, c"]] },
  },
  {
    name: "field names lowercased",
    raw: head(GET, "HoSt: example.com", "X-MiXeD: V"),
    expect: { headers: [["host", "example.com"], ["x-mixed", "V"]] },
  },
  {
    name: "field name made of every tchar",
    raw: head(GET, HOST, "!#$%&'*+-.^_`|~09azAZ: v"),
    expect: { headers: [["host", "example.com"], ["!#$%&'*+-.^_`|~09azaz", "v"]] },
  },
  {
    name: "percent-encoded target kept encoded",
    raw: head("GET /a%20b%2F HTTP/1.1", HOST),
    expect: { path: "/a%20b%2F" },
  },
  {
    name: "target with sub-delims and brackets",
    raw: head("GET /a;b=c,d!$&'()*+@:~[] HTTP/1.1", HOST),
    expect: { path: "/a;b=c,d!$&'()*+@:~[]" },
  },
  { name: "request line exactly at the limit", raw: head(requestLineOf(200), HOST), expect: {} },
  { name: "exactly maxHeaderCount fields", raw: head(GET, ...fields(10)), expect: {} },
  { name: "head exactly maxHeadBytes", raw: headOf(1024), expect: {} },

  // --- 400: line endings ----------------------------------------------------
  { name: "bare LF ends the request line", raw: `${GET}\n${HOST}\r\n\r\n`, status: 400 },
  { name: "bare LF ends a field line", raw: `${GET}\r\n${HOST}\n\r\n`, status: 400 },
  { name: "bare LF ends the head", raw: `${GET}\r\n${HOST}\r\n\n`, status: 400 },
  { name: "bare LF everywhere", raw: `${GET}\n${HOST}\n\n`, status: 400 },
  { name: "bare LF before the request line", raw: `\n${head(GET, HOST)}`, status: 400 },
  { name: "bare LF inside a value", raw: head(GET, HOST, "X: a\nb"), status: 400 },
  { name: "bare CR inside a value", raw: head(GET, HOST, "X: a\rb"), status: 400 },
  { name: "bare CR ends a value", raw: head(GET, HOST, "X: a\r"), status: 400 },
  { name: "bare CR as a field line", raw: head(GET, HOST, "\r"), status: 400 },
  { name: "bare CR inside the target", raw: head("GET /a\rb HTTP/1.1", HOST), status: 400 },
  { name: "bare CR after the version", raw: head("GET / HTTP/1.1\r", HOST), status: 400 },
  { name: "bare CR before the request line", raw: `\r${head(GET, HOST)}`, status: 400 },
  { name: "bare CR inside a field name", raw: head(GET, HOST, "X\rY: a"), status: 400 },

  // --- 400: field lines -------------------------------------------------------
  { name: "obs-fold with SP", raw: head(GET, HOST, "X: a", " b"), status: 400 },
  { name: "obs-fold with HTAB", raw: head(GET, HOST, "X: a", "\tb"), status: 400 },
  {
    name: "obs-fold on Content-Length",
    raw: head(GET, HOST, "Content-Length:", " 5"),
    status: 400,
  },
  {
    name: "obs-fold on Transfer-Encoding",
    raw: head(GET, HOST, "Transfer-Encoding:", " chunked"),
    status: 400,
  },
  {
    name: "obs-fold continuing a Transfer-Encoding list",
    raw: head(GET, HOST, "Transfer-Encoding: gzip,", "\tchunked"),
    status: 400,
  },
  { name: "first field line indented", raw: head(GET, ` ${HOST}`), status: 400 },
  {
    name: "indented Transfer-Encoding line",
    raw: head(GET, HOST, " Transfer-Encoding: chunked"),
    status: 400,
  },
  { name: "whitespace-only field line", raw: head(GET, HOST, "   "), status: 400 },
  { name: "space before colon", raw: head(GET, "Host : example.com"), status: 400 },
  { name: "tab before colon", raw: head(GET, "Host\t: example.com"), status: 400 },
  {
    name: "space before colon on Transfer-Encoding",
    raw: head(GET, HOST, "Transfer-Encoding : chunked"),
    status: 400,
  },
  {
    name: "space before colon on Content-Length",
    raw: head(GET, HOST, "Content-Length : 5"),
    status: 400,
  },
  { name: "field without colon", raw: head(GET, HOST, "X-Missing-Colon"), status: 400 },
  { name: "field without colon but with value", raw: head(GET, "Host example.com"), status: 400 },
  { name: "empty field name", raw: head(GET, HOST, ": a"), status: 400 },
  { name: "space inside field name", raw: head(GET, HOST, "X Y: a"), status: 400 },
  { name: "separator in field name", raw: head(GET, HOST, "X(Y): a"), status: 400 },
  { name: "non-ASCII field name", raw: head(GET, HOST, "X\xe9: a"), status: 400 },
  { name: "NUL in field name", raw: head(GET, HOST, "X\x00: a"), status: 400 },
  { name: "NUL in value", raw: head(GET, HOST, "X: a\x00b"), status: 400 },
  { name: "SOH in value", raw: head(GET, HOST, "X: a\x01b"), status: 400 },
  { name: "ESC in value", raw: head(GET, HOST, "X: \x1b[0m"), status: 400 },
  { name: "VT in value", raw: head(GET, HOST, "X: a\x0bb"), status: 400 },
  { name: "FF in value", raw: head(GET, HOST, "X: a\x0cb"), status: 400 },
  { name: "DEL in value", raw: head(GET, HOST, "X: a\x7fb"), status: 400 },

  // --- 400: request line ----------------------------------------------------
  { name: "NUL in target", raw: head("GET /a\x00b HTTP/1.1", HOST), status: 400 },
  { name: "DEL in target", raw: head("GET /a\x7f HTTP/1.1", HOST), status: 400 },
  { name: "control char in target", raw: head("GET /a\x1fb HTTP/1.1", HOST), status: 400 },
  { name: "raw UTF-8 in target", raw: head("GET /caf\xc3\xa9 HTTP/1.1", HOST), status: 400 },
  { name: "fragment in target", raw: head("GET /a#b HTTP/1.1", HOST), status: 400 },
  { name: "space inside target", raw: head("GET /a b HTTP/1.1", HOST), status: 400 },
  { name: "two spaces after method", raw: head("GET  / HTTP/1.1", HOST), status: 400 },
  { name: "two spaces before version", raw: head("GET /  HTTP/1.1", HOST), status: 400 },
  { name: "tab after method", raw: head("GET\t/ HTTP/1.1", HOST), status: 400 },
  { name: "tab before version", raw: head("GET /\tHTTP/1.1", HOST), status: 400 },
  { name: "leading space", raw: head(" GET / HTTP/1.1", HOST), status: 400 },
  { name: "trailing space after version", raw: head("GET / HTTP/1.1 ", HOST), status: 400 },
  { name: "trailing tab after version", raw: head("GET / HTTP/1.1\t", HOST), status: 400 },
  { name: "lowercase http", raw: head("GET / http/1.1", HOST), status: 400 },
  { name: "HTTP/1.10", raw: head("GET / HTTP/1.10", HOST), status: 400 },
  { name: "HTTP/1", raw: head("GET / HTTP/1", HOST), status: 400 },
  { name: "HTTP/1.", raw: head("GET / HTTP/1.", HOST), status: 400 },
  { name: "HTTP/11", raw: head("GET / HTTP/11", HOST), status: 400 },
  { name: "HTTP/01.1", raw: head("GET / HTTP/01.1", HOST), status: 400 },
  { name: "HTTP/1,1", raw: head("GET / HTTP/1,1", HOST), status: 400 },
  { name: "HTTP/a.b", raw: head("GET / HTTP/a.b", HOST), status: 400 },
  { name: "space inside version", raw: head("GET / HTTP/ 1.1", HOST), status: 400 },
  { name: "HTTPS/1.1", raw: head("GET / HTTPS/1.1", HOST), status: 400 },
  { name: "missing version", raw: head("GET /", HOST), status: 400 },
  { name: "missing version after space", raw: head("GET / ", HOST), status: 400 },
  { name: "missing target", raw: head("GET HTTP/1.1", HOST), status: 400 },
  { name: "method only", raw: head("GET", HOST), status: 400 },
  { name: "non-token method", raw: head("GE(T / HTTP/1.1", HOST), status: 400 },
  { name: "NUL in method", raw: head("GE\x00T / HTTP/1.1", HOST), status: 400 },
  { name: "non-ASCII method", raw: head("G\xc9T / HTTP/1.1", HOST), status: 400 },
  { name: "asterisk-form with GET", raw: head("GET * HTTP/1.1", HOST), status: 400 },
  { name: "asterisk-form with HEAD", raw: head("HEAD * HTTP/1.1", HOST), status: 400 },
  { name: "asterisk-form with CONNECT", raw: head("CONNECT * HTTP/1.1", HOST), status: 400 },
  { name: "asterisk with a suffix", raw: head("OPTIONS *x HTTP/1.1", HOST), status: 400 },
  {
    name: "absolute-form with userinfo",
    raw: head("GET http://user@example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "absolute-form with user and password",
    raw: head("GET http://user:pw@example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "absolute-form with empty userinfo",
    raw: head("GET http://@example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "absolute-form ftp scheme",
    raw: head("GET ftp://example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  { name: "absolute-form empty host", raw: head("GET http:///a HTTP/1.1", HOST), status: 400 },
  {
    name: "absolute-form one slash",
    raw: head("GET http:/example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "absolute-form bad port",
    raw: head("GET http://example.com:8o/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "absolute-form bad host char",
    raw: head("GET http://exa<mple.com/ HTTP/1.1", HOST),
    status: 400,
  },
  { name: "relative target", raw: head("GET index.html HTTP/1.1", HOST), status: 400 },
  { name: "authority-form with GET", raw: head("GET example.com:80 HTTP/1.1", HOST), status: 400 },
  { name: "CONNECT without a port", raw: head("CONNECT example.com HTTP/1.1", HOST), status: 400 },
  {
    name: "CONNECT with an empty port",
    raw: head("CONNECT example.com: HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "CONNECT with absolute-form",
    raw: head("CONNECT http://example.com/ HTTP/1.1", HOST),
    status: 400,
  },
  {
    name: "CONNECT with userinfo",
    raw: head("CONNECT u@example.com:443 HTTP/1.1", HOST),
    status: 400,
  },

  // --- 505 ------------------------------------------------------------------
  { name: "HTTP/2.0", raw: head("GET / HTTP/2.0", HOST), status: 505 },
  { name: "HTTP/3.0", raw: head("GET / HTTP/3.0", HOST), status: 505 },
  { name: "HTTP/0.9", raw: head("GET / HTTP/0.9", HOST), status: 505 },
  { name: "HTTP/9.9", raw: head("GET / HTTP/9.9", HOST), status: 505 },

  // --- 414 ------------------------------------------------------------------
  { name: "request line one byte over", raw: head(requestLineOf(201), HOST), status: 414 },
  { name: "long request line not yet ended", raw: `GET /${"a".repeat(500)}`, status: 414 },
  { name: "long method", raw: head(`${"A".repeat(300)} / HTTP/1.1`, HOST), status: 414 },

  // --- 431 ------------------------------------------------------------------
  { name: "one field over the count", raw: head(GET, ...fields(11)), status: 431 },
  { name: "huge header count", raw: head(GET, ...fields(1000)), status: 431 },
  { name: "head one byte over", raw: headOf(1025), status: 431 },
  { name: "huge header value", raw: head(GET, HOST, `X: ${"v".repeat(5000)}`), status: 431 },
  {
    name: "unfinished head over the size",
    raw: `${GET}\r\n${HOST}\r\nX: ${"v".repeat(1100)}`,
    status: 431,
  },
];

function assertHeadMatches(parsed: RequestHead, expect: HeadExpectation, row: string): void {
  const { headers, ...scalars } = expect;
  for (const [key, value] of Object.entries(scalars)) {
    assert.deepEqual(parsed[key as keyof RequestHead], value, `${row}: ${key}`);
  }
  if (headers !== undefined) assert.deepEqual([...parsed.headers], headers, `${row}: headers`);
}

Deno.test("head table: every row gets its status, whole or one byte at a time", () => {
  assert.ok(HEAD_ROWS.length >= 80);
  const names = new Set(HEAD_ROWS.map((row) => row.name));
  assert.equal(names.size, HEAD_ROWS.length, "row names are unique");
  for (const row of HEAD_ROWS) {
    const data = bytes(row.raw);
    const whole = parsePieces([data], TABLE_LIMITS);
    if (row.status !== undefined) {
      assert.deepEqual(whole, { status: row.status }, row.name);
    } else {
      assert.ok("head" in whole && whole.head !== null, `${row.name}: ${JSON.stringify(whole)}`);
      assert.equal(whole.unconsumed, 0, `${row.name}: the whole head is consumed`);
      assertHeadMatches(whole.head, row.expect ?? {}, row.name);
    }
    assert.deepEqual(
      parsePieces(oneByteAtATime(data), TABLE_LIMITS),
      whole,
      `${row.name} (bytewise)`,
    );
  }
});

Deno.test("head parser: returns null and consumes nothing until the blank line", () => {
  const rb = new ReceiveBuffer(64, 4096);
  const parser = new HeadParser(TABLE_LIMITS);
  for (const piece of ["GET / HTTP/1.1\r", "\nHost: a\r\n", "X: 1\r\n\r"]) {
    receive(rb, bytes(piece));
    const before = rb.length;
    assert.equal(parser.parse(rb), null);
    assert.equal(rb.length, before);
  }
  receive(rb, bytes("\nBODY"));
  const parsed = parser.parse(rb);
  assert.ok(parsed !== null);
  assert.equal(parsed.headers.get("x"), "1");
  assert.equal(latin1(rb.data.subarray(rb.start, rb.end)), "BODY", "body bytes left in place");
});

Deno.test("head parser: stale bytes past the received ones never finish a head", () => {
  // The buffer held a whole earlier request, then was emptied: its bytes are still in `data`.
  const rb = new ReceiveBuffer(256, 4096);
  const parser = new HeadParser(TABLE_LIMITS);
  const earlier = head("PUT /a HTTP/1.1", HOST, "Content-Length: 3") + "xxx";
  receive(rb, bytes(earlier));
  rb.consume(rb.length);
  // Each prefix of the same head, received alone, is incomplete whatever lies after it.
  const next = head("PUT /a HTTP/1.1", HOST, "Content-Length: 3");
  for (let cut = 0; cut < next.length; cut++) {
    const fresh = new ReceiveBuffer(256, 4096);
    receive(fresh, bytes(earlier));
    fresh.consume(fresh.length);
    receive(fresh, bytes(next.slice(0, cut)));
    assert.equal(new HeadParser(TABLE_LIMITS).parse(fresh), null, `cut at ${cut}`);
    assert.equal(fresh.length, cut, `nothing consumed at cut ${cut}`);
  }
  receive(rb, bytes(next));
  assert.equal(parser.parse(rb)?.target, "/a");
});

Deno.test("head parser: stale token bytes past a partial head change nothing", () => {
  const rb = new ReceiveBuffer(64 * 1024, 64 * 1024);
  receive(rb, new Uint8Array(60 * 1024).fill(0x78)); // an earlier body of "x"
  rb.consume(rb.length);
  const parser = new HeadParser(TABLE_LIMITS);
  for (const piece of ["P", "UT /f", " HTTP/1.1\r\nHo", "st: a\r\n", "\r\n"]) {
    const isLast = piece === "\r\n";
    receive(rb, bytes(piece));
    const parsed = parser.parse(rb);
    if (isLast) assert.equal(parsed?.target, "/f");
    else assert.equal(parsed, null, `after ${JSON.stringify(piece)}`);
  }
});

Deno.test("head parser: empty input and lone empty lines are consumed, not a head", () => {
  const rb = new ReceiveBuffer(64, 4096);
  const parser = new HeadParser(TABLE_LIMITS);
  assert.equal(parser.parse(rb), null);
  receive(rb, bytes("\r\n\r\n\r"));
  assert.equal(parser.parse(rb), null);
  assert.equal(rb.length, 1, "the unfinished CR stays");
  receive(rb, bytes("\nGET / HTTP/1.0\r\n\r\n"));
  assert.equal(parser.parse(rb)?.minorVersion, 0);
  assert.equal(rb.length, 0);
});

Deno.test("head parser: one parser reads pipelined heads in turn", () => {
  const rb = new ReceiveBuffer(16, 4096);
  const parser = new HeadParser(TABLE_LIMITS);
  receive(rb, bytes(head("GET /1 HTTP/1.1", HOST) + head("GET /2 HTTP/1.1", HOST) + "GET /3"));
  assert.equal(parser.parse(rb)?.target, "/1");
  assert.equal(parser.parse(rb)?.target, "/2");
  assert.equal(parser.parse(rb), null);
  receive(rb, bytes(" HTTP/1.1\r\nHost: a\r\n\r\n"));
  assert.equal(parser.parse(rb)?.target, "/3");
});

Deno.test("head parser: limits are enforced before the line or head ends", () => {
  const limits: HeadLimits = { maxRequestLineBytes: 100, maxHeadBytes: 300, maxHeaderCount: 5 };
  // A slow client cannot make the parser buffer an endless request line...
  const lineParser = new HeadParser(limits);
  const lineBuffer = new ReceiveBuffer(16, 4096);
  receive(lineBuffer, bytes("GET /".padEnd(100, "a")));
  assert.equal(lineParser.parse(lineBuffer), null, "a CRLF may still end the line at the limit");
  receive(lineBuffer, bytes("aaa"));
  assert.throws(
    () => lineParser.parse(lineBuffer),
    (e) => e instanceof HttpError && e.status === 414,
  );
  // ...nor an endless head.
  const headParser = new HeadParser(limits);
  const headBuffer = new ReceiveBuffer(16, 4096);
  receive(headBuffer, bytes(`${GET}\r\nX: ${"v".repeat(276)}\r\n`));
  assert.equal(headBuffer.length, 297);
  assert.equal(headParser.parse(headBuffer), null, "a CRLF may still end the head at the limit");
  receive(headBuffer, bytes("Y: 1"));
  assert.throws(
    () => headParser.parse(headBuffer),
    (e) => e instanceof HttpError && e.status === 431,
  );
});

Deno.test("head parser: values longer than one fromCharCode call still parse", () => {
  const limits: HeadLimits = {
    maxRequestLineBytes: 8192,
    maxHeadBytes: 1 << 20,
    maxHeaderCount: 10,
  };
  const value = "v".repeat(300_000);
  const result = parsePieces([bytes(head(GET, HOST, `X: ${value}`))], limits);
  assert.ok("head" in result && result.head !== null);
  assert.equal(result.head.headers.get("x"), value);
});

Deno.test("scanFieldLine: offsets of name and trimmed value", () => {
  const line = bytes("..Name:\t v a l \t..");
  assert.deepEqual(scanFieldLine(line, 2, line.length - 2), {
    nameEnd: 6,
    valueStart: 9,
    valueEnd: 14,
  });
  const empty = bytes("N:");
  assert.deepEqual(scanFieldLine(empty, 0, 2), { nameEnd: 1, valueStart: 2, valueEnd: 2 });
  for (const bad of ["", " N: v", "N", "N : v", ":v", "N: a\rb", "N: \x00"]) {
    const data = bytes(bad);
    assert.throws(
      () => scanFieldLine(data, 0, data.length),
      (e) => e instanceof HttpError && e.status === 400,
      JSON.stringify(bad),
    );
  }
});

// ---------------------------------------------------------------------------
// A model of a connection: bytes arrive in pieces, the parser, framing and a
// body decoder run in turn exactly as lib/server/connection.ts drives them, and every
// completed exchange is recorded. Its outcome must not depend on how the bytes
// were split.

// Far above any generated request, so no limit error depends on how bytes are split.
const CONN_LIMITS: HeadLimits = {
  maxRequestLineBytes: 8192,
  maxHeadBytes: 16384,
  maxHeaderCount: 50,
};
const CHUNK_LIMITS: ChunkedLimits = {
  maxLineBytes: 256,
  maxTrailerBytes: 1024,
  maxTrailerCount: 16,
};

interface Exchange {
  head: RequestHead;
  framing: RequestFraming;
  body: string;
}

interface Outcome {
  exchanges: Exchange[];
  /** The HttpError status that ended the connection, or null. */
  status: number | null;
  /** Where the bytes ran out: between requests, inside a head, inside a body. */
  state: "idle" | "head" | "body" | "failed";
}

function decoderFor(framing: RequestFraming): BodyDecoder | null {
  switch (framing.body.kind) {
    case "none":
      return null;
    case "length":
      return new LengthDecoder(framing.body.length);
    case "chunked":
      return new ChunkedDecoder(CHUNK_LIMITS);
  }
}

function converse(pieces: Iterable<Uint8Array>): Outcome {
  const rb = new ReceiveBuffer(16, 1 << 22);
  const parser = new HeadParser(CONN_LIMITS);
  const exchanges: Exchange[] = [];
  let current: { head: RequestHead; framing: RequestFraming; decoder: BodyDecoder | null } | null =
    null;
  let body = "";
  let fed = 0;
  const consumed = () => fed - rb.length;
  const finish = () => {
    // A Map of the fields: deepEqual sees its contents (a HeaderFields keeps them private).
    const head = { ...current!.head, headers: new Map(current!.head.headers) };
    exchanges.push({ head, framing: current!.framing, body });
    current = null;
    body = "";
  };
  try {
    for (const piece of pieces) {
      receive(rb, piece);
      fed += piece.length;
      let lastConsumed = -1;
      let lastFinished = -1;
      for (;;) {
        assertBufferSane(rb);
        assert.ok(consumed() <= fed, "never consumes more than it was given");
        // Each pass consumes bytes or completes an exchange, or the loop would spin.
        assert.ok(consumed() > lastConsumed || exchanges.length > lastFinished, "no progress");
        lastConsumed = consumed();
        lastFinished = exchanges.length;
        if (current === null) {
          const parsed = parser.parse(rb);
          if (parsed === null) break;
          const framing = interpretHead(parsed);
          current = { head: parsed, framing, decoder: decoderFor(framing) };
          if (current.decoder === null) finish();
          continue;
        }
        const step = current.decoder!.next(rb);
        if (step === NEED_MORE) break;
        if (step === END) finish();
        else {
          assert.ok(step.length > 0, "a data step is never empty");
          body += latin1(step);
        }
      }
    }
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { exchanges, status: error.status, state: "failed" };
  }
  assertBufferSane(rb);
  const state = current !== null ? "body" : rb.length > 0 ? "head" : "idle";
  return { exchanges, status: null, state };
}

interface SplitCase {
  name: string;
  raw: string;
  /** Per exchange: method, target and decoded body. */
  expect: [string, string, string][];
}

const SPLIT_CASES: SplitCase[] = [
  {
    name: "GET after empty lines",
    raw: CRLF + CRLF + head("GET /a?b=c HTTP/1.1", HOST, "Accept: */*"),
    expect: [["GET", "/a?b=c", ""]],
  },
  {
    name: "Content-Length body",
    raw: head("POST /upload HTTP/1.1", HOST, "Content-Length: 14") + "hello\r\n\r\nworld",
    expect: [["POST", "/upload", "hello\r\n\r\nworld"]],
  },
  {
    name: "chunked with extensions and trailers",
    raw: head("PUT /f HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
      '5;name=value\r\nhello\r\n6 ;a;b="q;s"\r\n world\r\n0;last\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n',
    expect: [["PUT", "/f", "hello world"]],
  },
  {
    name: "chunked with leading zeros and data that looks like framing",
    raw: head("POST /x HTTP/1.1", HOST, "transfer-encoding: Chunked") +
      "0001\r\na\r\n000C\r\n0\r\n\r\nGET / H\r\n00\r\n\r\n",
    expect: [["POST", "/x", "a0\r\n\r\nGET / H"]],
  },
  {
    name: "pipelined GETs",
    raw: head("GET /1 HTTP/1.1", HOST) + head("HEAD /2 HTTP/1.1", HOST),
    expect: [["GET", "/1", ""], ["HEAD", "/2", ""]],
  },
  {
    name: "pipelined Content-Length then chunked",
    raw: head("POST /a HTTP/1.1", HOST, "Content-Length: 3") + "abc" +
      head("POST /b HTTP/1.1", HOST, "Transfer-Encoding: chunked") + "3\r\ndef\r\n0\r\n\r\n",
    expect: [["POST", "/a", "abc"], ["POST", "/b", "def"]],
  },
  {
    name: "chunked then GET after an empty line",
    raw: head("POST /a HTTP/1.1", HOST, "Transfer-Encoding: chunked") + "2\r\nhi\r\n0\r\n\r\n" +
      CRLF + head("GET /b HTTP/1.1", HOST),
    expect: [["POST", "/a", "hi"], ["GET", "/b", ""]],
  },
  {
    name: "HTTP/1.0 keep-alive with a body",
    raw: head("POST /old HTTP/1.0", "Connection: keep-alive", "Content-Length: 4") + "\x00\xff\r\n",
    expect: [["POST", "/old", "\x00\xff\r\n"]],
  },
  {
    name: "absolute-form with obs-text and OWS",
    raw: head("GET http://example.com:8080/p?q HTTP/1.1", HOST, "X-Name: \t caf\xe9 \t"),
    expect: [["GET", "http://example.com:8080/p?q", ""]],
  },
  {
    name: "OPTIONS * then CONNECT",
    raw: head("OPTIONS * HTTP/1.1", HOST) + head("CONNECT example.com:443 HTTP/1.1", HOST),
    expect: [["OPTIONS", "*", ""], ["CONNECT", "example.com:443", ""]],
  },
  {
    name: "expect 100-continue with a body and a trailing partial head",
    raw: head("PUT /e HTTP/1.1", HOST, "Expect: 100-continue", "Content-Length: 2") + "ok" +
      "GET /next HTTP/1.1\r\nHo",
    expect: [["PUT", "/e", "ok"]],
  },
];

Deno.test("split points: every two-piece split and bytewise feed match the whole feed", () => {
  for (const testCase of SPLIT_CASES) {
    const data = bytes(testCase.raw);
    const whole = converse([data]);
    assert.equal(whole.status, null, testCase.name);
    assert.deepEqual(
      whole.exchanges.map((e) => [e.head.method, e.head.target, e.body]),
      testCase.expect,
      testCase.name,
    );
    for (let cut = 0; cut <= data.length; cut++) {
      assert.deepEqual(converse(splitAt(data, [cut])), whole, `${testCase.name} split at ${cut}`);
    }
    assert.deepEqual(converse(oneByteAtATime(data)), whole, `${testCase.name} bytewise`);
  }
});

Deno.test("split points: the trailing partial head waits in the buffer", () => {
  const last = SPLIT_CASES[SPLIT_CASES.length - 1];
  assert.equal(converse([bytes(last.raw)]).state, "head");
  assert.equal(converse([bytes(SPLIT_CASES[0].raw)]).state, "idle");
});

// ---------------------------------------------------------------------------
// Randomized requests from a fixed seed.

/** mulberry32: a tiny seeded PRNG, so every run sees the same requests. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  string(alphabet: string, min: number, max: number): string {
    let text = "";
    for (let n = min + this.int(max - min + 1); n > 0; n--) {
      text += alphabet[this.int(alphabet.length)];
    }
    return text;
  }
}

function charRange(from: number, to: number): string {
  let text = "";
  for (let code = from; code <= to; code++) text += String.fromCharCode(code);
  return text;
}

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TOKEN_CHARS = ALNUM + "!#$%&'*+-.^_`|~";
const TARGET_CHARS = charRange(0x21, 0x7e).replace("#", "");
const PATH_CHARS = TARGET_CHARS.replace("?", "");
const VALUE_CHARS = charRange(0x21, 0x7e) + charRange(0x80, 0xff);
const OWS = " \t";
/** Fields the generator sets itself, with values framing must accept. */
const RESERVED = new Set(["host", "content-length", "transfer-encoding", "expect", "connection"]);

interface GeneratedRequest {
  wire: string;
  method: string;
  target: string;
  targetForm: RequestHead["targetForm"];
  path: string;
  query: string;
  authority: string | null;
  minorVersion: 0 | 1;
  headers: Map<string, string>;
  framing: RequestFraming["body"];
  body: string;
}

function randomCase(random: Random, text: string): string {
  return [...text].map((c) => random.chance(0.5) ? c.toUpperCase() : c.toLowerCase()).join("");
}

function randomTarget(random: Random, method: string) {
  if (method === "OPTIONS" && random.chance(0.3)) {
    return { target: "*", targetForm: "asterisk" as const, path: "/", query: "", authority: null };
  }
  if (method === "CONNECT") {
    const authority = `${random.string(ALNUM + "-.", 1, 12)}:${random.int(65536)}`;
    return { target: authority, targetForm: "authority" as const, path: "/", query: "", authority };
  }
  const path = "/" + random.string(PATH_CHARS, 0, 30);
  const query = random.chance(0.4) ? random.string(TARGET_CHARS, 0, 20) : null;
  if (random.chance(0.2)) {
    const authority = random.string(ALNUM + "-._~", 1, 15) +
      (random.chance(0.3) ? `:${random.int(65536)}` : "");
    const rest = random.chance(0.2) ? "" : path;
    const target = `${random.pick(["http", "https", "HTTP"])}://${authority}${rest}` +
      (query === null ? "" : `?${query}`);
    return {
      target,
      targetForm: "absolute" as const,
      path: rest || "/",
      query: query ?? "",
      authority,
    };
  }
  const target = query === null ? path : `${path}?${query}`;
  return { target, targetForm: "origin" as const, path, query: query ?? "", authority: null };
}

function randomChunkedBody(random: Random, body: string): string {
  let wire = "";
  const sizeLine = (size: number) =>
    "0".repeat(random.int(3)) + randomCase(random, size.toString(16)) +
    (random.chance(0.3)
      ? random.pick([";a", ";a=b", ' ;x="q s"', "\t;n", ";\xe9=1", ";a;b"])
      : "") +
    CRLF;
  for (let at = 0; at < body.length;) {
    const size = 1 + random.int(40);
    const chunk = body.slice(at, at + size);
    wire += sizeLine(chunk.length) + chunk + CRLF;
    at += chunk.length;
  }
  wire += sizeLine(0);
  for (let n = random.int(3); n > 0; n--) {
    wire += `${random.string(TOKEN_CHARS, 1, 8)}:${random.pick([...OWS])}${
      random.string(VALUE_CHARS, 0, 10)
    }${CRLF}`;
  }
  return wire + CRLF;
}

function randomRequest(random: Random): GeneratedRequest {
  const method = random.chance(0.6)
    ? random.pick(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH"])
    : random.string(TOKEN_CHARS, 1, 10);
  const target = randomTarget(random, method);
  const minorVersion: 0 | 1 = random.chance(0.2) ? 0 : 1;
  const version = minorVersion === 0 ? "1.0" : random.pick(["1.1", "1.1", "1.5"]);

  const fieldLines: [string, string][] = [];
  for (let n = random.int(8); n > 0; n--) {
    let name = random.string(TOKEN_CHARS, 1, 12);
    if (fieldLines.length > 0 && random.chance(0.2)) {
      name = randomCase(random, random.pick(fieldLines)[0]);
    }
    if (RESERVED.has(name.toLowerCase())) continue;
    fieldLines.push([
      name,
      random.string(VALUE_CHARS + " \t", 0, 24).replace(/^[ \t]+|[ \t]+$/g, ""),
    ]);
  }
  const insert = (name: string, value: string) =>
    fieldLines.splice(random.int(fieldLines.length + 1), 0, [randomCase(random, name), value]);
  if (minorVersion === 1 || random.chance(0.5)) {
    insert("Host", random.pick(["example.com", "example.com:8080", "[::1]:80", "127.0.0.1", ""]));
  }

  let framing: RequestFraming["body"] = { kind: "none" };
  let body = "";
  let bodyWire = "";
  const bodyKind = random.int(3);
  if (bodyKind === 1 || (bodyKind === 2 && minorVersion === 0)) {
    body = random.string(charRange(0, 0xff), 0, 120);
    insert("Content-Length", "0".repeat(random.int(2)) + body.length);
    if (body.length > 0) framing = { kind: "length", length: body.length };
    bodyWire = body;
  } else if (bodyKind === 2) {
    body = random.string(charRange(0, 0xff), 0, 120);
    insert("Transfer-Encoding", randomCase(random, "chunked"));
    framing = { kind: "chunked" };
    bodyWire = randomChunkedBody(random, body);
  }

  const headers = new Map<string, string>();
  let wire = CRLF.repeat(random.chance(0.1) ? 1 + random.int(2) : 0) +
    `${method} ${target.target} HTTP/${version}${CRLF}`;
  for (const [name, value] of fieldLines) {
    const key = name.toLowerCase();
    const previous = headers.get(key);
    headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
    wire += `${name}:${random.string(OWS, 0, 2)}${value}${random.string(OWS, 0, 2)}${CRLF}`;
  }
  wire += CRLF + bodyWire;
  return { wire, method, ...target, minorVersion, headers, framing, body };
}

/** Random cut points: a few, many, or none. */
function randomPieces(random: Random, data: Uint8Array): Uint8Array[] {
  const cuts = new Set<number>();
  for (let n = random.int(random.chance(0.2) ? data.length : 6); n > 0; n--) {
    cuts.add(random.int(data.length + 1));
  }
  return splitAt(data, [...cuts].sort((a, b) => a - b));
}

Deno.test("random valid requests round-trip, however they are split", () => {
  const random = new Random(0x5eed);
  for (let round = 0; round < 1500; round++) {
    const requests = Array.from({ length: 1 + random.int(3) }, () => randomRequest(random));
    const data = bytes(requests.map((r) => r.wire).join(""));
    const pieces = round % 10 === 0 ? oneByteAtATime(data) : randomPieces(random, data);
    const outcome = converse(pieces);
    const context = `round ${round}: ${JSON.stringify(latin1(data).slice(0, 300))}`;
    assert.equal(outcome.status, null, context);
    assert.equal(outcome.state, "idle", context);
    assert.equal(outcome.exchanges.length, requests.length, context);
    requests.forEach((request, i) => {
      const { head: parsed, framing, body } = outcome.exchanges[i];
      assert.deepEqual(
        {
          method: parsed.method,
          target: parsed.target,
          targetForm: parsed.targetForm,
          path: parsed.path,
          query: parsed.query,
          authority: parsed.authority,
          minorVersion: parsed.minorVersion,
          headers: parsed.headers,
          framing: framing.body,
          keepAlive: framing.keepAlive,
          body,
        },
        {
          method: request.method,
          target: request.target,
          targetForm: request.targetForm,
          path: request.path,
          query: request.query,
          authority: request.authority,
          minorVersion: request.minorVersion,
          headers: request.headers,
          framing: request.framing,
          keepAlive: request.minorVersion === 1,
          body: request.body,
        },
        context,
      );
    });
  }
});

const INSERTED_BYTES = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x7f, 0x80, 0x30, 0x66];
const ERROR_STATUSES = new Set([400, 414, 417, 431, 501, 505]);

function mutate(random: Random, data: Uint8Array): Uint8Array {
  const out = [...data];
  for (let n = 1 + random.int(3); n > 0; n--) {
    const at = random.int(out.length + 1);
    switch (random.int(4)) {
      case 0:
        if (at < out.length) out[at] = random.int(256);
        break;
      case 1:
        out.splice(at, 0, random.pick(INSERTED_BYTES));
        break;
      case 2:
        out.splice(at, 0, ...bytes(random.pick(["\r\n", "\r\n\r\n", " ", "\r", "\n\n"])));
        break;
      case 3:
        out.splice(at, 1 + random.int(3));
        break;
    }
  }
  return Uint8Array.from(out);
}

Deno.test("random mutations parse or throw HttpError, the same way however split", () => {
  const random = new Random(0xbadc0de);
  const seen = new Map<string, number>();
  for (let round = 0; round < 3000; round++) {
    const requests = Array.from({ length: 1 + random.int(2) }, () => randomRequest(random));
    const data = mutate(random, bytes(requests.map((r) => r.wire).join("")));
    const context = `round ${round}: ${JSON.stringify(latin1(data).slice(0, 300))}`;
    const whole = converse([data]);
    if (whole.status !== null) assert.ok(ERROR_STATUSES.has(whole.status), context);
    assert.deepEqual(converse(randomPieces(random, data)), whole, context);
    if (round % 8 === 0) {
      assert.deepEqual(converse(oneByteAtATime(data)), whole, `${context} bytewise`);
    }
    const key = whole.status === null ? whole.state : String(whole.status);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  // The mutations must reach both sides: accepted input and each parser error.
  for (const key of ["idle", "head", "body", "400"]) {
    assert.ok((seen.get(key) ?? 0) > 50, `${key}: ${[...seen]}`);
  }
});

Deno.test("values and targets repeated from one request to the next are the same text, changed ones are new", () => {
  // The parser reuses the string of a known field's last value (and of the last
  // target) when the bytes are the same: a stale or mixed-up reuse would show here.
  const rows: [string, string, string][] = [
    ["/a.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "gzip, br"],
    ["/a.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "gzip, br"],
    ["/b.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/132", "gzip, bz"],
    ["/a.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "gzip, br"],
    ["/a.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/13\xe9", "\xe9zip, br"],
    ["/a.txt", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131", "gzip, br"],
    ["/a.txt", "short", ""],
    ["/a.txt", "x".repeat(600), "y".repeat(600)],
    ["/a.txt", "x".repeat(599) + "z", "y".repeat(600)],
  ];
  for (const [target, agent, encoding] of rows) {
    const raw = head(
      `GET ${target} HTTP/1.1`,
      "Host: h",
      `User-Agent: ${agent}`,
      `Accept-Encoding: ${encoding}`,
      "Authorization: Basic dXNlcjpwYXNz",
    );
    const result = parsePieces([bytes(raw)], { ...TABLE_LIMITS, maxHeadBytes: 4096 });
    const parsed = "head" in result ? result.head : null;
    assert.ok(parsed, raw);
    assert.equal(parsed.target, target);
    assert.equal(parsed.headers.get("user-agent"), agent);
    assert.equal(parsed.headers.get("accept-encoding"), encoding);
    assert.equal(parsed.headers.get("authorization"), "Basic dXNlcjpwYXNz");
  }
});

Deno.test("methods are parsed case-sensitively, known or not", () => {
  for (const method of ["GET", "get", "Get", "PUT", "PUTS", "MOVE", "PROPFIND", "M"]) {
    const result = parsePieces([bytes(head(`${method} / HTTP/1.1`, "Host: h"))], TABLE_LIMITS);
    assert.equal("head" in result ? result.head?.method : result.status, method);
  }
});
