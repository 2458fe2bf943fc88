/**
 * Search below a folder: `GET <dir>/?q=term` streams the names under the
 * folder that contain the term, as they are found.
 *
 * Only what listings show is searched and found: every name is judged by
 * {@linkcode isListable} (dotfile rules, temp files and the state directory,
 * names no URL reaches, and what the access rules let the requester read),
 * and a hidden or unreadable directory is not entered, so no name below it
 * shows even where a deeper rule allows reading it. The tree is
 * read through the {@linkcode Storage}: a store with a flat listing
 * (`listTree`, S3's keys under a prefix) is read page by page in key order;
 * any other is walked breadth first with `list` (shallow names first), where
 * the store's own rules hold (the file-system store refuses to list a
 * directory a symlink leads to outside ROOT), and a directory met again
 * below itself (a symlink loop) is not entered twice.
 *
 * Matching ignores case and Unicode normalization ({@linkcode findMatch}).
 * A search is bounded ({@linkcode SearchLimits}: a deadline, entries looked
 * at, matches sent), and its last line says whether a bound cut it short.
 * Two formats: an HTML page (for people without the page's script, and
 * curl), and NDJSON (`format=ndjson` or `Accept: application/x-ndjson`), one
 * JSON object a line, which the page's script reads as it arrives. Each is
 * chunked and flushed after every listing that found something. The
 * response has no validators and is never cached: a search is not a
 * representation of the folder, so a conditional request never gets a 304.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { BodySink, BodyStream, Request, Response } from "../http/message.ts";
import type {
  ListedEntry,
  Storage,
  StoragePath,
  StoredEntry,
  TreeEntry,
} from "../storage/storage.ts";
import { isMissing } from "../storage/fs_errors.ts";
import { escapeHtml } from "../ui/html.ts";
import { fileKind, ICON_SPRITE, iconSvg } from "../ui/icons.ts";
import {
  findMatch,
  foldSearchTerm,
  formatSize,
  MAX_SEARCH_TERM_LENGTH,
  searchSummary,
} from "../ui/portable.ts";
import type { SearchCut, SearchLimits } from "../ui/portable.ts";
import {
  htmlCsp,
  isListable,
  newNonce,
  renderBreadcrumb,
  renderHead,
  renderSearchForm,
} from "./listing.ts";
import type { ListingOptions } from "./listing.ts";
import { encodeUrlPath } from "./url_path.ts";

export type { SearchCut, SearchLimits };

/** The bounds of a search unless the server is given others: 5 s, 100,000 entries, 1,000 matches. */
export const DEFAULT_SEARCH_LIMITS: SearchLimits = {
  timeMs: 5_000,
  entries: 100_000,
  results: 1_000,
};

/**
 * The term a query searches for (`q`, trimmed), or null when it asks for no
 * search (no `q`, or an empty one: the plain listing). 400 for a term over
 * {@linkcode MAX_SEARCH_TERM_LENGTH} and for a search that also asks for an archive.
 */
export function searchTermOf(query: URLSearchParams): string | null {
  const term = query.get("q")?.trim() ?? "";
  if (term === "") return null;
  if (term.length > MAX_SEARCH_TERM_LENGTH) {
    throw new HttpError(400, `The search term is longer than ${MAX_SEARCH_TERM_LENGTH} characters`);
  }
  if (query.has("archive")) {
    throw new HttpError(400, "A search (q=) and an archive (archive=) cannot be asked for at once");
  }
  return term;
}

/** NDJSON when asked for by `format=ndjson` or an Accept naming it; HTML otherwise. */
function wantsNdjson(request: Request, format: string | null): boolean {
  if (format === "ndjson") return true;
  if (format !== null && format !== "html") {
    throw new HttpError(400, "Search results come as format=html or format=ndjson");
  }
  return format === null && /application\/x-ndjson/i.test(request.headers.get("accept") ?? "");
}

/**
 * The response streaming the matches of `term` below the folder at
 * `segments`; 404 when no folder is there. Nothing is searched before the
 * body is written (a HEAD searches nothing), and the time bound counts from now.
 */
