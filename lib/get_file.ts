/**
 * GET and HEAD: finds what a URL path names (a file, its precompressed
 * sibling, a directory's index or listing, the SPA fallback, the 404 page)
 * and hands it to {@linkcode serveContent}.
 *
 * @module
 */

import * as path from "node:path";
import { isCompressible, MIN_COMPRESS_BYTES } from "./compression.ts";
import { isMissing, statSyncQuiet } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import { listingResponse } from "./listing.ts";
import { chooseCoding } from "./negotiate.ts";
import type { Coding } from "./negotiate.ts";
import { encodeUrlPath, resolveForRead } from "./path.ts";
import type { UrlPath } from "./path.ts";
import { contentTypeFor, fileVersion, serveContent } from "./serve_content.ts";
import type { ContentSource, FileVersion } from "./serve_content.ts";
import { reprDigestOf, wantsSha256 } from "./digest.ts";
import type { CachedFile, FileCache } from "./file_cache.ts";

/** The settings GET and HEAD depend on. */
export interface ReadConfig {
  /** ROOT's real path. */
  rootReal: string;
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
  /** Follow symlinks whose target is outside ROOT (reads only; unsafe). */
  followSymlinks: boolean;
  /** Small files kept in memory, or null for none. */
  cache: FileCache | null;
}

const PRECOMPRESSED_SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" };

interface OpenFile {
  file: Deno.FsFile;
  info: Deno.FileInfo;
  real: string;
}

/** Opens a path inside ROOT (or, with followSymlinks, reached from it); null when missing or outside. */
async function openInside(config: ReadConfig, fsPath: string): Promise<OpenFile | null> {
  let real: string;
  try {
    real = await resolveForRead(config.rootReal, fsPath, config.followSymlinks);
  } catch (error) {
    if (error instanceof HttpError) return null;
    throw error;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(real);
  } catch (error) {
    // Removed or renamed between the check and the open (a racing DELETE or MOVE).
    if (isMissing(error)) return null;
    throw error;
  }
  try {
    return { file, info: await file.stat(), real };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** How long the answer to "is there a 404.html?" is reused: a new page shows within a second. */
const NOT_FOUND_PAGE_TTL_MS = 1000;
let notFoundPageCheck = { path: "", exists: false, checkedAt: -Infinity };

/** Whether ROOT has a 404.html, asked of the file system at most once a second. */
function hasNotFoundPage(pagePath: string): boolean {
  const now = Date.now();
  if (
    notFoundPageCheck.path !== pagePath || now - notFoundPageCheck.checkedAt > NOT_FOUND_PAGE_TTL_MS
  ) {
    notFoundPageCheck = {
      path: pagePath,
      exists: !(statSyncQuiet(pagePath) instanceof Error),
      checkedAt: now,
    };
  }
  return notFoundPageCheck.exists;
}

/** Reads a whole small file; the result is shorter than `size` if the file shrank. */
async function readWhole(file: Deno.FsFile, size: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const n = await file.read(bytes.subarray(offset));
    if (n === null) break;
    offset += n;
  }
  return bytes.subarray(0, offset);
}

/** The file's sha-256 `Repr-Digest` when the request asks for it (`Want-Repr-Digest`). */
async function requestedDigest(
  request: Request,
  source: ContentSource,
  version: FileVersion,
): Promise<string | undefined> {
  if (!wantsSha256(request.headers.get("want-repr-digest"))) return undefined;
  return await reprDigestOf(version.validators.etag, () => chunksOf(source, version.size));
}

async function* chunksOf(source: ContentSource, size: number): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) return yield source;
  // An empty buffer would read 0 bytes forever: an empty file has no chunks.
  if (size === 0) return;
  await source.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(Math.min(size, 256 * 1024));
  for (;;) {
    const n = await source.read(buffer);
    if (n === null || n === 0) return;
    yield buffer.subarray(0, n);
  }
}

/** Whether the identity representation is what this request gets (no coding to negotiate). */
function identityOnly(config: ReadConfig, request: Request, contentType: string): boolean {
  return !config.compress || !isCompressible(contentType) ||
    !request.headers.has("accept-encoding");
}

/**
 * Serves a regular file, choosing a precompressed sibling or on-the-fly gzip
 * when it pays, and keeping small files in the cache.
 */
