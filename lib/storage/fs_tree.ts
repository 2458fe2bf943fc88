/**
 * Whole-tree operations of the file-system store: copying a directory's
 * contents (for COPY, and for the dead properties that follow a copy) and
 * putting something in place of an existing entry of any kind without ever
 * leaving a half-deleted tree at its path.
 *
 * @module
 */

import * as path from "node:path";
import { syncDirectory } from "./durability.ts";
import { TEMP_PREFIX } from "./temp_files.ts";
import type { TempFiles } from "./temp_files.ts";

/** Options of {@linkcode copyTree}. */
export interface CopyTreeOptions {
  /** Flush every copied file and directory. */
  fsync: boolean;
  /** Copy the store's own temp-named entries too (true for its state, false for user files). */
  includeTemp: boolean;
}

/** Copies a file's bytes and mode to `to` (which is replaced), flushing it when asked. */
export async function copyFileContent(from: string, to: string, fsync: boolean): Promise<void> {
  await Deno.copyFile(from, to);
  if (fsync) {
    using file = await Deno.open(to, { read: true, write: true });
    await file.sync();
  }
}

/**
 * Copies what is inside the directory `from` into the existing directory
 * `to`: directories and regular files, with their modes; symlinks and
 * special files are left out (a copy never follows a link anywhere), and so
 * are temp files unless `includeTemp` (an upload in flight is no one's file yet).
 */
export async function copyTree(from: string, to: string, options: CopyTreeOptions): Promise<void> {
  const pending: [string, string][] = [[from, to]];
  while (pending.length > 0) {
    const [source, target] = pending.pop()!;
    for await (const entry of Deno.readDir(source)) {
      if (!options.includeTemp && entry.name.startsWith(TEMP_PREFIX)) continue;
      const sourceEntry = path.join(source, entry.name);
      const targetEntry = path.join(target, entry.name);
      if (entry.isDirectory) {
        const info = await Deno.lstat(sourceEntry);
        await Deno.mkdir(targetEntry, { mode: (info.mode ?? 0o755) & 0o777 });
        pending.push([sourceEntry, targetEntry]);
      } else if (entry.isFile) {
        await copyFileContent(sourceEntry, targetEntry, options.fsync);
      }
    }
    if (options.fsync) await syncDirectory(target);
  }
}

/**
 * Runs `put`, which makes an entry appear at `target` (a rename), so that
 * it replaces what is there whatever its kind. A file replaced by a file is
 * one atomic rename. Anything else is first renamed into a temp directory
 * beside it, then `put` runs, then the old entry is deleted; if `put` fails
 * the old entry is renamed back. Readers see the old entry, briefly nothing,
 * then the new one, never a partly deleted tree. A crash in between leaves
 * the old entry in a temp directory that the start-up sweep removes.
 */
export async function replaceEntry(
  temps: TempFiles,
  target: string,
  existing: Deno.FileInfo | null,
  newIsFile: boolean,
  put: () => Promise<void>,
): Promise<void> {
  if (existing === null || (existing.isFile && newIsFile)) return await put();
  const trash = await temps.makeDirectory(path.dirname(target));
  const aside = path.join(trash, "replaced");
  try {
    await Deno.rename(target, aside);
  } catch (error) {
    await Deno.remove(trash).catch(() => {});
    throw error;
  }
  try {
    await put();
  } catch (error) {
    await Deno.rename(aside, target).catch(() => {});
    await Deno.remove(trash, { recursive: true }).catch(() => {});
    throw error;
  }
  // A failure here leaves debris in a temp directory only: the sweep takes it.
  await Deno.remove(trash, { recursive: true }).catch(() => {});
}

/**
 * Removes the tree at `target` so that it disappears at once: it is renamed
 * into a temp directory beside it, then deleted there (what cannot be
 * deleted stays hidden, for the start-up sweep).
 */
export async function removeTreeAtOnce(temps: TempFiles, target: string): Promise<void> {
  const trash = await temps.makeDirectory(path.dirname(target));
  try {
    await Deno.rename(target, path.join(trash, "removed"));
  } catch (error) {
    await Deno.remove(trash).catch(() => {});
    throw error;
  }
  await Deno.remove(trash, { recursive: true }).catch(() => {});
}
