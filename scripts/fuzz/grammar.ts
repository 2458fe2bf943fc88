/**
 * The request grammar: mostly valid HTTP/1.1 requests with occasional errors
 * at every level, classic smuggling shapes, protocol-token soup and random
 * bytes. Values that reach into the server's handlers (paths, Range,
 * preconditions, digests) are drawn from what the fuzzed ROOT holds.
 *
 * @module
 */

import type { Random } from "./random.ts";
import { toBinary } from "./bytes.ts";

/** The line end HTTP/1.1 requires. */
export const CRLF = "\r\n";

const COMMON_METHODS = [
  [30, "GET"],
  [10, "HEAD"],
  [16, "PUT"],
  [8, "POST"],
  [6, "DELETE"],
  [5, "OPTIONS"],
  [5, "MOVE"],
] as const;

const ODD_METHODS = [
  "CONNECT",
  "TRACE",
  "PATCH",
  "PROPFIND",
  "MKCOL",
  "get",
  "Get",
  "M-SEARCH",
  "!#$%&'*+-.^_`|~",
  "GET\x00",
  "G\x80T",
  "GE(T)",
  "",
  "GET".repeat(40),
];

const ORIGIN_PATHS = [
  "/",
  "/a.txt",
  "/empty.txt",
  "/dir/",
  "/dir",
  "/dir/b.txt",
  "/site/",
  "/site/index.html",
  "/big.bin",
  "/missing",
  "/fuzz/",
  "/fuzz/sub/",
  "/%61.txt",
  "/dir/%2e%2e/a.txt",
  "/D%C3%A9j%C3%A0.txt",
  "/.hidden",
  "/a.txt/",
];

const WEIRD_TARGETS = [
  "",
  "a.txt",
  "/a b",
  "/a#frag",
  "/\x7f",
  "/\xc3\xbc",
  "/%",
  "/%zz",
  "/%00",
  "/%2f",
  "/..",
  "/../..",
  "/%2e%2e/%2e%2e/etc/passwd",
  "/..%2f..%2fetc%2fpasswd",
  "/%5c..%5c",
  "\\a.txt",
  "//",
  "//a.txt",
  "/dir//b.txt",
  "/a.txt;x",
  "/?",
  "/??",
  "/a.txt?%zz",
  "/%C0%AE%C0%AE/",
  "/%ff%fe",
  "/CON",
  "/a.txt%00.html",
  "/fuzz/%0d%0aX-Injected:%20yes",
];

const QUERIES = ["", "", "", "?x=1", "?download", "?json", "?sort=size&order=desc", "?a=%zz", "?="];

const VERSIONS = [
  [88, "HTTP/1.1"],
  [8, "HTTP/1.0"],
  [4, "odd"],
] as const;

const ODD_VERSIONS = [
  "HTTP/1.2",
  "HTTP/1.9",
  "HTTP/2.0",
  "HTTP/0.9",
  "HTTP/1",
  "HTTP/1.10",
  "http/1.1",
  "HTTP/1.1 ",
  "HTTP /1.1",
  "HTTP/1.a",
  "HTTP/3",
  "HTTP/1.1\x00",
  "HTTP/-1.1",
  "",
];

/** Numbers at and past every boundary a length parser might get wrong. */
export const HUGE_NUMBERS = [
  "99999999999999999999",
  "18446744073709551616",
  "18446744073709551615",
  "9007199254740992",
  "9007199254740991",
  "4294967296",
  "4294967295",
  "2147483648",
  "-1",
  "0",
  "00000000000000000000000000001",
  "1e3",
  "0x10",
  "+1",
  "1.5",
  "1 1",
  "",
];

const TE_VALUES = [
  "Chunked",
  "CHUNKED",
  "chunked, chunked",
  "gzip, chunked",
  "chunked, gzip",
  "identity",
  "identity, chunked",
  " chunked ",
  "chunked;q=1",
  "xchunked",
  "chunked\x00",
  ", chunked",
  "chunked,",
  "\x0bchunked",
  "\xa0chunked",
  "chunked\xa0",
  "",
];

function hostValues(port: number): readonly (readonly [number, string])[] {
  return [
    [120, "localhost"],
    [60, `localhost:${port}`],
    [30, `127.0.0.1:${port}`],
    [15, "127.0.0.1"],
    [9, `[::1]:${port}`],
    [6, "LOCALHOST"],
    [6, "a.localhost"],
    [3, "127.255.0.1"],
    [1, ""],
    [1, "evil.example"],
    [1, `evil.example:${port}`],
    [1, "localhost:abc"],
    [1, "localhost:"],
    [1, "127.1"],
    [1, "localhost."],
    [1, "[::ffff:127.0.0.1]"],
    [1, "loc alhost"],
    [1, "%6cocalhost"],
    [1, "localhost\x80"],
    [1, "user@localhost"],
    [1, "[::1"],
    [1, "localhost, localhost"],
  ];
}