async function serveFile(
  config: ReadConfig,
  request: Request,
  opened: OpenFile,
  fsPath: string,
  contentType = contentTypeFor(opened.real),
): Promise<Response> {
  const options = { cacheControl: config.cacheControl, contentType };
  let source: ContentSource = opened.file;
  if (config.cache?.accepts(opened.info)) {
    try {
      source = await readWhole(opened.file, opened.info.size);
    } finally {
      opened.file.close();
    }
    config.cache.set(fsPath, opened.info, {
      version: fileVersion(opened.info),
      contentType,
      body: source,
    });
  }
  const version = fileVersion(opened.info);
  if (identityOnly(config, request, contentType)) {
    const reprDigest = await requestedDigest(request, source, version);
    return serveContent(request, source, version, { ...options, reprDigest });
  }
  const accept = request.headers.get("accept-encoding");
  const siblings: { coding: Coding; opened: OpenFile }[] = [];
  if (accept !== undefined) {
    for (const coding of ["br", "gzip"] as const) {
      const sibling = await openInside(config, opened.real + PRECOMPRESSED_SUFFIX[coding]);
      if (sibling === null) continue;
      if (sibling.info.isFile) siblings.push({ coding, opened: sibling });
      else sibling.file.close();
    }
  }
  const stored = chooseCoding(accept, siblings.map((s) => s.coding));
  for (const sibling of siblings) if (sibling.coding !== stored) sibling.opened.file.close();
  if (stored !== null) {
    if (!(source instanceof Uint8Array)) source.close();
    const sibling = siblings.find((s) => s.coding === stored)!.opened;
    const siblingVersion = fileVersion(sibling.info);
    return serveContent(request, sibling.file, siblingVersion, {
      ...options,
      reprDigest: await requestedDigest(request, sibling.file, siblingVersion),
      storedCoding: stored,
      varyOnEncoding: true,
    });
  }
  const onTheFly = opened.info.size >= MIN_COMPRESS_BYTES && !request.headers.has("range")
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

/**
 * What to send instead of a plain 404: the SPA's /index.html (200) for
 * requests that accept HTML, or ROOT's 404.html as the body of the 404.
 */
async function notFound(config: ReadConfig, request: Request): Promise<Response> {
  if (config.spa && acceptsHtml(request)) {
    const index = await openInside(config, path.join(config.rootReal, "index.html"));
    if (index?.info.isFile) {
      return serveFile(config, request, index, index.real, "text/html; charset=utf-8");
    }
    index?.file.close();
  }
  const pagePath = path.join(config.rootReal, "404.html");
  // Most trees have no 404.html: the cached check says so without an open per request.
  if (!hasNotFoundPage(pagePath)) throw new HttpError(404, "Not found");
  const page = await openInside(config, pagePath);
  if (page === null) throw new HttpError(404, "Not found");
  try {
    if (!page.info.isFile) throw new HttpError(404, "Not found");
    return {
      status: 404,
      headers: [["Content-Type", "text/html; charset=utf-8"], ["Cache-Control", "no-cache"]],
      body: await readWhole(page.file, page.info.size),
    };
  } finally {
    page.file.close();
  }
}

/**
 * The cached content of `fsPath` when a fresh stat still matches it; "missing"
 * when nothing is there at all (a fast 404); null otherwise.
 *
 * The stat is synchronous on purpose: a local file system answers it from
 * the kernel's metadata caches in a few microseconds, while the async op's
 * machinery cost 30% of the CPU under a small-file load (measured).
 */
function cachedFile(cache: FileCache, fsPath: string): CachedFile | "missing" | null {
  const info = statSyncQuiet(fsPath);
  if (info instanceof Error) return info instanceof Deno.errors.NotFound ? "missing" : null;
  return cache.get(fsPath, info) ?? null;
}

/** Answers GET or HEAD for `url` (already validated and checked for dotfiles). */
export async function getPath(
  config: ReadConfig,
  request: Request,
  url: UrlPath,
  fsPath: string,
): Promise<Response> {
  if (config.cache !== null && !url.trailingSlash) {
    const cached = cachedFile(config.cache, fsPath);
    if (cached === "missing") return notFound(config, request);
    if (cached !== null && identityOnly(config, request, cached.contentType)) {
      return serveContent(request, cached.body, cached.version, {
        cacheControl: config.cacheControl,
        contentType: cached.contentType,
        reprDigest: request.headers.has("want-repr-digest")
          ? await requestedDigest(request, cached.body, cached.version)
          : undefined,
      });
    }
  }
  const opened = await openInside(config, fsPath);
  if (opened === null) return notFound(config, request);
  if (opened.info.isFile) {
    if (url.trailingSlash) {
      opened.file.close();
      return notFound(config, request);
    }
    return serveFile(config, request, opened, fsPath);
  }
  opened.file.close();
  if (!opened.info.isDirectory) return notFound(config, request);
  if (!url.trailingSlash) {
    // A same-origin path: encodeUrlPath never yields "//host" or "/\host".
    const query = request.query === "" ? "" : `?${request.query}`;
    return { status: 301, headers: [["Location", encodeUrlPath(url.segments, true) + query]] };
  }
  const indexPath = path.join(fsPath, "index.html");
  const index = await openInside(config, indexPath);
  if (index?.info.isFile) {
    return serveFile(config, request, index, indexPath, "text/html; charset=utf-8");
  }
  index?.file.close();
  if (!config.listing) return notFound(config, request);
  return listingResponse(request, opened.real, url.segments, {
    dotfiles: config.dotfiles,
    writable: !config.readOnly,
  });
}
