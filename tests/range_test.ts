import assert from "node:assert/strict";
import { type ByteRange, parseRange, type RangeResult } from "../lib/content/range.ts";

const IGNORE: RangeResult = { kind: "ignore" };
const UNSATISFIABLE: RangeResult = { kind: "unsatisfiable" };

/** Expected `ranges` result from [start, end) pairs. */
function ranges(...pairs: [number, number][]): RangeResult {
  return { kind: "ranges", ranges: pairs.map(([start, end]): ByteRange => ({ start, end })) };
}

const HUGE = "99999999999999999999999"; // far past Number.MAX_SAFE_INTEGER
const MAX_SAFE = String(Number.MAX_SAFE_INTEGER);

// deno-fmt-ignore
const rows: { name: string; value: string | undefined; size: number; expected: RangeResult }[] = [
  // Absent header and units.
  { name: "absent", value: undefined, size: 10, expected: IGNORE },
  { name: "unknown unit", value: "items=0-1", size: 10, expected: IGNORE },
  { name: "no '='", value: "bytes 0-1", size: 10, expected: IGNORE },
  { name: "unit case-insensitive", value: "BYTES=0-1", size: 10, expected: ranges([0, 2]) },
  { name: "unit mixed case", value: "Bytes=0-1", size: 10, expected: ranges([0, 2]) },
  { name: "space before '='", value: "bytes =0-1", size: 10, expected: IGNORE },
  { name: "prefix of bytes", value: "byte=0-1", size: 10, expected: IGNORE },
  // The three spec forms.
  { name: "a-b", value: "bytes=2-5", size: 10, expected: ranges([2, 6]) },
  { name: "a-a (one byte)", value: "bytes=0-0", size: 10, expected: ranges([0, 1]) },
  { name: "a-", value: "bytes=3-", size: 10, expected: ranges([3, 10]) },
  { name: "0- (whole)", value: "bytes=0-", size: 10, expected: ranges([0, 10]) },
  { name: "-n", value: "bytes=-3", size: 10, expected: ranges([7, 10]) },
  { name: "-n longer than size", value: "bytes=-30", size: 10, expected: ranges([0, 10]) },
  { name: "last byte", value: "bytes=9-9", size: 10, expected: ranges([9, 10]) },
  { name: "last-pos clamped", value: "bytes=5-100", size: 10, expected: ranges([5, 10]) },
  { name: "leading zeros", value: "bytes=007-0009", size: 10, expected: ranges([7, 10]) },
  // Satisfiability.
  { name: "first-pos at size", value: "bytes=10-", size: 10, expected: UNSATISFIABLE },
  { name: "first-pos past size", value: "bytes=11-20", size: 10, expected: UNSATISFIABLE },
  { name: "-0 alone", value: "bytes=-0", size: 10, expected: UNSATISFIABLE },
  { name: "-0 with a satisfiable range", value: "bytes=-0,0-1", size: 10, expected: ranges([0, 2]) },
  { name: "unsatisfiable dropped, others kept", value: "bytes=20-30,0-1", size: 10, expected: ranges([0, 2]) },
  { name: "size 0: a-", value: "bytes=0-", size: 0, expected: UNSATISFIABLE },
  { name: "size 0: a-b", value: "bytes=0-0", size: 0, expected: UNSATISFIABLE },
  { name: "size 0: -n", value: "bytes=-5", size: 0, expected: UNSATISFIABLE },
  { name: "size 0: invalid still ignored", value: "bytes=5-1", size: 0, expected: IGNORE },
  // Several ranges: sorting and coalescing.
  { name: "two disjoint", value: "bytes=0-0,-1", size: 10, expected: ranges([0, 1], [9, 10]) },
  { name: "0-0,-1 on one byte coalesce", value: "bytes=0-0,-1", size: 1, expected: ranges([0, 1]) },
  { name: "0-0,-1 on two bytes touch", value: "bytes=0-0,-1", size: 2, expected: ranges([0, 2]) },
  { name: "sorted", value: "bytes=8-9,0-1,4-5", size: 10, expected: ranges([0, 2], [4, 6], [8, 10]) },
  { name: "adjacent merge", value: "bytes=0-1,2-3", size: 10, expected: ranges([0, 4]) },
  { name: "gap of one byte kept", value: "bytes=0-1,3-4", size: 10, expected: ranges([0, 2], [3, 5]) },
  { name: "overlap merge", value: "bytes=0-5,3-8", size: 10, expected: ranges([0, 9]) },
  { name: "contained merge", value: "bytes=0-8,2-3", size: 10, expected: ranges([0, 9]) },
  { name: "overlap abuse collapses", value: "bytes=0-,0-,0-,0-,0-", size: 10, expected: ranges([0, 10]) },
  { name: "unsorted chain merges", value: "bytes=6-9,0-2,3-5", size: 10, expected: ranges([0, 10]) },
  { name: "suffix overlaps a-", value: "bytes=-5,7-", size: 10, expected: ranges([5, 10]) },
  // List syntax and whitespace.
  { name: "OWS around commas", value: "bytes= 0-1 , 4-5", size: 10, expected: ranges([0, 2], [4, 6]) },
  { name: "tabs around commas", value: "bytes=0-1\t,\t4-5\t", size: 10, expected: ranges([0, 2], [4, 6]) },
  { name: "empty element", value: "bytes=0-1,,4-5", size: 10, expected: ranges([0, 2], [4, 6]) },
  { name: "leading and trailing commas", value: "bytes=,0-1,", size: 10, expected: ranges([0, 2]) },
  { name: "only commas", value: "bytes=,", size: 10, expected: IGNORE },
  { name: "only OWS and commas", value: "bytes= , ,", size: 10, expected: IGNORE },
  { name: "empty range-set", value: "bytes=", size: 10, expected: IGNORE },
  // Invalid specs: the whole header is ignored.
  { name: "b < a", value: "bytes=5-1", size: 10, expected: IGNORE },
  { name: "b < a next to a valid spec", value: "bytes=0-1,5-1", size: 10, expected: IGNORE },
  { name: "lone '-'", value: "bytes=-", size: 10, expected: IGNORE },
  { name: "no '-'", value: "bytes=5", size: 10, expected: IGNORE },
  { name: "two '-'", value: "bytes=1-2-3", size: 10, expected: IGNORE },
  { name: "negative number", value: "bytes=--1", size: 10, expected: IGNORE },
  { name: "plus sign", value: "bytes=+1-2", size: 10, expected: IGNORE },
  { name: "space inside spec", value: "bytes=0 -1", size: 10, expected: IGNORE },
  { name: "space inside number", value: "bytes=1 0-20", size: 10, expected: IGNORE },
  { name: "hex", value: "bytes=0x1-2", size: 10, expected: IGNORE },
  { name: "exponent", value: "bytes=1e1-", size: 10, expected: IGNORE },
  { name: "decimal point", value: "bytes=1.5-2", size: 10, expected: IGNORE },
  { name: "non-ASCII digit", value: "bytes=٣-", size: 10, expected: IGNORE },
  { name: "other whitespace", value: "bytes=0-1\f", size: 10, expected: IGNORE },
  { name: "garbage element among valid", value: "bytes=0-1,x,4-5", size: 10, expected: IGNORE },
  { name: "second '='", value: "bytes=0-1=2", size: 10, expected: IGNORE },
  // Numbers past Number.MAX_SAFE_INTEGER.
  { name: "huge first-pos", value: `bytes=${HUGE}-`, size: 10, expected: UNSATISFIABLE },
  { name: "huge a-b", value: `bytes=${HUGE}-${HUGE}`, size: 10, expected: UNSATISFIABLE },
  { name: "huge last-pos clamped", value: `bytes=2-${HUGE}`, size: 10, expected: ranges([2, 10]) },
  { name: "huge suffix is whole", value: `bytes=-${HUGE}`, size: 10, expected: ranges([0, 10]) },
  { name: "huge b < a, equal as doubles", value: "bytes=99999999999999999999-99999999999999999998", size: 10, expected: IGNORE },
  { name: "MAX_SAFE b < MAX_SAFE+1 a", value: `bytes=9007199254740992-${MAX_SAFE}`, size: 10, expected: IGNORE },
  { name: "huge but ordered", value: "bytes=99999999999999999998-99999999999999999999", size: 10, expected: UNSATISFIABLE },
  { name: "thousand-digit last-pos", value: `bytes=0-${"9".repeat(1000)}`, size: 10, expected: ranges([0, 10]) },
  { name: "thousand-digit first-pos", value: `bytes=${"9".repeat(1000)}-`, size: 10, expected: UNSATISFIABLE },
  { name: "range at MAX_SAFE size", value: `bytes=${Number.MAX_SAFE_INTEGER - 1}-`, size: Number.MAX_SAFE_INTEGER, expected: ranges([Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]) },
];

