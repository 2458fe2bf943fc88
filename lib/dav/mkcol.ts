/**
 * MKCOL (RFC 4918 §9.3): creates one collection, with or without a trailing
 * slash in the URL (Finder and Explorer send both).
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath } from "../handlers/url_path.ts";
import type { UrlPath } from "../handlers/url_path.ts";
import { hasBody } from "./xml_request.ts";
import type { DavConfig } from "./propfind.ts";

/**
 * Creates the directory at `url`: 201 with Location; 405 when something is
 * there already (`Allow` says what is); 409 when its parent is not a
 * directory; 415 for any body (this server knows no MKCOL body).
 */
export async function makeCollection(
  config: DavConfig,
  request: Request,
  url: UrlPath,
  allowFor: (exists: "file" | "directory") => string,
): Promise<Response> {
  if (hasBody(request)) throw new HttpError(415, "MKCOL with a body is not supported");
  const existing = await config.storage.stat(url.segments);
  if (existing !== null) {
    throw new HttpError(405, "Something is there already", { Allow: allowFor(existing.kind) });
  }
  const parent = await config.storage.stat(url.segments.slice(0, -1));
  if (parent?.kind !== "directory") {
    throw new HttpError(409, "The parent collection does not exist");
  }
  // False when a racing MKCOL or PUT made it first.
  if (!(await config.storage.mkdir(url.segments))) {
    throw new HttpError(405, "Something is there already", { Allow: allowFor("directory") });
  }
  return { status: 201, headers: [["Location", encodeUrlPath(url.segments, true)]] };
}
