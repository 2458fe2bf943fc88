/**
 * GET and HEAD: finds what a URL path names (a file, its precompressed
 * sibling, a directory's index or listing, the SPA fallback, the 404 page)
 * and hands it to {@linkcode serveContent}.
 *
 * @module
 */

import { isCompressible, MIN_COMPRESS_BYTES } from "../content/compression.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { errorResponse } from "../server/connection.ts";
import { listingResponse } from "./listing.ts";
import { searchResponse, searchTermOf } from "./search.ts";
import type { SearchLimits } from "./search.ts";
import type { Access, Action } from "../policy/access.ts";
import { chooseCoding } from "../content/negotiate.ts";
import type { Coding } from "../content/negotiate.ts";
import { encodeUrlPath } from "./url_path.ts";
import type { UrlPath } from "./url_path.ts";
import {
  contentChunks,
  contentTypeFor,
  serveContent,
  versionOf,
} from "../content/serve_content.ts";
import type { ContentSource, FileVersion } from "../content/serve_content.ts";
import { reprDigestOf, wantsSha256 } from "../content/digest.ts";
import type { OpenedFile, Storage, StoragePath } from "../storage/storage.ts";

/** The settings GET and HEAD depend on. */
export interface ReadConfig {
  /** Where the files are. */
  storage: Storage;
  /** Writes are refused (listings then offer no upload controls). */
  readOnly: boolean;
  /** Serve and list names starting with ".". */
  dotfiles: boolean;
  /** List directories without an index.html. */
  listing: boolean;
  /** `Cache-Control` for file responses. */
  cacheControl: string;
  /** Serve precompressed siblings and gzip compressible files on the fly. */
  compress: boolean;
  /** Answer unknown paths that accept HTML with /index.html (single-page apps). */
  spa: boolean;
  /** How far a search below a folder (`?q=`) may go. */
  searchLimits: SearchLimits;
  /** Who may do what (users, rules), or null when everyone may do everything. */
  access: Access | null;
  /**
   * A share link's view of the store: its URLs start at `prefix` (a URL path
   * ending in "/"), which stands for the store path `base`. Absent: URLs are
   * store paths.
   */
  view?: { base: readonly string[]; prefix: string };
}

const PRECOMPRESSED_SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" };

/** How long the answer to "is there a 404.html?" is reused: a new page shows within a second. */
const NOT_FOUND_PAGE_TTL_MS = 1000;
const notFoundPageChecks = new WeakMap<Storage, { exists: boolean; checkedAt: number }>();

/** Whether the store has a /404.html, asked at most once a second. */
async function hasNotFoundPage(storage: Storage): Promise<boolean> {
  const now = Date.now();
  const known = notFoundPageChecks.get(storage);
  if (known !== undefined && now - known.checkedAt <= NOT_FOUND_PAGE_TTL_MS) return known.exists;
  const exists = (await storage.stat(["404.html"]))?.kind === "file";
  notFoundPageChecks.set(storage, { exists, checkedAt: now });
  return exists;
}

/** Closes an opened file's reader, if it has one. */
function release(opened: OpenedFile): void {
  if (!(opened.content instanceof Uint8Array)) opened.content.close();
}

/** Reads a whole opened file (a small page) into memory, closing it. */
async function readAll(opened: OpenedFile): Promise<Uint8Array> {
  if (opened.content instanceof Uint8Array) return opened.content;
  try {
    const bytes = new Uint8Array(opened.entry.size);
    let offset = 0;
    for await (const chunk of contentChunks(opened.content, opened.entry.size)) {
      const n = Math.min(chunk.length, bytes.length - offset);
      bytes.set(chunk.subarray(0, n), offset);
      offset += n;
      if (offset === bytes.length) break;
    }
    return bytes.subarray(0, offset);
  } finally {
    opened.content.close();
  }
}

/** The file's sha-256 `Repr-Digest` when the request asks for it (`Want-Repr-Digest`). */
async function requestedDigest(
  request: Request,
  source: ContentSource,
  version: FileVersion,
): Promise<string | undefined> {
  if (!wantsSha256(request.headers.get("want-repr-digest"))) return undefined;
  return await reprDigestOf(version.validators.etag, () => contentChunks(source, version.size));
}

/** Whether the identity representation is what this request gets (no coding to negotiate). */
function identityOnly(config: ReadConfig, request: Request, contentType: string): boolean {
  return !config.compress || !isCompressible(contentType) ||
    !request.headers.has("accept-encoding");
}

/** The path of a file's precompressed sibling (`a.js` → `a.js.br`). */
function siblingPath(filePath: StoragePath, coding: Coding): StoragePath {
  return [...filePath.slice(0, -1), filePath[filePath.length - 1] + PRECOMPRESSED_SUFFIX[coding]];
}

/**
 * Serves a file, choosing a precompressed sibling or on-the-fly gzip when it
 * pays.
 */
