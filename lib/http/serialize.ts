/**
 * Serializes response heads, and the last chunk of the chunked coding.
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

/** The last chunk with no trailers. */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");
