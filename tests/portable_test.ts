import assert from "node:assert/strict";
import { encodeUrlPath } from "../lib/handlers/url_path.ts";
import {
  encodePathSegment,
  entryComparator,
  findMatch,
  foldSearchTerm,
  formatRelativeTime,
  formatSize,
  type SortableEntry,
} from "../lib/ui/portable.ts";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

const RELATIVE_CASES: [ageMs: number, expected: string][] = [
  [0, "just now"],
  [59 * SECOND, "just now"],
  [-59 * SECOND, "just now"],
  [-61 * SECOND, "2026-11-28"],
  [-400 * DAY, "2028-01-02"],
  [MINUTE, "1 minute ago"],
  [2 * MINUTE - 1, "1 minute ago"],
  [59 * MINUTE + 59 * SECOND, "59 minutes ago"],
  [HOUR, "1 hour ago"],
  [24 * HOUR - 1, "23 hours ago"],
  [DAY, "1 day ago"],
  [29 * DAY, "29 days ago"],
  [30 * DAY, "1 month ago"],
  [61 * DAY, "2 months ago"],
  [364 * DAY, "11 months ago"],
  [365 * DAY, "1 year ago"],
  [800 * DAY, "2 years ago"],
  [11_000 * DAY, "30 years ago"],
];

Deno.test("formatRelativeTime words the age of an instant", () => {
  for (const [age, expected] of RELATIVE_CASES) {
    assert.equal(formatRelativeTime(NOW - age, NOW), expected, `age ${age} ms`);
  }
});

function entry(name: string, size: number | null, mtime: number | null = null): SortableEntry {
  return { name, isDirectory: size === null, size, mtime };
}

const ENTRIES: SortableEntry[] = [
  entry("file10", 5, 3),
  entry("file2", 50, null),
  entry("B", 7, 1),
  entry("b", 7, 2),
  entry("a", 0, 9),
  entry("zdir", null, 1),
  entry("Adir", null, null),
];

const COMPARATOR_CASES: [key: string, order: string, expected: string[]][] = [
  ["name", "asc", ["Adir", "zdir", "a", "b", "B", "file2", "file10"]],
  ["name", "desc", ["zdir", "Adir", "file10", "file2", "B", "b", "a"]],
  ["size", "asc", ["Adir", "zdir", "a", "file10", "b", "B", "file2"]],
  ["size", "desc", ["zdir", "Adir", "file2", "B", "b", "file10", "a"]],
  ["mtime", "asc", ["Adir", "zdir", "file2", "B", "b", "file10", "a"]],
  ["mtime", "desc", ["zdir", "Adir", "a", "file10", "b", "B", "file2"]],
  ["bogus", "sideways", ["Adir", "zdir", "a", "b", "B", "file2", "file10"]],
];

Deno.test("entryComparator puts directories first and sorts by the key, then by name", () => {
  for (const [key, order, expected] of COMPARATOR_CASES) {
    const sorted = [...ENTRIES].sort(entryComparator(key, order)).map((e) => e.name);
    assert.deepEqual(sorted, expected, `${key} ${order}`);
  }
});

const SEGMENT_CASES: [segment: string, expected: string][] = [
  ["plain.txt", "plain.txt"],
  ["a b", "a%20b"],
  ["it's (1)*!", "it%27s%20%281%29%2A%21"],
  ["#?%/&=+", "%23%3F%25%2F%26%3D%2B"],
  ["café", "caf%C3%A9"],
  ["<img>", "%3Cimg%3E"],
  ["~-_.", "~-_."],
];

Deno.test("encodePathSegment escapes all but unreserved characters, like the server's links", () => {
  for (const [segment, expected] of SEGMENT_CASES) {
    assert.equal(encodePathSegment(segment), expected, segment);
    if (segment.includes("/")) continue;
    assert.equal(`/${encodePathSegment(segment)}`, encodeUrlPath([segment], false), segment);
  }
});

/** Rebuilds a function from its source text alone, as the page script does. */
function fromSource<T>(fn: T): T {
  return new Function(`return (${fn});`)() as T;
}

Deno.test("the portable functions work from their source text alone (as the page embeds them)", () => {
  const size = fromSource(formatSize);
  for (const bytes of [0, 1023, 1536, 5 * 1024 ** 3]) assert.equal(size(bytes), formatSize(bytes));
  const relative = fromSource(formatRelativeTime);
  for (const [age] of RELATIVE_CASES) {
    assert.equal(relative(NOW - age, NOW), formatRelativeTime(NOW - age, NOW));
  }
  const comparator = fromSource(entryComparator);
  for (const [key, order, expected] of COMPARATOR_CASES) {
    assert.deepEqual([...ENTRIES].sort(comparator(key, order)).map((e) => e.name), expected);
  }
  const encode = fromSource(encodePathSegment);
  for (const [segment, expected] of SEGMENT_CASES) assert.equal(encode(segment), expected);
});

/** [name, term, the marked part of the name or null] */
const MATCH_CASES: [string, string, string | null][] = [
  ["Report-Final.txt", "final", "Final"],
  ["Report-Final.txt", "FINAL.TXT", "Final.txt"],
  ["report.txt", "nope", null],
  ["report.txt", "", null],
  ["Stra\u00dfe.md", "STRASSE", "Stra\u00dfe"],
  ["STRASSE.md", "stra\u00dfe", "STRASSE"],
  ["Cafe\u0301 menu", "caf\u00e9", "Cafe\u0301"], // NFD name, NFC term
  ["Caf\u00e9 menu", "CAFE\u0301", "Caf\u00e9"], // NFC name, NFD term
  ["Cafe\u0301", "cafe", null], // "e" with its accent is not "e"
  [
    "\u03a3\u039f\u03a6\u0399\u0391\u03a3.txt",
    "\u03c3\u03bf\u03c6\u03b9\u03b1\u03c2",
    "\u03a3\u039f\u03a6\u0399\u0391\u03a3",
  ], // final sigma
  [
    "\u1112\u1161\u11ab\u1100\u1173\u11af.txt",
    "\ud55c\uae00",
    "\u1112\u1161\u11ab\u1100\u1173\u11af",
  ], // Hangul jamo
  ["photo \ud83d\udc4d\ud83c\udffd.jpg", "\ud83d\udc4d", "\ud83d\udc4d\ud83c\udffd"], // the whole emoji
];

Deno.test("findMatch marks the term in a name ignoring case and Unicode normalization", () => {
  for (const [name, term, marked] of MATCH_CASES) {
    const match = findMatch(name, foldSearchTerm(term));
    assert.equal(
      match === null ? null : name.slice(match[0], match[1]),
      marked,
      `${name} / ${term}`,
    );
  }
});
