/**
 * Functions the listing runs on the server and the page script runs in the
 * browser, written once: the page's modules (`lib/ui/page/`) import them and
 * the bundle carries them, so sizes, times and sort order can never differ
 * between the two.
 *
 * @module
 */

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
