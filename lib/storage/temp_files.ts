/**
 * Upload temp files: created beside their target with a name no user file
 * can have, and removed at start-up when a crash left them behind.
 *
 * @module
 */

import * as path from "node:path";

/** Prefix of the store's temp files: never served, listed or writable by URL. */
export const TEMP_PREFIX = ".filedrop-tmp-";

/**
 * This server process's mark in its temp file names. Temp files without it
 * belong to a process that is gone (a crash) and are removed at start-up.
 */
const SESSION_PREFIX = `${TEMP_PREFIX}${crypto.randomUUID().slice(0, 8)}-`;

/**
 * Prefix of the partial data of resumable uploads: temp files too (never
 * listed or served), but kept across restarts until they expire.
 */
export const UPLOAD_TEMP_PREFIX = `${TEMP_PREFIX}upload-`;

/** A new, empty temp file, open for writing. */
export interface TempFile {
  /** Its path. */
  path: string;
  /** The open file. */
  file: Deno.FsFile;
}

/**
 * Creates and opens a new temp file in `directory` with `mode` (before the
 * umask): one file-system operation, where creating and then opening would
 * take two. Give it the final file's mode, so the rename needs no chmod.
 */
export async function openTempFile(directory: string, mode = 0o600): Promise<TempFile> {
  for (;;) {
    const name = `${SESSION_PREFIX}${crypto.randomUUID().replaceAll("-", "")}`;
    const tempPath = path.join(directory, name);
    try {
      const file = await Deno.open(tempPath, { write: true, createNew: true, mode });
      return { path: tempPath, file };
    } catch (error) {
      // A 122-bit random name collides only by a miracle; try another.
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
}

/**
 * Every directory under `root` (itself included) with its entries, never
 * following symlinks; unreadable directories are skipped. Both start-up
 * walks (stale temps, resumable uploads) use it.
 */
export async function* directoriesUnder(
  root: string,
): AsyncGenerator<{ directory: string; entries: Deno.DirEntry[] }> {
  const pending = [root];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(directory));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry.isDirectory) pending.push(path.join(directory, entry.name));
    }
    yield { directory, entries };
  }
}

/**
 * Removes every file under `rootReal` named like a temp file of another
 * server process, except resumable uploads. Returns the paths removed.
 */
export async function removeStaleTemps(rootReal: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const { directory, entries } of directoriesUnder(rootReal)) {
    for (const entry of entries) {
      if (
        entry.isFile && entry.name.startsWith(TEMP_PREFIX) &&
        !entry.name.startsWith(SESSION_PREFIX) &&
        // Resumable uploads outlive a restart; ResumableUploads removes its own expired ones.
        !entry.name.startsWith(UPLOAD_TEMP_PREFIX)
      ) {
        const fullPath = path.join(directory, entry.name);
        try {
          await Deno.remove(fullPath);
          removed.push(fullPath);
        } catch {
          // Gone already, or not ours to remove: leave it.
        }
      }
    }
  }
  return removed;
}
