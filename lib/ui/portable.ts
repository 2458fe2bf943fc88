/**
 * Functions the listing runs on the server and the page script runs in the
 * browser, written once: the page's modules (`lib/ui/page/`) import them and
 * the bundle carries them, so sizes, times and sort order can never differ
 * between the two.
 *
 * @module
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/**
 * A byte size as people type it: `1048576`, `512K`, `1.5G`, `10MiB` (units
 * of 1024); null for anything else or a size beyond exact integers.
 */
export function parseByteSize(text: string): number | null {
  const match = SIZE.exec(text.trim());
  if (match === null) return null;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/** "512 B", "1.5 KiB", "3.0 GiB"; a value that would round to 1024.0 moves up a unit. */
export function formatSize(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (unit < units.length - 1 && Math.round(value * 10) >= 1024 * 10) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * How long before `nowMs` the instant `thenMs` was, in words: "just now",
 * "5 minutes ago", "3 hours ago", "2 days ago", "4 months ago", "3 years ago".
 * Less than a minute in the future (clock skew) is "just now"; further ahead
 * is the date itself ("2031-01-02"), since "in 5 years" would only confuse.
 *
 * @param thenMs the instant, in milliseconds since the epoch
 * @param nowMs the current instant, in milliseconds since the epoch
 */
export function formatRelativeTime(thenMs: number, nowMs: number): string {
  const seconds = Math.floor((nowMs - thenMs) / 1000);
  if (seconds < -60) return new Date(thenMs).toISOString().slice(0, 10);
  if (seconds < 60) return "just now";
  const ago = (count: number, unit: string) => `${count} ${unit}${count === 1 ? "" : "s"} ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return ago(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return ago(hours, "hour");
  const days = Math.floor(hours / 24);
  if (days < 30) return ago(days, "day");
  if (days < 365) return ago(Math.max(1, Math.floor(days / 30.44)), "month");
  return ago(Math.max(1, Math.floor(days / 365.25)), "year");
}

/** What sorting looks at in a listed entry. */
export interface SortableEntry {
  /** The file name. */
  name: string;
  /** Directories sort before files, whatever the order. */
  isDirectory: boolean;
  /** Bytes; null (directories) sorts before any size. */
  size: number | null;
  /** Milliseconds since the epoch; null sorts before any time. */
  mtime: number | null;
}

/**
 * A comparator for sorting by "name", "size" or "mtime" ("asc" or "desc"):
 * directories always first, ties broken by name. Names compare numeric-aware
 * ("file2" before "file10") with the fixed "en" locale, so the order never
 * depends on the host, then by code units so distinct names never tie.
 *
 * @param key the column: "name", "size" or "mtime"
 * @param order "asc" or "desc"
 */
export function entryComparator(
  key: string,
  order: string,
): (a: SortableEntry, b: SortableEntry) => number {
  const collator = new Intl.Collator("en", { numeric: true });
  const direction = order === "desc" ? -1 : 1;
  const byNumber = (a: number | null, b: number | null) => (a ?? -Infinity) - (b ?? -Infinity) || 0;
  const byName = (a: string, b: string) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
  return (a, b) => {
    if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
    const byKey = key === "size"
      ? byNumber(a.size, b.size)
      : key === "mtime"
      ? byNumber(a.mtime, b.mtime)
      : 0;
    return direction * (byKey || byName(a.name, b.name));
  };
}

/**
 * Percent-encodes one path segment like the server's own links: only
 * unreserved characters stay literal (`!'()*` are escaped too).
 */
export function encodePathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The longest term a search below a folder takes, in UTF-16 units after trimming. */
export const MAX_SEARCH_TERM_LENGTH = 200;

/** Names of printable ASCII: folded by `toLowerCase` alone, one unit for one unit. */
const ASCII_ONLY = /^[ -~]*$/;

let graphemes: Intl.Segmenter | undefined;

/**
 * One user-perceived character folded for matching: NFC, then upper- and
 * lower-cased, which gives Unicode's full case folding for all but a few
 * letters ("ß" and "SS" both become "ss", final "ς" becomes "σ").
 */
function foldCluster(cluster: string): string {
  return cluster.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}

/**
 * Folds a search term as {@linkcode findMatch} folds names: NFC and case
 * folded, grapheme cluster by cluster, so "Cafe\u0301" and "CAFÉ" are one
 * term.
 */
export function foldSearchTerm(term: string): string {
  if (ASCII_ONLY.test(term)) return term.toLowerCase();
  graphemes ??= new Intl.Segmenter("und", { granularity: "grapheme" });
  let folded = "";
  for (const { segment } of graphemes.segment(term)) folded += foldCluster(segment);
  return folded;
}

/**
 * Where the folded term `foldedTerm` (from {@linkcode foldSearchTerm})
 * occurs in `name` ignoring case and Unicode normalization: the start and
 * end of the first match in `name`'s own UTF-16 units, widened to whole
 * grapheme clusters (a match never splits "e" from its accent), or null.
 * The empty term matches nothing.
 */
export function findMatch(name: string, foldedTerm: string): [number, number] | null {
  if (foldedTerm === "") return null;
  if (ASCII_ONLY.test(name)) {
    const at = name.toLowerCase().indexOf(foldedTerm);
    return at === -1 ? null : [at, at + foldedTerm.length];
  }
  graphemes ??= new Intl.Segmenter("und", { granularity: "grapheme" });
  // For each cluster: where its folded text starts, and where it is in `name`.
  const foldedStarts: number[] = [];
  const nameStarts: number[] = [];
  let folded = "";
  for (const { segment, index } of graphemes.segment(name)) {
    foldedStarts.push(folded.length);
    nameStarts.push(index);
    folded += foldCluster(segment);
  }
  const at = folded.indexOf(foldedTerm);
  if (at === -1) return null;
  const end = at + foldedTerm.length;
  let first = 0;
  while (first + 1 < foldedStarts.length && foldedStarts[first + 1] <= at) first++;
  let last = first;
  while (last + 1 < foldedStarts.length && foldedStarts[last + 1] < end) last++;
  return [nameStarts[first], last + 1 < nameStarts.length ? nameStarts[last + 1] : name.length];
}

/** How far one search below a folder may go. */
export interface SearchLimits {
  /** Milliseconds from the request until the search stops. */
  timeMs: number;
  /** Entries (files and directories, hidden ones too) looked at. */
  entries: number;
  /** Matches sent. */
  results: number;
}

/** What stopped a search before it had looked at everything. */
export type SearchCut = "time" | "entries" | "results";

/** Why a search stopped early, in words. */
const CUT_REASONS: Record<SearchCut, (limits: SearchLimits) => string> = {
  time: (limits) => `it ran for ${limits.timeMs / 1000} s`,
  entries: (limits) => `it looked at ${limits.entries.toLocaleString("en")} entries`,
  results: (limits) => `it found ${limits.results.toLocaleString("en")} matches`,
};

/** The summary line of a finished search. */
export function searchSummary(
  matches: number,
  cut: SearchCut | null,
  limits: SearchLimits,
): string {
  const found = `${matches.toLocaleString("en")} ${matches === 1 ? "match" : "matches"}`;
  if (cut === null) return found;
  return `${found}. The search was cut short: ${CUT_REASONS[cut](limits)}. ` +
    "Search in a subfolder, or with a longer term, to see the rest.";
}
