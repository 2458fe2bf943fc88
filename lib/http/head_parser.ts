/**
 * The sans-IO request-head parser: bytes in a {@linkcode ReceiveBuffer}, a
 * {@linkcode RequestHead} out (RFC 9112 §2-§5).
 *
 * @module
 */

import {
  AUTHORITY_FORM,
  COLON,
  CR,
  FIELD_VALUE_CHAR,
  HTAB,
  LF,
  LOWER,
  SP,
  TARGET_AUTHORITY,
  TARGET_CHAR,
  TCHAR,
} from "./abnf.ts";
import { HttpError } from "./errors.ts";
import type { ReceiveBuffer } from "./receive_buffer.ts";

/** Size limits of a request head; each has its own status when exceeded. */
export interface HeadLimits {
  /** Longest request line in bytes (414 beyond). */
  maxRequestLineBytes: number;
  /** Largest whole head in bytes, request line included (431 beyond). */
  maxHeadBytes: number;
  /** Most header fields (431 beyond). */
  maxHeaderCount: number;
}

/** The form of the request-target (RFC 9112 §3.2). */
export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

/** A syntactically valid request head. Field names are lowercase. */
export interface RequestHead {
  /** The method token, case preserved (methods are case-sensitive). */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** Which of the four forms the target has. */
  targetForm: TargetForm;
  /** The path, still percent-encoded ("/" for asterisk and authority forms). */
  path: string;
  /** The query without its "?", or "" when there is none. */
  query: string;
  /** The authority from an absolute-form target, or null. */
  authority: string | null;
  /** HTTP/1.x minor version: 0, or 1 for 1.1 and any higher 1.x (RFC 9112 §2.3). */
  minorVersion: 0 | 1;
  /** Header fields by lowercase name; repeated fields joined with ", ". */
  headers: Map<string, string>;
  /** How many times each of the fields that must not repeat appeared (host, content-length). */
  hostCount: number;
  /** Number of Content-Length fields. */
  contentLengthCount: number;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** Most arguments passed to one `fromCharCode` call; far more overflow the stack. */
const LATIN1_SLICE = 8192;
/** Up to this length a char-by-char loop beats a decoder call. */
const SHORT_STRING = 16;
const asciiDecoder = new TextDecoder();

/**
 * Decodes bytes as latin1 (one char per byte, RFC 9110 §5.5's view of
 * obs-text). `ascii` says all bytes are below 0x80, where UTF-8 decoding is
 * the same and the native decoder is fastest for longer strings.
 */
function latin1(data: Uint8Array, start: number, end: number, ascii = false): string {
  if (end - start <= SHORT_STRING) {
    let text = "";
    for (let i = start; i < end; i++) text += String.fromCharCode(data[i]);
    return text;
  }
  if (ascii) return asciiDecoder.decode(data.subarray(start, end));
  let text = "";
  for (let from = start; from < end; from += LATIN1_SLICE) {
    const view = data.subarray(from, Math.min(end, from + LATIN1_SLICE));
    text += String.fromCharCode.apply(null, view as unknown as number[]);
  }
  return text;
}

/** Header names requests commonly carry, interned so parsing them allocates nothing. */
const KNOWN_NAMES = [
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "expect",
  "user-agent",
  "accept",
  "accept-encoding",
  "accept-language",
  "referer",
  "origin",
  "cookie",
  "authorization",
  "content-type",
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "cache-control",
  "pragma",
  "upgrade-insecure-requests",
  "sec-fetch-site",
  "sec-fetch-mode",
  "sec-fetch-dest",
  "sec-fetch-user",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "dnt",
  "priority",
  "te",
  "content-digest",
  "repr-digest",
  "want-repr-digest",
  "content-md5",
  "destination",
  "overwrite",
  "upload-complete",
  "upload-offset",
  "upload-length",
  "upload-draft-interop-version",
  "x-forwarded-for",
  "x-requested-with",
];

const NAME_TABLE_BITS = 10;
const NAME_TABLE_MASK = (1 << NAME_TABLE_BITS) - 1;
/** Open-addressed table from a lowercase name's key to its index in KNOWN_NAMES (-1: empty). */
const nameTable = new Int16Array(1 << NAME_TABLE_BITS).fill(-1);
const knownBytes = KNOWN_NAMES.map((name) => new TextEncoder().encode(name));

/**
 * A name's key from its length and its first and last bytes (lowercase): no
 * loop over the name, and it separates the known names almost all by itself.
 */
function nameKey(length: number, first: number, last: number): number {
  return ((length << 6) ^ (first << 3) ^ last ^ (first >> 4)) & NAME_TABLE_MASK;
}

for (let index = 0; index < KNOWN_NAMES.length; index++) {
  const known = knownBytes[index];
  let slot = nameKey(known.length, known[0], known[known.length - 1]);
  while (nameTable[slot] !== -1) slot = (slot + 1) & NAME_TABLE_MASK;
  nameTable[slot] = index;
}

/** The index in KNOWN_NAMES of the field name in `data[start, end)` (all tchar), or -1. */
function knownNameIndex(data: Uint8Array, start: number, end: number): number {
  const length = end - start;
  let slot = nameKey(length, LOWER[data[start]], LOWER[data[end - 1]]);
  for (;; slot = (slot + 1) & NAME_TABLE_MASK) {
    const index = nameTable[slot];
    if (index === -1) return -1;
    const known = knownBytes[index];
    if (known.length !== length) continue;
    let same = true;
    for (let i = 0; i < length && same; i++) same = known[i] === LOWER[data[start + i]];
    if (same) return index;
  }
}

function lowercaseName(data: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(LOWER[data[i]]);
  return text;
}

/** Longest text remembered per slot (longer ones are decoded every time). */
const REMEMBERED_TEXT_BYTES = 512;
/**
 * Known fields whose values are never remembered: how fast a request is
 * parsed must not tell whether its credentials equal someone else's.
 */
const SECRET_FIELD = Uint8Array.from(
  KNOWN_NAMES,
  (name) => name === "authorization" || name === "cookie" ? 1 : 0,
);
/** The slot of the request-target among the remembered texts; the known field names' indexes come first. */
const TARGET_SLOT = KNOWN_NAMES.length;
/** The last text seen in each slot (a known field's value, the target), as bytes and as text. */
const lastBytes: (Uint8Array | null)[] = Array.from({ length: TARGET_SLOT + 1 }, () => null);
const lastTexts: string[] = Array.from({ length: TARGET_SLOT + 1 }, () => "");

/**
 * The text of `data[start, end)`, the same string as last time in `slot`
 * when the bytes are the same. A client repeats most of its fields on every
 * request (User-Agent, Accept, sec-ch-ua...), and comparing bytes costs less
 * than decoding them and collecting another string (measured).
 */
function rememberedText(
  slot: number,
  data: Uint8Array,
  start: number,
  end: number,
  ascii: boolean,
): string {
  const length = end - start;
  const last = lastBytes[slot];
  if (last !== null && last.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = last[i] === data[start + i];
    if (same) return lastTexts[slot];
  }
  const text = latin1(data, start, end, ascii);
  if (length <= REMEMBERED_TEXT_BYTES) {
    lastBytes[slot] = data.slice(start, end);
    lastTexts[slot] = text;
  }
  return text;
}

/** Methods parsed without allocating, by their bytes. */
const KNOWN_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "MOVE"];
const knownMethodBytes = KNOWN_METHODS.map((method) => new TextEncoder().encode(method));

