/**
 * Upload temp files: created beside their target with a name no user file
 * can have, and removed at start-up when a crash left them behind.
 *
 * @module
 */

import * as path from "node:path";
import { TEMP_PREFIX } from "./path.ts";

/**
 * This server process's mark in its temp file names. Temp files without it
 * belong to a process that is gone (a crash) and are removed at start-up.
 */
const SESSION_PREFIX = `${TEMP_PREFIX}${crypto.randomUUID().slice(0, 8)}-`;

/** Creates an empty temp file (mode 600) in `directory` and returns its path. */
export function createTempFile(directory: string): Promise<string> {
  return Deno.makeTempFile({ dir: directory, prefix: SESSION_PREFIX });
}

/**
 * Walks `rootReal` (never following symlinks) and removes every file named
 * like a temp file of another server process. Returns the paths removed.
 * Unreadable directories are skipped.
 */
export async function removeStaleTemps(rootReal: string): Promise<string[]> {
  const removed: string[] = [];
  const pending = [rootReal];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(directory));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const fullPath = path.join(directory, entry.name);
      if (entry.isDirectory) pending.push(fullPath);
      else if (
        entry.isFile && entry.name.startsWith(TEMP_PREFIX) &&
        !entry.name.startsWith(SESSION_PREFIX)
      ) {
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
