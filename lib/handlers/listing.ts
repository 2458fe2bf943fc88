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
 * The HTML page is self-contained (style, script and icons are embedded from
 * `lib/ui/`) and works without JavaScript; its script and style run only
 * under the per-response nonce of a strict Content-Security-Policy.
 *
 * @module
 */

import { prefersJson } from "../content/negotiate.ts";
import { documentHead, escapeHtml } from "../ui/html.ts";
import type { Request, Response } from "../http/message.ts";
import type { HeaderList } from "../http/serialize.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath } from "./url_path.ts";
import { TEMP_PREFIX } from "../storage/temp_files.ts";
import { HttpError } from "../http/errors.ts";
import { serveContent } from "../content/serve_content.ts";
import type { Storage, StoredEntry } from "../storage/storage.ts";
import { formatHttpDate } from "../http/date.ts";
import type { Validators } from "../content/preconditions.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { fileKind, ICON_SPRITE, iconSvg } from "../ui/icons.ts";
import type { ControlIcon } from "../ui/icons.ts";
import { EARLY_SCRIPT, PAGE_SCRIPT } from "../ui/page_script.ts";
import { PAGE_STYLE } from "../ui/page_style.ts";
import {
  entryComparator,
  formatRelativeTime,
  formatSize,
  MAX_SEARCH_TERM_LENGTH,
} from "../ui/portable.ts";
import type { SortableEntry } from "../ui/portable.ts";

/** Sizes as the listing shows them ("1.5 KiB"), for pages that list files too. */
export { formatSize };

/** Options for listings. */
export interface ListingOptions {
  /** Whether names starting with "." are listed. */
  dotfiles: boolean;
  /**
   * Whether the page offers upload and new-folder controls (the requester
   * may write here, or could once signed in); default false.
   */
  writable?: boolean;
  /**
   * Whether the page offers delete controls, and rename and move ones when
   * `writable` too (the requester may delete here, or could once signed in);
   * default false.
   */
  deletable?: boolean;
  /**
   * Whether the requester may read a path (full segments), by the access
   * rules (`Access.readFilter`); absent or null when every member may be read.
   */
  readable?: ((path: string[]) => boolean) | null;
  /**
   * How many leading segments the page does not show: a share link's path,
   * which its visitor sees as "/" and cannot go above. Default 0.
   */
  hiddenDepth?: number;
}

/** The column a listing is sorted by. */
type SortKey = "name" | "size" | "mtime";

/** The direction of a sort. */
type SortOrder = "asc" | "desc";

/** One listed entry, after `stat` (symlinks followed). Size is null for directories, mtime is in ms. */
interface ListingEntry extends SortableEntry {
  /** The ETag a GET of this file would carry; null for directories. */
  etag: string | null;
}

const SORT_KEYS: readonly SortKey[] = ["name", "size", "mtime"];
const SORT_LABELS: Record<SortKey, string> = {
  name: "Name",
  size: "Size",
  mtime: "Modified",
};

/**
 * The page's Content-Security-Policy: nothing but its own nonced style and
 * script, requests, form posts, media and frames (a PDF preview) from its own
 * origin, and no framing of the page itself (the delete buttons must not be
 * clickjacked).
 */
