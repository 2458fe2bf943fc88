/**
 * HTTP/1.1 fuzzing for filedrop: a seeded request generator (a grammar plus a
 * byte-level mutator), a model of how the server must frame the byte stream
 * (built on the server's own sans-IO parser), a checker for the responses,
 * and `deno task fuzz`, which runs all that against a spawned server for a
 * time budget:
 *
 * ```sh
 * deno task fuzz -- --seconds 60 --seed 42             # a time-boxed run
 * deno task fuzz -- --seed 42 --case 1234              # replay one input, verbosely
 * deno task fuzz -- --seed 42 --case 1200-1234         # replay several in order
 * deno task fuzz -- --seed 42 --case 1234 --root DIR   # over a saved ROOT
 * ```
 *
 * Every input is regenerated from `(seed, index)` alone (the server's port
 * number aside), so a failure is reproduced by its seed and case number; its
 * bytes are also saved under `--out` (default `fuzz-failures/`). A hung or
 * crashed server, or an `onError` call, is pinned to the case that caused it
 * by replaying the batch one case at a time over a copy of ROOT, which is
 * saved too (`--root`).
 * `tests/fuzz_test.ts` and `tests/parser_invariants_test.ts` reuse the
 * generator, the model and the checker.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ChunkedDecoder, END, NEED_MORE } from "../lib/http/body_decoders.ts";
import { HttpError } from "../lib/http/errors.ts";
import { interpretHead } from "../lib/http/framing.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";
import { DEFAULT_LIMITS } from "../lib/options.ts";
import type { Limits } from "../lib/options.ts";

// ---------------------------------------------------------------------------
// Seeded randomness

/**
 * A seedable PRNG (sfc32, seeded through splitmix32): fast, and the same
 * sequence on every platform, so an input is fully determined by its seed.
 */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix = () => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A uniform integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** One of the values, with probability proportional to its weight. */
  weighted<T>(choices: readonly (readonly [weight: number, value: T])[]): T {
    let total = 0;
    for (const [weight] of choices) total += weight;
    let roll = this.float() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1][1];
  }
}

/** The seed of input number `index` of a run seeded with `seed`: each input stands alone. */
function caseSeed(seed: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae3d);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------
// Byte strings: inputs are built as strings of char codes 0-255, one per byte.

/** The bytes of a byte string (char codes 0-255). */
export function toBytes(binary: string): Uint8Array {
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i) & 0xff;
  return out;
}

/** The byte string of some bytes: latin1 exactly (TextDecoder's "latin1" is windows-1252). */
export function toBinary(bytes: Uint8Array): string {
  let text = "";
  for (let from = 0; from < bytes.length; from += 8192) {
    const slice = bytes.subarray(from, Math.min(bytes.length, from + 8192));
    text += String.fromCharCode.apply(null, slice as unknown as number[]);
  }
  return text;
}