async function serveFile(
  config: ReadConfig,
  request: Request,
  opened: OpenedFile,
  filePath: StoragePath,
  contentType = contentTypeFor(filePath[filePath.length - 1] ?? ""),
): Promise<Response> {
  const options = { cacheControl: config.cacheControl, contentType };
  const source = opened.content;
  const version = versionOf(opened.entry);
  if (identityOnly(config, request, contentType)) {
    const reprDigest = request.headers.has("want-repr-digest")
      ? await requestedDigest(request, source, version)
      : undefined;
    return serveContent(request, source, version, { ...options, reprDigest });
  }
  const accept = request.headers.get("accept-encoding");
  const siblings: { coding: Coding; opened: OpenedFile }[] = [];
  for (const coding of ["br", "gzip"] as const) {
    if (filePath.length === 0) break;
    const sibling = await config.storage.open(siblingPath(filePath, coding));
    if (sibling !== null && "content" in sibling) siblings.push({ coding, opened: sibling });
  }
  const stored = chooseCoding(accept, siblings.map((s) => s.coding));
  for (const sibling of siblings) if (sibling.coding !== stored) release(sibling.opened);
  if (stored !== null) {
    release(opened);
    const sibling = siblings.find((s) => s.coding === stored)!.opened;
    const siblingVersion = versionOf(sibling.entry);
    return serveContent(request, sibling.content, siblingVersion, {
      ...options,
      reprDigest: await requestedDigest(request, sibling.content, siblingVersion),
      storedCoding: stored,
      varyOnEncoding: true,
    });
  }
  const onTheFly = opened.entry.size >= MIN_COMPRESS_BYTES && !request.headers.has("range")
    ? chooseCoding(accept, ["gzip"])
    : null;
  return serveContent(request, source, version, {
    ...options,
    reprDigest: onTheFly === null ? await requestedDigest(request, source, version) : undefined,
    compressWith: onTheFly,
    varyOnEncoding: true,
  });
}

function acceptsHtml(request: Request): boolean {
  return /text\/html|\*\/\*/.test(request.headers.get("accept") ?? "");
}

/** The plain 404, returned as a response where no page replaces it. */
const NOT_FOUND = new HttpError(404, "Not found");

/**
 * What to send instead of a plain 404: the SPA's /index.html (200) for
 * requests that accept HTML, or ROOT's 404.html as the body of the 404.
 */
async function notFound(config: ReadConfig, request: Request): Promise<Response> {
  if (config.spa && acceptsHtml(request)) {
    const index = await config.storage.open(["index.html"]);
    if (index !== null && "content" in index) {
      return serveFile(config, request, index, ["index.html"], "text/html; charset=utf-8");
    }
  }
  // Most trees have no 404.html: the cached check says so without an open per request,
  // and the answer is returned, not thrown through every layer (a third of a 404's work).
  if (!(await hasNotFoundPage(config.storage))) return errorResponse(NOT_FOUND);
  const page = await config.storage.open(["404.html"]);
  if (page === null || !("content" in page)) throw new HttpError(404, "Not found");
  return {
    status: 404,
    headers: [["Content-Type", "text/html; charset=utf-8"], ["Cache-Control", "no-cache"]],
    body: await readAll(page),
  };
}

/** Answers GET or HEAD for `url` (already validated and checked for dotfiles). */
export async function getPath(
  config: ReadConfig,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const storage = config.storage;
  const opened = await storage.open(url.segments);
  if (opened === null) return notFound(config, request);
  if ("content" in opened) {
    // "/file.txt/" names a directory: a file is not served for it.
    if (url.trailingSlash) {
      release(opened);
      return notFound(config, request);
    }
    return serveFile(config, request, opened, url.segments);
  }
  if (!url.trailingSlash) {
    // A same-origin path: encodeUrlPath never yields "//host" or "/\host".
    const query = request.query === "" ? "" : `?${request.query}`;
    const location = config.view === undefined
      ? encodeUrlPath(url.segments, true)
      : config.view.prefix +
        encodeUrlPath(url.segments.slice(config.view.base.length), true).slice(1);
    return { status: 301, headers: [["Location", location + query]] };
  }
  // What the listing, an archive or a search shows of the folder: the router checked the
  // folder itself, and its members may have rules of their own.
  const readable = await config.access?.readFilter(request, url.segments) ?? null;
  const shown = { dotfiles: config.dotfiles, readable };
  // A search below the folder, or the folder as an archive, when the folder may be listed at all.
  const query = new URLSearchParams(request.query);
  const term = searchTermOf(query);
  if (term !== null) {
    if (!config.listing) return notFound(config, request);
    return searchResponse(request, storage, url.segments, term, shown, config.searchLimits);
  }
  // Loaded on the first archive asked for: its zip and tar libraries cost memory (measured).
  if (query.has("archive")) {
    const { archiveFormatOf, archiveResponse } = await import("./archive.ts");
    const archive = archiveFormatOf(query)!;
    if (!config.listing) return notFound(config, request);
    return archiveResponse(request, storage, url.segments, archive, shown);
  }
  const indexPath = [...url.segments, "index.html"];
  const index = await storage.open(indexPath);
  if (index !== null && "content" in index) {
    return serveFile(config, request, index, indexPath, "text/html; charset=utf-8");
  }
  if (!config.listing) return notFound(config, request);
  // The page offers what the requester may do here, or could once signed in.
  const offers = (action: Action) =>
    !config.readOnly && (config.access?.offers(request, action, url.segments) ?? true);
  return listingResponse(request, storage, url.segments, {
    ...shown,
    writable: await offers("write"),
    deletable: await offers("delete"),
    hiddenDepth: config.view?.base.length,
  });
}
