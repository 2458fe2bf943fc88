/**
 * Directory listings: an HTML page for people and a JSON document for
 * programs, chosen by the Accept header or `?format=json`.
 *
 * Only entries a client could actually request are listed: names that
 * {@linkcode decodeUrlPath} would refuse (control characters, ":", Windows
 * device names, upload temp files...) never appear, and dotfiles only when
 * enabled. Every name is HTML-escaped and every link is percent-encoded with
 * {@linkcode encodeUrlPath}, so hostile file names are shown, never executed.
 *
 * @module
 */

import * as path from "node:path";
import type { Request, Response } from "./http/message.ts";
import type { HeaderList } from "./http/serialize.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath, TEMP_PREFIX } from "./path.ts";
import { fileETag } from "./serve_content.ts";

/** Options for listings. */
export interface ListingOptions {
  /** Whether names starting with "." are listed. */
  dotfiles: boolean;
}

/** The column a listing is sorted by. */
type SortKey = "name" | "size" | "mtime";

/** The direction of a sort. */
type SortOrder = "asc" | "desc";

/** One listed entry, after `stat` (symlinks followed). */
interface ListingEntry {
  name: string;
  isDirectory: boolean;
  /** Bytes; null for directories. */
  size: number | null;
  mtime: Date | null;
  /** The ETag a GET of this file would carry; null for directories. */
  etag: string | null;
}

const SORT_KEYS: readonly SortKey[] = ["name", "size", "mtime"];
const SORT_LABELS: Record<SortKey, string> = {
  name: "Name",
  size: "Size",
  mtime: "Modified (UTC)",
};

/** Numeric-aware ("file2" before "file10") with a fixed locale, so order never depends on the host. */
const nameCollator = new Intl.Collator("en", { numeric: true });

const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/**
 * Builds the listing response for directory `dirReal` (a real path inside ROOT) reached at URL path `segments` (with trailing slash). HTML by default; JSON when the request's Accept header prefers application/json (q-values considered; `*\/*` alone means HTML) or the query has format=json. Honours ?sort=name|size|mtime&order=asc|desc (default name asc; directories always first).
 *
 * `?format=html` forces HTML the same way. Dotfiles are judged like
 * {@linkcode isHiddenPath} judges request paths, so "/.well-known/" is listed
 * at ROOT even without `dotfiles`. Entries whose `stat` fails
 * (dangling symlinks, loops, races with deletion) and entries that are
 * neither files nor directories (sockets, FIFOs, devices) are left out.
 * Errors reading the directory itself propagate to the caller.
 *
 * @param request the GET or HEAD request
 * @param dirReal the real file-system path of the directory
 * @param segments the decoded URL path segments of the directory ([] for ROOT)
 * @param options which entries to show
 */
export async function listingResponse(
  request: Request,
  dirReal: string,
  segments: readonly string[],
  options: ListingOptions,
): Promise<Response> {
  const query = new URLSearchParams(request.query);
  const sortKey = parseChoice(query.get("sort"), SORT_KEYS, "name");
  const sortOrder = parseChoice(query.get("order"), ["asc", "desc"], "asc");
  const entries = await readEntries(dirReal, segments, options);
  entries.sort(entryComparator(sortKey, sortOrder));

  const baseHeaders: HeaderList = [
    ["X-Content-Type-Options", "nosniff"],
    ["Cache-Control", "no-cache"],
    ["Vary", "Accept"],
  ];
  const encoder = new TextEncoder();
  if (wantsJson(request, query.get("format"))) {
    return {
      status: 200,
      headers: [["Content-Type", "application/json; charset=utf-8"], ...baseHeaders],
      body: encoder.encode(renderJson(segments, entries)),
    };
  }
  return {
    status: 200,
    headers: [
      ["Content-Type", "text/html; charset=utf-8"],
      ...baseHeaders,
      ["Content-Security-Policy", HTML_CSP],
    ],
    body: encoder.encode(renderHtml(segments, entries, sortKey, sortOrder)),
  };
}

function parseChoice<T extends string>(
  value: string | null,
  choices: readonly T[],
  fallback: T,
): T {
  return choices.find((choice) => choice === value) ?? fallback;
}

// --- Reading -----------------------------------------------------------------