/** A byte string made printable for reports: controls and non-ASCII as `\xNN`, CRLF kept visible. */
export function escapeBinary(binary: string, maxLength = 2000): string {
  let out = "";
  for (let i = 0; i < binary.length && out.length < maxLength; i++) {
    const code = binary.charCodeAt(i);
    if (code === 0x0d) out += "\\r";
    else if (code === 0x0a) out += "\\n\n";
    else if (code === 0x5c) out += "\\\\";
    else if (code < 0x20 || code >= 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(code);
  }
  return out.length >= maxLength ? `${out}… (${binary.length} bytes in all)` : out;
}

// ---------------------------------------------------------------------------
// The request grammar

const CRLF = "\r\n";

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
const HUGE_NUMBERS = [
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
function recase(r: Random, name: string): string {
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
function genRequest(r: Random, port: number): string {
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
function genSmuggle(r: Random): string {
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
function genTokens(r: Random): string {
  let out = "";
  const count = r.between(1, 40);
  for (let i = 0; i < count; i++) out += r.pick(TOKENS);
  return out;
}

function genRandomBytes(r: Random): string {
  return randomBinary(r, r.between(1, 300));
}

/** One or more requests back to back, as a client pipelining them would send. */
function genPipeline(r: Random, port: number): string {
  const count = r.weighted([[65, 1], [20, 2], [10, 3], [5, 6]]);
  let out = r.chance(0.05) ? r.pick([CRLF, CRLF + CRLF, "\n", "\r"]) : "";
  for (let i = 0; i < count; i++) out += genRequest(r, port);
  return out;
}

// ---------------------------------------------------------------------------
// The mutator

const INTERESTING_BYTES = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x7f, 0x0b, 0x0c, 0x3a, 0x3b, 0x2c, 0x22];

function interestingByte(r: Random): string {
  return String.fromCharCode(r.chance(0.7) ? r.pick(INTERESTING_BYTES) : r.between(0x80, 0xff));
}

/** Start offsets of the CRLF-terminated lines of `input`, plus its length. */
function lineStarts(input: string): number[] {
  const starts = [0];
  for (let at = input.indexOf("\n"); at !== -1; at = input.indexOf("\n", at + 1)) {
    starts.push(at + 1);
  }
  if (starts[starts.length - 1] !== input.length) starts.push(input.length);
  return starts;
}

function pickLine(r: Random, input: string): [start: number, end: number] {
  const starts = lineStarts(input);
  if (starts.length < 2) return [0, input.length];
  const i = r.int(starts.length - 1);
  return [starts[i], starts[i + 1]];
}

type Mutation = (r: Random, input: string, port: number) => string;

const MUTATIONS: readonly (readonly [weight: number, name: string, mutate: Mutation])[] = [
  [10, "flip", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 << r.int(8))) +
      s.slice(at + 1);
  }],
  [10, "set", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + interestingByte(r) + s.slice(at + 1);
  }],
  [12, "insert", (r, s) => {
    const at = r.int(s.length + 1);
    let bytes = "";
    for (let n = r.between(1, 3); n > 0; n--) bytes += interestingByte(r);
    return s.slice(0, at) + bytes + s.slice(at);
  }],
  [6, "delete", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + s.slice(at + r.between(1, 8));
  }],
  [8, "dup-line", (r, s) => {
    const [start, end] = pickLine(r, s);
    return s.slice(0, end) + s.slice(start, end) + s.slice(end);
  }],
  [6, "drop-line", (r, s) => {
    const [start, end] = pickLine(r, s);
    return s.slice(0, start) + s.slice(end);
  }],
  [4, "swap-lines", (r, s) => {
    const [a0, a1] = pickLine(r, s);
    const [b0, b1] = pickLine(r, s);
    if (a1 > b0) return s;
    return s.slice(0, a0) + s.slice(b0, b1) + s.slice(a1, b0) + s.slice(a0, a1) + s.slice(b1);
  }],
  [10, "line-ending", (r, s) => {
    const ends: number[] = [];
    for (let at = s.indexOf("\r\n"); at !== -1; at = s.indexOf("\r\n", at + 2)) ends.push(at);
    if (ends.length === 0) return s;
    const at = r.pick(ends);
    return s.slice(0, at) + r.pick(["\n", "\r", "\r\r\n", "\n\r", "", "\r\n\r\n", " \r\n"]) +
      s.slice(at + 2);
  }],
  [8, "truncate", (r, s) => s.slice(0, r.int(s.length))],
  [10, "number", (r, s) => {
    const runs = [...s.matchAll(/[0-9a-fA-F]+/g)];
    if (runs.length === 0) return s;
    const run = r.pick(runs);
    const at = run.index ?? 0;
    return s.slice(0, at) + r.pick(HUGE_NUMBERS) + s.slice(at + run[0].length);
  }],
  [3, "repeat", (r, s) => {
    const at = r.int(s.length);
    const piece = s.slice(at, at + r.between(1, 64));
    const times = r.pick([2, 10, 100, 1000]);
    return s.slice(0, at) + piece.repeat(Math.min(times, Math.floor(80_000 / piece.length))) +
      s.slice(at);
  }],
  [2, "long-run", (r, s) => {
    const at = r.int(s.length + 1);
    return s.slice(0, at) +
      r.pick(["a", " ", "\r\n", "0", ";"]).repeat(r.pick([100, 8200, 70_000])) +
      s.slice(at);
  }],
  [3, "case", (r, s) => {
    const at = r.int(s.length);
    const end = at + r.between(1, 20);
    return s.slice(0, at) + recase(r, s.slice(at, end)) + s.slice(end);
  }],
  [5, "splice-request", (r, s, port) => {
    const at = r.int(s.length + 1);
    return s.slice(0, at) + genRequest(r, port) + s.slice(at);
  }],
];

/** Applies one to four mutations to `input`; returns the result and their names. */
export function mutate(r: Random, input: string, port: number): { input: string; names: string[] } {
  const names: string[] = [];
  let out = input;
  for (let n = r.weighted([[50, 1], [30, 2], [15, 3], [5, 4]]); n > 0; n--) {
    const [, name, apply] = r.weighted(MUTATIONS.map((m) => [m[0], m] as const));
    if (out.length === 0) out = genRequest(r, port);
    out = apply(r, out, port);
    names.push(name);
  }
  return { input: out, names };
}

// ---------------------------------------------------------------------------
// Inputs and cases

/** One generated input: its bytes and how it was made. */
export interface FuzzInput {
  /** The bytes to send. */
  bytes: Uint8Array;
  /** "grammar", "mutated: flip+truncate", "smuggle", "tokens" or "random". */
  kind: string;
}

/** One input from any of the generators, drawn from `r`; `port` goes into Host and URLs. */
export function generateInput(r: Random, port: number): FuzzInput {
  const kind = r.weighted(
    [
      [40, "grammar"],
      [45, "mutated"],
      [5, "smuggle"],
      [5, "tokens"],
      [5, "random"],
    ] as const,
  );
  switch (kind) {
    case "grammar":
      return { bytes: toBytes(genPipeline(r, port)), kind };
    case "mutated": {
      const base = r.chance(0.1) ? genSmuggle(r) : genPipeline(r, port);
      const mutated = mutate(r, base, port);
      return { bytes: toBytes(mutated.input), kind: `mutated: ${mutated.names.join("+")}` };
    }
    case "smuggle":
      return { bytes: toBytes(genSmuggle(r)), kind };
    case "tokens":
      return { bytes: toBytes(genTokens(r)), kind };
    case "random":
      return { bytes: toBytes(genRandomBytes(r)), kind };
  }
}