/** The method token in `data[start, end)` (all tchar, case kept). */
function methodText(data: Uint8Array, start: number, end: number): string {
  for (let index = 0; index < knownMethodBytes.length; index++) {
    const known = knownMethodBytes[index];
    if (known.length !== end - start) continue;
    let same = true;
    for (let i = 0; i < known.length && same; i++) same = known[i] === data[start + i];
    if (same) return KNOWN_METHODS[index];
  }
  return latin1(data, start, end, true);
}

/**
 * Validates one `field-line` (RFC 9112 §5) in `data[start, end)` (CRLF
 * excluded) and returns the offsets of its name and trimmed value. Throws 400
 * on obs-fold, whitespace before the colon, a non-token name, or a control
 * character (bare CR included) in the value.
 */
export function scanFieldLine(
  data: Uint8Array,
  start: number,
  end: number,
): { nameEnd: number; valueStart: number; valueEnd: number } {
  const first = data[start];
  if (first === SP || first === HTAB) throw new HttpError(400, "Obsolete line folding");
  let i = start;
  while (i < end && TCHAR[data[i]] === 1) i++;
  if (i === start || i === end || data[i] !== COLON) {
    throw new HttpError(400, "Invalid header field name");
  }
  const nameEnd = i;
  i++;
  while (i < end && (data[i] === SP || data[i] === HTAB)) i++;
  let valueEnd = end;
  while (valueEnd > i && (data[valueEnd - 1] === SP || data[valueEnd - 1] === HTAB)) valueEnd--;
  for (let j = i; j < valueEnd; j++) {
    if (FIELD_VALUE_CHAR[data[j]] !== 1) throw new HttpError(400, "Invalid header field value");
  }
  return { nameEnd, valueStart: i, valueEnd };
}

