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
import { destinationSegments, movePath, overwriteAllowed } from "./move.ts";
import { UPLOAD_PATH_PREFIX } from "./resumable.ts";
import type { ResumableUploads } from "./resumable.ts";
import type { ReadConfig } from "./get.ts";
import { putFile } from "./put.ts";
import { deletePath } from "./delete.ts";
import { copyPath } from "../dav/copy.ts";
import { makeCollection } from "../dav/mkcol.ts";
import { propfind } from "../dav/propfind.ts";
import type { DavConfig } from "../dav/propfind.ts";
import { proppatch } from "../dav/proppatch.ts";
import { DavLocks } from "../dav/locks.ts";
import { changesOf, checkLocks } from "../dav/lock_guard.ts";
import { DavLockProperties, lockDepth, lockResource, unlockResource } from "../dav/lock.ts";
import { needsOf } from "../policy/access.ts";

/** The settings the handlers work with. */
export interface HandlerConfig extends ReadConfig {
  /** Largest request body (multipart forms check it per part too). */
  maxBodyBytes: number;
  /** Resumable uploads, or null on a read-only server. */
  resumable: ResumableUploads | null;
}

/** The segment after `.well-known` under which resumable uploads live. */
const UPLOADS_SEGMENT = UPLOAD_PATH_PREFIX.split("/")[2];

/** Methods of RFC 9110, PATCH and WebDAV's: others are unknown to this server (501). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
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
  "LOCK",
  "UNLOCK",
]);

/** The `Allow` value: the methods the server supports somewhere. */
export function allowedMethods(readOnly: boolean): string {
  return readOnly
    ? "GET, HEAD, OPTIONS, PROPFIND"
    : "GET, HEAD, PUT, POST, DELETE, MOVE, COPY, MKCOL, PROPFIND, PROPPATCH, LOCK, UNLOCK, " +
      "OPTIONS";
}

/** The `Allow` value of one path, by what is there (null: nothing). */
export function allowedAt(readOnly: boolean, kind: "file" | "directory" | null): string {
  if (kind === null) return readOnly ? "OPTIONS" : "PUT, MKCOL, LOCK, OPTIONS";
  const reads = "GET, HEAD, OPTIONS, PROPFIND";
  if (readOnly) return reads;
  const post = kind === "directory" ? ", POST" : "";
  return `${reads}, PUT${post}, DELETE, MOVE, COPY, PROPPATCH, LOCK, UNLOCK`;
}

/** Builds the request handler for a server: routing by method, without the wrappers. */
export function createHandler(config: HandlerConfig): Handler {
  const allow = allowedMethods(config.readOnly);
  const notAllowed = () => new HttpError(405, "Method not allowed", { Allow: allow });
  const readOnly = () => new HttpError(403, "The server is read-only (--read-only)");
  const locks = new DavLocks(config.storage.lockTable);
  const dav: DavConfig = {
    storage: config.storage,
    dotfiles: config.dotfiles,
    readOnly: config.readOnly,
    listing: config.listing,
    locks: new DavLockProperties(locks),
    access: config.access,
  };
  const davHeaders: [string, string][] = [
    // Class 2: locking (litmus and Finder want "1" too, never "2" alone).
    ["DAV", "1, 2"],
    ["MS-Author-Via", "DAV"],
  ];

  const access = config.access;

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
      // Every use of an upload writes its target: its rules apply, and to an append its locks.
      const target = method === "PATCH" || (access !== null && method !== "OPTIONS")
        ? await config.resumable.targetOf(url.segments[2])
        : null;
      if (access !== null && target !== null) await access.authorize(request, "write", target);
      if (target !== null && method === "PATCH") {
        const checked = await checkLocks(locks, config.storage, request, target, [
          { path: target, reach: "resource", membership: "if-new" },
        ]);
        if ("status" in checked) return checked;
      }
      return await config.resumable.handleResource(request, url.segments[2]);
    }
    if (!config.dotfiles && isHiddenPath(url.segments)) throw new HttpError(404, "Not found");
    if (access !== null) {
      const depth = method === "LOCK" ? lockDepth(request) : undefined;
      for (const need of needsOf(method, url.segments, depth)) {
        await access.authorize(request, need.action, need.path, need.reach);
      }
    }
    // RFC 9110 §14.5: a server without partial PUT must reject one rather than
    // store the part as the whole file.
    if (method === "PUT" && request.headers.has("content-range")) {
      throw new HttpError(
        400,
        "Partial PUT (Content-Range) is not supported: resume uploads with Upload-Complete " +
          "(resumable uploads, see the README)",
      );
    }
    // One lock check for every method (a read-only server refuses writes anyway).
    const destination = (!config.readOnly || access !== null) &&
        (method === "MOVE" || method === "COPY")
      ? destinationSegments(request, config.dotfiles)
      : null;
    // What a MOVE or COPY replaces at its destination is written over, tree and all.
    if (access !== null && destination !== null) {
      await access.authorize(request, "write", destination, "tree");
      // Replacing a folder takes its tree away: a delete, which writing alone does not grant.
      if (
        overwriteAllowed(request) &&
        (await config.storage.stat(destination))?.kind === "directory"
      ) {
        await access.authorize(request, "delete", destination, "tree");
      }
    }
    const changes = config.readOnly ? [] : changesOf(method, url.segments, destination);
    const checked = await checkLocks(locks, config.storage, request, url.segments, changes);
    if ("status" in checked) return checked;
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
        // Loaded on the first form: its multipart parser costs memory (measured).
        return await (await import("./form.ts")).postForm(config, request, url.segments);
      case "DELETE": {
        if (config.readOnly) throw readOnly();
        const response = await deletePath(config.storage, request, url);
        // Locks end with their resource (RFC 4918 §9.6.1, §9.9.1), so a new one there starts
        // free; a 207 left some members, and their locks.
        if (response.status === 204) await locks.removeTree(url.segments);
        return response;
      }
      case "MOVE": {
        if (config.readOnly) throw readOnly();
        const response = await movePath(config.storage, request, url.segments, config.dotfiles);
        await locks.removeTree(url.segments);
        return response;
      }
      case "LOCK":
        if (config.readOnly) throw readOnly();
        return await lockResource(locks, config.storage, request, url, checked.submitted);
      case "UNLOCK":
        if (config.readOnly) throw readOnly();
        return await unlockResource(locks, request, url);
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
        // What is at a path the client may not read stays unsaid: the server-wide answer.
        if (access !== null && !(await access.allows(request, "read", url.segments))) {
          return { status: 200, headers: [["Allow", allow], ...davHeaders] };
        }
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
  // A rejection handler rather than an async layer around route: no frame for every request.
  return (request: Request): Promise<Response> => route(request).catch(translateStoreError);
}

/** Rethrows what a store's failure means to the client. */
function translateStoreError(error: unknown): never {
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