export function htmlCsp(nonce: string): string {
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
    "img-src 'self' data:; media-src 'self'; frame-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

/** 128 random bits in base64: a fresh nonce for each page. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

/**
 * Builds the listing response for the directory at URL path `segments` in `storage` (with trailing slash). HTML by default; JSON when the request's Accept header prefers application/json (q-values considered; `*\/*` alone means HTML) or the query has format=json. Honours ?sort=name|size|mtime&order=asc|desc (default name asc; directories always first).
 *
 * `?format=html` forces HTML the same way. Dotfiles are judged like
 * {@linkcode isHiddenPath} judges request paths, so "/.well-known/" is listed
 * at ROOT even without `dotfiles`. Entries whose `stat` fails
 * (dangling symlinks, loops, races with deletion) and entries that are
 * neither files nor directories (sockets, FIFOs, devices) are left out.
 * Errors reading the directory itself propagate to the caller.
 *
 * @param request the GET or HEAD request
 * @param storage the store the directory is in
 * @param segments the decoded URL path segments of the directory ([] for ROOT)
 * @param options which entries to show
 */
export async function listingResponse(
  request: Request,
  storage: Storage,
  segments: readonly string[],
  options: ListingOptions,
): Promise<Response> {
  const query = new URLSearchParams(request.query);
  const sortKey = parseChoice(query.get("sort"), SORT_KEYS, "name");
  const sortOrder = parseChoice(query.get("order"), ["asc", "desc"], "asc");
  const [entries, directory] = await Promise.all([
    readEntries(storage, segments, options),
    storage.stat(segments),
  ]);
  if (directory === null) throw new HttpError(404, "Not found");
  entries.sort(entryComparator(sortKey, sortOrder));

  const json = wantsJson(request, query.get("format"));
  const shown = segments.slice(options.hiddenDepth ?? 0);
  const writable = options.writable ?? false;
  const deletable = options.deletable ?? false;
  const validators = await listingValidators(entries, directory, [
    json ? "json" : "html",
    sortKey,
    sortOrder,
    String(writable),
    String(deletable),
  ]);
  let body: string;
  /** Headers of this page's bytes only: never on a 304 (see below). */
  let pageHeaders: HeaderList = [];
  if (json) {
    body = renderJson(shown, entries);
  } else {
    const nonce = newNonce();
    const page: Page = {
      segments: shown,
      entries,
      sortKey,
      sortOrder,
      writable,
      deletable,
      dotfiles: options.dotfiles,
      nonce,
      now: Date.now(),
    };
    body = renderHtml(page);
    pageHeaders = [
      ["Content-Security-Policy", htmlCsp(nonce)],
      // Not "no-referrer": with it, browsers send `Origin: null` on the form's POST,
      // which the cross-origin write guard (rightly) refuses.
      ["Referrer-Policy", "same-origin"],
    ];
  }
  const bytes = new TextEncoder().encode(body);
  const response = serveContent(request, bytes, {
    size: bytes.length,
    validators,
    lastModifiedText: formatHttpDate(validators.lastModified),
  }, {
    cacheControl: "no-cache",
    contentType: json ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
    representationHeaders: [["Vary", "Accept"]],
  });
  // A 304 updates the headers of the page the browser kept (RFC 9111 §4.3.4): a
  // fresh nonce there would no longer match that page's scripts and styles, and
  // the browser would block them. The kept page keeps the policy it came with.
  if (response.status !== 304) response.headers.push(...pageHeaders);
  return response;
}

/**
 * A listing's validators. The ETag is weak: a page carries a fresh CSP nonce
 * and relative times, so two responses are equivalent, not byte-identical.
 * It hashes what the listing shows (each entry's name, kind, size and
 * mtime), how (`variant`: format, sort, controls) and the server's version
 * (a new version may render differently). Last-Modified is the newest of the
 * directory's and its entries' mtimes: a file rewritten in place changes
 * its own mtime, not its directory's.
 */
async function listingValidators(
  entries: readonly ListingEntry[],
  directory: StoredEntry,
  variant: readonly string[],
): Promise<Validators> {
  const described = JSON.stringify([
    denoJson.version,
    variant,
    entries.map((e) => [e.name, e.isDirectory, e.size, e.mtime]),
  ]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(described));
  const tag = btoa(String.fromCharCode(...new Uint8Array(digest, 0, 15)))
    .replaceAll("+", "-").replaceAll("/", "_");
  // A loop, not Math.max(...entries): a spread of 100,000 arguments overflows the stack.
  let lastModified = directory.lastModified;
  for (const entry of entries) lastModified = Math.max(lastModified, entry.mtime ?? 0);
  return { etag: `W/"${tag}"`, lastModified };
}

function parseChoice<T extends string>(
  value: string | null,
  choices: readonly T[],
  fallback: T,
): T {
  return choices.find((choice) => choice === value) ?? fallback;
}

// --- Reading -----------------------------------------------------------------

/**
 * Whether a name in the directory at `segments` may be listed (and so put in
 * an archive, or found by a search): requestable, not a temp file, not a
 * hidden dotfile, readable by the requester when `options.readable` says.
 */
export function isListable(
  segments: readonly string[],
  name: string,
  options: ListingOptions,
): boolean {
  // Cheap exact check first; decodeUrlPath below also catches case-folded variants.
  if (name.startsWith(TEMP_PREFIX)) return false;
  const entrySegments = [...segments, name];
  if (!options.dotfiles && isHiddenPath(entrySegments)) return false;
  if (options.readable && !options.readable(entrySegments)) return false;
  try {
    decodeUrlPath(encodeUrlPath(entrySegments, false));
    return true;
  } catch {
    return false;
  }
}

async function readEntries(
  storage: Storage,
  segments: readonly string[],
  options: ListingOptions,
): Promise<ListingEntry[]> {
  const listed = await storage.list(segments);
  return listed.filter((entry) => isListable(segments, entry.name, options)).map((entry) => ({
    name: entry.name,
    isDirectory: entry.kind === "directory",
    size: entry.kind === "directory" ? null : entry.size,
    // An object store's directory (a common prefix) has no time of its own: 0, shown as unknown.
    mtime: entry.kind === "directory" && entry.lastModified === 0 ? null : entry.lastModified,
    etag: entry.kind === "directory" ? null : entry.etag,
  }));
}

// --- Content negotiation -------------------------------------------------------

/** How well an Accept header takes one media type: its q-value and how specific the matching range was. */

/**
 * JSON when asked for by `?format=json`, or when Accept rates application/json
 * above text/html; on equal q-values, when JSON was named more specifically
 * ("application/json, *\/*" as HTTP libraries send). Anything else is HTML.
 */
function wantsJson(request: Request, format: string | null): boolean {
  if (format === "json") return true;
  if (format === "html") return false;
  return prefersJson(request.headers.get("accept"));
}

// --- Rendering -----------------------------------------------------------------

/** Everything one HTML page shows. */
interface Page {
  /** The path shown: the directory's, less any hidden depth. */
  segments: readonly string[];
  entries: readonly ListingEntry[];
  sortKey: SortKey;
  sortOrder: SortOrder;
  /** Offer upload and new-folder controls (rename and move too with `deletable`). */
  writable: boolean;
  /** Offer delete controls. */
  deletable: boolean;
  /** The server accepts names starting with "." (the page skips them in uploads otherwise). */
  dotfiles: boolean;
  /** This response's CSP nonce. */
  nonce: string;
  /** When the page was rendered (ms), for relative times. */
  now: number;
}

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
      mtime: entry.mtime === null ? null : new Date(entry.mtime).toISOString(),
      etag: entry.etag,
    })),
  });
}