const DATES = [
  "Thu, 01 Jan 1970 00:00:00 GMT",
  "Sun, 06 Nov 2094 08:49:37 GMT",
  "Sunday, 06-Nov-94 08:49:37 GMT",
  "Sun Nov  6 08:49:37 1994",
  "garbage",
  "",
];

const ETAGS = ["*", '"x"', 'W/"x"', '"a", "b"', "garbage", '"', ""];

/** Header fields a request may carry besides Host and framing, as generators of `[name, value]`. */
function extraFieldPool(port: number): ((r: Random) => [string, string])[] {
  return [
    (r) => ["Accept", r.pick(["*/*", "text/html", "application/json", "text/html;q=0, */*;q=0.1"])],
    (r) => ["Accept-Encoding", r.pick(["gzip", "br", "gzip, br", "identity", "*;q=0", "gzip;q=x"])],
    (r) => [
      "Range",
      r.pick([
        "bytes=0-10",
        "bytes=-5",
        "bytes=5-",
        "bytes=0-1,3-4,6-",
        "bytes=999999999999999999999-",
        "bytes=abc",
        "bytes=1-0",
        "bytes=0-0,-1",
        "items=0-1",
        "bytes = 0-1",
        `bytes=${Array.from({ length: 300 }, (_, i) => `${i}-${i}`).join(",")}`,
      ]),
    ],
    (r) => ["If-None-Match", r.pick(ETAGS)],
    (r) => ["If-Match", r.pick(ETAGS)],
    (r) => ["If-Modified-Since", r.pick(DATES)],
    (r) => ["If-Unmodified-Since", r.pick(DATES)],
    (r) => ["If-Range", r.pick([...ETAGS, ...DATES])],
    (r) => [
      "Connection",
      r.pick([
        "keep-alive",
        "close",
        "Upgrade",
        "close, keep-alive",
        "te, close",
        "",
        "KEEP-ALIVE",
      ]),
    ],
    (r) => ["Expect", r.pick(["100-continue", "100-continue", "100-Continue", "200-ok", ""])],
    (r) => [
      "Origin",
      r.pick([
        `http://localhost:${port}`,
        "null",
        "http://evil.example",
        `https://localhost:${port}`,
      ]),
    ],
    (r) => ["Sec-Fetch-Site", r.pick(["same-origin", "cross-site", "same-site", "none"])],
    (r) => [
      "Authorization",
      r.pick([
        "Basic dXNlcjpwYXNz",
        "Basic ",
        "Basic !!!",
        "Bearer x",
        `Basic ${"A".repeat(3000)}`,
      ]),
    ],
    (r) => [
      "Destination",
      r.pick([
        `/fuzz/${r.int(8)}.txt`,
        `http://localhost:${port}/fuzz/${r.int(8)}.txt`,
        "http://evil.example/x",
        "",
        "/../../x",
        "/fuzz/",
        "%zz",
        "/a.txt",
        "/fuzz/sub/",
      ]),
    ],
    (r) => ["Overwrite", r.pick(["T", "F", "x", ""])],
    (r) => [
      "Content-Type",
      r.pick([
        "text/plain",
        "application/octet-stream",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'text/plain; charset="utf-8"',
      ]),
    ],
    (r) => ["Content-MD5", r.pick(["1B2M2Y8AsgTpgAmY7PhCfg==", "bad"])],
    (r) => [
      r.pick(["Repr-Digest", "Content-Digest"]),
      r.pick(["sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", "sha-256=:bad:", "md5=x"]),
    ],
    (r) => ["Want-Repr-Digest", r.pick(["sha-256=1", "sha-512=3, sha-256=10", "garbage"])],
    (r) => ["User-Agent", r.pick(["fuzz/1.0", "curl/8.0", "Mozilla/5.0"])],
    (r) => ["Referer", r.pick([`http://localhost:${port}/`, "http://evil.example/"])],
    () => ["Cookie", "a=b; c=d"],
    () => ["X-Obs-Text", "\x80\xff\xfe"],
    (r) => ["Upgrade", r.pick(["h2c", "websocket"])],
    () => ["TE", "trailers"],
    () => ["Trailer", "X-Trailer"],
    () => ["Keep-Alive", "timeout=5"],
    (r) => ["Content-Encoding", r.pick(["gzip", "identity"])],
    (r) => ["X-Long", "v".repeat(r.pick([1000, 9000, 70000]))],
  ];
}

