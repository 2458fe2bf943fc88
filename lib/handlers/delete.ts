/**
 * DELETE: removes a file, or a directory with everything under it (RFC 4918
 * §9.6), honouring preconditions. `Depth: 0` (which RFC 4918 forbids
 * clients to send for a collection) asks for the old, careful rule: only an
 * empty directory goes, a full one is 409; the browser page sends it.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath } from "./url_path.ts";
import type { UrlPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Storage, StoredEntry } from "../storage/storage.ts";
import { multistatusResponse, responseElement, statusLine } from "../dav/xml_writer.ts";

/**
 * Deletes the file or directory tree at `url`: 204 when gone, 404 when
 * missing (or when a path ending in "/" names a file), 412 on a failed
 * precondition, 403 for ROOT itself; 207 listing the members the store
 * could not remove (the rest are gone). With `Depth: 0` a directory that is
 * not empty is 409 and stays.
 */
export async function deletePath(
  storage: Storage,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const preconditions = writeCondition("DELETE", conditionalHeaders(request));
  const condition = {
    check(current: StoredEntry | null): void {
      // "/file.txt/" names a directory: like GET, do not let it reach the file.
      if (url.trailingSlash && current?.kind !== "directory") {
        throw new HttpError(404, "Not found");
      }
      // A directory has no validators: only "no precondition" lets it go.
      preconditions.check(current?.kind === "directory" ? null : current);
    },
  };
  const depth = request.headers.get("depth")?.trim().toLowerCase() ?? "infinity";
  if (depth === "0") {
    await storage.remove(url.segments, condition);
    return { status: 204, headers: [] };
  }
  if (depth !== "infinity") {
    throw new HttpError(400, 'The Depth of a DELETE must be "0" or "infinity"');
  }
  const failures = await storage.removeTree(url.segments, condition);
  if (failures.length === 0) return { status: 204, headers: [] };
  return multistatusResponse((async function* () {
    for (const failure of failures) {
      // A failed member's path is a directory's only when the store says so; files have none.
      yield responseElement(
        encodeUrlPath(failure.path, false),
        `<D:status>${statusLine(failure.status)}</D:status>`,
      );
    }
  })());
}
