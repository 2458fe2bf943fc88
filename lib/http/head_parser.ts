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
  SP,
  TARGET_AUTHORITY,
  TARGET_CHAR,
  TCHAR,
} from "./abnf.ts";
import { HttpError } from "./errors.ts";
import {
  CONTENT_LENGTH_INDEX,
  FIELD_STRIDE,
  HeaderFields,
  HOST_INDEX,
  knownNameIndex,
  latin1,
  nameCode,
  rememberedText,
  TARGET_SLOT,
} from "./header_fields.ts";
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
  /**
   * Header fields by lowercase name; repeated fields joined with ", ". A
   * {@linkcode HeaderFields}: values are decoded when asked for.
   */
  headers: ReadonlyMap<string, string>;
  /** How many times each of the fields that must not repeat appeared (host, content-length). */
  hostCount: number;
  /** Number of Content-Length fields. */
  contentLengthCount: number;
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

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
  return latin1(data, start, end);
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
  /** Where scanHead records the fields' numbers; the last head's fields read them in place. */
  readonly #fields: number[] = [];
  /** The fields of the last head returned, which may still read #fields. */
  #lastFields: HeaderFields | null = null;

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
    // #fields is about to be reused: the last head's fields keep a copy,
    // unless their exchange was released (then this does nothing).
    this.#lastFields?.detach();
    this.#lastFields = null;
    // Past `end` lie stale bytes (an earlier body, say): a run of token bytes
    // there would carry a scan to the buffer's end on every call, a cost a
    // client could multiply by sending a head in pieces. A sentinel byte just
    // past `end` stops the scans there (when the buffer is full, the array's
    // own end does).
    const spare = rb.end < rb.data.length;
    if (this.#scanned === 0 && spare) {
      // A head that arrived whole (the usual case) takes one pass: scanHead in
      // its optimistic mode. Anything else, an error included, is left to the
      // line scan below, which decides every status exactly as it always has.
      // NUL is none of the bytes its loops and fixed positions accept.
      rb.data[rb.end] = 0;
      const head = scanHead(rb.data, rb.start, rb.end, this.#limits, this.#fields, false);
      if (typeof head !== "number") return this.#handOut(rb, head);
    }
    const data = rb.data;
    const limits = this.#limits;
    let base = rb.start;
    let end = rb.end;
    // The line search below stops at the first LF, so an LF there bounds it too.
    if (spare) data[end] = LF;
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
        // Every line is in and within the limits: the rest is the content's.
        const head = scanHead(data, base, i + 1, limits, this.#fields, true);
        if (typeof head === "number") throw scanError(head);
        this.#scanned = this.#lineStart = this.#lines = 0;
        return this.#handOut(rb, head);
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

  /** Consumes the head scanHead just returned and lends its fields to `rb`. */
  #handOut(rb: ReceiveBuffer, head: RequestHead): RequestHead {
    rb.consume(scannedEnd - rb.start);
    rb.lend(scannedFields!);
    this.#lastFields = scannedFields;
    scannedFields = null;
    return head;
  }
}

/** scanHead's failures (negative, so that no head end is mistaken for one). */
const INCOMPLETE = -1;
const OVER_LIMIT = -2;
const BAD_REQUEST_LINE = -3;
const BAD_VERSION = -4;
const NOT_HTTP_1 = -5;
const OBS_FOLD = -6;
const BAD_FIELD_NAME = -7;
const BAD_FIELD_VALUE = -8;
const MALFORMED = -9;

/** The status and message of each failure a strict scanHead can report. */
const SCAN_ERRORS: Readonly<Record<number, readonly [number, string]>> = {
  [BAD_REQUEST_LINE]: [400, "Invalid request line"],
  [BAD_VERSION]: [400, "Invalid HTTP version"],
  [NOT_HTTP_1]: [505, "Only HTTP/1.x is supported"],
  [OBS_FOLD]: [400, "Obsolete line folding"],
  [BAD_FIELD_NAME]: [400, "Invalid header field name"],
  [BAD_FIELD_VALUE]: [400, "Invalid header field value"],
  [MALFORMED]: [400, "Malformed request head"],
};

/** The error a failed strict scanHead reports. */
function scanError(code: number): HttpError {
  const [status, message] = SCAN_ERRORS[code] ?? SCAN_ERRORS[MALFORMED];
  return new HttpError(status, message);
}

/** Where the last successful scanHead's head ended (just past its blank line). */
let scannedEnd = 0;
/** The last successful scanHead's fields, to lend to the receive buffer. */
let scannedFields: HeaderFields | null = null;

/**
 * Validates a whole request head starting at `data[start]` in one pass and
 * returns it, its fields recorded as offsets in `fields`, or a failure code;
 * on success {@linkcode scannedEnd} and {@linkcode scannedFields} are set.
 *
 * Strict (`complete`): `data[start, end)` is exactly one head whose lines the
 * caller has checked (CRLF endings, sizes, count); the first problem in byte
 * order is the failure. Optimistic (not `complete`): the head may be partial,
 * preceded by empty lines, over a limit or bad anywhere; every such case is a
 * failure (which one does not matter) and success means the same head the
 * strict mode would return. Scans may run past `end` into stale bytes; only
 * the final check against `end` decides, since every byte read before the
 * blank line's LF lies before it.
 */