/**
 * The mtime cell: the relative time ("3 hours ago") as text, the exact
 * instant in `datetime` and, in UTC, in the tooltip. The script swaps the
 * tooltip for the reader's local time and keeps the text current.
 */
function renderTime(mtime: number | null, now: number): string {
  if (mtime === null) return "—";
  const iso = new Date(mtime).toISOString();
  const exact = `${iso.slice(0, 19).replace("T", " ")} UTC`;
  return `<time datetime="${iso}" title="${exact}">${formatRelativeTime(mtime, now)}</time>`;
}

/**
 * "Index of /a/b/" with "/" and "a/" linked and "b/" marked current. Links are
 * relative ("../"), like the entry links, so the page still works behind a
 * path prefix.
 */
export function renderBreadcrumb(segments: readonly string[]): string {
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
  const className = key === "size" ? ' class="num"' : key === "mtime" ? ' class="time"' : "";
  return `<th${className}${ariaSort}><a href="?sort=${key}&amp;order=${nextOrder}" ` +
    `data-sort="${key}">${SORT_LABELS[key]}<span class="arrow" aria-hidden="true">${arrow}</span>` +
    `</a></th>`;
}

/**
 * The search field, a plain GET form: it works without the script, and with
 * it the listing's filter is this same field.
 */
