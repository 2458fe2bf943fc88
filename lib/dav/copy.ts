/**
 * COPY (RFC 4918 §9.8): copies a file, or a directory alone (`Depth: 0`) or
 * with everything under it (`Depth: infinity`, the default), with their dead
 * properties, to the same-origin path in `Destination`.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath } from "../handlers/url_path.ts";
import { destinationSegments, overwriteAllowed, sourceCondition } from "../handlers/move.ts";
import type { CopyDepth, StoragePath } from "../storage/storage.ts";
import type { DavConfig } from "./propfind.ts";

/** The Depth of a COPY: "0" or "infinity" (the default); 400 for anything else. */
function copyDepth(request: Request): CopyDepth {
  const value = request.headers.get("depth")?.trim().toLowerCase() ?? "infinity";
  if (value !== "0" && value !== "infinity") {
    throw new HttpError(400, 'The Depth of a COPY must be "0" or "infinity"');
  }
  return value;
}

/**
 * Copies `path` to the request's Destination: 201 with Location when it was
 * new, 204 when something was replaced; 404 for a missing source; 412 for
 * `Overwrite: F` onto an existing destination or a failed precondition; 409
 * into a missing parent or into the source itself; 403 onto itself or
 * another server.
 */
export async function copyPath(
  config: DavConfig,
  request: Request,
  path: StoragePath,
): Promise<Response> {
  const target = destinationSegments(request, config.dotfiles);
  const depth = copyDepth(request);
  let copiedDirectory = false;
  const created = await config.storage.copy(path, target, {
    overwrite: overwriteAllowed(request),
    depth,
    condition: sourceCondition(request, (current) => {
      copiedDirectory = current?.kind === "directory";
    }),
  });
  if (!created) return { status: 204, headers: [] };
  return { status: 201, headers: [["Location", encodeUrlPath(target, copiedDirectory)]] };
}
