/**
 * Routes a request to the file operations by method, after turning its URL
 * path into a safe file-system path.
 *
 * @module
 */

import * as path from "node:path";
import type { Handler } from "./connection.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { listingResponse } from "./listing.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath, resolveForRead, toFsPath } from "./path.ts";
import type { UrlPath } from "./path.ts";
import { contentTypeFor, serveContent } from "./serve_content.ts";
import { putFile } from "./upload.ts";
import { deletePath } from "./delete.ts";

/** The settings the handlers work with. */
export interface HandlerConfig {
  /** ROOT's real path. */
  rootReal: string;
  /** Refuse every write. */
  readOnly: boolean;
  /** fsync uploads before answering. */
  fsync: boolean;
  /** Serve and list names starting with ".". */
  dotfiles: boolean;
  /** List directories without an index.html. */
  listing: boolean;
  /** `Cache-Control` for file responses. */
  cacheControl: string;
  /** Per-path locks for writes. */
  locks: KeyedLock;
}

/** Methods of RFC 9110 and PATCH: others are unknown to this server (501). */
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/** Builds the request handler for a server. */
export function createHandler(config: HandlerConfig): Handler {
  const allow = config.readOnly ? "GET, HEAD, OPTIONS" : "GET, HEAD, PUT, DELETE, OPTIONS";
  const notAllowed = () => new HttpError(405, "Method not allowed", { Allow: allow });

  return async (request: Request): Promise<Response> => {
    const method = request.method;
    if (!KNOWN_METHODS.has(method)) throw new HttpError(501, "Method not implemented");
    if (request.targetForm === "authority") throw notAllowed();
    if (request.targetForm === "asterisk") {
      return { status: 204, headers: [["Allow", allow]] };
    }
    const url = decodeUrlPath(request.path);
    if (!config.dotfiles && isHiddenPath(url.segments)) throw new HttpError(404, "Not found");
    const fsPath = toFsPath(config.rootReal, url.segments);
    switch (method) {
      case "GET":
      case "HEAD":
        return await getPath(config, request, url, fsPath);
      case "PUT":
        if (config.readOnly) throw new HttpError(403, "The server is read-only (--read-only)");
        if (url.trailingSlash) throw new HttpError(409, "Cannot PUT to a directory");
        return await putFile(config, request, url.segments, fsPath);
      case "DELETE":
        if (config.readOnly) throw new HttpError(403, "The server is read-only (--read-only)");
        return await deletePath(config, url.segments, request, fsPath);
      case "OPTIONS":
        return { status: 204, headers: [["Allow", allow]] };
      default:
        throw notAllowed();
    }
  };
}

async function getPath(
  config: HandlerConfig,
  request: Request,
  url: UrlPath,
  fsPath: string,
): Promise<Response> {
  const real = await resolveForRead(config.rootReal, fsPath);
  const file = await Deno.open(real);
  let info: Deno.FileInfo;
  try {
    info = await file.stat();
  } catch (error) {
    file.close();
    throw error;
  }
  if (info.isFile) {
    if (url.trailingSlash) {
      file.close();
      throw new HttpError(404, "Not found");
    }
    return serveContent(request, file, info, {
      cacheControl: config.cacheControl,
      contentType: contentTypeFor(real),
    });
  }
  file.close();
  if (!info.isDirectory) throw new HttpError(404, "Not found");
  if (!url.trailingSlash) {
    // A same-origin path: encodeUrlPath never yields "//host" or "/\host".
    const query = request.query === "" ? "" : `?${request.query}`;
    return {
      status: 301,
      headers: [["Location", encodeUrlPath(url.segments, true) + query]],
    };
  }
  const index = await openIndex(config.rootReal, real);
  if (index !== null) {
    return serveContent(request, index.file, index.info, {
      cacheControl: config.cacheControl,
      contentType: "text/html; charset=utf-8",
    });
  }
  if (!config.listing) throw new HttpError(404, "Not found");
  return listingResponse(request, real, url.segments, { dotfiles: config.dotfiles });
}

async function openIndex(
  rootReal: string,
  dirReal: string,
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo } | null> {
  let real: string;
  try {
    real = await resolveForRead(rootReal, path.join(dirReal, "index.html"));
  } catch {
    return null;
  }
  const file = await Deno.open(real);
  const info = await file.stat();
  if (info.isFile) return { file, info };
  file.close();
  return null;
}
