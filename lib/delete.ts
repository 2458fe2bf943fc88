/**
 * DELETE: removes a file or an empty directory, honouring preconditions.
 *
 * @module
 */

import { followedInfo, writeErrorToHttp } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { checkWriteInside, decodeUrlPath } from "./path.ts";
import { checkPreconditions } from "./preconditions.ts";
import { conditionalHeaders, fileValidators } from "./serve_content.ts";

/** What a delete needs to know about the server. */
export interface DeleteContext {
  /** ROOT's real path. */
  rootReal: string;
  /** Serialises the check and the removal per path, with uploads. */
  locks: KeyedLock;
}

/**
 * Deletes the file or empty directory at `fsPath`: 204 when gone, 404 when
 * missing (or when a path ending in "/" names a file), 409 for a non-empty
 * directory, 412 on a failed precondition, 403 for ROOT itself.
 */
export async function deletePath(
  context: DeleteContext,
  segments: readonly string[],
  request: Request,
  fsPath: string,
): Promise<Response> {
  if (segments.length === 0) throw new HttpError(403, "ROOT cannot be deleted");
  await checkWriteInside(context.rootReal, fsPath);
  return await context.locks.run(fsPath, async () => {
    let current: Deno.FileInfo;
    try {
      current = await Deno.lstat(fsPath);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        throw new HttpError(404, "Not found");
      }
      throw error;
    }
    // The link itself is removed, but preconditions judge what GET serves.
    const served = await followedInfo(fsPath, current);
    // "/file.txt/" names a directory: like GET, do not let it reach the file.
    if (!served?.isDirectory && decodeUrlPath(request.path).trailingSlash) {
      throw new HttpError(404, "Not found");
    }
    const validators = served?.isFile ? fileValidators(served) : null;
    if (checkPreconditions("DELETE", conditionalHeaders(request), validators) !== "proceed") {
      throw new HttpError(412, "Precondition failed");
    }
    try {
      await Deno.remove(fsPath);
    } catch (error) {
      throw writeErrorToHttp(error) ?? error;
    }
    return { status: 204, headers: [] };
  });
}
