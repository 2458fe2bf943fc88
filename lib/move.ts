/**
 * MOVE (RFC 4918 §9.9, the subset a file server needs): renames a file or a
 * directory to the same-origin path in the `Destination` header.
 *
 * @module
 */

import * as path from "node:path";
import { syncDirectory } from "./durability.ts";
import { followedInfo, lstatOrNull, writeErrorToHttp } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import {
  checkWriteInside,
  decodeUrlPath,
  encodeUrlPath,
  isHiddenPath,
  isInside,
  toFsPath,
} from "./path.ts";
import { checkPreconditions } from "./preconditions.ts";
import { conditionalHeaders, fileValidators } from "./serve_content.ts";

/** What a move needs to know about the server. */
export interface MoveContext {
  /** ROOT's real path. */
  rootReal: string;
  /** Serve and list names starting with "." (otherwise they cannot be a destination). */
  dotfiles: boolean;
  /** fsync both directories after the rename. */
  fsync: boolean;
  /** Serialises checks and renames per path. */
  locks: KeyedLock;
}

/**
 * The destination's path segments. `Destination` is an absolute path or an
 * absolute URI whose authority must equal the request's Host: a move can
 * never target another server.
 */
function destinationSegments(request: Request, dotfiles: boolean): string[] {
  const destination = request.headers.get("destination");
  if (destination === undefined) throw new HttpError(400, "MOVE needs a Destination header");
  let rawPath = destination;
  const absolute = /^https?:\/\/([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/i.exec(destination);
  if (absolute !== null) {
    if (absolute[1].toLowerCase() !== (request.headers.get("host") ?? "").toLowerCase()) {
      throw new HttpError(403, "Destination is on another server");
    }
    rawPath = absolute[2] ?? "/";
  } else if (!destination.startsWith("/")) {
    throw new HttpError(400, "Invalid Destination");
  }
  const url = decodeUrlPath(rawPath.split("?")[0]);
  if (!dotfiles && isHiddenPath(url.segments)) throw new HttpError(403, "Invalid Destination");
  return url.segments;
}

/**
 * Moves `segments` to the request's Destination: 201 with Location when the
 * destination was new, 204 when it was replaced; 404 for a missing source;
 * 412 for `Overwrite: F` onto an existing destination or a failed
 * precondition on the source; 409 when the destination's parent is missing or
 * the move would put a directory inside itself or replace a non-empty one.
 */
export async function movePath(
  context: MoveContext,
  request: Request,
  segments: readonly string[],
  fsPath: string,
): Promise<Response> {
  if (segments.length === 0) throw new HttpError(403, "ROOT cannot be moved");
  const targetSegments = destinationSegments(request, context.dotfiles);
  if (targetSegments.length === 0) throw new HttpError(403, "ROOT cannot be replaced");
  const targetPath = toFsPath(context.rootReal, targetSegments);
  if (targetPath === fsPath) throw new HttpError(403, "Source and destination are the same");
  if (isInside(fsPath, targetPath)) throw new HttpError(409, "Cannot move a directory into itself");
  const overwrite = (request.headers.get("overwrite") ?? "T").toUpperCase();
  if (overwrite !== "T" && overwrite !== "F") throw new HttpError(400, "Overwrite must be T or F");
  await checkWriteInside(context.rootReal, fsPath);
  await checkWriteInside(context.rootReal, targetPath);

  const [first, second] = [fsPath, targetPath].sort();
  return await context.locks.run(first, () =>
    context.locks.run(second, async () => {
      const source = await lstatOrNull(fsPath);
      if (source === null) throw new HttpError(404, "Not found");
      // The link itself moves, but preconditions judge what GET serves.
      const served = await followedInfo(fsPath, source);
      const validators = served?.isFile ? fileValidators(served) : null;
      if (checkPreconditions("MOVE", conditionalHeaders(request), validators) !== "proceed") {
        throw new HttpError(412, "Precondition failed");
      }
      const existing = await lstatOrNull(targetPath);
      if (existing !== null && overwrite === "F") {
        throw new HttpError(412, "Destination exists and Overwrite is F");
      }
      if (existing !== null && existing.isDirectory !== source.isDirectory) {
        throw new HttpError(409, "Cannot replace a file with a directory or the reverse");
      }
      const parent = await lstatOrNull(path.dirname(targetPath));
      if (parent === null || !parent.isDirectory) {
        throw new HttpError(409, "The destination's parent directory does not exist");
      }
      try {
        await Deno.rename(fsPath, targetPath);
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
      if (context.fsync) {
        await syncDirectory(path.dirname(fsPath));
        await syncDirectory(path.dirname(targetPath));
      }
      if (existing !== null) return { status: 204, headers: [] };
      return {
        status: 201,
        headers: [["Location", encodeUrlPath(targetSegments, source.isDirectory)]],
      };
    }));
}
