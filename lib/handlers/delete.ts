/**
 * DELETE: removes a file or an empty directory, honouring preconditions.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import type { UrlPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Storage, StoredEntry } from "../storage/storage.ts";

/**
 * Deletes the file or empty directory at `url`: 204 when gone, 404 when
 * missing (or when a path ending in "/" names a file), 409 for a non-empty
 * directory, 412 on a failed precondition, 403 for ROOT itself.
 */
export async function deletePath(
  storage: Storage,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const preconditions = writeCondition("DELETE", conditionalHeaders(request));
  await storage.remove(url.segments, {
    check(current: StoredEntry | null): void {
      // "/file.txt/" names a directory: like GET, do not let it reach the file.
      if (url.trailingSlash && current?.kind !== "directory") {
        throw new HttpError(404, "Not found");
      }
      // A directory has no validators: only "no precondition" lets it go.
      preconditions.check(current?.kind === "directory" ? null : current);
    },
  });
  return { status: 204, headers: [] };
}
