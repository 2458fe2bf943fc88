import assert from "node:assert/strict";
import { currentHttpDate, formatHttpDate, parseHttpDate } from "../lib/http/date.ts";

/** RFC 9110's example instant, Sun, 06 Nov 1994 08:49:37 GMT. */
const EXAMPLE_MS = Date.UTC(1994, 10, 6, 8, 49, 37);
const NOW_2026 = Date.UTC(2026, 10, 28, 12, 0, 0);

// deno-fmt-ignore
const formatRows: { name: string; ms: number; expected: string }[] = [
  { name: "RFC example", ms: EXAMPLE_MS, expected: "Sun, 06 Nov 1994 08:49:37 GMT" },
  { name: "epoch", ms: 0, expected: "Thu, 01 Jan 1970 00:00:00 GMT" },
  { name: "drops milliseconds", ms: EXAMPLE_MS + 999, expected: "Sun, 06 Nov 1994 08:49:37 GMT" },
  { name: "before the epoch", ms: -1000, expected: "Wed, 31 Dec 1969 23:59:59 GMT" },
  { name: "leap day", ms: Date.UTC(2024, 1, 29, 23, 59, 59), expected: "Thu, 29 Feb 2024 23:59:59 GMT" },
  { name: "year 0000", ms: Date.parse("0000-01-01T00:00:00Z"), expected: "Sat, 01 Jan 0000 00:00:00 GMT" },
  { name: "year 9999", ms: Date.parse("9999-12-31T23:59:59.999Z"), expected: "Fri, 31 Dec 9999 23:59:59 GMT" },
];

for (const row of formatRows) {
  Deno.test(`formatHttpDate: ${row.name}`, () => {
    assert.equal(formatHttpDate(row.ms), row.expected);
  });
}

for (
  const ms of [
    Number.NaN,
    Infinity,
    -Infinity,
    Date.parse("+010000-01-01T00:00:00Z"),
    -62167219200001,
  ]
) {
  Deno.test(`formatHttpDate: throws RangeError for ${ms}`, () => {
    assert.throws(() => formatHttpDate(ms), RangeError);
  });
}