/** Whether a name in this directory may be listed: requestable, not a temp file, not a hidden dotfile. */
function isListable(
  segments: readonly string[],
  name: string,
  options: ListingOptions,
): boolean {
  // Cheap exact check first; decodeUrlPath below also catches case-folded variants.
  if (name.startsWith(TEMP_PREFIX)) return false;
  const entrySegments = [...segments, name];
  if (!options.dotfiles && isHiddenPath(entrySegments)) return false;
  try {
    decodeUrlPath(encodeUrlPath(entrySegments, false));
    return true;
  } catch {
    return false;
  }
}

async function readEntries(
  dirReal: string,
  segments: readonly string[],
  options: ListingOptions,
): Promise<ListingEntry[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dirReal)) {
    if (isListable(segments, entry.name, options)) names.push(entry.name);
  }
  const entries = await Promise.all(names.map((name) => statEntry(dirReal, name)));
  return entries.filter((entry) => entry !== null);
}

async function statEntry(dirReal: string, name: string): Promise<ListingEntry | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path.join(dirReal, name));
  } catch {
    return null;
  }
  if (info.isDirectory) {
    return { name, isDirectory: true, size: null, mtime: info.mtime, etag: null };
  }
  if (info.isFile) {
    return { name, isDirectory: false, size: info.size, mtime: info.mtime, etag: fileETag(info) };
  }
  return null;
}

// --- Sorting -----------------------------------------------------------------