export async function searchResponse(
  request: Request,
  storage: Storage,
  segments: StoragePath,
  term: string,
  options: ListingOptions,
  limits: SearchLimits,
): Promise<Response> {
  const started = Date.now();
  const folder = await storage.stat(segments);
  if (folder?.kind !== "directory") throw new HttpError(404, "Not found");
  const ndjson = wantsNdjson(request, new URLSearchParams(request.query).get("format"));
  const search = new Search(storage, segments, term, options, limits, started, folder);
  const headers: [string, string][] = [
    ["Cache-Control", "no-store"],
    ["Vary", "Accept"],
    ["X-Content-Type-Options", "nosniff"],
  ];
  if (ndjson) {
    headers.push(["Content-Type", "application/x-ndjson; charset=utf-8"]);
    return { status: 200, headers, body: new SearchBody(search, new NdjsonResults(search)) };
  }
  const nonce = newNonce();
  headers.push(
    ["Content-Type", "text/html; charset=utf-8"],
    ["Content-Security-Policy", htmlCsp(nonce)],
    ["Referrer-Policy", "same-origin"],
  );
  return { status: 200, headers, body: new SearchBody(search, new HtmlResults(search, nonce)) };
}

// --- Walking -------------------------------------------------------------------

/** One match: where it is below the folder, what it is, and where the term is in its name. */
interface Found {
  path: readonly string[];
  entry: StoredEntry;
  match: [number, number];
}

/** A directory waiting to be listed in a breadth-first walk, with the way it was reached. */
interface Queued {
  path: readonly string[];
  id: string | undefined;
  parent: Queued | null;
}

/** Returned instead of a result when the deadline came first. */
const TIMED_OUT = Symbol("timed out");

/** One search's state: what it looks for, how far it got, and why it stopped. */
class Search {
  readonly storage: Storage;
  readonly segments: StoragePath;
  readonly term: string;
  readonly limits: SearchLimits;
  readonly #folded: string;
  readonly #options: ListingOptions;
  readonly #deadline: number;
  readonly #folderId: string | undefined;
  visited = 0;
  matches = 0;
  cut: SearchCut | null = null;

  constructor(
    storage: Storage,
    segments: StoragePath,
    term: string,
    options: ListingOptions,
    limits: SearchLimits,
    started: number,
    folder: StoredEntry,
  ) {
    this.storage = storage;
    this.segments = segments;
    this.term = term;
    this.limits = limits;
    this.#folded = foldSearchTerm(term);
    this.#options = options;
    this.#deadline = started + limits.timeMs;
    this.#folderId = folder.directoryId;
  }

  /** The matches, a batch per listing, until the tree ends or a bound is reached. */
  batches(): AsyncGenerator<Found[]> {
    const storage = this.storage;
    return storage.listTree ? this.#walkFlat(storage.listTree(this.segments)) : this.#walkListed();
  }

