/**
 * PUT: streams a request body into a temp file beside the target, flushes it,
 * and renames it into place, so a reader sees the old file or the new one,
 * never a part.
 *
 * @module
 */

import * as path from "node:path";
import { writeErrorToHttp } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { UploadDigests } from "./digest.ts";
import { makeParents, syncDirectory } from "./durability.ts";
import { checkWriteInside, encodeUrlPath } from "./path.ts";
import { openTempFile } from "./temp_files.ts";
import { checkPreconditions } from "./preconditions.ts";
import { conditionalHeaders, fileValidators } from "./serve_content.ts";

/** What an upload needs to know about the server. */
export interface UploadContext {
  /** ROOT's real path. */
  rootReal: string;
  /** Whether to fsync the file and its directory before answering. */
  fsync: boolean;
  /** Serialises the final check and rename per target path. */
  locks: KeyedLock;
}

/**
 * The file a GET of this URL serves now, or null. A symlink is followed (the
 * caller has checked it stays inside ROOT), so preconditions see the ETag a
 * GET gave and the new file takes the target's mode, not the link's 0777.
 * The rename then replaces the link itself with a regular file.
 */
async function currentFile(fsPath: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(fsPath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** {@linkcode currentFile}, synchronously, for use under the rename lock. */
function currentFileSync(fsPath: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(fsPath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

function checkWritePreconditions(request: Request, current: Deno.FileInfo | null): void {
  if (current?.isDirectory) throw new HttpError(409, "The target is a directory");
  const outcome = checkPreconditions(
    request.method,
    conditionalHeaders(request),
    current === null ? null : fileValidators(current),
  );
  if (outcome !== "proceed") throw new HttpError(412, "Precondition failed");
}

async function writeBody(
  request: Request,
  file: Deno.FsFile,
  digests: UploadDigests,
): Promise<void> {
  for (let chunk = await request.body.read(); chunk !== null; chunk = await request.body.read()) {
    digests.update(chunk);
    let offset = 0;
    while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
  }
  digests.verify();
}

/**
 * Stores the request body at `fsPath` (URL path `segments`): 201 with
 * Location for a new file, 204 for a replaced one, both with the new ETag
 * and the body's `Repr-Digest`. The target's preconditions are checked
 * before the body is read and again, under a per-path lock, just before the
 * rename; a digest the client sent is checked before the rename too (400 on
 * a mismatch, and nothing changes). With `fsync`, the file, the directory
 * entry and any directories created for it are on disk before the answer.
 */
export async function putFile(
  context: UploadContext,
  request: Request,
  segments: readonly string[],
  fsPath: string,
): Promise<Response> {
  if (!request.headers.has("content-length") && !request.headers.has("transfer-encoding")) {
    throw new HttpError(411, "PUT needs Content-Length or chunked Transfer-Encoding");
  }
  const digests = UploadDigests.fromHeaders(request.headers);
  await checkWriteInside(context.rootReal, fsPath);
  const before = await currentFile(fsPath);
  checkWritePreconditions(request, before);

  const directory = path.dirname(fsPath);
  let tempPath: string | null = null;
  try {
    // A file already at the target means its directory exists.
    const createdDirectories = before === null ? await makeParents(directory) : [];
    // Created with the final mode (a replaced file keeps its own), so no chmod is needed.
    const temp = await openTempFile(directory, before === null ? 0o644 : before.mode! & 0o777);
    tempPath = temp.path;
    let info: Deno.FileInfo;
    {
      using file = temp.file;
      await writeBody(request, file, digests);
      if (context.fsync) await file.syncData();
      // A rename keeps inode, size and mtime: the ETag can be made now.
      info = await file.stat();
    }
    const tempFile = tempPath;
    // Synchronous metadata calls inside the lock hold it for microseconds, not
    // for two trips through the async op machinery.
    const created = await context.locks.run(fsPath, () => {
      const current = currentFileSync(fsPath);
      checkWritePreconditions(request, current);
      Deno.renameSync(tempFile, fsPath);
      return Promise.resolve(current === null);
    });
    tempPath = null;
    if (context.fsync) {
      await syncDirectory(directory);
      for (const created of createdDirectories) await syncDirectory(path.dirname(created));
    }
    const headers: [string, string][] = [
      ["ETag", fileValidators(info).etag],
      ["Repr-Digest", digests.reprDigest()],
    ];
    if (!created) return { status: 204, headers };
    headers.push(["Location", encodeUrlPath(segments, false)]);
    headers.push(["Content-Type", "text/plain; charset=utf-8"]);
    return { status: 201, headers, body: new TextEncoder().encode("201 Created\n") };
  } catch (error) {
    throw writeErrorToHttp(error) ?? error;
  } finally {
    if (tempPath !== null) await Deno.remove(tempPath).catch(() => {});
  }
}