/** Cut points of `length` bytes into pieces: none, a few at random, or many tiny ones. */
export function splitPoints(r: Random, length: number): number[] {
  if (length < 2) return [];
  const style = r.weighted([[50, "whole"], [38, "few"], [7, "many"], [5, "bytes"]] as const);
  if (style === "whole") return [];
  const count = style === "few"
    ? r.between(1, 4)
    : style === "many"
    ? r.between(5, 30)
    : Math.min(length - 1, 300);
  const cuts = new Set<number>();
  if (style === "bytes") { for (let i = 1; i <= count; i++) cuts.add(i); }
  else for (let i = 0; i < count; i++) cuts.add(r.between(1, length - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** Splits `bytes` at ascending `cuts`. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** One input and how it goes over the wire. */
export interface FuzzCase extends FuzzInput {
  /** The case number within its run. */
  index: number;
  /** The writes, in order; together they are `bytes`. */
  pieces: Uint8Array[];
  /** Pause between writes (ms), so the server reads them separately. */
  pauseMs: number;
  /**
   * Half-close after the last write, so that the server sees the end at once;
   * otherwise the server's timeouts must end the connection.
   */
  closeWrite: boolean;
}

/** Case number `index` of the run seeded with `seed`. */
export function generateCase(seed: number, index: number, port: number): FuzzCase {
  const r = new Random(caseSeed(seed, index));
  const input = generateInput(r, port);
  const pieces = splitAt(input.bytes, splitPoints(r, input.bytes.length));
  return {
    ...input,
    index,
    pieces,
    pauseMs: pieces.length > 1 && pieces.length < 10 && r.chance(0.05) ? r.between(1, 3) : 0,
    closeWrite: r.chance(0.9),
  };
}

// ---------------------------------------------------------------------------
// The model: what the server must make of the byte stream

/** How a request's body ends in the byte stream. */
export type BodyState = "complete" | "incomplete" | "invalid";

/** One request head the server will parse, in order. */
export interface ModelRequest {
  /** The method, to know that a HEAD response has no body. */
  method: string;
  /** 0 for HTTP/1.0. */
  minorVersion: 0 | 1;
  /** Whether the head's framing is refused (interpretHead or the body-size check). */
  rejected: boolean;
  /** Whether the client asked for 100 Continue. */
  expectContinue: boolean;
  /** Whether the client allows the connection to stay open. */
  keepAlive: boolean;
  /** Whether its body is all there (always "complete" for a rejected head). */
  body: BodyState;
}

/** The requests in a byte stream, and what follows the last one. */
export interface StreamModel {
  /** Requests whose heads are complete and valid, in order; the last may be rejected. */
  requests: ModelRequest[];
  /**
   * After the last request: nothing (or nothing the server reads on),
   * an incomplete head, or bytes the head parser refuses.
   */
  tail: "none" | "partial" | "invalid";
}

/**
 * Runs the server's own parser over the whole input, as the connection would
 * (head, framing, body, next head), to learn which requests the server must
 * see. Whether a head parses does not depend on how the bytes are split
 * (`tests/parser_invariants_test.ts` checks that), so this holds for any
 * split on the wire.
 */
export function modelStream(input: Uint8Array, limits: Limits): StreamModel {
  const rb = new ReceiveBuffer(Math.max(1, input.length), Math.max(1, input.length));
  rb.writable(input.length).set(input);
  rb.commit(input.length);
  const parser = new HeadParser(limits);
  const requests: ModelRequest[] = [];
  for (;;) {
    let head;
    try {
      head = parser.parse(rb);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      return { requests, tail: "invalid" };
    }
    if (head === null) return { requests, tail: rb.length > 0 ? "partial" : "none" };
    const request: ModelRequest = {
      method: head.method,
      minorVersion: head.minorVersion,
      rejected: false,
      expectContinue: false,
      keepAlive: false,
      body: "complete",
    };
    requests.push(request);
    let framing;
    try {
      framing = interpretHead(head);
      const declared = framing.body.kind === "length" ? framing.body.length : 0;
      if (declared > limits.maxBodyBytes) throw new HttpError(413, "Request body too large");
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      request.rejected = true;
      return { requests, tail: "none" };
    }
    request.expectContinue = framing.expectContinue;
    request.keepAlive = framing.keepAlive;
    if (framing.body.kind === "length") {
      if (rb.length < framing.body.length) request.body = "incomplete";
      else rb.consume(framing.body.length);
    } else if (framing.body.kind === "chunked") {
      request.body = skipChunked(rb, limits);
    }
    if (request.body !== "complete" || !request.keepAlive) return { requests, tail: "none" };
  }
}

function skipChunked(rb: ReceiveBuffer, limits: Limits): BodyState {
  const decoder = new ChunkedDecoder({
    maxLineBytes: limits.maxChunkLineBytes,
    maxTrailerBytes: limits.maxTrailerBytes,
    maxTrailerCount: limits.maxTrailerCount,
  });
  let size = 0;
  try {
    for (;;) {
      const step = decoder.next(rb);
      if (step === END) return "complete";
      if (step === NEED_MORE) return "incomplete";
      size += step.length;
      if (size > limits.maxBodyBytes) return "invalid";
    }
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return "invalid";
  }
}

// ---------------------------------------------------------------------------
// The checker: are the responses well formed and consistent with the model?

/** One response read back. Interim (1xx) responses are included. */
export interface ParsedResponse {
  /** The status code. */
  status: number;
  /** Whether it carries `Connection: close`. */
  close: boolean;
}

/** What the checker found in one exchange. */
export interface Verdict {
  /** Every response, interim ones included. */
  responses: ParsedResponse[];
  /** Everything wrong, one line each; empty when the exchange is fine. */
  problems: string[];
}

const STATUS_LINE = /^HTTP\/1\.1 ([1-5][0-9][0-9]) [\t\x20-\x7e\x80-\xff]*$/;
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+): ?([\t\x20-\x7e\x80-\xff]*)$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]+)(;[\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Reads one chunked body starting at `at`; returns the offset after it, or
 * a problem description.
 */
function skipChunkedResponse(text: string, at: number): number | string {
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return "chunked body cut short in a size line";
    const match = CHUNK_SIZE_LINE.exec(text.slice(at, lineEnd));
    if (match === null) {
      return `bad chunk-size line ${JSON.stringify(text.slice(at, Math.min(lineEnd, at + 40)))}`;
    }
    const size = parseInt(match[1], 16);
    at = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, then the empty line.
      for (;;) {
        const end = text.indexOf("\r\n", at);
        if (end === -1) return "chunked body cut short in the trailers";
        if (end === at) return at + 2;
        if (!FIELD_LINE.test(text.slice(at, end))) return "bad trailer field in a response";
        at = end + 2;
      }
    }
    if (text.length < at + size + 2) return "chunked body cut short in chunk data";
    if (text.slice(at + size, at + size + 2) !== "\r\n") return "chunk data not followed by CRLF";
    at += size + 2;
  }
}

