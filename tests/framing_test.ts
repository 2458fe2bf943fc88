import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import { interpretHead, listMembers } from "../lib/http/framing.ts";
import type { RequestFraming } from "../lib/http/framing.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import type { RequestHead } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";

const CRLF = "\r\n";

/** Parses a complete head given as lines (request line first) with the real parser. */
function parseHead(lines: string[]): RequestHead {
  const text = lines.join(CRLF) + CRLF + CRLF;
  const data = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const rb = new ReceiveBuffer(data.length, data.length);
  rb.writable(data.length).set(data);
  rb.commit(data.length);
  const parsed = new HeadParser({
    maxRequestLineBytes: 8192,
    maxHeadBytes: 65536,
    maxHeaderCount: 100,
  }).parse(rb);
  assert.ok(parsed !== null, `incomplete head: ${JSON.stringify(text)}`);
  return parsed;
}

interface FramingRow {
  name: string;
  lines: string[];
  /** Expected framing fields, or the HttpError status. */
  expect: Partial<RequestFraming> | number;
}

const POST = "POST /upload HTTP/1.1";
const POST10 = "POST /upload HTTP/1.0";
const HOST = "Host: example.com";
const NONE = { kind: "none" } as const;
const CHUNKED = { kind: "chunked" } as const;

const FRAMING_ROWS: FramingRow[] = [
  // --- body framing ---------------------------------------------------------
  { name: "no body", lines: ["GET / HTTP/1.1", HOST], expect: { body: NONE } },
  {
    name: "Content-Length",
    lines: [POST, HOST, "Content-Length: 5"],
    expect: { body: { kind: "length", length: 5 } },
  },
  {
    name: "Content-Length 0 is no body",
    lines: [POST, HOST, "Content-Length: 0"],
    expect: { body: NONE },
  },
  {
    name: "Content-Length 000 is no body",
    lines: [POST, HOST, "Content-Length: 000"],
    expect: { body: NONE },
  },
  {
    name: "Content-Length leading zeros are decimal",
    lines: [POST, HOST, "Content-Length: 0010"],
    expect: { body: { kind: "length", length: 10 } },
  },
  {
    name: "Content-Length largest safe integer",
    lines: [POST, HOST, "Content-Length: 9007199254740991"],
    expect: { body: { kind: "length", length: 9007199254740991 } },
  },
  {
    name: "Content-Length with OWS",
    lines: [POST, HOST, "Content-Length:\t 7 \t"],
    expect: { body: { kind: "length", length: 7 } },
  },
  { name: "chunked", lines: [POST, HOST, "Transfer-Encoding: chunked"], expect: { body: CHUNKED } },
  {
    name: "chunked is case-insensitive",
    lines: [POST, HOST, "transfer-encoding: ChUnKeD"],
    expect: { body: CHUNKED },
  },
  {
    name: "chunked after a tab",
    lines: [POST, HOST, "Transfer-Encoding:\tchunked"],
    expect: { body: CHUNKED },
  },
  {
    name: "chunked with surrounding OWS",
    lines: [POST, HOST, "Transfer-Encoding:  \t chunked \t "],
    expect: { body: CHUNKED },
  },
  {
    name: "HTTP/1.0 with Content-Length",
    lines: [POST10, "Content-Length: 3"],
    expect: { body: { kind: "length", length: 3 } },
  },

  // --- smuggling: ambiguous framing is 400 -----------------------------------
  {
    name: "CL.TE",
    lines: [POST, HOST, "Content-Length: 5", "Transfer-Encoding: chunked"],
    expect: 400,
  },
  {
    name: "TE.CL",
    lines: [POST, HOST, "Transfer-Encoding: chunked", "Content-Length: 5"],
    expect: 400,
  },
  {
    name: "TE with Content-Length 0",
    lines: [POST, HOST, "Transfer-Encoding: chunked", "Content-Length: 0"],
    expect: 400,
  },
  {
    name: "TE with an invalid Content-Length",
    lines: [POST, HOST, "Transfer-Encoding: chunked", "Content-Length: x"],
    expect: 400,
  },
  { name: "TE in HTTP/1.0", lines: [POST10, "Transfer-Encoding: chunked"], expect: 400 },
  {
    name: "TE in HTTP/1.0 with Host",
    lines: [POST10, HOST, "Transfer-Encoding: chunked"],
    expect: 400,
  },
  {
    name: "TE and CL in HTTP/1.0",
    lines: [POST10, "Content-Length: 5", "Transfer-Encoding: chunked"],
    expect: 400,
  },
  {
    name: "chunked, identity",
    lines: [POST, HOST, "Transfer-Encoding: chunked, identity"],
    expect: 400,
  },
  { name: "chunked, gzip", lines: [POST, HOST, "Transfer-Encoding: chunked, gzip"], expect: 400 },
  {
    name: "chunked twice in one field",
    lines: [POST, HOST, "Transfer-Encoding: chunked, chunked"],
    expect: 400,
  },
  {
    name: "chunked in two fields",
    lines: [POST, HOST, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
    expect: 400,
  },
  {
    name: "chunked then identity in two fields",
    lines: [POST, HOST, "Transfer-Encoding: chunked", "Transfer-Encoding: identity"],
    expect: 400,
  },
  { name: "xchunked", lines: [POST, HOST, "Transfer-Encoding: xchunked"], expect: 400 },
  { name: "chunkedx", lines: [POST, HOST, "Transfer-Encoding: chunkedx"], expect: 400 },
  {
    name: "chunked with a parameter",
    lines: [POST, HOST, "Transfer-Encoding: chunked;q=1"],
    expect: 400,
  },
  { name: "quoted chunked", lines: [POST, HOST, 'Transfer-Encoding: "chunked"'], expect: 400 },
  {
    name: "chunked with an inner space",
    lines: [POST, HOST, "Transfer-Encoding: chun ked"],
    expect: 400,
  },
  {
    name: "chunked with obs-text",
    lines: [POST, HOST, "Transfer-Encoding: chunked\xff"],
    expect: 400,
  },
  {
    name: "chunked with a trailing comma",
    lines: [POST, HOST, "Transfer-Encoding: chunked,"],
    expect: 400,
  },
  { name: "identity alone", lines: [POST, HOST, "Transfer-Encoding: identity"], expect: 400 },
  { name: "gzip alone", lines: [POST, HOST, "Transfer-Encoding: gzip"], expect: 400 },
  { name: "empty Transfer-Encoding", lines: [POST, HOST, "Transfer-Encoding:"], expect: 400 },
  { name: "gzip, chunked", lines: [POST, HOST, "Transfer-Encoding: gzip, chunked"], expect: 501 },
  {
    name: "gzip then chunked in two fields",
    lines: [POST, HOST, "Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
    expect: 501,
  },
  {
    name: "identity, chunked",
    lines: [POST, HOST, "Transfer-Encoding: identity, chunked"],
    expect: 501,
  },

  // --- Content-Length syntax --------------------------------------------------
  {
    name: "repeated identical Content-Length",
    lines: [POST, HOST, "Content-Length: 5", "Content-Length: 5"],
    expect: 400,
  },
  {
    name: "repeated differing Content-Length",
    lines: [POST, HOST, "Content-Length: 5", "Content-Length: 6"],
    expect: 400,
  },
  {
    name: "repeated zero Content-Length",
    lines: [POST, HOST, "Content-Length: 0", "Content-Length: 0"],
    expect: 400,
  },
  { name: "Content-Length list", lines: [POST, HOST, "Content-Length: 5, 5"], expect: 400 },
  {
    name: "Content-Length list without space",
    lines: [POST, HOST, "Content-Length: 5,5"],
    expect: 400,
  },
  { name: "Content-Length with +", lines: [POST, HOST, "Content-Length: +5"], expect: 400 },
  { name: "Content-Length negative", lines: [POST, HOST, "Content-Length: -5"], expect: 400 },
  { name: "Content-Length -0", lines: [POST, HOST, "Content-Length: -0"], expect: 400 },
  { name: "Content-Length space inside", lines: [POST, HOST, "Content-Length: 1 2"], expect: 400 },
  { name: "Content-Length tab inside", lines: [POST, HOST, "Content-Length: 1\t2"], expect: 400 },
  { name: "Content-Length hex", lines: [POST, HOST, "Content-Length: 0x5"], expect: 400 },
  { name: "Content-Length hex digits", lines: [POST, HOST, "Content-Length: 5a"], expect: 400 },
  { name: "Content-Length decimal point", lines: [POST, HOST, "Content-Length: 5.0"], expect: 400 },
  { name: "Content-Length exponent", lines: [POST, HOST, "Content-Length: 1e3"], expect: 400 },
  { name: "Content-Length empty", lines: [POST, HOST, "Content-Length:"], expect: 400 },
  { name: "Content-Length whitespace only", lines: [POST, HOST, "Content-Length:  "], expect: 400 },
  {
    name: "Content-Length non-ASCII digit",
    lines: [POST, HOST, "Content-Length: \xb9"],
    expect: 400,
  },
  {
    name: "Content-Length 2^53",
    lines: [POST, HOST, "Content-Length: 9007199254740992"],
    expect: 400,
  },
  {
    name: "Content-Length overflow",
    lines: [POST, HOST, `Content-Length: ${"9".repeat(30)}`],
    expect: 400,
  },
  { name: "Content-Length Infinity", lines: [POST, HOST, "Content-Length: Infinity"], expect: 400 },

  // --- Host ----------------------------------------------------------------
  { name: "HTTP/1.1 without Host", lines: ["GET / HTTP/1.1"], expect: 400 },
  { name: "HTTP/1.1 with two Hosts", lines: ["GET / HTTP/1.1", HOST, HOST], expect: 400 },
  {
    name: "HTTP/1.1 with an empty second Host",
    lines: ["GET / HTTP/1.1", HOST, "Host:"],
    expect: 400,
  },
  { name: "HTTP/1.0 without Host", lines: ["GET / HTTP/1.0"], expect: { body: NONE } },
  {
    name: "HTTP/1.0 with two Hosts",
    lines: ["GET / HTTP/1.0", HOST, "host: other.example"],
    expect: 400,
  },
  { name: "empty Host", lines: ["GET / HTTP/1.1", "Host:"], expect: { body: NONE } },
  {
    name: "Host with port",
    lines: ["GET / HTTP/1.1", "Host: example.com:8080"],
    expect: { body: NONE },
  },
  { name: "Host IPv4", lines: ["GET / HTTP/1.1", "Host: 127.0.0.1:80"], expect: { body: NONE } },
  {
    name: "Host IPv6 literal",
    lines: ["GET / HTTP/1.1", "Host: [::1]:8080"],
    expect: { body: NONE },
  },
  { name: "Host with userinfo", lines: ["GET / HTTP/1.1", "Host: user@example.com"], expect: 400 },
  { name: "Host with a space", lines: ["GET / HTTP/1.1", "Host: a b"], expect: 400 },
  { name: "Host with a path", lines: ["GET / HTTP/1.1", "Host: example.com/x"], expect: 400 },
  { name: "Host with a bad port", lines: ["GET / HTTP/1.1", "Host: example.com:80x"], expect: 400 },
  { name: "Host with obs-text", lines: ["GET / HTTP/1.1", "Host: caf\xe9"], expect: 400 },
  {
    name: "Host with a bad percent-encoding",
    lines: ["GET / HTTP/1.1", "Host: a%zz"],
    expect: 400,
  },
  { name: "HTTP/1.0 invalid Host", lines: ["GET / HTTP/1.0", "Host: a/b"], expect: 400 },

  // --- persistence ------------------------------------------------------------
  { name: "HTTP/1.1 keeps alive", lines: ["GET / HTTP/1.1", HOST], expect: { keepAlive: true } },
  {
    name: "HTTP/1.1 close",
    lines: ["GET / HTTP/1.1", HOST, "Connection: close"],
    expect: { keepAlive: false },
  },
  {
    name: "HTTP/1.1 Close in a list",
    lines: ["GET / HTTP/1.1", HOST, "Connection: Upgrade,  CLOSE "],
    expect: { keepAlive: false },
  },
  {
    name: "HTTP/1.1 close in a second field",
    lines: ["GET / HTTP/1.1", HOST, "Connection: keep-alive", "Connection: close"],
    expect: { keepAlive: false },
  },
  {
    name: "HTTP/1.1 closed is not close",
    lines: ["GET / HTTP/1.1", HOST, "Connection: closed"],
    expect: { keepAlive: true },
  },
  { name: "HTTP/1.0 closes", lines: ["GET / HTTP/1.0"], expect: { keepAlive: false } },
  {
    name: "HTTP/1.0 keep-alive",
    lines: ["GET / HTTP/1.0", "Connection: Keep-Alive"],
    expect: { keepAlive: true },
  },
  {
    name: "HTTP/1.0 keep-alive and close",
    lines: ["GET / HTTP/1.0", "Connection: keep-alive, close"],
    expect: { keepAlive: false },
  },

  // --- Expect ---------------------------------------------------------------
  {
    name: "no Expect",
    lines: [POST, HOST, "Content-Length: 1"],
    expect: { expectContinue: false },
  },
  {
    name: "100-continue",
    lines: [POST, HOST, "Expect: 100-continue", "Content-Length: 1"],
    expect: { expectContinue: true },
  },
  {
    name: "100-Continue case-insensitive",
    lines: [POST, HOST, "Expect: 100-Continue"],
    expect: { expectContinue: true },
  },
  {
    name: "100-continue ignored in HTTP/1.0",
    lines: [POST10, "Expect: 100-continue"],
    expect: { expectContinue: false },
  },
  { name: "unknown expectation", lines: [POST, HOST, "Expect: fly"], expect: 417 },
  { name: "unknown expectation in HTTP/1.0", lines: [POST10, "Expect: fly"], expect: 417 },
  {
    name: "100-continue plus another",
    lines: [POST, HOST, "Expect: 100-continue, fly"],
    expect: 417,
  },
  {
    name: "two 100-continue fields",
    lines: [POST, HOST, "Expect: 100-continue", "Expect: 100-continue"],
    expect: 417,
  },
  { name: "empty Expect", lines: [POST, HOST, "Expect:"], expect: 417 },
];

Deno.test("interpretHead: framing table", () => {
  assert.equal(new Set(FRAMING_ROWS.map((row) => row.name)).size, FRAMING_ROWS.length);
  for (const row of FRAMING_ROWS) {
    const parsed = parseHead(row.lines);
    if (typeof row.expect === "number") {
      const status = row.expect;
      assert.throws(
        () => interpretHead(parsed),
        (e) => e instanceof HttpError && e.status === status,
        row.name,
      );
      continue;
    }
    const framing = interpretHead(parsed);
    for (const [key, value] of Object.entries(row.expect)) {
      assert.deepEqual(framing[key as keyof RequestFraming], value, `${row.name}: ${key}`);
    }
  }
});

Deno.test("interpretHead: defaults for a plain GET", () => {
  assert.deepEqual(interpretHead(parseHead(["GET / HTTP/1.1", HOST])), {
    body: { kind: "none" },
    keepAlive: true,
    expectContinue: false,
  });
});

Deno.test("interpretHead: counts decide repeats, not the joined value", () => {
  // The joined value of two Content-Length fields is "5, 5": only the count
  // says it was repeated, so a hand-built head with one field must pass.
  const parsed = parseHead([POST, HOST, "Content-Length: 5"]);
  assert.equal(parsed.contentLengthCount, 1);
  assert.throws(
    () => interpretHead({ ...parsed, contentLengthCount: 2 }),
    (e) => e instanceof HttpError && e.status === 400,
  );
  assert.throws(
    () => interpretHead({ ...parsed, hostCount: 0 }),
    (e) => e instanceof HttpError && e.status === 400,
  );
});

Deno.test("listMembers: trims, lowercases and drops empty members", () => {
  const rows: [string | undefined, string[]][] = [
    [undefined, []],
    ["", []],
    ["close", ["close"]],
    [" Keep-Alive ,\tUPGRADE ", ["keep-alive", "upgrade"]],
    [",, a ,, b,", ["a", "b"]],
  ];
  for (const [value, members] of rows) assert.deepEqual(listMembers(value), members, String(value));
});
