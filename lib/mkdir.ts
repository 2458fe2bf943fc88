/**
 * PUT to a path ending in "/": creates a directory (and its parents), the
 * way WebDAV's MKCOL does, so that a browser page needs no other method.
 *
 * @module
 */

import { writeErrorToHttp } from "./fs_errors.ts";
import { HttpError } from "./http/errors.ts";
import type { Request, Response } from "./http/message.ts";
import { checkWriteInside, encodeUrlPath } from "./path.ts";

/**
 * Creates the directory at `fsPath`: 201 with Location when new, 204 when it
 * already was a directory, 409 when a file is in the way or a body was sent.
 */
export async function makeDirectory(
  rootReal: string,
  request: Request,
  segments: readonly string[],
  fsPath: string,
): Promise<Response> {
  if (request.body.length !== 0) throw new HttpError(409, "Cannot PUT content to a directory");
  if (segments.length === 0) return { status: 204, headers: [] };
  await checkWriteInside(rootReal, fsPath);
  try {
    const existing = await Deno.lstat(fsPath);
    if (existing.isDirectory) return { status: 204, headers: [] };
    throw new HttpError(409, "A file exists at that path");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw writeErrorToHttp(error) ?? error;
  }
  try {
    await Deno.mkdir(fsPath, { recursive: true });
  } catch (error) {
    throw writeErrorToHttp(error) ?? error;
  }
  return { status: 201, headers: [["Location", encodeUrlPath(segments, true)]] };
}