/**
 * Checks the bytes a server sent back for an input: a sequence of
 * well-formed HTTP/1.1 responses, framed so that each ends where the next
 * begins, no more final responses than the model has requests (plus one
 * error for an invalid or unfinished tail), a framing rejection answered
 * with an error and `Connection: close` and followed by nothing, every
 * request the server must have read answered, and the connection closed by
 * the server (`closed`) before the client gave up.
 */
export function checkExchange(
  model: StreamModel,
  output: Uint8Array,
  closed: boolean,
  closeWrite: boolean,
): Verdict {
  const text = toBinary(output);
  const problems: string[] = [];
  const responses: ParsedResponse[] = [];
  let finals = 0;
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd === -1) {
      problems.push(`response head cut short or unterminated at byte ${at}`);
      break;
    }
    const lines = text.slice(at, headEnd).split("\r\n");
    const statusMatch = STATUS_LINE.exec(lines[0]);
    if (statusMatch === null) {
      problems.push(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`);
      break;
    }
    const status = Number(statusMatch[1]);
    const fields = new Map<string, string[]>();
    let badField = false;
    for (const line of lines.slice(1)) {
      const match = FIELD_LINE.exec(line);
      if (match === null) {
        problems.push(`bad header line ${JSON.stringify(line.slice(0, 80))} in a ${status}`);
        badField = true;
        break;
      }
      const name = match[1].toLowerCase();
      fields.set(name, [...(fields.get(name) ?? []), match[2].trim()]);
    }
    if (badField) break;
    const interim = status < 200;
    const request = interim ? undefined : model.requests[finals];
    const lengths = fields.get("content-length");
    const codings = fields.get("transfer-encoding");
    const close = (fields.get("connection") ?? []).some((v) => /(^|,)\s*close\s*(,|$)/i.test(v));
    const chunked = codings !== undefined;
    responses.push({ status, close });
    if (interim) {
      if (status === 101) problems.push("101 Switching Protocols sent, but nothing upgrades");
      if (status === 100 && !(model.requests[finals]?.expectContinue ?? false)) {
        problems.push("100 Continue to a request that did not ask for it");
      }
      if (lengths !== undefined || chunked) problems.push(`a ${status} with body framing`);
      at = headEnd + 4;
      continue;
    }
    finals++;
    if (lengths !== undefined && chunked) problems.push(`a ${status} with both framings`);
    if (lengths !== undefined && (lengths.length !== 1 || !/^[0-9]+$/.test(lengths[0]))) {
      problems.push(`a ${status} with Content-Length ${JSON.stringify(lengths)}`);
      break;
    }
    if (chunked && (codings.length !== 1 || codings[0].toLowerCase() !== "chunked")) {
      problems.push(`a ${status} with Transfer-Encoding ${JSON.stringify(codings)}`);
      break;
    }
    if (chunked && request?.minorVersion === 0) problems.push("a chunked response to HTTP/1.0");
    if (status === 204 && (lengths !== undefined || chunked)) problems.push("a 204 with framing");
    at = headEnd + 4;
    if (request?.method === "HEAD" || status === 204 || status === 304) continue;
    if (chunked) {
      const end = skipChunkedResponse(text, at);
      if (typeof end === "string") {
        problems.push(`${end} (a ${status})`);
        break;
      }
      at = end;
    } else if (lengths !== undefined) {
      const length = Number(lengths[0]);
      if (text.length < at + length) {
        problems.push(`a ${status} body cut short: ${text.length - at} of ${length} bytes`);
        break;
      }
      at += length;
    } else {
      // Delimited by the close: only acceptable when announced.
      if (!close) problems.push(`a ${status} with neither framing nor Connection: close`);
      at = text.length;
    }
  }
  problems.push(...checkSequence(model, responses, closeWrite));
  if (!closed) problems.push("the server neither answered in full nor closed the connection");
  return { responses, problems };
}

/** The order-level rules of {@linkcode checkExchange}. */
function checkSequence(
  model: StreamModel,
  responses: ParsedResponse[],
  closeWrite: boolean,
): string[] {
  const problems: string[] = [];
  const finals = responses.filter((response) => response.status >= 200);
  const { requests, tail } = model;
  const allowed = requests.length + (tail === "none" ? 0 : 1);
  if (finals.length > allowed) {
    problems.push(`${finals.length} responses to ${requests.length} request(s) (tail ${tail})`);
  }
  finals.forEach((response, k) => {
    const last = k === finals.length - 1;
    if (response.close && !last) {
      problems.push(`response ${k} has Connection: close but more follow`);
    }
    const request = requests[k];
    if (request === undefined) {
      if (response.status < 400 || !response.close) {
        problems.push(`a ${response.status} to an unfinished or invalid head, without close`);
      }
      return;
    }
    const mustClose = request.rejected || request.body === "invalid" || !request.keepAlive;
    if (mustClose && !response.close) {
      problems.push(`response ${k} (${response.status}) lacks Connection: close`);
    }
    if (request.rejected && response.status < 400) {
      problems.push(`a rejected head got ${response.status}`);
    }
  });
  // Every request the server must have read is answered: it reached request k
  // when every response before it left the connection open.
  let reached = 0;
  while (reached < finals.length && !finals[reached].close) reached++;
  if (reached === finals.length) {
    const next = requests[reached];
    if (next !== undefined && next.body !== "incomplete") {
      problems.push(`request ${reached} (${next.method}) got no response`);
    } else if (next === undefined && tail === "invalid") {
      problems.push("an invalid head got no error response");
    } else if (next === undefined && tail === "partial" && !closeWrite) {
      problems.push("an unfinished head got no 408");
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Running cases against a server

/** The limits the fuzzed server runs with: short timeouts, so stalled inputs end fast. */
export const FUZZ_LIMITS: Limits = {
  ...DEFAULT_LIMITS,
  headerTimeoutMs: 500,
  idleTimeoutMs: 500,
  bodyTimeoutMs: 500,
  maxBodyBytes: 1024 * 1024,
};

/** What came back for one case. */
export interface CaseOutcome {
  /** The case. */
  fuzzCase: FuzzCase;
  /** The bytes the server sent. */
  output: Uint8Array;
  /** What the checker found. */
  verdict: Verdict;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends one case on a fresh connection, reading concurrently (a server may
 * answer before the input is all written), until the server closes or
 * `timeoutMs` passes; then checks what came back. A failure to connect is
 * reported as a problem, not thrown.
 */
async function runCase(
  fuzzCase: FuzzCase,
  port: number,
  limits: Limits,
  timeoutMs: number,
): Promise<CaseOutcome> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    const problems = [`cannot connect: ${error}`];
    return { fuzzCase, output: new Uint8Array(), verdict: { responses: [], problems } };
  }
  const chunks: Uint8Array[] = [];
  let closed = false;
  let gaveUp = false;
  const closeConn = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  // Giving up closes the socket, which ends a blocked read or write as well.
  const timer = setTimeout(() => {
    gaveUp = true;
    closeConn();
  }, timeoutMs);
  const writer = (async () => {
    try {
      for (const [i, piece] of fuzzCase.pieces.entries()) {
        if (i > 0 && fuzzCase.pauseMs > 0) await sleep(fuzzCase.pauseMs);
        await writeAll(conn, piece);
      }
      if (fuzzCase.closeWrite) await conn.closeWrite();
    } catch {
      // The server closed early (after an error response): what it sent is still read.
    }
  })();
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      n = null; // A reset is a close; so is our own close on the timeout.
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  closed = !gaveUp;
  clearTimeout(timer);
  closeConn();
  await writer;
  const output = concat(chunks);
  const model = modelStream(fuzzCase.bytes, limits);
  return { fuzzCase, output, verdict: checkExchange(model, output, closed, fuzzCase.closeWrite) };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Options of {@linkcode runBatch}. */
export interface BatchOptions {
  /** The server's limits, for the model. */
  limits: Limits;
  /** Connections at a time. */
  concurrency: number;
  /** How long one case may take before the client gives up. */
  readTimeoutMs: number;
  /** Asked before each case: true to start no more (the server is hung). */
  abort?: () => boolean;
  /** Told when a case starts and ends (`done`), to know which are in flight. */
  onCase?: (index: number, done: boolean) => void;
}

/** Runs `indexes` of the run seeded `seed`, `concurrency` at a time, in any order. */
export async function runBatch(
  seed: number,
  indexes: number[],
  port: number,
  options: BatchOptions,
): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < indexes.length && !(options.abort?.() ?? false)) {
      const index = indexes[next++];
      options.onCase?.(index, false);
      const fuzzCase = generateCase(seed, index, port);
      outcomes.push(await runCase(fuzzCase, port, options.limits, options.readTimeoutMs));
      options.onCase?.(index, true);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}

/** The status of `GET /` on a fresh connection, or what went wrong instead. */
export async function healthCheck(port: number, timeoutMs = 5000): Promise<number | string> {
  const request = toBytes(
    `GET / HTTP/1.1${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`,
  );
  const fuzzCase: FuzzCase = {
    bytes: request,
    kind: "health",
    index: -1,
    pieces: [request],
    pauseMs: 0,
    closeWrite: false,
  };
  try {
    const outcome = await runCase(fuzzCase, port, FUZZ_LIMITS, timeoutMs);
    const final = outcome.verdict.responses.find((response) => response.status >= 200);
    if (outcome.verdict.problems.length > 0) return outcome.verdict.problems.join("; ");
    return final?.status ?? "no response";
  } catch (error) {
    return String(error);
  }
}

/** Fills a fresh ROOT with the files the generated targets name. */
export async function populateRoot(root: string): Promise<void> {
  await Deno.mkdir(`${root}/dir`);
  await Deno.mkdir(`${root}/site`);
  await Deno.mkdir(`${root}/fuzz/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/a.txt`, "hello\n");
  await Deno.writeTextFile(`${root}/empty.txt`, "");
  await Deno.writeTextFile(`${root}/dir/b.txt`, "b".repeat(2000));
  await Deno.writeTextFile(`${root}/site/index.html`, "<!doctype html><title>x</title>");
  await Deno.writeTextFile(`${root}/.hidden`, "secret");
  await Deno.writeTextFile(`${root}/Déjà.txt`, "déjà");
  // Past the in-memory cache's per-file limit, so reads stream from disk.
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(300 * 1024).map((_, i) => i % 251));
}

// ---------------------------------------------------------------------------
// `deno task fuzz`: a spawned server and a time budget

const CHILD_FLAG = "--serve-child";
const ERROR_MARK = "FUZZ-ONERROR ";

/** Child mode: serve ROOT with the fuzz limits, print the port, report onError on stderr. */
async function serveChild(root: string): Promise<void> {
  const encoder = new TextEncoder();
  // Loaded here only: the tests that share this module's generator need no server.
  const { serve } = await import("../lib/mod.ts");
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    limits: FUZZ_LIMITS,
    onError: (error) => {
      const detail = error instanceof Error ? error.stack ?? String(error) : String(error);
      Deno.stderr.writeSync(encoder.encode(`${ERROR_MARK}${JSON.stringify(detail)}\n`));
    },
  });
  console.log(JSON.stringify({ port: server.addr.port }));
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    Deno.exit(0);
  });
  await server.finished;
}

/**
 * A server in its own process over its own fresh ROOT, so that a crash or a
 * hung event loop shows up as such instead of stopping the fuzzer.
 */
interface ChildServer {
  readonly port: number;
  /** Its ROOT, removed by `stop`. */
  readonly root: string;
  readonly pid: number;
  /** onError reports so far. */
  readonly errors: string[];
  /** Other stderr lines (an uncaught exception, a panic). */
  readonly stderr: string[];
  /** Whether the process has ended. */
  exited(): boolean;
  /** Peak resident memory so far (KiB), where /proc tells. */
  peakRssKb(): number | null;
  /** Ends the process (killing it if it does not stop) and removes its ROOT. */
  stop(): Promise<void>;
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, newline);
      pending = pending.slice(newline + 1);
    }
  }
  if (pending !== "") yield pending;
}

/** Copies the directory tree `from` into the existing directory `to`, skipping what vanishes. */
async function copyTree(from: string, to: string): Promise<void> {
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    try {
      if (entry.isDirectory) {
        await Deno.mkdir(target);
        await copyTree(source, target);
      } else if (entry.isFile) await Deno.copyFile(source, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/** Every file under `dir` with its size, for a failure report. */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const listing: string[] = [];
  for await (const entry of Deno.readDir(`${dir}${prefix}`)) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory) listing.push(`${path}/`, ...await listTree(dir, path));
    else listing.push(`${path} (${(await Deno.lstat(`${dir}${path}`)).size} bytes)`);
  }
  return listing.sort();
}

/** Starts a server over a fresh ROOT: a copy of `template`, or the standard files. */
async function spawnServer(template?: string): Promise<ChildServer> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-fuzz-" });
  if (template === undefined) await populateRoot(root);
  else await copyTree(template, root);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      import.meta.filename!,
      CHILD_FLAG,
      root,
    ],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => (exited = true));
  const errors: string[] = [];
  const stderr: string[] = [];
  const stderrDone = (async () => {
    for await (const line of lines(child.stderr)) {
      if (line.startsWith(ERROR_MARK)) errors.push(JSON.parse(line.slice(ERROR_MARK.length)));
      else stderr.push(line);
    }
  })();
  const stdout = lines(child.stdout);
  const first = await stdout.next();
  if (first.done) {
    await stderrDone;
    throw new Error(`the server did not start:\n${stderr.join("\n")}`);
  }
  const stdoutDone = (async () => {
    for await (const _ of stdout) {
      // Keep the pipe drained.
    }
  })();
  return {
    port: JSON.parse(first.value).port,
    pid: child.pid,
    root,
    errors,
    stderr,
    exited: () => exited,
    peakRssKb() {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`));
        return match === null ? null : Number(match[1]);
      } catch {
        return null;
      }
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      // A hung event loop never runs the SIGTERM handler.
      const killer = setTimeout(() => exited || child.kill("SIGKILL"), 3000);
      await child.status;
      clearTimeout(killer);
      await Promise.all([stderrDone, stdoutDone]);
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** A copy of `dir` that outlives this batch (until the failures are saved). */
async function keep(dir: string): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "filedrop-fuzz-culprit-" });
  await copyTree(dir, copy);
  return copy;
}

