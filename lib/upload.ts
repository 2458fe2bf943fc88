/**
 * PUT: streams a request body into a temp file beside the target, flushes it,
 * and renames it into place, so a reader sees the old file or the new one,
 * never a part.
 *
 * @module
 */

import * as path from "node:path";
import { statOrNull, statOrNullSync, writeErrorToHttp } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { UploadDigests } from "./digest.ts";
import { makeParents, syncDirectory } from "./durability.ts";
import { checkWriteInside, encodeUrlPath } from "./path.ts";
import { openTempFile } from "./temp_files.ts";
import { checkPreconditions } from "./preconditions.ts";
import type { ConditionalHeaders } from "./preconditions.ts";
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
 * The checks a write makes of its target, given the file a GET of it serves
 * now (symlinks followed, so preconditions see the ETag a GET gave): 409 for
 * a directory, 412 for failed preconditions.
 */
export function checkWriteTarget(
  method: string,
  conditions: ConditionalHeaders,
  current: Deno.FileInfo | null,
): void {
  if (current?.isDirectory) throw new HttpError(409, "The target is a directory");
  const validators = current === null ? null : fileValidators(current);
  if (checkPreconditions(method, conditions, validators) !== "proceed") {
    throw new HttpError(412, "Precondition failed");
  }
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
  const conditions = conditionalHeaders(request);
  const before = await statOrNull(fsPath);
  checkWriteTarget(request.method, conditions, before);

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
    // The stat is synchronous (microseconds under the lock); the rename is not:
    // replacing a file frees the old one's blocks, which took a third of the
    // event loop's time for 1 MiB files when done synchronously (measured).
    const created = await context.locks.run(fsPath, async () => {
      const current = statOrNullSync(fsPath);
      checkWriteTarget(request.method, conditions, current);
      await Deno.rename(tempFile, fsPath);
      return current === null;
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
