/**
 * Maps file-system errors to HTTP statuses, in one place.
 *
 * @module
 */

import { HttpError } from "./http/errors.ts";

/** The errno-style code of a Deno file-system error, if any. */
function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string"
    ? error.code
    : undefined;
}

/**
 * Turns a file-system error met while writing into a client-safe
 * {@linkcode HttpError}, or returns null for errors that are the server's
 * fault (500). Never exposes paths.
 */
export function writeErrorToHttp(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  const code = errorCode(error);
  if (code === "ENOSPC" || code === "EDQUOT") return new HttpError(507, "Insufficient storage");
  if (
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
    code === "EROFS" || code === "EACCES" || code === "EPERM"
  ) {
    return new HttpError(403, "Writing there is not permitted");
  }
  if (code === "ENAMETOOLONG" || code === "EINVAL" || code === "EILSEQ") {
    return new HttpError(400, "The file system rejects that name");
  }
  if (
    error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.AlreadyExists || code === "ENOTDIR" || code === "EISDIR"
  ) {
    return new HttpError(409, "A path component is not a directory");
  }
  if (code === "ENOTEMPTY") return new HttpError(409, "Directory is not empty");
  // A directory removed by someone else between our checks and the write.
  if (error instanceof Deno.errors.NotFound) return new HttpError(409, "The directory vanished");
  return null;
}