export function renderSearchForm(value: string): string {
  return `<form class="filter" id="search-form" role="search" method="get" action="./">` +
    `<input type="search" id="filter" name="q" value="${escapeHtml(value)}" ` +
    `placeholder="Filter names, Enter searches below  ( / )" ` +
    `aria-label="Filter names here, or press Enter to search below this folder" ` +
    `aria-keyshortcuts="/" autocomplete="off" spellcheck="false" maxlength="${MAX_SEARCH_TERM_LENGTH}">` +
    `<span id="filter-count" class="filter-count" aria-live="polite"></span></form>`;
}

/** Where the page's script shows the matches of a search below the folder, as they arrive. */
function renderSearchPanel(): string {
  return `<section id="search-panel" class="search-panel needs-js" aria-labelledby="search-title" ` +
    `hidden><div class="search-head"><h2 id="search-title"></h2>` +
    `<button type="button" id="search-close">Back to the folder</button></div>` +
    `<ol id="search-list" class="search-results"></ol>` +
    `<p id="search-status" class="summary" role="status" aria-live="polite"></p></section>`;
}

/** An icon-only button; its accessible name says what it does to which entry. */
function renderIconButton(icon: ControlIcon, action: string, label: string): string {
  return `<button type="button" data-action="${action}" aria-label="${escapeHtml(label)}" ` +
    `title="${escapeHtml(label)}">${iconSvg(icon)}</button>`;
}

function renderRow(entry: ListingEntry, page: Page): string {
  // "./" first, so a name can never be read as a scheme or a network path.
  const href = `./${encodeUrlPath([entry.name], entry.isDirectory).slice(1)}`;
  const name = escapeHtml(entry.name);
  const label = name + (entry.isDirectory ? "/" : "");
  const size = entry.size === null ? "—" : formatSize(entry.size);
  const sizeTitle = entry.size === null ? "" : ` title="${entry.size} bytes"`;
  const kind = fileKind(entry.name, entry.isDirectory);
  const data = ` data-name="${name}" data-type="${entry.isDirectory ? "directory" : "file"}"` +
    ` data-kind="${kind}"` +
    (entry.size === null ? "" : ` data-size="${entry.size}"`) +
    (entry.mtime === null ? "" : ` data-mtime="${entry.mtime}"`);
  const actions = page.writable || page.deletable
    ? `<td class="actions needs-js">` +
      (page.writable && page.deletable
        ? renderIconButton("rename", "rename", `Rename ${entry.name}`)
        : "") +
      (page.deletable ? renderIconButton("delete", "delete", `Delete ${entry.name}`) : "") +
      `</td>`
    : "";
  return `<tr${data}><td class="name">${iconSvg(kind)}` +
    `<a href="${escapeHtml(href)}">${label}</a></td>` +
    `<td class="num"${sizeTitle}>${size}</td>` +
    `<td class="time">${renderTime(entry.mtime, page.now)}</td>${actions}</tr>`;
}

function renderSummary(entries: readonly ListingEntry[]): string {
  const folders = entries.filter((entry) => entry.isDirectory).length;
  const files = entries.length - folders;
  const bytes = entries.reduce((total, entry) => total + (entry.size ?? 0), 0);
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  return `${count(folders, "folder")}, ${count(files, "file")}` +
    (files > 0 ? `, ${formatSize(bytes)} in total` : "");
}

/**
 * The view toggle, the links that download this folder's tree as an archive
 * (plain links: they work without JavaScript) and the QR code button.
 */
function renderDownloadLinks(): string {
  return `<button type="button" id="view-toggle" class="needs-js" aria-pressed="false">` +
    `${
      iconSvg("image")
    }Grid</button><span class="downloads"><a class="button" id="download-zip" href="?archive=zip" download>` +
    `${iconSvg("download")}Download .zip</a>` +
    `<a class="button" id="download-tar" href="?archive=tar.gz" download>.tar.gz</a></span>` +
    `<button type="button" id="qr-button" class="needs-js" ` +
    `aria-label="QR code of this page" title="QR code of this page">QR</button>`;
}

