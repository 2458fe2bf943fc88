/**
 * The local file-system store: ROOT on disk, with every guarantee the server
 * makes about it. Reads never leave ROOT (unless `followSymlinks`) and never
 * open a pipe, socket or device; writes never go through a link that leaves
 * ROOT. A new version is written to a temp file beside its target, flushed,
 * given its final mode and renamed into place under a per-path lock after its
 * condition is checked again, and the directory is flushed: one writer for
 * PUT, forms and resumable uploads alike.
 *
 * @module
 */

import { existsSync } from "node:fs";
import * as path from "node:path";
import { makeParents, syncDirectory } from "./durability.ts";
import type { FileCache } from "./file_cache.ts";
import {
  followedInfo,
  isMissing,
  lstatOrNull,
  statOrNullSync,
  statSyncQuiet,
  writeErrorToHttp,
} from "./fs_errors.ts";
import { HttpError } from "../http/errors.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { PathLocks } from "./path_locks.ts";
import { FsLockTable } from "./lock_table.ts";
import { FsStateDocument } from "./state_document.ts";
import type { StateDocument } from "./state_document.ts";
import { checkWriteInside, isInside, resolveForRead, toFsPath } from "./fs_path.ts";
import { TEMP_PREFIX, TempFiles } from "./temp_files.ts";
import { CheckBatch } from "./check_batch.ts";
import { directorySteps } from "./quick_steps.ts";
import { FsPropertyStore } from "./fs_properties.ts";
import { copyFileContent, copyTree, removeTreeAtOnce, replaceEntry } from "./fs_tree.ts";
import { statfs } from "node:fs/promises";
import type {
  Committed,
  CopyDepth,
  ListedEntry,
  OpenedFile,
  RemovalFailure,
  StagedFile,
  Storage,
  StoragePath,
  StorageUsage,
  StoredEntry,
  WriteCondition,
} from "./storage.ts";

/** How an {@linkcode FsStorage} behaves. */
export interface FsStorageOptions {
  /** ROOT's real path. */
  rootReal: string;
  /** Flush files and directories before a write counts as done. */
  fsync: boolean;
  /** Follow symlinks whose target is outside ROOT, for reads only (unsafe). */
  followSymlinks: boolean;
  /** Small files kept in memory (checked against `stat` on every use), or null. */
  cache: FileCache | null;
  /**
   * This process's lock queue, shared with whatever else writes under ROOT in
   * it; the store adds file locks that hold across processes (see
   * {@linkcode PathLocks}).
   */
  locks: KeyedLock;
}

/** Mode of a new file: the usual 0644, whatever the process's umask. */
const NEW_FILE_MODE = 0o644;

/** Body chunks up to this size are written synchronously (see `FsStagedFile.write`). */
const SYNC_WRITE_BYTES = 64 * 1024;
/**
 * The largest file a synchronous rename may replace: the kernel frees the
 * replaced file's blocks inside the rename (PUT 1 MiB over 1 MiB: 10-15%
 * fewer requests/s with the rename on the event loop, measured).
 */
const QUICK_REPLACE_BYTES = 64 * 1024;

/** The strong ETag of a file version: inode, size and modification time in milliseconds. */
export function fileETag(info: Deno.FileInfo): string {
  const mtime = info.mtime?.getTime() ?? 0;
  return `"${(info.ino ?? 0).toString(16)}-${info.size.toString(16)}-${mtime.toString(16)}"`;
}

/** A stat result as the store describes it; null for anything but a file or a directory. */
export function entryOf(info: Deno.FileInfo): StoredEntry | null {
  const lastModified = info.mtime?.getTime() ?? 0;
  if (info.isFile) return { kind: "file", size: info.size, etag: fileETag(info), lastModified };
  if (info.isDirectory) {
    return {
      kind: "directory",
      size: 0,
      etag: "",
      lastModified,
      directoryId: `${info.dev}:${info.ino}`,
    };
  }
  return null;
}

/** A staged version: a temp file beside its target. */
class FsStagedFile implements StagedFile {
  readonly path: StoragePath;
  readonly target: string;
  /** The target with its directories resolved: what the commit locks. */
  readonly lockKey: string;
  readonly tempPath: string;
  /** The mode the file must have (the umask may have taken bits from it at creation). */
  readonly mode: number;
  /** Directories created for it, outermost first: their parents need flushing too. */
  readonly createdDirectories: string[];
  /** Written by someone else ({@linkcode FsStorage.adopt}), who keeps it if a commit fails. */
  readonly adopted: boolean;
  #file: Deno.FsFile | null;
  #size = 0;