for (const row of rows) {
  Deno.test(`parseRange: ${row.name}`, () => {
    assert.deepEqual(parseRange(row.value, row.size), row.expected);
  });
}

/** `count` disjoint one-byte ranges "0-0,2-2,4-4,..." */
function manyRanges(count: number): string {
  return "bytes=" + Array.from({ length: count }, (_, i) => `${2 * i}-${2 * i}`).join(",");
}

// deno-fmt-ignore
const limitRows: {
  name: string;
  value: string;
  maxRanges?: number;
  expected: number | "ignore";
}[] = [
  { name: "100 ranges allowed by default", value: manyRanges(100), expected: 100 },
  { name: "101 ranges ignored by default", value: manyRanges(101), expected: "ignore" },
  { name: "at a custom limit", value: manyRanges(3), maxRanges: 3, expected: 3 },
  { name: "past a custom limit", value: manyRanges(4), maxRanges: 3, expected: "ignore" },
  { name: "counts specs, not coalesced ranges", value: "bytes=0-0,0-0,0-0,0-0", maxRanges: 3, expected: "ignore" },
  { name: "counts unsatisfiable specs", value: "bytes=0-0,500-,600-,700-", maxRanges: 3, expected: "ignore" },
  { name: "empty elements do not count", value: "bytes=0-0,,,,2-2,,,", maxRanges: 2, expected: 2 },
];