/** The preview dialog, filled in by the script. */
function renderPreview(): string {
  return `<dialog id="preview" class="preview" aria-labelledby="preview-title">
<div class="preview-head"><h2 id="preview-title"></h2><span id="preview-position" class="hint"></span>
<a id="preview-open" class="button" target="_blank" rel="noopener">Open</a>` +
    `<a id="preview-download" class="button">${iconSvg("download")}Download</a>` +
    `<button type="button" id="preview-close" aria-label="Close preview">×</button></div>
<div id="preview-body" class="preview-body"></div>
<div class="preview-nav"><button type="button" id="preview-prev" aria-label="Previous file" ` +
    `aria-keyshortcuts="ArrowLeft">←</button><button type="button" id="preview-next" ` +
    `aria-label="Next file" aria-keyshortcuts="ArrowRight">→</button></div>
</dialog>`;
}

/** The dialog showing the page's URL as a QR code, drawn by the script. */
function renderQrDialog(): string {
  return `<dialog id="qr" class="qr" aria-labelledby="qr-title"><form method="dialog">` +
    `<h2 id="qr-title">Open this folder on a phone</h2><div id="qr-code" class="qr-code"></div>` +
    `<p id="qr-url" class="qr-url"></p><div class="dialog-buttons">` +
    `<button type="submit" class="primary">Close</button></div></form></dialog>`;
}

/** The Share dialog (writable folders): what kind of link, for how long, then the link. */
function renderShareDialog(): string {
  const lifetimes = [["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"], [
    "2592000",
    "30 days",
  ]].map(([seconds, label]) =>
    `<option value="${seconds}"${seconds === "604800" ? " selected" : ""}>${label}</option>`
  ).join("");
  return `<dialog id="share" aria-labelledby="share-title"><form id="share-form">` +
    `<h2 id="share-title">Share this folder</h2>` +
    `<label>Link <select id="share-scope"><option value="read">Read: browse and download</option>` +
    `<option value="upload">Drop: upload files, see nothing</option></select></label>` +
    `<label>Works for <select id="share-expires">${lifetimes}</select></label>` +
    `<label id="share-max-row" hidden>At most, all uploads together ` +
    `<input id="share-max" placeholder="such as 500M; empty for no limit"></label>` +
    `<p id="share-error" class="error" role="alert"></p>` +
    `<div id="share-result" hidden><label>The link <input id="share-url" readonly></label>` +
    `<div id="share-qr" class="qr-code"></div><p class="hint">Anyone with it can use it, ` +
    `without an account, until <span id="share-until"></span>. Revoke it with ` +
    `<code>filedrop share --revoke <span id="share-id"></span></code>.</p></div>` +
    `<div class="dialog-buttons"><button type="button" id="share-close">Close</button>` +
    `<button type="submit" id="share-create" class="primary">Create link</button></div>` +
    `</form></dialog>`;
}

/** What the page's script shows while rows are selected: their count and what can be done to them. */
function renderSelectionBar(page: Page): string {
  const writes =
    (page.writable && page.deletable
      ? `<button type="button" id="selection-move">${iconSvg("rename")}Move to…</button>`
      : "") +
    (page.deletable
      ? `<button type="button" id="selection-delete">${iconSvg("delete")}Delete</button>`
      : "");
  return `<div id="selection-bar" class="selection-bar needs-js" role="region" ` +
    `aria-label="Selection" hidden><span id="selection-count" class="selection-count" ` +
    `aria-live="polite"></span><button type="button" id="selection-download">` +
    `${iconSvg("download")}Download .zip</button>${writes}` +
    `<button type="button" id="selection-clear">Clear</button></div>`;
}

/** Upload, new-folder controls and the hidden file inputs they open. */
function renderWriteToolbar(): string {
  return `<button type="button" id="upload-files" class="primary needs-js">${iconSvg("upload")}` +
    `Upload files</button>
<button type="button" id="upload-folder" class="needs-js">${
      iconSvg("upload-folder")
    }Upload folder</button>
<button type="button" id="new-folder" class="needs-js">${iconSvg("new-folder")}New folder</button>
<button type="button" id="share-button" class="needs-js">Share…</button>
<input type="file" id="file-input" multiple hidden>
<input type="file" id="folder-input" multiple webkitdirectory hidden>`;
}