/** `name` with its letters' case scrambled (field names are case-insensitive). */
export function recase(r: Random, name: string): string {
  return r.pick([
    name.toLowerCase(),
    name.toUpperCase(),
    [...name].map((c) => (r.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join(""),
  ]);
}

/** One field line, CRLF included; rarely in a malformed shape. */
function fieldLine(r: Random, name: string, value: string): string {
  const n = r.chance(0.85) ? name : recase(r, name);
  return r.weighted([
    [95, `${n}: ${value}${CRLF}`],
    [3, `${n}:${value}${CRLF}`],
    [1, `${n}:\t ${value} \t${CRLF}`],
    [0.25, `${n} : ${value}${CRLF}`],
    [0.25, ` ${n}: ${value}${CRLF}`],
    [0.25, `${n}: ${value}${CRLF}\tfolded${CRLF}`],
    [0.25, `${n}\t: ${value}${CRLF}`],
  ]);
}

function genMethod(r: Random): string {
  return r.chance(0.94) ? r.weighted(COMMON_METHODS) : r.pick(ODD_METHODS);
}

function genTarget(r: Random, port: number): string {
  const form = r.weighted(
    [
      [82, "origin"],
      [6, "absolute"],
      [3, "authority"],
      [3, "asterisk"],
      [6, "weird"],
    ] as const,
  );
  switch (form) {
    case "origin": {
      const path = r.chance(0.3)
        ? `/fuzz/${r.pick(["", "sub/"])}${r.int(8)}.${r.pick(["txt", "bin"])}`
        : r.pick(ORIGIN_PATHS);
      return path + r.pick(QUERIES);
    }
    case "absolute":
      return r.pick([
        `http://localhost:${port}/a.txt`,
        "http://localhost/",
        `HTTP://LOCALHOST:${port}/dir/`,
        "https://localhost",
        "http://localhost?x",
        "http://evil.example/",
        "http://user@localhost/",
        `http://[::1]:${port}/a.txt`,
        "http:/localhost",
        "ftp://localhost/",
        "http://",
      ]);
    case "authority":
      return r.pick(["localhost:80", `127.0.0.1:${port}`, "[::1]:443", "localhost", "evil:1"]);
    case "asterisk":
      return "*";
    case "weird":
      return r.chance(0.1) ? `/${"a".repeat(r.pick([300, 8200, 9000]))}` : r.pick(WEIRD_TARGETS);
  }
}

/** Body bytes: mostly small, sometimes around the 64 KiB drain limit; text or binary. */
function genData(r: Random): string {
  const length = r.weighted([
    [4, 0],
    [40, r.between(1, 16)],
    [40, r.between(17, 512)],
    [12, r.between(513, 8192)],
    [2, r.between(60_000, 70_000)],
  ]);
  return r.chance(0.5) ? "x".repeat(length) : randomBinary(r, length);
}

/** `length` uniformly random bytes, as a byte string. */
export function randomBinary(r: Random, length: number): string {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    // Writes past the end of a typed array are ignored, so the last word may overhang.
    const word = r.uint32();
    bytes[i] = word;
    bytes[i + 1] = word >>> 8;
    bytes[i + 2] = word >>> 16;
    bytes[i + 3] = word >>> 24;
  }
  return toBinary(bytes);
}

function chunkSizeLine(r: Random, size: number, broken: boolean): string {
  let hex = size.toString(16);
  if (r.chance(0.2)) hex = hex.toUpperCase();
  if (r.chance(0.1)) hex = "0".repeat(r.between(1, 12)) + hex;
  if (r.chance(0.15)) {
    hex += r.pick([";a", ";a=b", ';name="quoted value"', " ;a=b", "\t;x", `;${"e".repeat(5000)}`]);
  }
  if (broken && r.chance(0.3)) {
    return r.pick([
      `${hex} `,
      `0x${hex}`,
      `-${hex}`,
      ` ${hex}`,
      "ffffffffffffffffff",
      `${hex};\x00`,
      (size + 1).toString(16),
      Math.max(0, size - 1).toString(16),
      "",
      "g",
    ]);
  }
  return hex;
}

/** `data` in the chunked coding, with extensions and trailers; `broken` adds framing errors. */
export function genChunkedBody(r: Random, data: string, broken: boolean): string {
  let out = "";
  let at = 0;
  while (at < data.length) {
    const size = Math.min(data.length - at, r.chance(0.5) ? r.between(1, 16) : r.between(1, 4096));
    const end = broken && r.chance(0.2) ? r.pick(["\n", "", "XX", "\r", "\r\n\r\n"]) : CRLF;
    out += chunkSizeLine(r, size, broken) + CRLF + data.slice(at, at + size) + end;
    at += size;
  }
  out += r.weighted([[80, "0"], [8, "000"], [6, "0;done"], [6, "0 ;x=y"]]) + CRLF;
  const trailers = r.weighted([[80, 0], [15, 1], [5, 3]]);
  for (let i = 0; i < trailers; i++) out += `X-Trailer-${i}: v${CRLF}`;
  if (broken && r.chance(0.3)) out += r.pick(["bad trailer\r\n", "X:\x00\r\n", " folded\r\n"]);
  if (!(broken && r.chance(0.2))) out += CRLF;
  return out;
}

function genMultipart(r: Random, data: string): { contentType: string; body: string } {
  const boundary = `----fuzz${r.int(1_000_000)}`;
  const name = r.pick(["f.txt", "../up.txt", "a\x00b.txt", "", "sub/x.txt", "%2e%2e.txt"]);
  const parts = [
    `--${boundary}${CRLF}Content-Disposition: form-data; name="file"; filename="${name}"${CRLF}` +
    `Content-Type: text/plain${CRLF}${CRLF}${data}${CRLF}`,
  ];
  if (r.chance(0.3)) {
    parts.push(
      `--${boundary}${CRLF}Content-Disposition: form-data; name="note"${CRLF}${CRLF}hi${CRLF}`,
    );
  }
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: parts.join("") + `--${boundary}--${CRLF}`,
  };
}