/** A failing case, or a server-wide failure pinned to the case that caused it. */
interface Failure {
  index: number;
  kind: string;
  problems: string[];
  input: Uint8Array;
  pieceLengths: number[];
  closeWrite: boolean;
  output: Uint8Array;
  /** The ROOT the culprit was replayed over, when it took a replay to pin it down. */
  root?: string;
}

function toFailure(outcome: CaseOutcome, problems: string[]): Failure {
  const c = outcome.fuzzCase;
  return {
    index: c.index,
    kind: c.kind,
    problems,
    input: c.bytes,
    pieceLengths: c.pieces.map((piece) => piece.length),
    closeWrite: c.closeWrite,
    output: outcome.output,
  };
}

async function saveFailure(dir: string, seed: number, failure: Failure): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir}/seed-${seed}-case-${failure.index}`;
  await Deno.writeFile(`${base}.bin`, failure.input);
  if (failure.root !== undefined) {
    await Deno.remove(`${base}.root`, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${base}.root`);
    await copyTree(failure.root, `${base}.root`);
  }
  await Deno.writeTextFile(
    `${base}.json`,
    JSON.stringify(
      {
        seed,
        case: failure.index,
        reproduce: `deno task fuzz -- --seed ${seed} --case ${failure.index}`,
        kind: failure.kind,
        problems: failure.problems,
        pieceLengths: failure.pieceLengths,
        closeWrite: failure.closeWrite,
        input: escapeBinary(toBinary(failure.input), 20_000),
        output: escapeBinary(toBinary(failure.output), 20_000),
        files: failure.root === undefined ? undefined : await listTree(failure.root),
      },
      null,
      2,
    ),
  );
  return `${base}.bin`;
}

