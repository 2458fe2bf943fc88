/**
 * A request's header fields kept as offsets into the bytes they arrived in,
 * decoded to strings only when a handler asks for one.
 *
 * @module
 */

import { LOWER } from "./abnf.ts";

/** Most arguments passed to one `fromCharCode` call; far more overflow the stack. */
const LATIN1_SLICE = 8192;
/** Up to this length a char-by-char loop beats a decoder call. */
const SHORT_STRING = 16;
const asciiDecoder = new TextDecoder();

/**
 * Decodes bytes as latin1 (one char per byte, RFC 9110 §5.5's view of
 * obs-text). All-ASCII bytes, the usual case, go to the native decoder,
 * which is fastest for longer strings (for ASCII, UTF-8 is the same).
 */
export function latin1(data: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT_STRING) {
    let text = "";
    for (let i = start; i < end; i++) text += String.fromCharCode(data[i]);
    return text;
  }
  let bytesOr = 0;
  for (let i = start; i < end; i++) bytesOr |= data[i];
  if (bytesOr < 0x80) return asciiDecoder.decode(data.subarray(start, end));
  let text = "";
  for (let from = start; from < end; from += LATIN1_SLICE) {
    const view = data.subarray(from, Math.min(end, from + LATIN1_SLICE));
    text += String.fromCharCode.apply(null, view as unknown as number[]);
  }
  return text;
}

/**
 * Header names requests commonly carry or the server asks for, interned so
 * that parsing them allocates nothing and asking for an absent one is one bit
 * test. The server's own questions come first: their bits are in the low word.
 */
const KNOWN_NAMES = [
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "expect",
  "accept-encoding",
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "want-repr-digest",
  "accept",
  "authorization",
  "origin",
  "sec-fetch-site",
  "content-type",
  "content-range",
  "content-digest",
  "repr-digest",
  "content-md5",
  "destination",
  "overwrite",
  "depth",
  "if",
  "timeout",
  "upload-complete",
  "upload-offset",
  "upload-length",
  "upload-draft-interop-version",
  "referer",
  // From here on the high word.
  "user-agent",
  "access-control-request-method",
  "access-control-request-headers",
  "accept-language",
  "cookie",
  "cache-control",
  "pragma",
  "upgrade-insecure-requests",
  "sec-fetch-mode",
  "sec-fetch-dest",
  "sec-fetch-user",
  "sec-ch-ua",
  "sec-ch-ua-mobile",
  "sec-ch-ua-platform",
  "dnt",
  "priority",
  "te",
  "lock-token",
  "x-forwarded-for",
  "x-requested-with",
];

/** KNOWN_NAMES' index of "host", counted by the parser (it must not repeat). */
export const HOST_INDEX = 0;
/** KNOWN_NAMES' index of "content-length", counted by the parser. */
export const CONTENT_LENGTH_INDEX = 2;

/** Names beyond this index have their presence bit in the high word. */
const LOW_WORD_NAMES = 32;

const NAME_TABLE_BITS = 10;
const NAME_TABLE_MASK = (1 << NAME_TABLE_BITS) - 1;
/** Open-addressed table from a lowercase name's key to its index in KNOWN_NAMES (-1: empty). */
const nameTable = new Int16Array(1 << NAME_TABLE_BITS).fill(-1);
const knownBytes = KNOWN_NAMES.map((name) => new TextEncoder().encode(name));
/** The index of each known name, for {@linkcode HeaderFields.get}. */
const knownIndex = new Map(KNOWN_NAMES.map((name, index) => [name, index]));

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

/**
 * The index among the known names of the field name in `data[start, end)`
 * (all tchar), or -1. Bytes are lowercased by setting bit 0x20: for tchar
 * that maps only letters onto the known names' alphabet (a-z, 0-9, "-"),
 * since the other tchar it changes ("^", "_") become bytes no known name has.
 */