/** Framing fields and the body that follows the head. */
function genFraming(r: Random, method: string): { fields: [string, string][]; body: string } {
  const wantsBody = method === "PUT" || method === "POST" ? r.chance(0.85) : r.chance(0.12);
  if (!wantsBody) return { fields: r.chance(0.1) ? [["Content-Length", "0"]] : [], body: "" };
  const fields: [string, string][] = [];
  let data = genData(r);
  if (method === "POST" && r.chance(0.6)) {
    const form = genMultipart(r, data);
    fields.push(["Content-Type", form.contentType]);
    data = form.body;
  }
  const kind = r.weighted(
    [
      [45, "length"],
      [25, "chunked"],
      [4, "length-short"],
      [4, "length-long"],
      [5, "length-odd"],
      [4, "length-twice"],
      [5, "te-odd"],
      [4, "te-and-length"],
      [4, "chunked-broken"],
    ] as const,
  );
  switch (kind) {
    case "length":
      fields.push(["Content-Length", String(data.length)]);
      return { fields, body: data };
    case "chunked":
      fields.push(["Transfer-Encoding", "chunked"]);
      return { fields, body: genChunkedBody(r, data, false) };
    case "length-short":
      fields.push(["Content-Length", String(Math.max(0, data.length - r.between(1, 5)))]);
      return { fields, body: data };
    case "length-long":
      fields.push(["Content-Length", String(data.length + r.between(1, 100_000))]);
      return { fields, body: data };
    case "length-odd":
      fields.push(["Content-Length", r.pick(HUGE_NUMBERS)]);
      return { fields, body: data };
    case "length-twice": {
      const other = r.chance(0.5) ? String(data.length) : String(data.length + 1);
      fields.push(["Content-Length", String(data.length)], ["Content-Length", other]);
      return { fields, body: data };
    }
    case "te-odd":
      fields.push(["Transfer-Encoding", r.pick(TE_VALUES)]);
      return { fields, body: r.chance(0.5) ? genChunkedBody(r, data, false) : data };
    case "te-and-length": {
      const chunked = genChunkedBody(r, data, false);
      fields.push(["Transfer-Encoding", "chunked"], ["Content-Length", String(data.length)]);
      return { fields, body: chunked };
    }
    case "chunked-broken":
      fields.push(["Transfer-Encoding", "chunked"]);
      return { fields, body: genChunkedBody(r, data, true) };
  }
}

