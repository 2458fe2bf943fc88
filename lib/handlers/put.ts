/**
 * PUT: streams a request body into a new version of the file, which the
 * store puts in place whole, so a reader sees the old file or the new one,
 * never a part.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { UploadDigests, wantsReprDigest } from "../content/digest.ts";
import { encodeUrlPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Storage, StoragePath } from "../storage/storage.ts";

/**
 * Stores the request body at `path`: 201 with Location for a new file, 204
 * for a replaced one, both with the new ETag, and the body's `Repr-Digest`
 * when the client checks integrity ({@linkcode wantsReprDigest}).
 * The target's preconditions are checked before the body is read (so a
 * client learns of a 412 without sending it all) and again by the store just
 * before the new version goes in place; a digest the client sent is checked
 * before that too (400 on a mismatch, and nothing changes).
 */
export async function putFile(
  storage: Storage,
  request: Request,
  path: StoragePath,
): Promise<Response> {
  if (!request.headers.has("content-length") && !request.headers.has("transfer-encoding")) {
    throw new HttpError(411, "PUT needs Content-Length or chunked Transfer-Encoding");
  }
  const digests = UploadDigests.fromHeaders(request.headers, {
    reprDigest: wantsReprDigest(request.headers),
  });
  const condition = writeCondition(request.method, conditionalHeaders(request));
  // Checked before the body is read too: a 409 or 412 costs the client no upload.
  const staged = await storage.stage(path, condition, request.body.length ?? undefined);
  try {
    for (let chunk = await request.body.read(); chunk !== null; chunk = await request.body.read()) {
      digests.update(chunk);
      await staged.write(chunk);
    }
    digests.verify();
  } catch (error) {
    await storage.discard(staged);
    throw error;
  }
  const [committed] = await storage.commit([{ staged, condition }]);
  const headers: [string, string][] = [["ETag", committed.entry.etag]];
  if (digests.hasReprDigest) headers.push(["Repr-Digest", digests.reprDigest()]);
  if (!committed.created) return { status: 204, headers };
  headers.push(["Location", encodeUrlPath(path, false)]);
  headers.push(["Content-Type", "text/plain; charset=utf-8"]);
  return { status: 201, headers, body: new TextEncoder().encode("201 Created\n") };
}