export function knownNameIndex(data: Uint8Array, start: number, end: number): number {
  const length = end - start;
  let slot = nameKey(length, data[start] | 0x20, data[end - 1] | 0x20);
  for (;; slot = (slot + 1) & NAME_TABLE_MASK) {
    const index = nameTable[slot];
    if (index === -1) return -1;
    const known = knownBytes[index];
    if (known.length !== length) continue;
    let i = 0;
    while (i < length && known[i] === (data[start + i] | 0x20)) i++;
    if (i === length) return index;
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
export const TARGET_SLOT = KNOWN_NAMES.length;
/** The last text seen in each slot (a known field's value, the target), as bytes and as text. */
const lastBytes: (Uint8Array | null)[] = Array.from({ length: TARGET_SLOT + 1 }, () => null);
const lastTexts: string[] = Array.from({ length: TARGET_SLOT + 1 }, () => "");

/**
 * The text of `data[start, end)`, the same string as last time in `slot`
 * when the bytes are the same. A client repeats most of its fields on every
 * request (User-Agent, Accept, sec-ch-ua...), and comparing bytes costs less
 * than decoding them and collecting another string (measured).
 */
export function rememberedText(
  slot: number,
  data: Uint8Array,
  start: number,
  end: number,
): string {
  const length = end - start;
  const last = lastBytes[slot];
  if (last !== null && last.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = last[i] === data[start + i];
    if (same) return lastTexts[slot];
  }
  const text = latin1(data, start, end);
  if (length <= REMEMBERED_TEXT_BYTES) {
    lastBytes[slot] = data.slice(start, end);
    lastTexts[slot] = text;
  }
  return text;
}

/**
 * Numbers stored per field in {@linkcode HeaderFields}' layout: where the
 * name starts, its length and known index, where the trimmed value starts and
 * ends.
 */
export const FIELD_STRIDE = 4;
/** The field's name is not a known one (the low bits of its name code). */
const UNKNOWN = 0x7f;
/** Bits of the name code that hold the known index (UNKNOWN for none); the length is above them. */
const NAME_LENGTH_SHIFT = 7;

/**
 * The name code {@linkcode HeaderFields} stores for a field name: its length
 * and its known index.
 */
export function nameCode(length: number, index: number): number {
  return length << NAME_LENGTH_SHIFT | (index === -1 ? UNKNOWN : index);
}

const EXPIRED = "Header fields read after their exchange ended";

/**
 * A request's header fields, read-only, by lowercase name; a name that
 * appears more than once gives its values joined with ", " in order, as one
 * list value (RFC 9110 §5.3).
 *
 * The parser records where each name and value lies in the receive buffer
 * and nothing is decoded until asked for: a request carries about fifteen
 * fields and the server reads a handful. Before the bytes may change (the
 * receive buffer about to reuse them) the buffer calls
 * {@linkcode HeaderFields.detach}, which keeps the head as one string; once
 * the exchange is over the connection has it call
 * {@linkcode HeaderFields.expire} instead, which keeps nothing.
 */
export class HeaderFields implements ReadonlyMap<string, string> {
  /** The receive buffer's bytes while attached, or null once detached. */
  #data: Uint8Array | null;
  /** The whole head as text (offsets minus #start), once detached. */
  #text = "";
  /** Offset of the head's first byte in #data. */
  readonly #start: number;
  /** Offset just past the head's last byte in #data. */
  readonly #end: number;
  /** FIELD_STRIDE numbers per field, see nameCode; offsets into #data. The parser's until detached. */
  #fields: number[];
  /** How many numbers of #fields are this head's. */
  readonly #count: number;
  /** Bit i (of the low, then the high word) set: known name i is present. */
  readonly #presentLow: number;
  readonly #presentHigh: number;
  /** Same for known names that are present more than once. */
  readonly #repeatedLow: number;
  readonly #repeatedHigh: number;
  /** Whether some field name is not a known one. */
  readonly #anyUnknown: boolean;
  /** The fields as a Map, built the first time they are listed. */
  #map: Map<string, string> | null = null;
  /** Set when the exchange ended: the buffer's bytes belong to the next request. */
  #expired = false;

  /**
   * @param data the buffer holding the head
   * @param start the head's first byte in `data`
   * @param end just past the head's last byte
   * @param fields per field: name start, {@linkcode nameCode}, value start, value end;
   *   read in place until {@linkcode HeaderFields.detach} or {@linkcode HeaderFields.expire}
   * @param count how many numbers of `fields` are this head's
   */
  constructor(data: Uint8Array, start: number, end: number, fields: number[], count: number) {
    this.#data = data;
    this.#start = start;
    this.#end = end;
    this.#fields = fields;
    this.#count = count;
    let presentLow = 0, presentHigh = 0, repeatedLow = 0, repeatedHigh = 0;
    let anyUnknown = false;
    for (let f = 1; f < count; f += FIELD_STRIDE) {
      const index = fields[f] & UNKNOWN;
      if (index === UNKNOWN) anyUnknown = true;
      else if (index < LOW_WORD_NAMES) {
        const bit = 1 << index;
        repeatedLow |= presentLow & bit;
        presentLow |= bit;
      } else {
        const bit = 1 << (index - LOW_WORD_NAMES);
        repeatedHigh |= presentHigh & bit;
        presentHigh |= bit;
      }
    }
    this.#presentLow = presentLow;
    this.#presentHigh = presentHigh;
    this.#repeatedLow = repeatedLow;
    this.#repeatedHigh = repeatedHigh;
    this.#anyUnknown = anyUnknown;
  }

  /** Keeps copies (the head as text), so that the bytes and numbers read so far may be reused. */
  detach(): void {
    const data = this.#data;
    if (data === null) return;
    this.#text = latin1(data, this.#start, this.#end);
    this.#fields = this.#fields.slice(0, this.#count);
    this.#data = null;
  }

  /**
   * Forgets the buffer without keeping anything: the exchange the fields
   * belong to is over. Reading them afterwards throws (a bug: the bytes are
   * another request's now).
   */
  expire(): void {
    this.#data = null;
    this.#fields = [];
    this.#expired = true;
  }

  /** The value of the field `name` (lowercase), joined when repeated; undefined when absent. */
  get(name: string): string | undefined {
    if (this.#expired) throw new Error(EXPIRED);
    const index = knownIndex.get(name);
    if (index === undefined) return this.#anyUnknown ? this.#unknown(name) : undefined;
    let repeated: boolean;
    if (index < LOW_WORD_NAMES) {
      const bit = 1 << index;
      if ((this.#presentLow & bit) === 0) return undefined;
      repeated = (this.#repeatedLow & bit) !== 0;
    } else {
      const bit = 1 << (index - LOW_WORD_NAMES);
      if ((this.#presentHigh & bit) === 0) return undefined;
      repeated = (this.#repeatedHigh & bit) !== 0;
    }
    const fields = this.#fields;
    let value: string | undefined;
    for (let f = 0; f < this.#count; f += FIELD_STRIDE) {
      if ((fields[f + 1] & UNKNOWN) !== index) continue;
      const text = this.#value(index, fields[f + 2], fields[f + 3]);
      if (!repeated) return text;
      value = value === undefined ? text : `${value}, ${text}`;
    }
    return value;
  }

  /** Whether the field `name` (lowercase) is present. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** The number of distinct field names. */
  get size(): number {
    return this.#asMap().size;
  }

  /** The fields in the order their names first appeared, as [name, value]. */
  entries(): MapIterator<[string, string]> {
    return this.#asMap().entries();
  }

  /** The distinct field names in order. */
  keys(): MapIterator<string> {
    return this.#asMap().keys();
  }

  /** The values in the order of {@linkcode HeaderFields.keys}. */
  values(): MapIterator<string> {
    return this.#asMap().values();
  }

  /** Calls `callback` with each value and name, as `Map.prototype.forEach` does. */
  forEach(
    callback: (value: string, name: string, map: ReadonlyMap<string, string>) => void,
    thisArg?: unknown,
  ): void {
    for (const [name, value] of this.#asMap()) callback.call(thisArg, value, name, this);
  }

  /** Same as {@linkcode HeaderFields.entries}. */
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  /** The value bytes `[start, end)` as text; `index` is the name's known index or UNKNOWN. */
  #value(index: number, start: number, end: number): string {
    const data = this.#data;
    if (data === null) return this.#text.slice(start - this.#start, end - this.#start);
    return index === UNKNOWN || SECRET_FIELD[index] === 1
      ? latin1(data, start, end)
      : rememberedText(index, data, start, end);
  }

  /** The lowercase name of the field at `f` in #fields. */
  #name(f: number): string {
    const fields = this.#fields;
    const index = fields[f + 1] & UNKNOWN;
    if (index !== UNKNOWN) return KNOWN_NAMES[index];
    const start = fields[f];
    const end = start + (fields[f + 1] >> NAME_LENGTH_SHIFT);
    const data = this.#data;
    return data === null
      ? this.#text.slice(start - this.#start, end - this.#start).toLowerCase()
      : lowercaseName(data, start, end);
  }

  /** get() for a name that is not a known one: compared with each unknown field's name. */
  #unknown(name: string): string | undefined {
    const fields = this.#fields;
    let value: string | undefined;
    for (let f = 0; f < this.#count; f += FIELD_STRIDE) {
      const code = fields[f + 1];
      if ((code & UNKNOWN) !== UNKNOWN || code >> NAME_LENGTH_SHIFT !== name.length) continue;
      if (this.#name(f) !== name) continue;
      const text = this.#value(UNKNOWN, fields[f + 2], fields[f + 3]);
      value = value === undefined ? text : `${value}, ${text}`;
    }
    return value;
  }

  #asMap(): Map<string, string> {
    if (this.#expired) throw new Error(EXPIRED);
    if (this.#map !== null) return this.#map;
    const map = new Map<string, string>();
    const fields = this.#fields;
    for (let f = 0; f < this.#count; f += FIELD_STRIDE) {
      const name = this.#name(f);
      const text = this.#value(fields[f + 1] & UNKNOWN, fields[f + 2], fields[f + 3]);
      const previous = map.get(name);
      map.set(name, previous === undefined ? text : `${previous}, ${text}`);
    }
    this.#map = map;
    return map;
  }
}