  constructor(
    storagePath: StoragePath,
    target: { fsPath: string; lockKey: string },
    temp: { path: string; file: Deno.FsFile | null },
    mode: number,
    createdDirectories: string[],
  ) {
    this.adopted = temp.file === null;
    this.path = storagePath;
    this.target = target.fsPath;
    this.lockKey = target.lockKey;
    this.tempPath = temp.path;
    this.#file = temp.file;
    this.mode = mode;
    this.createdDirectories = createdDirectories;
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    const file = this.#openFile();
    let offset = 0;
    try {
      // A small chunk is copied into the page cache faster than an async op is dispatched;
      // a large one may meet writeback throttling, which must not stall the event loop.
      if (chunk.length <= SYNC_WRITE_BYTES) {
        while (offset < chunk.length) offset += file.writeSync(chunk.subarray(offset));
      }
      while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
    } catch (error) {
      throw writeErrorToHttp(error) ?? error; // A full disk is 507, not a crash.
    }
    this.#size += chunk.length;
  }

  /** Gives the file its final mode, flushes it (with `fsync`) and closes it; its metadata. */
  async finish(fsync: boolean): Promise<Deno.FileInfo> {
    using file = this.#file ?? await Deno.open(this.tempPath, { read: true, write: true });
    this.#file = null;
    // A rename keeps inode, size and mtime (a chmod only moves ctime): the ETag can be made now.
    const info = file.statSync();
    // Created with the final mode, but the umask may have taken bits (Deno reads
    // the umask only with --allow-sys, so the file says what it got).
    const chmod = Deno.build.os !== "windows" && ((info.mode ?? this.mode) & 0o777) !== this.mode;
    if (chmod) await Deno.chmod(this.tempPath, this.mode);
    // fsync, not fdatasync, after a chmod: the mode is metadata a data flush may skip.
    if (fsync) await (chmod ? file.sync() : file.syncData());
    return info;
  }

  /** Closes the file if it is still open. */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // Closed already.
    }
    this.#file = null;
  }

  #openFile(): Deno.FsFile {
    if (this.#file === null) throw new Error("This staged file is spent");
    return this.#file;
  }
}

/** Reads a whole small file; the result is shorter than `size` if the file shrank. */
async function readWhole(file: Deno.FsFile, size: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const n = await file.read(bytes.subarray(offset));
    if (n === null) break;
    offset += n;
  }
  return bytes.subarray(0, offset);
}

/** The file-system store. See the module documentation for what it guarantees. */
export class FsStorage implements Storage {
  readonly #rootReal: string;
  readonly #fsync: boolean;
  readonly #followSymlinks: boolean;
  readonly #cache: FileCache | null;
  /** The stats validating cached files, one per path for the requests parsed together. */
  readonly #checks = new CheckBatch((fsPath: string) => this.#statForCache(fsPath));
  readonly #locks: PathLocks;
  readonly #temps: TempFiles;
  readonly lockTable: FsLockTable;
  readonly #queue: KeyedLock;
  readonly #properties: FsPropertyStore;

  /** @param options ROOT, durability, symlink policy, cache and locks */
  constructor(options: FsStorageOptions) {
    this.#temps = new TempFiles(options.rootReal);
    this.#properties = new FsPropertyStore(options.rootReal, this.#temps, options.fsync);
    this.#rootReal = options.rootReal;
    this.#fsync = options.fsync;
    this.#followSymlinks = options.followSymlinks;
    this.#cache = options.cache;
    this.#locks = new PathLocks(options.rootReal, options.locks);
    this.lockTable = new FsLockTable(options.rootReal, options.locks, options.fsync);
    this.#queue = options.locks;
  }