/** One request from the grammar: mostly valid, with occasional errors at every level. */
export function genRequest(r: Random, port: number): string {
  const method = genMethod(r);
  const target = genTarget(r, port);
  const versionKind = r.weighted(VERSIONS);
  const version = versionKind === "odd" ? r.pick(ODD_VERSIONS) : versionKind;
  const separator = () => (r.chance(0.995) ? " " : r.pick(["  ", "\t", "\x0b", ""]));
  let head = version === ""
    ? `${method}${separator()}${target}${CRLF}`
    : `${method}${separator()}${target}${separator()}${version}${CRLF}`;

  const fields: [string, string][] = [];
  const hosts = r.weighted([[96, 1], [2, 0], [2, 2]]);
  for (let i = 0; i < hosts; i++) fields.push(["Host", r.weighted(hostValues(port))]);
  const pool = extraFieldPool(port);
  const extras = r.weighted([[30, 0], [40, r.between(1, 3)], [25, r.between(4, 8)], [5, 0]]);
  for (let i = 0; i < extras; i++) {
    const field = r.pick(pool)(r);
    // A long value is rare on purpose: it mostly tests the 431 path.
    if (field[0] !== "X-Long" || r.chance(0.2)) fields.push(field);
  }
  if (r.chance(0.01)) {
    const count = r.between(95, 105);
    for (let i = 0; i < count; i++) fields.push([`X-${i}`, String(i)]);
  }
  const framing = genFraming(r, method);
  fields.push(...framing.fields);
  // Host first is usual but not required; shuffle the rest now and then.
  if (r.chance(0.2)) {
    for (let i = fields.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [fields[i], fields[j]] = [fields[j], fields[i]];
    }
  }
  for (const [name, value] of fields) head += fieldLine(r, name, value);
  return head + CRLF + framing.body;
}

/** Classic request-smuggling shapes (CL.TE, TE.CL, TE.TE and obfuscated codings). */
export function genSmuggle(r: Random): string {
  const inner = `GET /smuggled HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`;
  const start = `POST /fuzz/ HTTP/1.1${CRLF}Host: localhost${CRLF}`;
  return r.pick([
    `${start}Content-Length: ${
      5 + inner.length
    }${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding: chunked${CRLF}Content-Length: 4${CRLF}${CRLF}5c${CRLF}${inner}${CRLF}0${CRLF}${CRLF}`,
    `${start}Transfer-Encoding: chunked${CRLF}Transfer-Encoding: x${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding : chunked${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding:\tchunked${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding\n: chunked${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding: chunked${CRLF} x${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
    `${start}Content-Length: 0${CRLF}Content-Length: ${inner.length}${CRLF}${CRLF}${inner}`,
    `${start}Content-Length:${inner.length}\r${CRLF}${CRLF}${inner}`,
    `${start}Transfer-Encoding: chunked${CRLF}${CRLF}${
      (inner.length + 1).toString(16)
    }${CRLF}${inner}${CRLF}0${CRLF}${CRLF}`,
    `${start}Transfer-Encoding: chunked${CRLF}${CRLF}0\n${CRLF}${inner}`,
    `${start}Transfer-Encoding: chunked${CRLF}${CRLF}1;\n${CRLF}x${CRLF}0${CRLF}${CRLF}${inner}`,
    `GET / HTTP/1.1${CRLF}Host: localhost${CRLF}Content-Length: ${inner.length}${CRLF}${CRLF}${inner}`,
    `GET / HTTP/1.0${CRLF}Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}${inner}`,
  ]);
}

const TOKENS = [
  "GET",
  "PUT",
  "HEAD",
  " ",
  "/",
  "/a.txt",
  "HTTP/1.1",
  "HTTP/1.0",
  "\r\n",
  "\r\n",
  "\r\n\r\n",
  "\n",
  "\r",
  "Host: localhost",
  "Host",
  ":",
  ": ",
  "Content-Length",
  "Transfer-Encoding",
  "chunked",
  "0",
  "5",
  "ffffffff",
  ";",
  "hello",
  "\x00",
  "\t",
  "Expect: 100-continue",
  "Connection: close",
];

/** A string of protocol fragments in random order: nearly valid, often confusing. */
export function genTokens(r: Random): string {
  let out = "";
  const count = r.between(1, 40);
  for (let i = 0; i < count; i++) out += r.pick(TOKENS);
  return out;
}

/** 1 to 300 uniformly random bytes. */
export function genRandomBytes(r: Random): string {
  return randomBinary(r, r.between(1, 300));
}

/** One or more requests back to back, as a client pipelining them would send. */
export function genPipeline(r: Random, port: number): string {
  const count = r.weighted([[65, 1], [20, 2], [10, 3], [5, 6]]);
  let out = r.chance(0.05) ? r.pick([CRLF, CRLF + CRLF, "\n", "\r"]) : "";
  for (let i = 0; i < count; i++) out += genRequest(r, port);
  return out;
}
