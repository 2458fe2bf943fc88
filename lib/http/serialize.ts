/**
 * Serializes response heads and chunked-coding frames to bytes.
 *
 * @module
 */

import { reasonPhrase } from "./status.ts";

/** Response header fields as ordered name/value pairs. */
export type HeaderList = [name: string, value: string][];

const FORBIDDEN_IN_VALUE = /[\r\n\0]/;

/**
 * Builds an HTTP/1.1 status line and header block, ending with the blank line.
 * Throws if a name or value could split the head (CR, LF, NUL): header values
 * built from request data must never be able to inject fields.
 *
 * @example
 * ```ts
 * serializeHead(204, [["Date", "Sun, 06 Nov 1994 08:49:37 GMT"]]);
 * // "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
 * ```
 */
export function serializeHead(status: number, headers: HeaderList): string {
  let head = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const [name, value] of headers) {
    if (FORBIDDEN_IN_VALUE.test(value) || FORBIDDEN_IN_VALUE.test(name)) {
      throw new Error(`Refusing to send header ${JSON.stringify(name)} with a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return head + "\r\n";
}

const encoder = new TextEncoder();

/** Frames `data` as one chunk of the chunked transfer coding (RFC 9112 §7.1). */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = encoder.encode(`${data.length.toString(16)}\r\n`);
  const frame = new Uint8Array(size.length + data.length + 2);
  frame.set(size);
  frame.set(data, size.length);
  frame[frame.length - 2] = 0x0d;
  frame[frame.length - 1] = 0x0a;
  return frame;
}

/** The last chunk with no trailers. */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");
