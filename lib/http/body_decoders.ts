/**
 * Sans-IO request body decoders, one per framing: Content-Length and chunked
 * (RFC 9112 §6.2, §7.1).
 *
 * @module
 */

import { CR, FIELD_VALUE_CHAR, HEX_VALUE, HTAB, LF, SP } from "./abnf.ts";
import { HttpError } from "./errors.ts";
import { scanFieldLine } from "./head_parser.ts";
import type { ReceiveBuffer } from "./receive_buffer.ts";

/** Returned by a decoder that needs more bytes before it can go on. */
export const NEED_MORE: unique symbol = Symbol("need more");
/** Returned by a decoder once the whole body has been decoded. */
export const END: unique symbol = Symbol("end of body");

/** One step of decoding: body bytes (a view into the buffer), or a signal. */
export type DecodeStep = Uint8Array | typeof NEED_MORE | typeof END;

/**
 * Takes body bytes out of a {@linkcode ReceiveBuffer}. A returned view is
 * valid until the buffer is next written to.
 */
export interface BodyDecoder {
  /** Decodes what it can from `rb`. Throws {@linkcode HttpError} on invalid framing. */
  next(rb: ReceiveBuffer): DecodeStep;
}

/**
 * Decodes a body of a known length.
 *
 * @example
 * ```ts
 * const decoder = new LengthDecoder(5);
 * decoder.next(rb); // up to 5 bytes, then END
 * ```
 */
export class LengthDecoder implements BodyDecoder {
  #remaining: number;

  /** @param length the Content-Length */
  constructor(length: number) {
    this.#remaining = length;
  }

  /** Bytes not yet decoded. */
  get remaining(): number {
    return this.#remaining;
  }

  /** Takes up to the remaining length from `rb`. */
  next(rb: ReceiveBuffer): DecodeStep {
    if (this.#remaining === 0) return END;
    const n = Math.min(this.#remaining, rb.end - rb.start);
    if (n === 0) return NEED_MORE;
    const view = rb.data.subarray(rb.start, rb.start + n);
    rb.consume(n);
    this.#remaining -= n;
    return view;
  }
}

/** Limits for the chunked decoder's metadata (not for the body size). */
export interface ChunkedLimits {
  /** Longest chunk-size line, extensions included, in bytes. */
  maxLineBytes: number;
  /** Largest trailer section in bytes. */
  maxTrailerBytes: number;
  /** Most trailer fields. */
  maxTrailerCount: number;
}

const enum State {
  Size,
  Data,
  DataEnd,
  Trailer,
  Done,
}

/**
 * Decodes the chunked transfer coding. Chunk extensions are validated and
 * ignored; trailer fields are validated and discarded. Lines end in CRLF only,
 * as in the head.
 *
 * @example
 * ```ts
 * const decoder = new ChunkedDecoder({ maxLineBytes: 4096, maxTrailerBytes: 16384, maxTrailerCount: 32 });
 * decoder.next(rb); // data views, NEED_MORE, and finally END
 * ```
 */
export class ChunkedDecoder implements BodyDecoder {
  readonly #limits: ChunkedLimits;
  #state = State.Size;
  #chunkRemaining = 0;
  #trailerBytes = 0;
  #trailerCount = 0;
  /** Bytes of the current line already scanned for its LF. */
  #lineScanned = 0;

  /** @param limits bounds on sizes of lines and trailers */
  constructor(limits: ChunkedLimits) {
    this.#limits = limits;
  }

  /** Decodes as much as `rb` holds, returning one step. */
  next(rb: ReceiveBuffer): DecodeStep {
    for (;;) {
      switch (this.#state) {
        case State.Size: {
          const line = this.#takeLine(rb, this.#limits.maxLineBytes);
          if (line === null) return NEED_MORE;
          this.#chunkRemaining = parseChunkSizeLine(rb.data, line.start, line.end);
          this.#state = this.#chunkRemaining === 0 ? State.Trailer : State.Data;
          break;
        }
        case State.Data: {
          const n = Math.min(this.#chunkRemaining, rb.end - rb.start);
          if (n === 0) return NEED_MORE;
          const view = rb.data.subarray(rb.start, rb.start + n);
          rb.consume(n);
          this.#chunkRemaining -= n;
          if (this.#chunkRemaining === 0) this.#state = State.DataEnd;
          return view;
        }
        case State.DataEnd: {
          if (rb.end - rb.start < 2) return NEED_MORE;
          if (rb.data[rb.start] !== CR || rb.data[rb.start + 1] !== LF) {
            throw new HttpError(400, "Chunk data not followed by CRLF");
          }
          rb.consume(2);
          this.#state = State.Size;
          break;
        }
        case State.Trailer: {
          const budget = this.#limits.maxTrailerBytes - this.#trailerBytes;
          const line = this.#takeLine(rb, budget);
          if (line === null) return NEED_MORE;
          this.#trailerBytes += line.end - line.start + 2;
          if (line.start === line.end) {
            this.#state = State.Done;
            return END;
          }
          if (++this.#trailerCount > this.#limits.maxTrailerCount) {
            throw new HttpError(431, "Too many trailer fields");
          }
          scanFieldLine(rb.data, line.start, line.end);
          break;
        }
        case State.Done:
          return END;
      }
    }
  }

  /**
   * Consumes one CRLF-terminated line and returns its content's offsets in
   * `rb.data` (valid until the buffer is written to), or null if incomplete.
   */
  #takeLine(rb: ReceiveBuffer, maxBytes: number): { start: number; end: number } | null {
    const data = rb.data;
    const start = rb.start;
    const limit = Math.min(rb.end, start + maxBytes + 2);
    // Resume where the last call stopped, so a line trickling in byte by byte costs linear time.
    for (let i = start + this.#lineScanned; i < limit; i++) {
      if (data[i] !== LF) continue;
      if (i === start || data[i - 1] !== CR) throw new HttpError(400, "Bare LF in chunked body");
      rb.consume(i + 1 - start);
      this.#lineScanned = 0;
      return { start, end: i - 1 };
    }
    if (rb.end - start >= maxBytes + 2) throw new HttpError(400, "Chunk line too long");
    this.#lineScanned = limit - start;
    return null;
  }
}

/**
 * Parses `chunk-size [ chunk-ext ]` (RFC 9112 §7.1.1). The size is hex digits
 * only, at most 2^53-1; extensions must start with `;` after optional
 * whitespace and contain no control characters. Whitespace with no extension
 * after it is invalid.
 */
function parseChunkSizeLine(data: Uint8Array, start: number, end: number): number {
  let size = 0;
  let i = start;
  for (; i < end; i++) {
    const digit = HEX_VALUE[data[i]];
    if (digit === -1) break;
    if (size > (Number.MAX_SAFE_INTEGER - digit) / 16) {
      throw new HttpError(400, "Chunk size too large");
    }
    size = size * 16 + digit;
  }
  if (i === start) throw new HttpError(400, "Invalid chunk size");
  const sizeEnd = i;
  while (i < end && (data[i] === SP || data[i] === HTAB)) i++;
  // Whitespace after the size is BWS before a `;` only, never trailing.
  if (i < end ? data[i] !== 0x3b : i !== sizeEnd) throw new HttpError(400, "Invalid chunk size");
  for (; i < end; i++) {
    if (FIELD_VALUE_CHAR[data[i]] !== 1) throw new HttpError(400, "Invalid chunk extension");
  }
  return size;
}