/** The uploads panel, the drop overlay and the dialog, filled in by the script. */
function renderWriteWidgets(path: string): string {
  return `<section id="uploads" class="uploads" aria-labelledby="uploads-title" hidden>
<div class="uploads-head"><h2 id="uploads-title">Uploads</h2>
<span id="uploads-summary" class="uploads-summary" role="status"></span>
<button type="button" id="uploads-clear">Clear finished</button></div>
<ul id="upload-list"></ul>
</section>
<div id="drop-overlay" class="drop-overlay" hidden><p>Drop files or folders to upload to ${path}</p></div>
<dialog id="dialog" aria-labelledby="dialog-title">
<form method="dialog">
<h2 id="dialog-title"></h2>
<p id="dialog-message"></p>
<label id="dialog-field">Name<input type="text" id="dialog-input" autocomplete="off" spellcheck="false"></label>
<div class="dialog-buttons"><button type="button" id="dialog-cancel">Cancel</button>` +
    `<button type="submit" id="dialog-ok" value="ok" class="primary">OK</button></div>
</form>
</dialog>`;
}

/**
 * The document head of a folder page (a listing, a search) up to `</head>`:
 * `title` (already escaped), the page's style and early script under `nonce`.
 */
export function renderHead(title: string, nonce: string): string {
  return documentHead(title, nonce, PAGE_STYLE, EARLY_SCRIPT);
}

function renderHtml(page: Page): string {
  const { segments, entries, writable, nonce } = page;
  /** Whether anything here may be changed: the actions column, the dialog. */
  const changes = writable || page.deletable;
  const path = escapeHtml(displayPath(segments));
  const columns = changes ? 4 : 3;
  const parentRow = segments.length === 0
    ? ""
    : `<tr class="parent"><td class="name">${iconSvg("parent")}` +
      `<a href="../">Parent folder</a></td><td class="num"></td><td class="time"></td>` +
      (changes ? `<td class="actions needs-js"></td>` : "") + `</tr>\n`;
  const emptyRow = entries.length === 0
    ? `<tr><td class="empty" colspan="${columns}">This folder is empty.</td></tr>\n`
    : "";
  const headers = SORT_KEYS.map((key) => renderColumnHeader(key, page.sortKey, page.sortOrder))
    .join("") +
    (changes
      ? `<th class="actions needs-js"><span class="visually-hidden">Actions</span></th>`
      : "");
  // Without JavaScript, a plain form posts the files (multipart/form-data) to this directory.
  const noScriptUpload = writable
    ? `<noscript><form class="noscript-upload" method="post" enctype="multipart/form-data" ` +
      `action="./"><label>Upload files <input type="file" name="file" multiple required></label> ` +
      `<button type="submit" class="primary">Upload</button> <span class="hint">Existing files ` +
      `are not replaced.</span></form></noscript>\n`
    : "";
  return `${renderHead(`Index of ${path}`, nonce)}
<body data-writable="${writable}" data-deletable="${page.deletable}" data-dotfiles="${page.dotfiles}">
${ICON_SPRITE}
<div class="page">
<header>
<h1><span class="index-of">Index of </span>${renderBreadcrumb(segments)}</h1>
<div class="toolbar">
${renderSearchForm("")}
${writable ? renderWriteToolbar() : ""}
${renderDownloadLinks()}
</div>
${noScriptUpload}<p id="notice" class="notice" role="status" aria-live="polite"></p>
${renderSelectionBar(page)}
${changes ? renderWriteWidgets(path) : ""}
${renderPreview()}
${renderQrDialog()}
${writable ? renderShareDialog() : ""}
</header>
<main>
${renderSearchPanel()}
<table id="listing">
<thead><tr>${headers}</tr></thead>
<tbody>
${parentRow}${emptyRow}${entries.map((entry) => renderRow(entry, page)).join("\n")}
</tbody>
</table>
<p id="no-match" class="no-match" hidden>No names match the filter.</p>
<p id="summary" class="summary">${renderSummary(entries)}</p>
</main>
</div>
<script nonce="${nonce}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