function scanHead(
  data: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
  fields: number[],
  complete: boolean,
): RequestHead | number {
  // Request line: method SP request-target SP HTTP-version CRLF.
  let i = start;
  while (TCHAR[data[i]] === 1) i++;
  if (i === start || data[i] !== SP) return BAD_REQUEST_LINE;
  const methodEnd = i;
  const targetStart = ++i;
  while (TARGET_CHAR[data[i]] === 1) i++;
  if (i === targetStart || data[i] !== SP) return BAD_REQUEST_LINE;
  const targetEnd = i;
  const versionStart = ++i;
  if (data[versionStart + 8] !== CR || data[versionStart + 9] !== LF) {
    return BAD_VERSION;
  }
  for (let k = 0; k < 5; k++) {
    if (data[versionStart + k] !== HTTP_SLASH[k]) return BAD_VERSION;
  }
  const major = data[versionStart + 5] - 0x30;
  const minor = data[versionStart + 7] - 0x30;
  if (major < 0 || major > 9 || data[versionStart + 6] !== 0x2e || minor < 0 || minor > 9) {
    return BAD_VERSION;
  }
  if (major !== 1) return NOT_HTTP_1;
  if (versionStart + 8 - start > limits.maxRequestLineBytes) return OVER_LIMIT;
  let lineStart = versionStart + 10;

  let fieldNumbers = 0;
  const maxFieldNumbers = limits.maxHeaderCount * FIELD_STRIDE;
  let hostCount = 0;
  let contentLengthCount = 0;
  while (data[lineStart] !== CR || data[lineStart + 1] !== LF) {
    // One pass per field line: name, OWS, value up to the CR; the value table
    // excludes CR and LF, so the scan stops at the line end or at a bad byte.
    const first = data[lineStart];
    if (first === SP || first === HTAB) return OBS_FOLD;
    let i = lineStart;
    while (TCHAR[data[i]] === 1) i++;
    if (i === lineStart || data[i] !== COLON) return BAD_FIELD_NAME;
    const nameEnd = i++;
    while (data[i] === SP || data[i] === HTAB) i++;
    const valueStart = i;
    while (FIELD_VALUE_CHAR[data[i]] === 1) i++;
    if (data[i] !== CR || data[i + 1] !== LF) return BAD_FIELD_VALUE;
    let valueEnd = i;
    while (valueEnd > valueStart && (data[valueEnd - 1] === SP || data[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    const nameIndex = knownNameIndex(data, lineStart, nameEnd);
    if (nameIndex === HOST_INDEX) hostCount++;
    else if (nameIndex === CONTENT_LENGTH_INDEX) contentLengthCount++;
    // A field past the count fails now, before `fields` grows with junk.
    if (fieldNumbers === maxFieldNumbers) return OVER_LIMIT;
    fields[fieldNumbers++] = lineStart;
    fields[fieldNumbers++] = nameCode(nameEnd - lineStart, nameIndex);
    fields[fieldNumbers++] = valueStart;
    fields[fieldNumbers++] = valueEnd;
    lineStart = i + 2;
  }
  const headEnd = lineStart + 2;
  if (complete ? headEnd !== end : headEnd > end) return complete ? MALFORMED : INCOMPLETE;
  if (headEnd - start > limits.maxHeadBytes) return OVER_LIMIT;
  scannedEnd = headEnd;
  scannedFields = new HeaderFields(data, start, headEnd, fields, fieldNumbers);
  const method = methodText(data, start, methodEnd);
  const target = rememberedText(TARGET_SLOT, data, targetStart, targetEnd);
  const minorVersion = minor === 0 ? 0 : 1;
  if (data[targetStart] !== 0x2f) {
    return {
      method,
      ...splitTarget(method, target),
      minorVersion,
      headers: scannedFields,
      hostCount,
      contentLengthCount,
    };
  }
  // Origin-form, the usual one: split once per new target (a remembered one is the same string).
  if (target !== lastOriginTarget) {
    const q = target.indexOf("?");
    lastOriginPath = q === -1 ? target : target.slice(0, q);
    lastOriginQuery = q === -1 ? "" : target.slice(q + 1);
    lastOriginTarget = target;
  }
  return {
    method,
    target,
    targetForm: "origin",
    path: lastOriginPath,
    query: lastOriginQuery,
    authority: null,
    minorVersion,
    headers: scannedFields,
    hostCount,
    contentLengthCount,
  };
}

/** The last origin-form target split, and its parts. */
let lastOriginTarget = "";
let lastOriginPath = "";
let lastOriginQuery = "";

/** The parts of a target in any form but origin-form (which scanHead splits itself). */
function splitTarget(
  method: string,
  target: string,
): Pick<RequestHead, "target" | "targetForm" | "path" | "query" | "authority"> {
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
