/**
 * MOVE (RFC 4918 §9.9, the subset a file server needs): renames a file or a
 * directory to the same-origin path in the `Destination` header.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Storage, StoragePath, StoredEntry } from "../storage/storage.ts";

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
 * Moves `path` to the request's Destination: 201 with Location when the
 * destination was new, 204 when it was replaced; 404 for a missing source;
 * 412 for `Overwrite: F` onto an existing destination or a failed
 * precondition on the source; 409 when the destination's parent is missing or
 * the move would put a directory inside itself or replace a non-empty one.
 */
export async function movePath(
  storage: Storage,
  request: Request,
  path: StoragePath,
  dotfiles: boolean,
): Promise<Response> {
  const target = destinationSegments(request, dotfiles);
  const overwrite = (request.headers.get("overwrite") ?? "T").toUpperCase();
  if (overwrite !== "T" && overwrite !== "F") throw new HttpError(400, "Overwrite must be T or F");
  const preconditions = writeCondition("MOVE", conditionalHeaders(request));
  let movedDirectory = false;
  const created = await storage.move(path, target, {
    overwrite: overwrite === "T",
    condition: {
      check(current: StoredEntry | null): void {
        movedDirectory = current?.kind === "directory";
        // A directory has no validators: only "no precondition" lets it go.
        preconditions.check(movedDirectory ? null : current);
      },
    },
  });
  if (!created) return { status: 204, headers: [] };
  return { status: 201, headers: [["Location", encodeUrlPath(target, movedDirectory)]] };
}