/**
 * Probes `GET /` every second while a batch runs; two misses in a row mean a
 * hung server, and the batch should start no more cases.
 */
function watchLiveness(port: number): { hung: () => boolean; stop: () => Promise<void> } {
  let hung = false;
  let running = true;
  const probing = (async () => {
    let misses = 0;
    while (running && !hung) {
      await sleep(1000);
      if (!running) break;
      misses = (await healthCheck(port, 2000)) === 200 ? 0 : misses + 1;
      hung = misses >= 2;
    }
  })();
  return {
    hung: () => hung,
    stop: async () => {
      running = false;
      await probing;
    },
  };
}

/** What is wrong with the server as a whole after some cases, or null. */
async function serverTrouble(server: ChildServer, errorsBefore: number): Promise<string | null> {
  if (server.exited()) return `the server exited: ${server.stderr.slice(-20).join("\n")}`;
  const health = await healthCheck(server.port, 3000);
  if (health !== 200) return `GET / afterwards gave ${health} (a hung or broken server)`;
  await sleep(20);
  const errors = server.errors.slice(errorsBefore);
  return errors.length === 0 ? null : `onError: ${errors.join(" | ")}`;
}

/**
 * Replays cases in order, one at a time, on a fresh server, checking the
 * server after each: the first one after which it is in trouble is the
 * culprit (it may need the files the cases before it made). `report` sees
 * every case as it is replayed.
 */