/**
 * Incremental parser for one request head at a time.
 *
 * Call {@linkcode HeadParser.parse} whenever bytes arrive; it remembers how
 * far it has scanned, so feeding a head one byte at a time costs linear time.
 * Lines must end in CRLF: a bare LF or bare CR is 400 everywhere. Empty lines
 * before the request line are skipped (RFC 9112 §2.2).
 *
 * @example
 * ```ts
 * const parser = new HeadParser({ maxRequestLineBytes: 8192, maxHeadBytes: 65536, maxHeaderCount: 100 });
 * const head = parser.parse(receiveBuffer); // null until the blank line arrives
 * ```
 */
export class HeadParser {
  readonly #limits: HeadLimits;
  /** Bytes of the current head already scanned, relative to the buffer start. */
  #scanned = 0;
  /** Start of the line being scanned, relative to the buffer start. */
  #lineStart = 0;
  /** Complete lines seen so far (the request line is line 1). */
  #lines = 0;

  /** @param limits the size limits to enforce */
  constructor(limits: HeadLimits) {
    this.#limits = limits;
  }

  /**
   * Consumes and returns a complete head from `rb`, or returns null when more
   * bytes are needed. Throws {@linkcode HttpError} (400, 414, 431, 505) on
   * invalid input; the connection must then be closed.
   */
  parse(rb: ReceiveBuffer): RequestHead | null {
    const data = rb.data;
    const limits = this.#limits;
    let base = rb.start;
    let end = rb.end;
    // Locals, written back on return: private fields are slower in a hot loop.
    let i = base + this.#scanned;
    let lineStart = base + this.#lineStart;
    let lines = this.#lines;
    for (; i < end; i++) {
      // The native search beats a byte loop; a hit past `end` is stale bytes, not this head's.
      const lf = data.indexOf(LF, i);
      if (lf === -1 || lf >= end) {
        i = end;
        break;
      }
      i = lf;
      const bareLf = i === base || data[i - 1] !== CR;
      const lineLength = bareLf ? i - lineStart : i - 1 - lineStart;
      // Size limits before the bare-LF check: received in one piece or in many,
      // the same bytes get the same status.
      if (lines === 0 && lineLength > limits.maxRequestLineBytes) {
        throw new HttpError(414, "Request line too long");
      }
      if (i + 1 - base > limits.maxHeadBytes) {
        throw new HttpError(431, "Request header fields too large");
      }
      if (bareLf) throw new HttpError(400, "Bare LF in request head");
      if (lineLength === 0 && lines === 0) {
        // An empty line before the request line: skip it (RFC 9112 §2.2).
        rb.consume(i + 1 - base);
        base = rb.start;
        end = rb.end;
        i = base - 1;
        lineStart = base;
        continue;
      }
      if (lineLength === 0) {
        const head = parseHead(data, base, i + 1, lines - 1);
        rb.consume(i + 1 - base);
        this.#scanned = this.#lineStart = this.#lines = 0;
        return head;
      }
      lines++;
      if (lines - 1 > limits.maxHeaderCount) throw new HttpError(431, "Too many header fields");
      lineStart = i + 1;
    }
    this.#scanned = i - base;
    this.#lineStart = lineStart - base;
    this.#lines = lines;
    const available = end - base;
    if (lines === 0 && available > limits.maxRequestLineBytes + 2) {
      throw new HttpError(414, "Request line too long");
    }
    if (available > limits.maxHeadBytes) {
      throw new HttpError(431, "Request header fields too large");
    }
    return null;
  }
}

