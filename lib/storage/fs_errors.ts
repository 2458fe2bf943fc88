/**
 * File-system errors in one place: which mean "nothing there", and which
 * HTTP status each write error becomes.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";

/** The errno-style code of a Deno error (`"ENOSPC"`, `"EMFILE"`...), if any. */
export function errorCode(error: unknown): string | undefined {
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

/** Codes meaning the process is out of a resource: they pass when some is freed. */
const RESOURCE_EXHAUSTION_CODES = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/** Whether `error` says the process is out of file descriptors or memory (a passing state: 503). */
export function isResourceExhaustion(error: unknown): boolean {
  return RESOURCE_EXHAUSTION_CODES.has(errorCode(error) ?? "");
}

/** Errors meaning "there is nothing usable at this path" (missing, or a file where a directory was expected). */
export function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/** `Deno.stat` (symlinks followed), or null when nothing is there. */
export async function statOrNull(fsPath: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(fsPath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** `Deno.statSync`, or null when nothing is there: for short critical sections under a lock. */
export function statOrNullSync(fsPath: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(fsPath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** `Deno.lstat` (the link itself), or null when nothing is there. */
export async function lstatOrNull(fsPath: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(fsPath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/**
 * `Deno.statSync`, or the error it threw, without a stack trace: on hot paths
 * (every 404 stats a missing path) capturing the trace was most of the cost.
 */
export function statSyncQuiet(fsPath: string): Deno.FileInfo | Error {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return Deno.statSync(fsPath);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * What a GET of `fsPath` describes, given its `lstat`: for a symlink, the
 * file it leads to (so a precondition holds the ETag a client read), null
 * when it dangles; anything else as it is.
 */
export async function followedInfo(
  fsPath: string,
  linkInfo: Deno.FileInfo,
): Promise<Deno.FileInfo | null> {
  return linkInfo.isSymlink ? await statOrNull(fsPath) : linkInfo;
}