// deno-fmt-ignore
const parseRows: { name: string; value: string; expected: number | null }[] = [
  // The three forms of the same instant.
  { name: "IMF-fixdate", value: "Sun, 06 Nov 1994 08:49:37 GMT", expected: EXAMPLE_MS },
  { name: "RFC 850", value: "Sunday, 06-Nov-94 08:49:37 GMT", expected: EXAMPLE_MS },
  { name: "asctime, one-digit day", value: "Sun Nov  6 08:49:37 1994", expected: EXAMPLE_MS },
  { name: "asctime, two-digit day", value: "Sun Nov 16 08:49:37 1994", expected: Date.UTC(1994, 10, 16, 8, 49, 37) },
  { name: "surrounding OWS", value: " \tSun, 06 Nov 1994 08:49:37 GMT \t", expected: EXAMPLE_MS },
  // Calendar edges.
  { name: "epoch", value: "Thu, 01 Jan 1970 00:00:00 GMT", expected: 0 },
  { name: "leap day in a leap year", value: "Thu, 29 Feb 2024 00:00:00 GMT", expected: Date.UTC(2024, 1, 29) },
  { name: "Feb 29 in 2000 (divisible by 400)", value: "Tue, 29 Feb 2000 00:00:00 GMT", expected: Date.UTC(2000, 1, 29) },
  { name: "year 0000 is not read as 1900", value: "Sat, 01 Jan 0000 00:00:00 GMT", expected: Date.parse("0000-01-01T00:00:00Z") },
  { name: "year 0099 is not read as 1999", value: "Thu, 31 Dec 0099 00:00:00 GMT", expected: Date.parse("0099-12-31T00:00:00Z") },
  { name: "year 9999", value: "Fri, 31 Dec 9999 23:59:59 GMT", expected: Date.parse("9999-12-31T23:59:59Z") },
  { name: "leap second rolls into the next minute", value: "Sat, 31 Dec 2016 23:59:60 GMT", expected: Date.UTC(2017, 0, 1) },
  { name: "mismatched day name is tolerated", value: "Mon, 06 Nov 1994 08:49:37 GMT", expected: EXAMPLE_MS },
  // RFC 850 two-digit years, relative to 2026: up to 2076 is future, beyond is past.
  { name: "RFC 850 year 26", value: "Saturday, 28-Nov-26 12:00:00 GMT", expected: NOW_2026 },
  { name: "RFC 850 year 76 (50 years ahead)", value: "Saturday, 28-Nov-76 00:00:00 GMT", expected: Date.UTC(2076, 10, 28) },
  { name: "RFC 850 year 77 (51 years ahead is past)", value: "Monday, 28-Nov-77 00:00:00 GMT", expected: Date.UTC(1977, 10, 28) },
  { name: "RFC 850 year 00", value: "Saturday, 01-Jan-00 00:00:00 GMT", expected: Date.UTC(2000, 0, 1) },
  // Invalid: impossible values.
  { name: "Feb 30", value: "Wed, 30 Feb 1994 08:49:37 GMT", expected: null },
  { name: "Feb 29 in a common year", value: "Tue, 29 Feb 2022 00:00:00 GMT", expected: null },
  { name: "Feb 29 in 1900 (divisible by 100)", value: "Thu, 29 Feb 1900 00:00:00 GMT", expected: null },
  { name: "Apr 31", value: "Thu, 31 Apr 2025 00:00:00 GMT", expected: null },
  { name: "day 00", value: "Sun, 00 Nov 1994 08:49:37 GMT", expected: null },
  { name: "day 32", value: "Sun, 32 Jan 1994 08:49:37 GMT", expected: null },
  { name: "asctime day 0", value: "Sun Nov  0 08:49:37 1994", expected: null },
  { name: "hour 24", value: "Sun, 06 Nov 1994 24:00:00 GMT", expected: null },
  { name: "hour 25", value: "Sun, 06 Nov 1994 25:49:37 GMT", expected: null },
  { name: "minute 60", value: "Sun, 06 Nov 1994 08:60:37 GMT", expected: null },
  { name: "second 61", value: "Sun, 06 Nov 1994 08:49:61 GMT", expected: null },
  // Invalid: wrong shape.
  { name: "empty", value: "", expected: null },
  { name: "garbage", value: "yesterday", expected: null },
  { name: "five-digit year", value: "Sun, 06 Nov 19940 08:49:37 GMT", expected: null },
  { name: "huge year", value: "Sun, 06 Nov 275760000 08:49:37 GMT", expected: null },
  { name: "two-digit year in IMF-fixdate", value: "Sun, 06 Nov 94 08:49:37 GMT", expected: null },
  { name: "one-digit day in IMF-fixdate", value: "Sun, 6 Nov 1994 08:49:37 GMT", expected: null },
  { name: "lower-case month", value: "Sun, 06 nov 1994 08:49:37 GMT", expected: null },
  { name: "lower-case day name", value: "sun, 06 Nov 1994 08:49:37 GMT", expected: null },
  { name: "UTC instead of GMT", value: "Sun, 06 Nov 1994 08:49:37 UTC", expected: null },
  { name: "numeric zone", value: "Sun, 06 Nov 1994 08:49:37 +0000", expected: null },
  { name: "missing zone", value: "Sun, 06 Nov 1994 08:49:37", expected: null },
  { name: "unknown month", value: "Sun, 06 Foo 1994 08:49:37 GMT", expected: null },
  { name: "unknown day name", value: "Xyz, 06 Nov 1994 08:49:37 GMT", expected: null },
  { name: "long day name in IMF-fixdate", value: "Sunday, 06 Nov 1994 08:49:37 GMT", expected: null },
  { name: "short day name in RFC 850", value: "Sun, 06-Nov-94 08:49:37 GMT", expected: null },
  { name: "four-digit year in RFC 850", value: "Sunday, 06-Nov-1994 08:49:37 GMT", expected: null },
  { name: "asctime with GMT", value: "Sun Nov  6 08:49:37 1994 GMT", expected: null },
  { name: "ISO 8601", value: "1994-11-06T08:49:37Z", expected: null },
  { name: "non-ASCII digits", value: "Sun, ٠٦ Nov 1994 08:49:37 GMT", expected: null },
  { name: "two dates (a list)", value: "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", expected: null },
  { name: "trailing garbage", value: "Sun, 06 Nov 1994 08:49:37 GMTx", expected: null },
  { name: "form feed", value: "Sun, 06 Nov 1994 08:49:37 GMT\f", expected: null },
];

for (const row of parseRows) {
  Deno.test(`parseHttpDate: ${row.name}`, () => {
    assert.equal(parseHttpDate(row.value, NOW_2026), row.expected);
  });
}

Deno.test("parseHttpDate: round-trips formatHttpDate at whole seconds", () => {
  for (const ms of [0, EXAMPLE_MS, NOW_2026, Date.parse("0000-01-01T00:00:00Z"), -86_400_000]) {
    assert.equal(parseHttpDate(formatHttpDate(ms)), ms);
  }
});

Deno.test("parseHttpDate: never throws on a very long value", () => {
  assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT".repeat(10_000)), null);
});

/** Runs `body` with Date.now returning the values of `clock`. */
function withClock(clock: { now: number }, body: () => void): void {
  const realNow = Date.now;
  Date.now = () => clock.now;
  try {
    body();
  } finally {
    Date.now = realNow;
  }
}

Deno.test("currentHttpDate: formats the current second and follows the clock", () => {
  const clock = { now: EXAMPLE_MS };
  withClock(clock, () => {
    assert.equal(currentHttpDate(), "Sun, 06 Nov 1994 08:49:37 GMT");
    clock.now = EXAMPLE_MS + 999;
    assert.equal(currentHttpDate(), "Sun, 06 Nov 1994 08:49:37 GMT");
    clock.now = EXAMPLE_MS + 1000;
    assert.equal(currentHttpDate(), "Sun, 06 Nov 1994 08:49:38 GMT");
    // A clock stepped backwards must not keep serving the later cached string.
    clock.now = EXAMPLE_MS;
    assert.equal(currentHttpDate(), "Sun, 06 Nov 1994 08:49:37 GMT");
  });
});

Deno.test("currentHttpDate: matches the real clock", () => {
  const before = Math.floor(Date.now() / 1000) * 1000;
  const parsed = parseHttpDate(currentHttpDate());
  const after = Date.now();
  assert.ok(
    parsed !== null && parsed >= before && parsed <= after,
    `${parsed} not in [${before}, ${after}]`,
  );
});
