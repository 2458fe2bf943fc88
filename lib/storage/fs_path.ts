/**
 * Store paths to file-system paths under ROOT, and the real-path (symlink)
 * checks that keep every read and write inside it.
 *
 * @module
 */

import * as path from "node:path";
import { isMissing, statOrNullSync } from "./fs_errors.ts";
import { HttpError } from "../http/errors.ts";

/**
 * Joins ROOT and segments with node:path (platform separator).
 *
 * Segments must come from {@link decodeUrlPath}; as a last line of defence a
 * segment that node:path would treat as navigation or as a separator throws.
 *
 * @param root the server ROOT directory
 * @param segments decoded, validated segments
 * @throws {RangeError} for an empty, "." or ".." segment or one holding a separator
 */
export function toFsPath(root: string, segments: readonly string[]): string {
  for (const segment of segments) {
    if (
      segment === "" || segment === "." || segment === ".." || segment.includes("/") ||
      segment.includes("\\")
    ) {
      throw new RangeError(`Unsafe path segment ${JSON.stringify(segment)}`);
    }
  }
  return path.join(root, ...segments);
}

/**
 * Whether `candidate` (an absolute, real path) is `root` itself or inside it. Must not be fooled by sibling prefixes ("/srv/public-x" is NOT inside "/srv/public").
 *
 * @param root an absolute directory path
 * @param candidate an absolute path to test
 */
export function isInside(root: string, candidate: string): boolean {
  const normalRoot = path.resolve(root);
  const normalCandidate = path.resolve(candidate);
  if (normalCandidate === normalRoot) return true;
  // Compare against "root + separator" so "/srv/public-x" never matches "/srv/public".
  const prefix = normalRoot.endsWith(path.sep) ? normalRoot : normalRoot + path.sep;
  return normalCandidate.startsWith(prefix);
}

/**
 * For reads: Deno.realPath(fsPath) must be inside rootReal (rootReal is already a real path). Returns the real path and its `stat`, or throws HttpError(404) when it escapes ROOT (don't reveal it exists). NotFound from realPath propagates as HttpError(404) too.
 *
 * A path through a file ("file.txt/x") and a symlink loop are 404 as well,
 * and so is anything that is neither a regular file nor a directory: opening
 * a named pipe blocks until a writer comes (forever, pinning one of Deno's
 * blocking threads), and a device or socket is nothing to serve.
 * Callers should open the returned real path, not `fsPath`, to keep the
 * window between check and use as small as possible.
 *
 * @param rootReal the real path of ROOT
 * @param fsPath a path from {@link toFsPath}
 * @param followOutside accept a real path outside ROOT (`--follow-symlinks`, reads only)
 */
export async function resolveForRead(
  rootReal: string,
  fsPath: string,
  followOutside = false,
): Promise<{ real: string; info: Deno.FileInfo }> {
  let real: string;
  try {
    real = await Deno.realPath(fsPath);
  } catch (error) {
    if (isMissing(error) || error instanceof Deno.errors.FilesystemLoop) {
      throw new HttpError(404, "Not found");
    }
    throw error;
  }
  if (!followOutside && !isInside(rootReal, real)) throw new HttpError(404, "Not found");
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(real);
  } catch (error) {
    if (isMissing(error)) throw new HttpError(404, "Not found"); // Removed since.
    throw error;
  }
  if (!isFileOrDirectory(info)) throw new HttpError(404, "Not found");
  return { real, info };
}

/** Whether `info` is a regular file or a directory: the only kinds the server opens or replaces. */
export function isFileOrDirectory(info: Deno.FileInfo): boolean {
  return info.isFile || info.isDirectory;
}

function forbidden(): HttpError {
  return new HttpError(403, "Forbidden");
}

/**
 * Real path of `fsPath` and its `lstat`, or undefined when nothing is there.
 * An entry that exists but does not resolve (a dangling symlink or a loop)
 * throws 403: a write through it could create a file wherever it points.
 */