  stateDocument(name: string): StateDocument {
    return new FsStateDocument(this.#rootReal, name, this.#queue, this.#fsync);
  }

  /** ROOT's real path. */
  get rootReal(): string {
    return this.#rootReal;
  }

  /**
   * Removes the temp files under ROOT that no live writer owns (crash debris;
   * never another live instance's). Returns their paths.
   */
  removeStaleTemps(): Promise<string[]> {
    return this.#temps.removeStale();
  }

  /** Gives up this process's claim on its temp files (call once no write is in flight). */
  async close(): Promise<void> {
    this.#locks.close();
    this.lockTable.close();
    await this.#temps.close();
  }

  /** The file-system path of `storagePath` (not resolved). */
  fsPath(storagePath: StoragePath): string {
    return toFsPath(this.#rootReal, storagePath);
  }

  /**
   * Where `storagePath` really is in ROOT, symlinks resolved (those of its
   * deepest existing ancestor; the rest of it appended), so that rules on
   * URL paths can be applied where a link leads too. Null when that is
   * `storagePath` itself, lies outside ROOT (reads refuse it unless
   * `followSymlinks`, writes always) or cannot be resolved. Synchronous, as
   * the write checks: a local lookup is faster than an async op's round trip.
   */
  realSegments(storagePath: StoragePath): string[] | null {
    let existing = storagePath.length;
    let real: string | null = null;
    while (real === null) {
      try {
        real = Deno.realPathSync(this.fsPath(storagePath.slice(0, existing)));
      } catch {
        if (existing === 0) return null;
        existing--;
      }
    }
    if (!isInside(this.#rootReal, real)) return null;
    const relative = path.relative(this.#rootReal, real);
    const segments = relative === "" ? [] : relative.split(path.sep);
    segments.push(...storagePath.slice(existing));
    const same = segments.length === storagePath.length &&
      segments.every((segment, i) => segment === storagePath[i]);
    return same ? null : segments;
  }

  /** The real path a read of `fsPath` would use and its `stat`, or null when it may not be read. */
  async #resolveForRead(fsPath: string): Promise<{ real: string; info: Deno.FileInfo } | null> {
    try {
      return await resolveForRead(this.#rootReal, fsPath, this.#followSymlinks);
    } catch (error) {
      if (error instanceof HttpError) return null;
      throw error;
    }
  }

  async stat(storagePath: StoragePath): Promise<StoredEntry | null> {
    const resolved = await this.#resolveForRead(this.fsPath(storagePath));
    return resolved === null ? null : entryOf(resolved.info);
  }

  async open(storagePath: StoragePath): Promise<OpenedFile | StoredEntry | null> {
    const fsPath = this.fsPath(storagePath);
    if (this.#cache !== null) {
      const info = await this.#checks.check(fsPath);
      if (info === null) return null;
      if (!(info instanceof Error)) {
        const cached = this.#cache.get(fsPath, info);
        if (cached !== undefined) return { entry: cached.entry, content: cached.body };
      }
    }
    const resolved = await this.#resolveForRead(fsPath);
    if (resolved === null) return null;
    if (resolved.info.isDirectory) return entryOf(resolved.info);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(resolved.real);
    } catch (error) {
      // Removed or renamed between the check and the open (a racing DELETE or MOVE).
      if (isMissing(error)) return null;
      throw error;
    }
    let info: Deno.FileInfo;
    try {
      info = await file.stat();
    } catch (error) {
      file.close();
      throw error;
    }
    const entry = entryOf(info);
    if (entry === null || entry.kind === "directory") {
      // Replaced since the check (a race): describe what is there now, never serve it.
      file.close();
      return entry;
    }
    if (this.#cache?.accepts(info)) {
      let body: Uint8Array;
      try {
        body = await readWhole(file, info.size);
      } finally {
        file.close();
      }
      this.#cache.set(fsPath, info, { entry, body });
      return { entry, content: body };
    }
    return { entry, content: file };
  }

  /**
   * The `stat` that validates a cached file: null when nothing is there.
   * Synchronous on purpose: a local stat answers from the kernel's caches in
   * microseconds, while the async op's machinery cost 30% of the CPU under a
   * small-file load (measured). A path not cached is first looked up without
   * throwing, since a stat of a missing file costs an exception (a sixth of a
   * 404's CPU, measured); a path that cannot be reached (EACCES, a dangling
   * link) reads as missing too.
   */
  #statForCache(fsPath: string): Deno.FileInfo | Error | null {
    if (!this.#cache?.has(fsPath) && !existsSync(fsPath)) return null;
    const info = statSyncQuiet(fsPath);
    return info instanceof Deno.errors.NotFound ? null : info;
  }

  async list(storagePath: StoragePath): Promise<ListedEntry[]> {
    const resolved = await this.#resolveForRead(this.fsPath(storagePath));
    if (resolved?.info.isDirectory !== true) throw new HttpError(404, "Not found");
    const real = resolved.real;
    const names: string[] = [];
    for await (const entry of Deno.readDir(real)) {
      // The store's own temp files are never anyone's entries.
      if (!entry.name.startsWith(TEMP_PREFIX)) names.push(entry.name);
    }
    const entries = await Promise.all(names.map(async (name): Promise<ListedEntry | null> => {
      const info = await Deno.stat(path.join(real, name)).catch(() => null);
      const entry = info === null ? null : entryOf(info);
      return entry === null ? null : { name, ...entry };
    }));
    return entries.filter((entry) => entry !== null);
  }

  async stage(storagePath: StoragePath, early?: WriteCondition): Promise<StagedFile> {
    const target = this.fsPath(storagePath);
    // What is there now comes with the check: one stat fewer per upload.
    const { lockKey, current } = checkWriteInside(this.#rootReal, target);
    early?.check(current === null ? null : entryOf(current));
    try {
      // A file already at the target means its directory exists.
      const created = current === null ? await makeParents(path.dirname(target)) : [];
      // Created with its final mode where the umask allows, so that most writes need no chmod.
      const mode = current === null ? NEW_FILE_MODE : (current.mode ?? NEW_FILE_MODE) & 0o777;
      const temp = await this.#temps.open(path.dirname(target), mode);
      return new FsStagedFile(storagePath, { fsPath: target, lockKey }, temp, mode, created);
    } catch (error) {
      throw writeErrorToHttp(error) ?? error;
    }
  }

  /**
   * Adopts a complete temp file that the caller wrote beside `storagePath`
   * (a resumable upload's data) as a staged version, to commit like any other.
   * If the commit fails the file stays where it is: its owner decides.
   */
  // deno-lint-ignore require-await -- async for the interface (S3 waits); here every check is synchronous
  async adopt(storagePath: StoragePath, tempPath: string): Promise<StagedFile> {
    const target = this.fsPath(storagePath);
    const { lockKey, current } = checkWriteInside(this.#rootReal, target);
    const mode = current === null ? NEW_FILE_MODE : (current.mode ?? NEW_FILE_MODE) & 0o777;
    return new FsStagedFile(
      storagePath,
      { fsPath: target, lockKey },
      { path: tempPath, file: null },
      mode,
      [],
    );
  }

  async commit(
    writes: readonly { staged: StagedFile; condition: WriteCondition }[],
  ): Promise<Committed[]> {
    const staged = writes.map(({ staged }) => this.#own(staged));
    try {
      const infos: Deno.FileInfo[] = [];
      for (const file of staged) infos.push(await file.finish(this.#fsync));
      const created = await this.#locks.run(staged.map((file) => file.lockKey), async () => {
        // Synchronous stats: microseconds under the lock. Every condition first: all or none.
        const currents = staged.map((file) => statOrNullSync(file.target));
        writes.forEach(({ condition }, i) => {
          const current = currents[i];
          condition.check(current === null ? null : entryOf(current));
        });
        for (const [i, file] of staged.entries()) {
          const current = currents[i];
          // The target changed mode since staging (rare): follow it.
          if (current !== null && ((current.mode ?? NEW_FILE_MODE) & 0o777) !== file.mode) {
            await Deno.chmod(file.tempPath, current.mode! & 0o777);
          }
          if (writes[i].condition.createOnly) {
            await this.#linkNew(file, writes[i].condition);
            continue;
          }
          // On the event loop while the disk is quick, off it while it is slow (quick_steps.ts);
          // always off it when the rename replaces a large file, whose blocks it frees.
          if (current !== null && current.size > QUICK_REPLACE_BYTES) {
            await Deno.rename(file.tempPath, file.target);
          } else {
            await directorySteps.run(
              () => Deno.renameSync(file.tempPath, file.target),
              () => Deno.rename(file.tempPath, file.target),
            );
          }
        }
        return currents.map((current) => current === null);
      });
      if (this.#fsync) {
        const directories = new Set<string>();
        for (const file of staged) {
          directories.add(path.dirname(file.target));
          for (const dir of file.createdDirectories) directories.add(path.dirname(dir));
        }
        for (const directory of directories) await syncDirectory(directory);
      }
      return infos.map((info, i) => ({ created: created[i], entry: entryOf(info)! }));
    } catch (error) {
      await Promise.all(staged.filter((file) => !file.adopted).map((file) => this.discard(file)));
      throw writeErrorToHttp(error) ?? error;
    }
  }

  /**
   * Puts a staged file in place only if nothing is there: a hard link fails
   * when the target exists, where a rename would replace it (so not even a
   * writer outside this server is overwritten). Then the temp name goes.
   */
  async #linkNew(file: FsStagedFile, condition: WriteCondition): Promise<void> {
    try {
      await directorySteps.run(
        () => Deno.linkSync(file.tempPath, file.target),
        () => Deno.link(file.tempPath, file.target),
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      const current = statOrNullSync(file.target);
      condition.check(current === null ? null : entryOf(current));
      throw new HttpError(412, "Precondition failed"); // Something that is not a file or directory.
    }
    await directorySteps.run(
      () => Deno.removeSync(file.tempPath),
      () => Deno.remove(file.tempPath),
    );
  }

  async discard(staged: StagedFile): Promise<void> {
    const file = this.#own(staged);
    file.close();
    await Deno.remove(file.tempPath).catch(() => {});
  }

  async remove(storagePath: StoragePath, condition: WriteCondition): Promise<void> {
    await this.#removeEntry(storagePath, condition, (fsPath) => Deno.remove(fsPath));
  }

  /**
   * Removes the entry at `storagePath` under its lock once `condition` holds,
   * with `removeAt`, and its dead properties; flushes its directory with fsync on.
   */
  async #removeEntry(
    storagePath: StoragePath,
    condition: WriteCondition,
    removeAt: (fsPath: string, link: Deno.FileInfo) => Promise<void>,
  ): Promise<void> {
    if (storagePath.length === 0) throw new HttpError(403, "ROOT cannot be deleted");
    const fsPath = this.fsPath(storagePath);
    const { lockKey } = checkWriteInside(this.#rootReal, fsPath);
    await this.#locks.run([lockKey], async () => {
      const link = await lstatOrNull(fsPath);
      if (link === null) throw new HttpError(404, "Not found");
      // A link itself is removed, but the condition judges what a read serves.
      const served = await followedInfo(fsPath, link);
      condition.check(served === null ? null : entryOf(served));
      try {
        await removeAt(fsPath, link);
        await this.#properties.remove(storagePath);
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
      if (this.#fsync) await syncDirectory(path.dirname(fsPath));
    });
  }

  async move(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; condition: WriteCondition },
  ): Promise<boolean> {
    if (from.length === 0) throw new HttpError(403, "ROOT cannot be moved");
    if (to.length === 0) throw new HttpError(403, "ROOT cannot be replaced");
    const source = this.fsPath(from);
    const target = this.fsPath(to);
    if (target === source) throw new HttpError(403, "Source and destination are the same");
    if (isInside(source, target)) throw new HttpError(409, "Cannot move a directory into itself");
    const keys = [
      checkWriteInside(this.#rootReal, source).lockKey,
      checkWriteInside(this.#rootReal, target).lockKey,
    ];
    return await this.#locks.run(keys, async () => {
      const link = await lstatOrNull(source);
      if (link === null) throw new HttpError(404, "Not found");
      // The link itself moves, but the condition judges what a read serves.
      const served = await followedInfo(source, link);
      options.condition.check(served === null ? null : entryOf(served));
      const existing = await this.#destination(target, options.overwrite);
      try {
        await replaceEntry(this.#temps, target, existing, !link.isDirectory, async () => {
          await Deno.rename(source, target);
        });
        await this.#properties.move(from, to);
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
      if (this.#fsync) {
        await syncDirectory(path.dirname(source));
        await syncDirectory(path.dirname(target));
      }
      return existing === null;
    });
  }

  /**
   * What is at a COPY or MOVE destination (the caller holds its lock): 412
   * when something is and `overwrite` is false, 409 when its parent is not a
   * directory.
   */
  async #destination(target: string, overwrite: boolean): Promise<Deno.FileInfo | null> {
    const existing = await lstatOrNull(target);
    if (existing !== null && !overwrite) {
      throw new HttpError(412, "Destination exists and Overwrite is F");
    }
    const parent = await lstatOrNull(path.dirname(target));
    if (parent === null || !parent.isDirectory) {
      throw new HttpError(409, "The destination's parent directory does not exist");
    }
    return existing;
  }

  async copy(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; depth: CopyDepth; condition: WriteCondition },
  ): Promise<boolean> {
    if (to.length === 0) throw new HttpError(403, "ROOT cannot be replaced");
    const target = this.fsPath(to);
    const { lockKey } = checkWriteInside(this.#rootReal, target);
    const source = await this.#resolveForRead(this.fsPath(from));
    if (source === null) throw new HttpError(404, "Not found");
    if (source.real === lockKey) throw new HttpError(403, "Source and destination are the same");
    const recursive = source.info.isDirectory && options.depth === "infinity";
    if (recursive && isInside(source.real, lockKey)) {
      throw new HttpError(409, "Cannot copy a directory into itself");
    }
    return await this.#locks.run([lockKey], async () => {
      options.condition.check(entryOf(source.info));
      const existing = await this.#destination(target, options.overwrite);
      const directory = path.dirname(target);
      let staged: string;
      try {
        if (source.info.isDirectory) {
          staged = await this.#temps.makeDirectory(directory);
          await Deno.chmod(staged, (source.info.mode ?? 0o755) & 0o777);
        } else {
          const temp = await this.#temps.open(directory);
          temp.file.close();
          staged = temp.path;
        }
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
      try {
        if (recursive) {
          await copyTree(source.real, staged, { fsync: this.#fsync, includeTemp: false });
        } else if (!source.info.isDirectory) {
          await copyFileContent(source.real, staged, this.#fsync);
        }
        await replaceEntry(this.#temps, target, existing, !source.info.isDirectory, async () => {
          await Deno.rename(staged, target);
        });
      } catch (error) {
        await Deno.remove(staged, { recursive: true }).catch(() => {});
        throw writeErrorToHttp(error) ?? error;
      }
      try {
        await this.#properties.copy(from, to, recursive);
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
      if (this.#fsync) await syncDirectory(directory);
      return existing === null;
    });
  }

  async removeTree(storagePath: StoragePath, condition: WriteCondition): Promise<RemovalFailure[]> {
    await this.#removeEntry(storagePath, condition, async (fsPath, link) => {
      // A directory goes at once (renamed aside, then deleted): never half a tree at its path.
      if (link.isDirectory) await removeTreeAtOnce(this.#temps, fsPath);
      else await Deno.remove(fsPath);
    });
    return [];
  }

  readProperties(storagePath: StoragePath): Promise<Map<string, string>> {
    return this.#properties.read(storagePath);
  }

  memberProperties(storagePath: StoragePath): Promise<Map<string, Map<string, string>>> {
    return this.#properties.members(storagePath);
  }

  async writeProperties(
    storagePath: StoragePath,
    changes: ReadonlyMap<string, string | null>,
  ): Promise<void> {
    const fsPath = this.fsPath(storagePath);
    const { lockKey } = checkWriteInside(this.#rootReal, fsPath);
    await this.#locks.run([lockKey], async () => {
      if ((await lstatOrNull(fsPath)) === null) throw new HttpError(404, "Not found");
      try {
        await this.#properties.write(storagePath, changes);
      } catch (error) {
        throw writeErrorToHttp(error) ?? error;
      }
    });
  }

  async setModified(storagePath: StoragePath, lastModified: number): Promise<boolean> {
    const fsPath = this.fsPath(storagePath);
    // ROOT's own time is not the client's to set (its parent is outside ROOT).
    if (storagePath.length === 0) throw new HttpError(403, "ROOT's time cannot be set");
    const { current } = checkWriteInside(this.#rootReal, fsPath);
    if (current === null) throw new HttpError(404, "Not found");
    try {
      await Deno.utime(fsPath, current.atime ?? new Date(), new Date(lastModified));
    } catch (error) {
      throw writeErrorToHttp(error) ?? error;
    }
    return true;
  }

  async usage(): Promise<StorageUsage | null> {
    try {
      const space = await statfs(this.#rootReal);
      return {
        usedBytes: (space.blocks - space.bfree) * space.bsize,
        availableBytes: space.bavail * space.bsize,
      };
    } catch {
      return null; // Not every platform or file system says.
    }
  }

  async mkdir(storagePath: StoragePath): Promise<boolean> {
    if (storagePath.length === 0) return false;
    const fsPath = this.fsPath(storagePath);
    checkWriteInside(this.#rootReal, fsPath);
    try {
      const existing = await lstatOrNull(fsPath);
      if (existing?.isDirectory) return false;
      if (existing !== null) throw new HttpError(409, "A file exists at that path");
      const created = await makeParents(fsPath);
      if (this.#fsync) {
        for (const dir of created) await syncDirectory(path.dirname(dir));
      }
      return true;
    } catch (error) {
      throw writeErrorToHttp(error) ?? error;
    }
  }

  #own(staged: StagedFile): FsStagedFile {
    if (!(staged instanceof FsStagedFile)) throw new TypeError("Not staged by this store");
    return staged;
  }
}