async function isolate(
  seed: number,
  indexes: number[],
  template?: string,
  report: (outcome: CaseOutcome, trouble: string | null) => void = () => {},
): Promise<Failure | null> {
  const server = await spawnServer(template);
  try {
    for (const index of indexes) {
      const fuzzCase = generateCase(seed, index, server.port);
      const errorsBefore = server.errors.length;
      const outcome = await runCase(fuzzCase, server.port, FUZZ_LIMITS, 5000);
      const trouble = await serverTrouble(server, errorsBefore);
      report(outcome, trouble);
      if (trouble !== null) {
        const before = index === indexes[0]
          ? ""
          : ` (replayed after ${indexes.indexOf(index)} earlier case(s) from ${indexes[0]})`;
        return toFailure(outcome, [`${trouble}${before}`, ...outcome.verdict.problems]);
      }
    }
    return null;
  } finally {
    await server.stop();
  }
}

/** Prints a replayed case in full. */
function printCase(outcome: CaseOutcome, trouble: string | null): void {
  const c = outcome.fuzzCase;
  console.log(
    `=== case ${c.index} (${c.kind}), pieces ${c.pieces.map((p) => p.length).join("+")}, ` +
      `pause ${c.pauseMs} ms, closeWrite ${c.closeWrite}`,
  );
  console.log(escapeBinary(toBinary(c.bytes), 4000));
  console.log(`--- model: ${JSON.stringify(modelStream(c.bytes, FUZZ_LIMITS))}`);
  console.log(`--- output:\n${escapeBinary(toBinary(outcome.output), 4000)}`);
  const problems = [...outcome.verdict.problems, ...(trouble === null ? [] : [trouble])];
  console.log(`--- ${problems.length === 0 ? "fine" : problems.join("; ")}`);
}

function histogram(counts: Map<number, number>): string {
  return [...counts].sort((a, b) => a[0] - b[0]).map(([status, n]) => `${status}×${n}`).join(" ");
}