function compareNames(a: string, b: string): number {
  // The collator may call distinct names equal ("a" and "A" at some strengths); code units break the tie.
  return nameCollator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Null (no size, no time) sorts before any value. */
function compareNullable(a: number | null, b: number | null): number {
  return (a ?? -Infinity) - (b ?? -Infinity) || 0;
}

function entryComparator(
  key: SortKey,
  order: SortOrder,
): (a: ListingEntry, b: ListingEntry) => number {
  const direction = order === "asc" ? 1 : -1;
  return (a, b) => {
    if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
    const byKey = key === "size"
      ? compareNullable(a.size, b.size)
      : key === "mtime"
      ? compareNullable(a.mtime?.getTime() ?? null, b.mtime?.getTime() ?? null)
      : 0;
    return direction * (byKey || compareNames(a.name, b.name));
  };
}

// --- Content negotiation -------------------------------------------------------

/** How well an Accept header takes one media type: its q-value and how specific the matching range was. */
interface Acceptance {
  quality: number;
  /** 2 for "type/subtype", 1 for "type/*", 0 for "*\/*", -1 when nothing matched. */
  specificity: number;
}

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Parses Accept into lowercase media ranges with their q-values; elements with a malformed q are dropped. */
function parseAccept(header: string): { range: string; quality: number }[] {
  const ranges: { range: string; quality: number }[] = [];
  for (const element of header.split(",")) {
    const [range, ...params] = element.split(";").map((part) => part.trim());
    if (!range.includes("/")) continue;
    let quality = 1;
    let valid = true;
    for (const param of params) {
      const [name, value = ""] = param.split("=").map((part) => part.trim());
      if (name.toLowerCase() !== "q") continue;
      valid = QVALUE.test(value);
      quality = Number(value);
    }
    if (valid) ranges.push({ range: range.toLowerCase(), quality });
  }
  return ranges;
}

/** The q-value of the most specific range matching `mediaType` (RFC 9110 §12.5.1). */
function acceptance(ranges: { range: string; quality: number }[], mediaType: string): Acceptance {
  const [type] = mediaType.split("/");
  let best: Acceptance = { quality: 0, specificity: -1 };
  for (const { range, quality } of ranges) {
    const specificity = range === mediaType
      ? 2
      : range === `${type}/*`
      ? 1
      : range === "*/*"
      ? 0
      : -1;
    if (specificity > best.specificity) best = { quality, specificity };
  }
  return best;
}

/**
 * JSON when asked for by `?format=json`, or when Accept rates application/json
 * above text/html; on equal q-values, when JSON was named more specifically
 * ("application/json, *\/*" as HTTP libraries send). Anything else is HTML.
 */
function wantsJson(request: Request, format: string | null): boolean {
  if (format === "json") return true;
  if (format === "html") return false;
  const header = request.headers.get("accept");
  if (header === undefined) return false;
  const ranges = parseAccept(header);
  const json = acceptance(ranges, "application/json");
  const html = acceptance(ranges, "text/html");
  if (json.quality !== html.quality) return json.quality > html.quality;
  return json.quality > 0 && json.specificity > html.specificity;
}

// --- Rendering -----------------------------------------------------------------

/** The decoded path shown to people and in JSON: "/" or "/a/b/". */
function displayPath(segments: readonly string[]): string {
  return segments.length === 0 ? "/" : `/${segments.join("/")}/`;
}

function renderJson(segments: readonly string[], entries: readonly ListingEntry[]): string {
  return JSON.stringify({
    path: displayPath(segments),
    entries: entries.map((entry) => ({
      name: entry.name,
      type: entry.isDirectory ? "directory" : "file",
      size: entry.size,
      mtime: entry.mtime?.toISOString() ?? null,
      etag: entry.etag,
    })),
  });
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML content and quoted attribute values alike. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

const SIZE_UNITS = ["KiB", "MiB", "GiB"];

/** "512 B", "1.5 KiB", "3.0 GiB"; a value that would round to 1024.0 moves up a unit. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (unit < SIZE_UNITS.length - 1 && Math.round(value * 10) >= 1024 * 10) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${SIZE_UNITS[unit]}`;
}

/** The mtime cell: minutes shown, the exact instant in `datetime` and the tooltip. */
function renderTime(mtime: Date | null): string {
  if (mtime === null) return "—";
  const iso = mtime.toISOString();
  return `<time datetime="${iso}" title="${iso}">${iso.slice(0, 16).replace("T", " ")}</time>`;
}

/**
 * "Index of /a/b/" with "/" and "a/" linked and "b/" marked current. Links are
 * relative ("../"), like the entry links, so the page still works behind a
 * path prefix.
 */
function renderBreadcrumb(segments: readonly string[]): string {
  const crumbs: string[] = [];
  // Index -1 is ROOT.
  for (let index = -1; index < segments.length; index++) {
    const label = index < 0 ? "/" : `${escapeHtml(segments[index])}/`;
    const levelsUp = segments.length - 1 - index;
    crumbs.push(
      levelsUp === 0
        ? `<span aria-current="page">${label}</span>`
        : `<a href="${"../".repeat(levelsUp)}">${label}</a>`,
    );
  }
  return crumbs.join("");
}

/** A column header linking to this column's sort; the current column's link flips the order. */
function renderColumnHeader(key: SortKey, current: SortKey, order: SortOrder): string {
  const active = key === current;
  const nextOrder = active && order === "asc" ? "desc" : "asc";
  const ariaSort = active ? ` aria-sort="${order === "asc" ? "ascending" : "descending"}"` : "";
  const arrow = active ? (order === "asc" ? " ▲" : " ▼") : "";
  return `<th${ariaSort}><a href="?sort=${key}&amp;order=${nextOrder}">${
    SORT_LABELS[key]
  }${arrow}</a></th>`;
}

function renderRow(entry: ListingEntry): string {
  // "./" first, so a name can never be read as a scheme or a network path.
  const href = `./${encodeUrlPath([entry.name], entry.isDirectory).slice(1)}`;
  const label = escapeHtml(entry.name) + (entry.isDirectory ? "/" : "");
  const size = entry.size === null ? "—" : formatSize(entry.size);
  const sizeTitle = entry.size === null ? "" : ` title="${entry.size} bytes"`;
  return `<tr><td><a href="${escapeHtml(href)}">${label}</a></td>` +
    `<td class="num"${sizeTitle}>${size}</td><td>${renderTime(entry.mtime)}</td></tr>`;
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #666; --link: #0550ae; --line: #ddd; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --bg: #161616; --muted: #999; --link: #6cb6ff; --line: #333; }
}
body { font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 1.5rem; }
h1 { font-size: 1.25rem; font-weight: 600; word-break: break-all; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; max-width: 60rem; }
th, td { text-align: left; padding: .25rem .75rem .25rem 0; border-bottom: 1px solid var(--line); }
th a { color: var(--fg); }
td:first-child { word-break: break-all; }
.num { text-align: right; white-space: nowrap; }
td:last-child { color: var(--muted); white-space: nowrap; }
`;

function renderHtml(
  segments: readonly string[],
  entries: readonly ListingEntry[],
  sortKey: SortKey,
  sortOrder: SortOrder,
): string {
  const parentRow = segments.length === 0
    ? ""
    : `<tr><td><a href="../">../</a></td><td class="num">—</td><td></td></tr>\n`;
  const headers = SORT_KEYS.map((key) => renderColumnHeader(key, sortKey, sortOrder)).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Index of ${escapeHtml(displayPath(segments))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Index of ${renderBreadcrumb(segments)}</h1>
<table>
<thead><tr>${headers}</tr></thead>
<tbody>
${parentRow}${entries.map(renderRow).join("\n")}
</tbody>
</table>
</body>
</html>
`;
}
