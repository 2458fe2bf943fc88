/**
 * Serializes response heads, and the last chunk of the chunked coding.
 *
 * A head is written as bytes straight into a send buffer (status line, one
 * field at a time, blank line): no string is built for it, and a field's
 * name and value are checked for CR, LF and NUL in the same pass that copies
 * them, so header values built from request data can never inject fields.
 *
 * @module
 */

import { reasonPhrase } from "./status.ts";

/** Response header fields as ordered name/value pairs. */
export type HeaderList = [name: string, value: string][];

/** What the write functions return when the bytes do not fit in the target. */
export const NO_ROOM = -1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;
const LF = 10;
const FORBIDDEN = /[\r\n\0]/;

/** Status lines already encoded, by status code. */
const statusLines = new Map<number, Uint8Array>();

/**
 * Writes `HTTP/1.1 STATUS REASON\r\n` at `at`.
 *
 * @returns the offset just past it, or {@linkcode NO_ROOM}
 */
export function writeStatusLine(status: number, target: Uint8Array, at: number): number {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = encoder.encode(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    statusLines.set(status, line);
  }
  if (at + line.length > target.length) return NO_ROOM;
  target.set(line, at);
  return at + line.length;
}

/**
 * Writes `name: value\r\n` at `at`, ASCII byte by byte and anything else as
 * UTF-8. Throws if the name or value holds CR, LF or NUL.
 *
 * @returns the offset just past it, or {@linkcode NO_ROOM}
 */
export function writeField(name: string, value: string, target: Uint8Array, at: number): number {
  at = writeText(name, target, at);
  if (at === NO_ROOM || at + 2 > target.length) return NO_ROOM;
  target[at++] = 0x3a; // ":"
  target[at++] = 0x20; // " "
  at = writeText(value, target, at);
  return writeLineEnd(target, at);
}

/**
 * Writes the CRLF that ends a field or the head.
 *
 * @returns the offset just past it, or {@linkcode NO_ROOM}
 */
export function writeLineEnd(target: Uint8Array, at: number): number {
  if (at === NO_ROOM || at + 2 > target.length) return NO_ROOM;
  target[at] = CR;
  target[at + 1] = LF;
  return at + 2;
}

/** Copies `text` (a field name or value) as bytes; throws on CR, LF or NUL. */
function writeText(text: string, target: Uint8Array, at: number): number {
  if (at === NO_ROOM) return NO_ROOM;
  const end = target.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return writeNonAscii(text, i, target, at);
    if (code === CR || code === LF || code === 0) throw lineBreakIn(text);
    if (at === end) return NO_ROOM;
    target[at++] = code;
  }
  return at;
}

/** The rest of `text` from `from`, which holds non-ASCII characters: UTF-8 through the encoder. */
function writeNonAscii(text: string, from: number, target: Uint8Array, at: number): number {
  const rest = text.slice(from);
  if (FORBIDDEN.test(rest)) throw lineBreakIn(text);
  const { read, written } = encoder.encodeInto(rest, target.subarray(at));
  return read === rest.length ? at + written : NO_ROOM;
}

function lineBreakIn(text: string): Error {
  return new Error(`Refusing to send header text ${JSON.stringify(text)} with a line break`);
}

/**
 * Builds an HTTP/1.1 status line and header block, ending with the blank
 * line, as a string (for the rare heads sent outside a connection's send
 * buffer). Throws if a name or value could split the head (CR, LF, NUL).
 *
 * @example
 * ```ts
 * serializeHead(204, [["Date", "Sun, 06 Nov 1994 08:49:37 GMT"]]);
 * // "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
 * ```
 */
export function serializeHead(status: number, headers: HeaderList): string {
  for (let size = 1024;; size *= 2) {
    const bytes = new Uint8Array(size);
    let at = writeStatusLine(status, bytes, 0);
    for (const [name, value] of headers) at = writeField(name, value, bytes, at);
    at = writeLineEnd(bytes, at);
    if (at !== NO_ROOM) return decoder.decode(bytes.subarray(0, at));
  }
}

/** The last chunk with no trailers. */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");
