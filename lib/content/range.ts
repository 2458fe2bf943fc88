/**
 * The `Range` request header (RFC 9110 §14.1.2, §14.2): which bytes of a
 * representation a client asked for.
 *
 * @module
 */

/** One satisfiable byte range: `start` inclusive, `end` exclusive, `start < end`. */
export interface ByteRange {
  /** Offset of the first byte. */
  start: number;
  /** Offset just past the last byte. */
  end: number;
}

/**
 * The outcome of a `Range` header against a representation of `size` bytes:
 * - `ignore`: no header, an unknown unit, invalid syntax or too many ranges:
 *   serve the whole representation with 200 (RFC 9110 §14.2 lets a server
 *   ignore a Range it cannot or will not process).
 * - `unsatisfiable`: valid, but no range overlaps the representation: 416,
 *   with a Content-Range that gives only the size.
 * - `ranges`: sorted by start; overlapping and adjacent ranges are coalesced.
 */
export type RangeResult =
  | { kind: "ignore" }
  | { kind: "unsatisfiable" }
  | { kind: "ranges"; ranges: ByteRange[] };

/** Limits that defend against amplification by many ranges. */
export interface RangeLimits {
  /** Most range specs a header may hold before it is ignored; default 100. */
  maxRanges?: number;
}

const DEFAULT_MAX_RANGES = 100;
/** A list element: first-pos "-" last-pos, with OWS around (RFC 9110 §5.6.1). */
const RANGE_SPEC = /^[ \t]*([0-9]*)-([0-9]*)[ \t]*$/;
/** The list rule lets elements be empty: "0-1,,2-3". */
const EMPTY_ELEMENT = /^[ \t]*$/;

/**
 * Parses a `Range` header value against a representation of `size` bytes.
 *
 * Syntax: the unit is `bytes`, compared case-insensitively and followed by "="
 * at once (`bytes =0-1` is an unknown unit). Specs are `a-b`, `a-` or `-n`,
 * separated by commas with optional spaces or tabs around them; empty elements
 * are skipped, but at least one spec is required. Positions are ASCII digits
 * only. Any malformed spec, or `a-b` with `b < a`, makes the whole header
 * invalid, and it is ignored.
 *
 * Numbers of any length are handled: a first-pos beyond the size is
 * unsatisfiable and a last-pos beyond it is clamped to `size - 1`, even past
 * `Number.MAX_SAFE_INTEGER` (the `b < a` check is exact there too).
 *
 * Satisfiability: a spec is unsatisfiable when its first-pos is at or past
 * `size`, or when it is a zero-length suffix (`-0`); with `size` 0 every spec
 * is. Unsatisfiable specs are dropped; when none is left the result is
 * `unsatisfiable`.
 *
 * Amplification: a header with more than `maxRanges` specs (empty elements do
 * not count) is ignored; parsing stops at the first spec past the limit. The
 * ranges returned are sorted and coalesced (overlapping or touching ones
 * merge), so they are disjoint, never more than the specs, and their total
 * length never exceeds `size`. Many small disjoint ranges are kept as asked;
 * bounding the parts of a multipart response further is the caller's choice.
 *
 * @param value the header value, `undefined` when absent
 * @param size the representation's length in bytes, a safe integer >= 0
 * @param limits amplification limits
 * @throws {RangeError} if `size` is not a non-negative safe integer
 *
 * @example
 * ```ts
 * parseRange("bytes=0-99, -100", 1000);
 * // { kind: "ranges", ranges: [{ start: 0, end: 100 }, { start: 900, end: 1000 }] }
 * ```
 */
export function parseRange(
  value: string | undefined,
  size: number,
  limits: RangeLimits = {},
): RangeResult {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Invalid representation size ${size}`);
  }
  if (value === undefined) return { kind: "ignore" };
  const equals = value.indexOf("=");
  if (equals < 0 || value.slice(0, equals).toLowerCase() !== "bytes") return { kind: "ignore" };

  const maxRanges = limits.maxRanges ?? DEFAULT_MAX_RANGES;
  const satisfiable: ByteRange[] = [];
  let specCount = 0;
  for (const element of value.slice(equals + 1).split(",")) {
    if (EMPTY_ELEMENT.test(element)) continue;
    const match = RANGE_SPEC.exec(element);
    if (match === null) return { kind: "ignore" };
    const [, first, last] = match;
    const isEmptySpec = first === "" && last === "";
    const isBackwards = first !== "" && last !== "" && isLess(last, first);
    if (isEmptySpec || isBackwards) return { kind: "ignore" };
    if (++specCount > maxRanges) return { kind: "ignore" };
    const range = toByteRange(first, last, size);
    if (range !== null) satisfiable.push(range);
  }
  if (specCount === 0) return { kind: "ignore" };
  if (satisfiable.length === 0) return { kind: "unsatisfiable" };
  return { kind: "ranges", ranges: coalesce(satisfiable) };
}

/**
 * Resolves a syntactically valid spec; `null` when it is unsatisfiable.
 * Digit strings past 2^53 become imprecise (or Infinity) numbers, which still
 * compare correctly against `size`, a safe integer.
 */
function toByteRange(first: string, last: string, size: number): ByteRange | null {
  if (first === "") {
    const suffixLength = Number(last);
    if (suffixLength === 0 || size === 0) return null;
    return { start: Math.max(0, size - suffixLength), end: size };
  }
  const start = Number(first);
  if (start >= size) return null;
  return { start, end: last === "" ? size : Math.min(Number(last) + 1, size) };
}

/** Whether digit string `a` is less than digit string `b`, exact at any length. */
function isLess(a: string, b: string): boolean {
  const x = Number(a);
  const y = Number(b);
  return Number.isSafeInteger(x) && Number.isSafeInteger(y) ? x < y : BigInt(a) < BigInt(b);
}

/** Sorts ranges by start and merges the ones that overlap or touch. */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  ranges.sort((a, b) => a.start - b.start);
  const merged = [ranges[0]];
  for (let i = 1; i < ranges.length; i++) {
    const previous = merged[merged.length - 1];
    const range = ranges[i];
    if (range.start <= previous.end) {
      previous.end = Math.max(previous.end, range.end);
    } else {
      merged.push(range);
    }
  }
  return merged;
}
