/**
 * HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate, parsing all three
 * accepted forms, and a per-second cache of the current date for `Date`
 * headers.
 *
 * @module
 */

const DAY_NAMES = "Mon|Tue|Wed|Thu|Fri|Sat|Sun";
const LONG_DAY_NAMES = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday";
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const MONTH = `(${MONTH_NAMES.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
// Field values reach us with surrounding OWS already removed by the header
// parser, but tolerating it here costs nothing and keeps this function total.
const OWS = "[ \\t]*";

/** "Sun, 06 Nov 1994 08:49:37 GMT": groups day, month, year, time. */
const IMF_FIXDATE = new RegExp(
  `^${OWS}(?:${DAY_NAMES}), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT${OWS}$`,
);
/** "Sunday, 06-Nov-94 08:49:37 GMT": groups day, month, two-digit year, time. */
const RFC850_DATE = new RegExp(
  `^${OWS}(?:${LONG_DAY_NAMES}), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT${OWS}$`,
);
/** "Sun Nov  6 08:49:37 1994": groups month, day (space-padded), time, year. */
const ASCTIME_DATE = new RegExp(
  `^${OWS}(?:${DAY_NAMES}) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})${OWS}$`,
);

/** IMF-fixdate has a four-digit year, so only years 0000-9999 can be written. */
const EARLIEST_FORMATTABLE_MS = Date.parse("0000-01-01T00:00:00.000Z");
const LATEST_FORMATTABLE_MS = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * Formats a time as an IMF-fixdate, the only form HTTP senders may generate.
 * Milliseconds are dropped (HTTP dates have whole seconds).
 *
 * @param ms milliseconds since the Unix epoch
 * @returns for example `"Sun, 06 Nov 1994 08:49:37 GMT"`
 * @throws {RangeError} if `ms` is not finite or falls outside years 0000-9999
 *
 * @example
 * ```ts
 * formatHttpDate(784111777000); // "Sun, 06 Nov 1994 08:49:37 GMT"
 * ```
 */
export function formatHttpDate(ms: number): string {
  if (!(ms >= EARLIEST_FORMATTABLE_MS && ms <= LATEST_FORMATTABLE_MS)) {
    throw new RangeError(`Time ${ms} cannot be written as an HTTP date`);
  }
  // ECMAScript specifies toUTCString as exactly the IMF-fixdate layout.
  return new Date(ms).toUTCString();
}

/**
 * Parses an HTTP-date in any of its three forms: IMF-fixdate, the obsolete
 * RFC 850 form and the obsolete asctime form. The names of days and months and
 * "GMT" are case-sensitive, as the grammar says. The day name is not checked
 * against the date (it is redundant, and other servers ignore it too); second
 * 60 (a leap second) is accepted and counts as the next minute's first second.
 *
 * A two-digit RFC 850 year is read as the most recent matching year that is
 * not more than 50 years in the future (RFC 9110 §5.6.7).
 *
 * Never throws: anything not a valid date (garbage, "Feb 30", hour 25, a
 * five-digit year) gives `null`, so a bad conditional header is just ignored.
 *
 * @param value the field value
 * @param nowMs the current time, only used for two-digit years
 * @returns milliseconds since the Unix epoch (a whole second), or `null`
 *
 * @example
 * ```ts
 * parseHttpDate("Sun Nov  6 08:49:37 1994"); // 784111777000
 * parseHttpDate("Sun, 30 Feb 1994 08:49:37 GMT"); // null
 * ```
 */
export function parseHttpDate(value: string, nowMs: number = Date.now()): number | null {
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match;
    return toEpochMs(Number(year), month, Number(day), hour, minute, second);
  }
  match = RFC850_DATE.exec(value);
  if (match !== null) {
    const [, day, month, year, hour, minute, second] = match;
    const fullYear = expandTwoDigitYear(Number(year), nowMs);
    return toEpochMs(fullYear, month, Number(day), hour, minute, second);
  }
  match = ASCTIME_DATE.exec(value);
  if (match !== null) {
    const [, month, day, hour, minute, second, year] = match;
    return toEpochMs(Number(year), month, Number(day), hour, minute, second);
  }
  return null;
}

/** Validates the calendar fields and converts them; `null` for impossible dates. */
function toEpochMs(
  year: number,
  monthName: string,
  day: number,
  hour: string,
  minute: string,
  second: string,
): number | null {
  const h = Number(hour);
  const m = Number(minute);
  const s = Number(second);
  if (h > 23 || m > 59 || s > 60) return null;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, MONTH_NAMES.indexOf(monthName), day);
  // An impossible day (Feb 30, day 00) rolls over into another day of month.
  if (date.getUTCDate() !== day) return null;
  date.setUTCHours(h, m, s);
  return date.getTime();
}

/** RFC 9110 §5.6.7: a year more than 50 years ahead belongs to the past century. */
function expandTwoDigitYear(twoDigitYear: number, nowMs: number): number {
  const currentYear = new Date(nowMs).getUTCFullYear();
  const year = currentYear - (currentYear % 100) + twoDigitYear;
  return year > currentYear + 50 ? year - 100 : year;
}

let cachedSecond = Number.NaN;
let cachedDate = "";

/**
 * The current time as an IMF-fixdate, for the `Date` header of every response.
 * The string is built at most once per second and reused in between.
 *
 * @returns for example `"Sun, 06 Nov 1994 08:49:37 GMT"`
 */
export function currentHttpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== cachedSecond) {
    cachedDate = formatHttpDate(second * 1000);
    cachedSecond = second;
  }
  return cachedDate;
}