for (const row of limitRows) {
  Deno.test(`parseRange limits: ${row.name}`, () => {
    const result = parseRange(row.value, 1000, { maxRanges: row.maxRanges });
    if (row.expected === "ignore") {
      assert.deepEqual(result, IGNORE);
    } else {
      assert.equal(result.kind, "ranges");
      assert.equal(result.kind === "ranges" && result.ranges.length, row.expected);
    }
  });
}

Deno.test("parseRange: coalesced ranges are disjoint, sorted and within size", () => {
  // A deterministic pseudo-random walk over many overlapping specs.
  let seed = 12345;
  const next = (limit: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % limit;
  for (let trial = 0; trial < 200; trial++) {
    const size = 1 + next(50);
    const specs = Array.from({ length: 1 + next(10) }, () => {
      const start = next(60);
      return `${start}-${start + next(10)}`;
    });
    const result = parseRange(`bytes=${specs.join(",")}`, size);
    if (result.kind !== "ranges") continue;
    const covered = new Set<number>();
    for (const spec of specs) {
      const [start, end] = spec.split("-").map(Number);
      for (let i = start; i <= Math.min(end, size - 1); i++) covered.add(i);
    }
    let total = 0;
    result.ranges.forEach((range, i) => {
      assert.ok(range.start < range.end && range.end <= size, `${specs}: ${JSON.stringify(range)}`);
      if (i > 0) assert.ok(result.ranges[i - 1].end < range.start, `${specs}: not disjoint`);
      for (let i = range.start; i < range.end; i++) {
        assert.ok(covered.has(i), `${specs}: byte ${i}`);
      }
      total += range.end - range.start;
    });
    assert.equal(total, covered.size, `${specs}: covers the wrong bytes`);
  }
});

for (const size of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
  Deno.test(`parseRange: throws RangeError for size ${size}`, () => {
    assert.throws(() => parseRange("bytes=0-1", size), RangeError);
  });
}
