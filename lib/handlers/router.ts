/**
 * Routes a request to the file operations by method, after turning its URL
 * path into a safe file-system path.
 *
 * @module
 */

import type { Handler } from "../server/connection.ts";
import { isMissing, isResourceExhaustion } from "../storage/fs_errors.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { decodeUrlPath, isHiddenPath } from "./url_path.ts";
import { getPath } from "./get.ts";
import { makeDirectory } from "./mkdir.ts";
import { movePath } from "./move.ts";
import { postForm } from "./form.ts";
import { UPLOAD_PATH_PREFIX } from "./resumable.ts";
import type { ResumableUploads } from "./resumable.ts";
import type { ReadConfig } from "./get.ts";
import { putFile } from "./put.ts";
import { deletePath } from "./delete.ts";
import { copyPath } from "../dav/copy.ts";
import { makeCollection } from "../dav/mkcol.ts";
import { NO_LOCKS } from "../dav/properties.ts";
import type { LockProperties } from "../dav/properties.ts";
import { propfind } from "../dav/propfind.ts";
import type { DavConfig } from "../dav/propfind.ts";
import { proppatch } from "../dav/proppatch.ts";

/** The settings the handlers work with. */
export interface HandlerConfig extends ReadConfig {
  /** Largest request body (multipart forms check it per part too). */
  maxBodyBytes: number;
  /** Resumable uploads, or null on a read-only server. */
  resumable: ResumableUploads | null;
  /**
   * Locking's part of WebDAV (PROPFIND's lock properties; with it, OPTIONS
   * announces class 2); absent until a lock system is plugged in.
   */
  locks?: LockProperties;
}

/** The segment after `.well-known` under which resumable uploads live. */
const UPLOADS_SEGMENT = UPLOAD_PATH_PREFIX.split("/")[2];

/** Methods of RFC 9110, PATCH and WebDAV's (but locking): others are unknown to this server (501). */
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
  "MOVE",
  "COPY",
  "MKCOL",
  "PROPFIND",
  "PROPPATCH",
]);

/** The `Allow` value: the methods the server supports somewhere. */
export function allowedMethods(readOnly: boolean): string {
  return readOnly
    ? "GET, HEAD, OPTIONS, PROPFIND"
    : "GET, HEAD, PUT, POST, DELETE, MOVE, COPY, MKCOL, PROPFIND, PROPPATCH, OPTIONS";
}

/** The `Allow` value of one path, by what is there (null: nothing). */
export function allowedAt(readOnly: boolean, kind: "file" | "directory" | null): string {
  if (kind === null) return readOnly ? "OPTIONS" : "PUT, MKCOL, OPTIONS";
  const reads = "GET, HEAD, OPTIONS, PROPFIND";
  if (readOnly) return reads;
  const post = kind === "directory" ? ", POST" : "";
  return `${reads}, PUT${post}, DELETE, MOVE, COPY, PROPPATCH`;
}

/** The `DAV` compliance classes: 2 only with locking. */
function davClasses(locks: LockProperties | undefined): string {
  return locks === undefined ? "1" : "1, 2";
}

/** Builds the request handler for a server: routing by method, without the wrappers. */
export function createHandler(config: HandlerConfig): Handler {
  const allow = allowedMethods(config.readOnly);
  const notAllowed = () => new HttpError(405, "Method not allowed", { Allow: allow });
  const readOnly = () => new HttpError(403, "The server is read-only (--read-only)");
  const dav: DavConfig = {
    storage: config.storage,
    dotfiles: config.dotfiles,
    readOnly: config.readOnly,
    listing: config.listing,
    locks: config.locks ?? NO_LOCKS,
  };
  const davHeaders: [string, string][] = [
    ["DAV", davClasses(config.locks)],
    ["MS-Author-Via", "DAV"],
  ];

  const route = async (request: Request): Promise<Response> => {
    const method = request.method;
    if (!KNOWN_METHODS.has(method)) throw new HttpError(501, "Method not implemented");
    if (request.targetForm === "authority") throw notAllowed();
    if (request.targetForm === "asterisk") {
      return { status: 204, headers: [["Allow", allow], ...davHeaders] };
    }
    const url = decodeUrlPath(request.path);
    if (url.segments[0] === ".well-known" && url.segments[1] === UPLOADS_SEGMENT) {
      // Routed on decoded segments, so this namespace can never be a real file.
      if (config.resumable === null) {
        throw new HttpError(403, "The server is read-only (--read-only)");
      }
      if (url.segments.length !== 3 || url.trailingSlash) throw new HttpError(404, "Not found");
      return await config.resumable.handleResource(request, url.segments[2]);
    }
    if (!config.dotfiles && isHiddenPath(url.segments)) throw new HttpError(404, "Not found");
    // RFC 9110 §14.5: a server without partial PUT must reject one rather than
    // store the part as the whole file.
    if (method === "PUT" && request.headers.has("content-range")) {
      throw new HttpError(
        400,
        "Partial PUT (Content-Range) is not supported: resume uploads with Upload-Complete " +
          "(resumable uploads, see the README)",
      );
    }
    if (config.resumable?.isCreation(request) && !url.trailingSlash) {
      return await config.resumable.handleCreation(request, url.segments);
    }
    switch (method) {
      case "GET":
      case "HEAD":
        return await getPath(config, request, url);
      case "PUT":
        if (config.readOnly) throw readOnly();
        if (url.trailingSlash) {
          return await makeDirectory(config.storage, request, url.segments);
        }
        return await putFile(config.storage, request, url.segments);
      case "POST":
        if (config.readOnly) throw readOnly();
        return await postForm(config, request, url.segments);
      case "DELETE":
        if (config.readOnly) throw readOnly();
        return await deletePath(config.storage, request, url);
      case "MOVE":
        if (config.readOnly) throw readOnly();
        return await movePath(config.storage, request, url.segments, config.dotfiles);
      case "COPY":
        if (config.readOnly) throw readOnly();
        return await copyPath(dav, request, url.segments);
      case "MKCOL":
        if (config.readOnly) throw readOnly();
        return await makeCollection(dav, request, url, (kind) => allowedAt(false, kind));
      case "PROPFIND":
        return await propfind(dav, request, url);
      case "PROPPATCH":
        if (config.readOnly) throw readOnly();
        return await proppatch(dav, request, url);
      case "OPTIONS": {
        const kind = (await config.storage.stat(url.segments))?.kind ?? null;
        return {
          status: 200,
          headers: [
            ["Allow", allowedAt(config.readOnly, kind)],
            ...davHeaders,
            ...(config.resumable?.discoveryHeaders() ?? []),
          ],
        };
      }
      default:
        throw notAllowed();
    }
  };
  return async (request: Request): Promise<Response> => {
    try {
      return await route(request);
    } catch (error) {
      // A path removed by a racing DELETE or MOVE between a check and its use.
      if (isMissing(error)) throw new HttpError(404, "Not found");
      // Out of descriptors or memory for the moment: the client may retry, nothing is wrong.
      if (isResourceExhaustion(error)) {
        throw new HttpError(503, "The server is out of resources; try again", {
          "Retry-After": "1",
        });
      }
      throw error;
    }
  };
}
