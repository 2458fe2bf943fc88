/**
 * PUT to a path ending in "/": creates a directory (and its parents), the
 * way WebDAV's MKCOL does, so that a browser page needs no other method.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath } from "./url_path.ts";
import type { Storage, StoragePath } from "../storage/storage.ts";

/**
 * Creates the directory at `path`: 201 with Location when new, 204 when it
 * already was a directory, 409 when a file is in the way or a body was sent.
 */
export async function makeDirectory(
  storage: Storage,
  request: Request,
  path: StoragePath,
): Promise<Response> {
  if (request.body.length !== 0) throw new HttpError(409, "Cannot PUT content to a directory");
  if (!(await storage.mkdir(path))) return { status: 204, headers: [] };
  return { status: 201, headers: [["Location", encodeUrlPath(path, true)]] };
}