/** `--case N` or `--case A-B`: the case numbers to replay. */
function caseRange(text: string): number[] {
  const [from, to = from] = text.split("-").map(Number);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function fuzz(options: {
  seed: number;
  seconds: number;
  concurrency: number;
  batchSize: number;
  out: string;
}): Promise<number> {
  const { seed, concurrency, batchSize } = options;
  let server = await spawnServer();
  console.log(
    `fuzzing a server (pid ${server.pid}, port ${server.port}) for ${options.seconds} s: ` +
      `seed ${seed}, ${concurrency} connections at a time, batches of ${batchSize}`,
  );
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const statuses = new Map<number, number>();
  const failures: Failure[] = [];
  let total = 0;
  let peakRss = 0;
  let lastReport = started;
  // ROOT as each batch finds it, so that a culprit is replayed over the same files.
  const snapshot = await Deno.makeTempDir({ prefix: "filedrop-fuzz-snapshot-" });
  try {
    while (Date.now() < deadline && failures.length < 20) {
      await Deno.remove(snapshot, { recursive: true });
      await Deno.mkdir(snapshot);
      await copyTree(server.root, snapshot);
      const errorsBefore = server.errors.length;
      const liveness = watchLiveness(server.port);
      const outcomes = await runBatch(
        seed,
        Array.from({ length: batchSize }, (_, i) => total + i),
        server.port,
        { limits: FUZZ_LIMITS, concurrency, readTimeoutMs: 5000, abort: liveness.hung },
      );
      await liveness.stop();
      // Cases are started in order, so the ones run are the first of the batch.
      const indexes = Array.from({ length: outcomes.length }, (_, i) => total + i);
      total += outcomes.length;
      peakRss = Math.max(peakRss, server.peakRssKb() ?? 0);
      const trouble = await serverTrouble(server, errorsBefore);
      if (trouble !== null) {
        // Every case in flight suffers from a hung or crashed server: find the one that did it.
        console.log(
          `  cases ${indexes[0]}-${indexes.at(-1)}: ${trouble.slice(0, 300)}; isolating…`,
        );
        // The culprit is likely one of the cases left unanswered. Other connections may go on
        // changing files while one is stuck, so try the files both before and after the batch,
        // and only then every case of the batch in order.
        const atTrouble = await Deno.makeTempDir({ prefix: "filedrop-fuzz-snapshot-" });
        await copyTree(server.root, atTrouble);
        await server.stop();
        const suspects = outcomes.filter((o) => o.verdict.problems.length > 0)
          .map((o) => o.fuzzCase.index).sort((a, b) => a - b);
        let culprit: Failure | null = null;
        for (
          const [cases, root] of [[suspects, snapshot], [suspects, atTrouble], [
            indexes,
            snapshot,
          ]] as const
        ) {
          culprit = await isolate(seed, cases, root);
          if (culprit !== null) {
            culprit.root = await keep(root);
            break;
          }
        }
        await Deno.remove(atTrouble, { recursive: true });
        failures.push(
          culprit === null
            ? {
              index: indexes[0],
              kind: "batch",
              problems: [
                `${trouble} in cases ${indexes[0]}-${indexes.at(-1)}, not reproduced one by one`,
              ],
              input: new Uint8Array(),
              pieceLengths: [],
              closeWrite: false,
              output: new Uint8Array(),
            }
            : culprit,
        );
        server = await spawnServer();
      } else {
        for (const outcome of outcomes) {
          if (outcome.verdict.problems.length > 0) {
            failures.push(toFailure(outcome, outcome.verdict.problems));
          }
        }
      }
      for (const outcome of outcomes) {
        for (const response of outcome.verdict.responses) {
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const elapsed = (lastReport - started) / 1000;
        console.log(
          `  ${elapsed.toFixed(0)} s: ${total} inputs, ${(total / elapsed).toFixed(0)}/s, ` +
            `${failures.length} failure(s)`,
        );
      }
    }
  } finally {
    await server.stop();
    await Deno.remove(snapshot, { recursive: true });
  }
  const elapsed = (Date.now() - started) / 1000;
  console.log(
    `done: ${total} inputs in ${elapsed.toFixed(1)} s (${(total / elapsed).toFixed(0)}/s)` +
      (peakRss === 0 ? "" : `, server peak RSS ${(peakRss / 1024).toFixed(0)} MiB`),
  );
  console.log(`statuses: ${histogram(statuses)}`);
  for (const failure of failures) {
    console.log(`FAIL case ${failure.index} (${failure.kind}): ${failure.problems.join("; ")}`);
    if (failure.input.length > 0) {
      const file = await saveFailure(options.out, seed, failure);
      console.log(`  input saved to ${file}`);
      const root = failure.root === undefined ? "" : ` --root ${file.replace(/\.bin$/, ".root")}`;
      console.log(`  reproduce: deno task fuzz -- --seed ${seed} --case ${failure.index}${root}`);
    }
    if (failure.root !== undefined) await Deno.remove(failure.root, { recursive: true });
  }
  console.log(failures.length === 0 ? "no failures" : `${failures.length} failure(s)`);
  return failures.length === 0 ? 0 : 1;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === CHILD_FLAG) {
    await serveChild(args[1]);
    return 0;
  }
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string", default: "60" },
      seed: { type: "string" },
      case: { type: "string" },
      concurrency: { type: "string", default: "16" },
      batch: { type: "string", default: "500" },
      out: { type: "string", default: "fuzz-failures" },
      root: { type: "string" },
    },
  });
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  if (values.case !== undefined) {
    // Replays in order on a fresh server: a range rebuilds the files earlier cases made.
    let failed = false;
    await isolate(seed, caseRange(values.case), values.root, (outcome, trouble) => {
      printCase(outcome, trouble);
      failed ||= trouble !== null || outcome.verdict.problems.length > 0;
    });
    return failed ? 1 : 0;
  }
  return await fuzz({
    seed,
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    batchSize: Number(values.batch),
    out: values.out,
  });
}

// `deno task fuzz -- --seconds 60` passes the `--` on.
if (import.meta.main) Deno.exit(await main(Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args));
