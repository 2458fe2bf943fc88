/**
 * WebDAV dead properties of the file-system store, kept in a mirror of the
 * served tree under ROOT's hidden state directory: the properties of
 * `a/b/c` are a small JSON file `ROOT/.filedrop-tmp-state/props/a/b/c/.filedrop-tmp-props`.
 *
 * Why a mirror tree rather than `node:sqlite`: a MOVE of a directory is
 * then one rename of its mirror (its members' properties follow, whatever
 * their number), a DELETE one removal, and every instance and worker over
 * ROOT sees the same files, with the same cross-process locks the store
 * already takes, with no database file to share or lock. Nothing in the state
 * directory is listed or reachable by URL (its name is a temp name).
 *
 * Not atomic with the data: a crash between the rename of a file and that
 * of its mirror leaves the properties behind under the old path.
 *
 * @module
 */

import * as path from "node:path";
import { copyFileContent, copyTree } from "./fs_tree.ts";
import { syncDirectory } from "./durability.ts";
import { PROPERTIES_FILE, STATE_DIR } from "./temp_files.ts";
import type { TempFiles } from "./temp_files.ts";
import type { StoragePath } from "./storage.ts";
import { isMissing, statSyncQuiet } from "./fs_errors.ts";

/** The dead properties of one resource: serialized property element by Clark name. */
export type DeadProperties = Map<string, string>;

/** The dead-property mirror tree of one ROOT. */
export class FsPropertyStore {
  readonly #base: string;
  readonly #temps: TempFiles;
  readonly #fsync: boolean;

  /**
   * @param rootReal ROOT's real path
   * @param temps the store's temp files (a rewrite is a temp file renamed into place)
   * @param fsync flush each rewrite
   */
  constructor(rootReal: string, temps: TempFiles, fsync: boolean) {
    this.#base = path.join(rootReal, STATE_DIR, "props");
    this.#temps = temps;
    this.#fsync = fsync;
  }

  #directory(storagePath: StoragePath): string {
    return path.join(this.#base, ...storagePath);
  }

  /**
   * Whether any resource has ever had properties here. Most trees have none:
   * then a read, move, copy or removal costs one synchronous stat (from the
   * kernel's cache, microseconds) instead of failed file operations.
   */
  #none(): boolean {
    return statSyncQuiet(this.#base) instanceof Deno.errors.NotFound;
  }

  /** The properties of `storagePath` (an empty map when it has none). */
  async read(storagePath: StoragePath): Promise<DeadProperties> {
    if (this.#none()) return new Map();
    let text: string;
    try {
      text = await Deno.readTextFile(path.join(this.#directory(storagePath), PROPERTIES_FILE));
    } catch (error) {
      if (isMissing(error)) return new Map();
      throw error;
    }
    return new Map(Object.entries(JSON.parse(text) as Record<string, string>));
  }

  /** The properties of the members of the directory `storagePath` that have any, by name. */
  async members(storagePath: StoragePath): Promise<Map<string, DeadProperties>> {
    const found = new Map<string, DeadProperties>();
    if (this.#none()) return found;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(this.#directory(storagePath)));
    } catch (error) {
      if (isMissing(error)) return found;
      throw error;
    }
    for (const entry of entries) {
      if (!entry.isDirectory) continue;
      const properties = await this.read([...storagePath, entry.name]);
      if (properties.size > 0) found.set(entry.name, properties);
    }
    return found;
  }

  /**
   * Applies `changes` (a null value removes) to the properties of
   * `storagePath` at once: the file is rewritten through a temp file. The
   * caller holds the resource's lock.
   */
  async write(
    storagePath: StoragePath,
    changes: ReadonlyMap<string, string | null>,
  ): Promise<void> {
    const properties = await this.read(storagePath);
    for (const [key, value] of changes) {
      if (value === null) properties.delete(key);
      else properties.set(key, value);
    }
    const directory = this.#directory(storagePath);
    const file = path.join(directory, PROPERTIES_FILE);
    if (properties.size === 0) {
      await Deno.remove(file).catch((error) => {
        if (!isMissing(error)) throw error;
      });
      return;
    }
    await Deno.mkdir(directory, { recursive: true });
    const temp = await this.#temps.open(directory, 0o600);
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(Object.fromEntries(properties)));
      let offset = 0;
      while (offset < bytes.length) offset += await temp.file.write(bytes.subarray(offset));
      if (this.#fsync) await temp.file.syncData();
      temp.file.close();
      await Deno.rename(temp.path, file);
    } catch (error) {
      try {
        temp.file.close();
      } catch { /* closed already */ }
      await Deno.remove(temp.path).catch(() => {});
      throw error;
    }
    if (this.#fsync) await syncDirectory(directory);
  }

  /** Moves the properties of `from` and of everything under it to `to`, replacing those there. */
  async move(from: StoragePath, to: StoragePath): Promise<void> {
    if (this.#none()) return;
    await this.remove(to);
    const source = this.#directory(from);
    const target = this.#directory(to);
    try {
      await Deno.rename(source, target);
    } catch (error) {
      if (!isMissing(error)) throw error;
      if ((await Deno.lstat(source).catch(() => null)) === null) return; // None to move.
      await Deno.mkdir(path.dirname(target), { recursive: true });
      await Deno.rename(source, target);
    }
  }

  /**
   * Copies the properties of `from` to `to`, replacing those there; with
   * `recursive`, those of everything under `from` too.
   */
  async copy(from: StoragePath, to: StoragePath, recursive: boolean): Promise<void> {
    if (this.#none()) return;
    await this.remove(to);
    const source = this.#directory(from);
    if ((await Deno.lstat(source).catch(() => null)) === null) return;
    const target = this.#directory(to);
    await Deno.mkdir(target, { recursive: true });
    if (recursive) {
      await copyTree(source, target, { fsync: this.#fsync, includeTemp: true });
      return;
    }
    await copyFileContent(
      path.join(source, PROPERTIES_FILE),
      path.join(target, PROPERTIES_FILE),
      this.#fsync,
    ).catch((error) => {
      if (!isMissing(error)) throw error;
    });
  }

  /** Removes the properties of `storagePath` and of everything under it. */
  async remove(storagePath: StoragePath): Promise<void> {
    if (storagePath.length === 0 || this.#none()) return;
    await Deno.remove(this.#directory(storagePath), { recursive: true }).catch((error) => {
      if (!isMissing(error)) throw error;
    });
  }
}