function parseHead(data: Uint8Array, start: number, end: number, fieldCount: number): RequestHead {
  // Request line: method SP request-target SP HTTP-version CRLF.
  let i = start;
  while (TCHAR[data[i]] === 1) i++;
  if (i === start || data[i] !== SP) throw new HttpError(400, "Invalid request line");
  const method = methodText(data, start, i);
  const targetStart = ++i;
  while (TARGET_CHAR[data[i]] === 1) i++;
  if (i === targetStart || data[i] !== SP) throw new HttpError(400, "Invalid request line");
  const target = rememberedText(TARGET_SLOT, data, targetStart, i, true);
  const versionStart = ++i;
  if (data[versionStart + 8] !== CR || data[versionStart + 9] !== LF) {
    throw new HttpError(400, "Invalid HTTP version");
  }
  for (let k = 0; k < 5; k++) {
    if (data[versionStart + k] !== HTTP_SLASH[k]) throw new HttpError(400, "Invalid HTTP version");
  }
  const major = data[versionStart + 5] - 0x30;
  const minor = data[versionStart + 7] - 0x30;
  if (major < 0 || major > 9 || data[versionStart + 6] !== 0x2e || minor < 0 || minor > 9) {
    throw new HttpError(400, "Invalid HTTP version");
  }
  if (major !== 1) throw new HttpError(505, "Only HTTP/1.x is supported");
  let lineStart = versionStart + 10;

  const headers = new Map<string, string>();
  let hostCount = 0;
  let contentLengthCount = 0;
  for (let field = 0; field < fieldCount; field++) {
    // One pass per field line: name, OWS, value up to the CR; the value table
    // excludes CR and LF, so the scan stops at the line end or at a bad byte.
    const first = data[lineStart];
    if (first === SP || first === HTAB) throw new HttpError(400, "Obsolete line folding");
    let i = lineStart;
    while (TCHAR[data[i]] === 1) i++;
    if (i === lineStart || data[i] !== COLON) throw new HttpError(400, "Invalid header field name");
    const nameEnd = i++;
    while (data[i] === SP || data[i] === HTAB) i++;
    const valueStart = i;
    let bytesOr = 0;
    for (let byte = data[i]; FIELD_VALUE_CHAR[byte] === 1; byte = data[++i]) bytesOr |= byte;
    if (data[i] !== CR || data[i + 1] !== LF) {
      throw new HttpError(400, "Invalid header field value");
    }
    let valueEnd = i;
    while (valueEnd > valueStart && (data[valueEnd - 1] === SP || data[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    const nameIndex = knownNameIndex(data, lineStart, nameEnd);
    const ascii = bytesOr < 0x80;
    const name = nameIndex === -1
      ? lowercaseName(data, lineStart, nameEnd)
      : KNOWN_NAMES[nameIndex];
    const value = nameIndex === -1 || SECRET_FIELD[nameIndex] === 1
      ? latin1(data, valueStart, valueEnd, ascii)
      : rememberedText(nameIndex, data, valueStart, valueEnd, ascii);
    if (name === "host") hostCount++;
    else if (name === "content-length") contentLengthCount++;
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    lineStart = i + 2;
  }
  if (lineStart + 2 !== end) throw new HttpError(400, "Malformed request head");
  return {
    method,
    ...splitTarget(method, target),
    minorVersion: minor === 0 ? 0 : 1,
    headers,
    hostCount,
    contentLengthCount,
  };
}

function splitTarget(
  method: string,
  target: string,
): Pick<RequestHead, "target" | "targetForm" | "path" | "query" | "authority"> {
  if (target.charCodeAt(0) === 0x2f) {
    const q = target.indexOf("?");
    return q === -1 ? { target, targetForm: "origin", path: target, query: "", authority: null } : {
      target,
      targetForm: "origin",
      path: target.slice(0, q),
      query: target.slice(q + 1),
      authority: null,
    };
  }
  if (target === "*") {
    if (method !== "OPTIONS") throw new HttpError(400, "Asterisk-form is only for OPTIONS");
    return { target, targetForm: "asterisk", path: "/", query: "", authority: null };
  }
  if (method === "CONNECT") {
    if (!AUTHORITY_FORM.test(target)) throw new HttpError(400, "Invalid request target");
    return { target, targetForm: "authority", path: "/", query: "", authority: target };
  }
  const absolute = /^https?:\/\/([^/?]*)([/?].*)?$/i.exec(target);
  if (absolute === null || !TARGET_AUTHORITY.test(absolute[1])) {
    throw new HttpError(400, "Invalid request target");
  }
  const rest = absolute[2] ?? "/";
  const pathAndQuery = rest.startsWith("?") ? `/${rest}` : rest;
  const q = pathAndQuery.indexOf("?");
  return {
    target,
    targetForm: "absolute",
    path: q === -1 ? pathAndQuery : pathAndQuery.slice(0, q),
    query: q === -1 ? "" : pathAndQuery.slice(q + 1),
    authority: absolute[1],
  };
}
