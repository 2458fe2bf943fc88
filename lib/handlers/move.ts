/**
 * MOVE (RFC 4918 §9.9): renames a file or a directory, with its dead
 * properties, to the same-origin path in the `Destination` header; and the
 * Destination and source-precondition rules COPY shares.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { decodeUrlPath, encodeUrlPath, isHiddenPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Storage, StoragePath, StoredEntry, WriteCondition } from "../storage/storage.ts";

/**
 * The destination's path segments. `Destination` is an absolute path or an
 * absolute URI whose authority must equal the request's Host: a move or
 * copy can never target another server (403).
 */
export function destinationSegments(request: Request, dotfiles: boolean): string[] {
  const destination = request.headers.get("destination");
  if (destination === undefined) {
    throw new HttpError(400, `${request.method} needs a Destination header`);
  }
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

/** The `Overwrite` header: true unless "F" (400 for anything but T or F). */
export function overwriteAllowed(request: Request): boolean {
  const overwrite = (request.headers.get("overwrite") ?? "T").trim().toUpperCase();
  if (overwrite !== "T" && overwrite !== "F") throw new HttpError(400, "Overwrite must be T or F");
  return overwrite === "T";
}

/**
 * The request's preconditions as a condition on the source of a MOVE or
 * COPY; `onCheck` learns what the source is. A directory has no
 * validators: only "no precondition" lets it go.
 */
export function sourceCondition(
  request: Request,
  onCheck: (current: StoredEntry | null) => void = () => {},
): WriteCondition {
  const preconditions = writeCondition(request.method, conditionalHeaders(request));
  return {
    check(current: StoredEntry | null): void {
      onCheck(current);
      preconditions.check(current?.kind === "directory" ? null : current);
    },
  };
}

/**
 * Moves `path` to the request's Destination: 201 with Location when the
 * destination was new, 204 when it was replaced; 404 for a missing source;
 * 412 for `Overwrite: F` onto an existing destination or a failed
 * precondition on the source; 409 when the destination's parent is missing or
 * the move would put a directory inside itself. An existing destination is
 * replaced whatever its kind (RFC 4918 §9.9.3).
 */
export async function movePath(
  storage: Storage,
  request: Request,
  path: StoragePath,
  dotfiles: boolean,
): Promise<Response> {
  const target = destinationSegments(request, dotfiles);
  let movedDirectory = false;
  const created = await storage.move(path, target, {
    overwrite: overwriteAllowed(request),
    condition: sourceCondition(request, (current) => {
      movedDirectory = current?.kind === "directory";
    }),
  });
  if (!created) return { status: 204, headers: [] };
  return { status: 201, headers: [["Location", encodeUrlPath(target, movedDirectory)]] };
}