  /** Counts one entry looked at; false when a bound stops the search before it. */
  #count(): boolean {
    if (this.visited >= this.limits.entries) {
      this.cut ??= "entries";
      return false;
    }
    // A clock read per 256 entries: a long listing in memory is not free either.
    if (++this.visited % 256 === 0 && Date.now() >= this.#deadline) {
      this.cut ??= "time";
      return false;
    }
    return true;
  }

  /** Whether a listing of the directory `directory` (below the folder) shows `name`. */
  #visible(directory: readonly string[], name: string): boolean {
    return isListable([...this.segments, ...directory], name, this.#options);
  }

  /** Records a match; false when it was the last one allowed. */
  #found(): boolean {
    this.matches++;
    if (this.matches < this.limits.results) return true;
    this.cut ??= "results";
    return false;
  }

  /** `promise`'s value, or {@linkcode TIMED_OUT} when the deadline comes first (the value is dropped). */
  async #beforeDeadline<T>(promise: Promise<T>): Promise<T | typeof TIMED_OUT> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, this.#deadline - Date.now()));
    });
    try {
      const result = await Promise.race([promise, timeout]);
      if (result === TIMED_OUT) {
        this.cut ??= "time";
        promise.catch(() => {});
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The entries of a directory below the folder; null when the store will
   * not list it (out of ROOT), it went away since its parent was listed, or
   * the server may not read it (file permissions): one such directory must
   * not end the search of all the others.
   */
  async #list(path: readonly string[]): Promise<ListedEntry[] | null> {
    try {
      return await this.storage.list([...this.segments, ...path]);
    } catch (error) {
      if (error instanceof HttpError && error.status === 404) return null;
      if (isMissing(error) || error instanceof Deno.errors.PermissionDenied) return null;
      throw error;
    }
  }

  /** Breadth first with `list`, each directory's names in order; no directory entered below itself. */
  async *#walkListed(): AsyncGenerator<Found[]> {
    const queue: (Queued | undefined)[] = [{ path: [], id: this.#folderId, parent: null }];
    for (let next = 0; next < queue.length; next++) {
      const directory = queue[next]!;
      queue[next] = undefined;
      const listed = await this.#beforeDeadline(this.#list(directory.path));
      if (listed === TIMED_OUT) return;
      if (listed === null) continue;
      listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const batch: Found[] = [];
      for (const { name, ...entry } of listed) {
        if (!this.#count()) break;
        if (!this.#visible(directory.path, name)) continue;
        const path = [...directory.path, name];
        if (entry.kind === "directory" && !isAncestor(directory, entry.directoryId)) {
          queue.push({ path, id: entry.directoryId, parent: directory });
        }
        const match = findMatch(name, this.#folded);
        if (match !== null) {
          batch.push({ path, entry, match });
          if (!this.#found()) break;
        }
      }
      if (batch.length > 0) yield batch;
      if (this.cut !== null) return;
    }
  }

  /**
   * The store's flat listing in key order. Everything below a hidden
   * directory is passed over, and when a page ends inside one, the store is
   * told to skip the rest of it.
   */
  async *#walkFlat(pages: AsyncGenerator<TreeEntry[], void, readonly string[] | undefined>) {
    /** The hidden directory whose keys are being passed, and its path with a trailing "/". */
    let hidden: readonly string[] | undefined;
    let hiddenBelow: string | null = null;
    try {
      while (true) {
        const page = await this.#beforeDeadline(pages.next(hidden));
        if (page === TIMED_OUT || page.done) return;
        const batch: Found[] = [];
        for (const { path, entry } of page.value) {
          if (!this.#count()) break;
          const joined = path.join("/");
          if (hiddenBelow !== null && joined.startsWith(hiddenBelow)) continue;
          hidden = undefined;
          hiddenBelow = null;
          const name = path[path.length - 1];
          if (!this.#visible(path.slice(0, -1), name)) {
            if (entry.kind === "directory") {
              hidden = path;
              hiddenBelow = `${joined}/`;
            }
            continue;
          }
          const match = findMatch(name, this.#folded);
          if (match === null) continue;
          batch.push({ path, entry, match });
          if (!this.#found()) break;
        }
        if (batch.length > 0) yield batch;
        if (this.cut !== null) return;
      }
    } finally {
      // Not awaited: after a timeout a page may still be on its way, and is not waited for.
      pages.return(undefined).catch(() => {});
    }
  }
}

/** Whether the directory `id` is `directory` or one above it: entering it again would loop. */
function isAncestor(directory: Queued | null, id: string | undefined): boolean {
  if (id === undefined) return false;
  for (let at = directory; at !== null; at = at.parent) if (at.id === id) return true;
  return false;
}

// --- Writing -------------------------------------------------------------------

/** How a format writes a search: its opening, each batch of matches, its end. */
interface ResultWriter {
  start(): string;
  batch(found: readonly Found[]): string;
  end(): string;
}

const encoder = new TextEncoder();

/** The streamed results: the opening, then each batch flushed as it is found, then the end. */
class SearchBody implements BodyStream {
  readonly length = null;
  readonly #search: Search;
  readonly #writer: ResultWriter;

  constructor(search: Search, writer: ResultWriter) {
    this.#search = search;
    this.#writer = writer;
  }

  async writeTo(sink: BodySink): Promise<void> {
    await sink.write(encoder.encode(this.#writer.start()));
    await sink.flush();
    for await (const batch of this.#search.batches()) {
      await sink.write(encoder.encode(this.#writer.batch(batch)));
      await sink.flush();
    }
    await sink.write(encoder.encode(this.#writer.end()));
  }

  close(): void {}
}

/** A match's modification time as ISO 8601, null when unknown (an S3 directory). */
function mtimeOf(entry: StoredEntry): string | null {
  return entry.lastModified === 0 ? null : new Date(entry.lastModified).toISOString();
}

/** One JSON object a line: `match` lines, then one `end` line. */
class NdjsonResults implements ResultWriter {
  readonly #search: Search;

  constructor(search: Search) {
    this.#search = search;
  }

  start(): string {
    return "";
  }

  batch(found: readonly Found[]): string {
    return found.map(({ path, entry, match }) =>
      JSON.stringify({
        type: "match",
        path,
        kind: entry.kind,
        size: entry.kind === "directory" ? null : entry.size,
        mtime: mtimeOf(entry),
        match,
      }) + "\n"
    ).join("");
  }

  end(): string {
    const { matches, visited, cut, limits } = this.#search;
    return JSON.stringify({ type: "end", matches, visited, cut, limits }) + "\n";
  }
}

/** A page of results for people: links relative to the folder, the term marked in each name. */
class HtmlResults implements ResultWriter {
  readonly #search: Search;
  readonly #nonce: string;

  constructor(search: Search, nonce: string) {
    this.#search = search;
    this.#nonce = nonce;
  }

  start(): string {
    const { segments, term } = this.#search;
    const where = escapeHtml(segments.length === 0 ? "/" : `/${segments.join("/")}/`);
    return `${renderHead(`Search for ${escapeHtml(term)} in ${where}`, this.#nonce)}
<body>
${ICON_SPRITE}
<div class="page">
<header>
<h1><span class="index-of">Search in </span>${renderBreadcrumb(segments)}</h1>
<div class="toolbar">
${renderSearchForm(term)}
<a class="button" href="./">Back to the folder</a>
</div>
</header>
<main>
<ol id="search-results" class="search-results">
`;
  }

  batch(found: readonly Found[]): string {
    return found.map(renderResult).join("");
  }

  end(): string {
    const { matches, cut, limits } = this.#search;
    const noMatch = matches === 0 && cut === null
      ? `<p class="no-match">No names below this folder contain ${
        escapeHtml(`“${this.#search.term}”`)
      }.</p>\n`
      : "";
    return `</ol>
${noMatch}<p id="search-summary" class="summary${cut === null ? "" : " cut"}" role="status">${
      escapeHtml(searchSummary(matches, cut, limits))
    }</p>
</main>
</div>
</body>
</html>
`;
  }
}

/** One result: its icon, its path from the folder with the term marked, its size. */
function renderResult({ path, entry, match }: Found): string {
  const isDirectory = entry.kind === "directory";
  const name = path[path.length - 1];
  const parents = path.slice(0, -1).map((segment) => `${escapeHtml(segment)}/`).join("");
  const marked = escapeHtml(name.slice(0, match[0])) +
    `<mark>${escapeHtml(name.slice(match[0], match[1]))}</mark>` +
    escapeHtml(name.slice(match[1])) + (isDirectory ? "/" : "");
  // "./" first, so a name can never be read as a scheme or a network path.
  const href = `./${encodeUrlPath(path, isDirectory).slice(1)}`;
  const size = isDirectory ? "" : `<span class="result-size">${formatSize(entry.size)}</span>`;
  return `<li>${iconSvg(fileKind(name, isDirectory))}<a href="${escapeHtml(href)}">` +
    `<span class="result-parent">${parents}</span>${marked}</a>${size}</li>\n`;
}
