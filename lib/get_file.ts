/**
 * GET and HEAD: finds what a URL path names (a file, its precompressed
 * sibling, a directory's index or listing, the SPA fallback, the 404 page)
 * and hands it to {@linkcode serveContent}.
 *
 * @module
 */

import * as path from "node:path";
import { isCompressible, MIN_COMPRESS_BYTES } from "./compression.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import { listingResponse } from "./listing.ts";
import { chooseCoding } from "./negotiate.ts";
import type { Coding } from "./negotiate.ts";
import { encodeUrlPath, resolveForRead } from "./path.ts";
import type { UrlPath } from "./path.ts";
import { contentTypeFor, serveContent } from "./serve_content.ts";

/** The settings GET and HEAD depend on. */
export interface ReadConfig {
  /** ROOT's real path. */
  rootReal: string;
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
}

const PRECOMPRESSED_SUFFIX: Record<Coding, string> = { br: ".br", gzip: ".gz" };

interface OpenFile {
  file: Deno.FsFile;
  info: Deno.FileInfo;
  real: string;
}

/** Opens a path inside ROOT; null when missing or outside ROOT. */
async function openInside(rootReal: string, fsPath: string): Promise<OpenFile | null> {
  let real: string;
  try {
    real = await resolveForRead(rootReal, fsPath);
  } catch (error) {
    if (error instanceof HttpError) return null;
    throw error;
  }
  const file = await Deno.open(real);
  try {
    return { file, info: await file.stat(), real };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Serves a regular file, choosing a precompressed sibling or on-the-fly gzip when it pays. */
async function serveFile(
  config: ReadConfig,
  request: Request,
  opened: OpenFile,
  contentType = contentTypeFor(opened.real),
): Promise<Response> {
  const options = { cacheControl: config.cacheControl, contentType };
  if (!config.compress || !isCompressible(contentType)) {
    return serveContent(request, opened.file, opened.info, options);
  }
  const accept = request.headers.get("accept-encoding");
  const siblings: { coding: Coding; opened: OpenFile }[] = [];
  if (accept !== undefined) {
    for (const coding of ["br", "gzip"] as const) {
      const sibling = await openInside(config.rootReal, opened.real + PRECOMPRESSED_SUFFIX[coding]);
      if (sibling === null) continue;
      if (sibling.info.isFile) siblings.push({ coding, opened: sibling });
      else sibling.file.close();
    }
  }
  const stored = chooseCoding(accept, siblings.map((s) => s.coding));
  for (const sibling of siblings) if (sibling.coding !== stored) sibling.opened.file.close();
  if (stored !== null) {
    opened.file.close();
    const sibling = siblings.find((s) => s.coding === stored)!.opened;
    return serveContent(request, sibling.file, sibling.info, {
      ...options,
      storedCoding: stored,
      varyOnEncoding: true,
    });
  }
  const onTheFly = opened.info.size >= MIN_COMPRESS_BYTES && !request.headers.has("range")
    ? chooseCoding(accept, ["gzip"])
    : null;
  return serveContent(request, opened.file, opened.info, {
    ...options,
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
    const index = await openInside(config.rootReal, path.join(config.rootReal, "index.html"));
    if (index?.info.isFile) return serveFile(config, request, index, "text/html; charset=utf-8");
    index?.file.close();
  }
  const page = await openInside(config.rootReal, path.join(config.rootReal, "404.html"));
  if (page === null) throw new HttpError(404, "Not found");
  try {
    if (!page.info.isFile) throw new HttpError(404, "Not found");
    const body = new Uint8Array(page.info.size);
    let offset = 0;
    while (offset < body.length) {
      const n = await page.file.read(body.subarray(offset));
      if (n === null) break;
      offset += n;
    }
    return {
      status: 404,
      headers: [["Content-Type", "text/html; charset=utf-8"], ["Cache-Control", "no-cache"]],
      body: body.subarray(0, offset),
    };
  } finally {
    page.file.close();
  }
}

/** Answers GET or HEAD for `url` (already validated and checked for dotfiles). */
export async function getPath(
  config: ReadConfig,
  request: Request,
  url: UrlPath,
  fsPath: string,
): Promise<Response> {
  const opened = await openInside(config.rootReal, fsPath);
  if (opened === null) return notFound(config, request);
  if (opened.info.isFile) {
    if (url.trailingSlash) {
      opened.file.close();
      return notFound(config, request);
    }
    return serveFile(config, request, opened);
  }
  opened.file.close();
  if (!opened.info.isDirectory) return notFound(config, request);
  if (!url.trailingSlash) {
    // A same-origin path: encodeUrlPath never yields "//host" or "/\host".
    const query = request.query === "" ? "" : `?${request.query}`;
    return { status: 301, headers: [["Location", encodeUrlPath(url.segments, true) + query]] };
  }
  const index = await openInside(config.rootReal, path.join(opened.real, "index.html"));
  if (index?.info.isFile) return serveFile(config, request, index, "text/html; charset=utf-8");
  index?.file.close();
  if (!config.listing) return notFound(config, request);
  return listingResponse(request, opened.real, url.segments, { dotfiles: config.dotfiles });
}