function realPathIfExists(fsPath: string): { real: string; link: Deno.FileInfo } | undefined {
  // Racing DELETEs, MOVEs and PUTs may remove and re-create the entry between
  // the two calls: only a link that stays dangling is refused.
  for (;;) {
    let link: Deno.FileInfo;
    try {
      link = Deno.lstatSync(fsPath);
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (error instanceof Deno.errors.FilesystemLoop) throw forbidden();
      throw error;
    }
    try {
      return { real: Deno.realPathSync(fsPath), link };
    } catch (error) {
      if (error instanceof Deno.errors.FilesystemLoop) throw forbidden();
      if (!isMissing(error)) throw error;
      if (link.isSymlink) throw forbidden(); // Dangling (or made so since): where it leads is unknown.
    }
  }
}

/** `lstat` of `fsPath`, or undefined when nothing is there; 403 for a symlink loop on the way. */
function lstatOrUndefined(fsPath: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(fsPath);
  } catch (error) {
    if (isMissing(error)) return undefined;
    if (error instanceof Deno.errors.FilesystemLoop) throw forbidden();
    throw error;
  }
}

/**
 * Real path of the directory `fsPath`, or undefined when nothing is there:
 * {@linkcode realPathIfExists} with the `lstat` only when the lookup fails,
 * which for an existing directory it does not.
 */
function realDirectoryIfExists(fsPath: string): string | undefined {
  let danglingBefore = false;
  for (;;) {
    try {
      return Deno.realPathSync(fsPath);
    } catch (error) {
      if (error instanceof Deno.errors.FilesystemLoop) throw forbidden();
      if (!isMissing(error)) throw error;
    }
    const link = lstatOrUndefined(fsPath);
    if (link === undefined) return undefined;
    // A link that leads nowhere twice in a row is dangling (a racing writer may have made it).
    if (link.isSymlink) {
      if (danglingBefore) throw forbidden();
      danglingBefore = true;
    }
  }
}

/**
 * For writes: the real path of the nearest EXISTING ancestor directory of fsPath must be inside rootReal (covers a symlinked parent directory pointing outside); if fsPath itself exists and is a symlink whose target is outside ROOT, or is neither a regular file nor a directory, also refuse. Throws HttpError(403) when it escapes.
 *
 * Dangling symlinks (as fsPath or as the nearest existing ancestor) and
 * symlink loops are refused too, since where they lead cannot be checked.
 * ROOT itself is not writable: its parent is outside ROOT.
 *
 * Synchronous on purpose: a few lookups that a local file system answers
 * from its caches in microseconds, where async ops cost a round trip through
 * Deno's blocking pool each, most of a small upload's time (measured). Like
 * nginx, the server then waits on a slow network file system instead.
 *
 * Returns `lockKey`, `fsPath` with its existing directories resolved (its
 * own name kept: a link there is replaced, not followed), the same for every
 * path that reaches the same entry, so it is what writes lock on; and
 * `current`, what is there now (a link followed), or null.
 *
 * @param rootReal the real path of ROOT
 * @param fsPath a path from {@link toFsPath}
 */
export function checkWriteInside(
  rootReal: string,
  fsPath: string,
): { lockKey: string; current: Deno.FileInfo | null } {
  let ancestor = path.dirname(fsPath);
  let ancestorReal = realDirectoryIfExists(ancestor);
  while (ancestorReal === undefined) {
    const parent = path.dirname(ancestor);
    if (parent === ancestor) throw forbidden();
    ancestor = parent;
    ancestorReal = realDirectoryIfExists(ancestor);
  }
  if (!isInside(rootReal, ancestorReal)) throw forbidden();
  const lockKey = path.join(ancestorReal, path.relative(ancestor, fsPath));

  // Checked after the parent: a symlink inside an outside directory may point back in.
  let link = lstatOrUndefined(fsPath);
  if (link === undefined) return { lockKey, current: null };
  // Not a link, in a resolved parent: its real path is the lock key, no lookup needed.
  let real = lockKey;
  if (link.isSymlink || ancestor !== path.dirname(fsPath)) {
    const target = realPathIfExists(fsPath);
    if (target === undefined) return { lockKey, current: null };
    ({ real, link } = target);
  }
  if (!isInside(rootReal, real)) throw forbidden();
  // A pipe, socket or device is not ours to replace, move or remove (gone since: fine).
  const info = link.isSymlink ? statOrNullSync(real) : link;
  if (info !== null && !isFileOrDirectory(info)) {
    throw new HttpError(403, "Not a regular file or directory");
  }
  return { lockKey, current: info };
}
