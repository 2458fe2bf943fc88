/**
 * The file-system steps that make a write survive a crash: flushing
 * directories, and creating parent directories so that they can be flushed.
 *
 * @module
 */

import * as path from "node:path";

/** Flushes a directory's entries to disk (a rename or create in it becomes durable). */
export async function syncDirectory(directory: string): Promise<void> {
  if (Deno.build.os === "windows") return; // Directories cannot be opened for fsync there.
  using dir = await Deno.open(directory);
  await dir.sync();
}

/**
 * Creates `directory` and any missing parents, returning the ones it created,
 * outermost first. Their parents' entries must be flushed for the new
 * directories to survive a crash.
 */
export async function makeParents(directory: string): Promise<string[]> {
  const missing: string[] = [];
  for (let current = directory;; current = path.dirname(current)) {
    try {
      await Deno.lstat(current);
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      missing.unshift(current);
      if (path.dirname(current) === current) break;
    }
  }
  for (const dir of missing) {
    try {
      await Deno.mkdir(dir);
    } catch (error) {
      // A concurrent upload may have created it first.
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  return missing;
}
