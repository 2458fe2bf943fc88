/**
 * A bounded in-memory cache of small files, checked against a fresh `stat`
 * on every use so a file changed on disk is never served stale.
 *
 * @module
 */

import type { StoredEntry } from "./storage.ts";

/** A cached file version. */
export interface CachedFile {
  /** Its metadata, as the store describes it. */
  entry: StoredEntry;
  /** The whole content. */
  body: Uint8Array;
}

interface Entry extends CachedFile {
  dev: number;
  ino: number | null;
  mtime: number;
  ctime: number;
  /** Used since eviction last passed it: it gets a second chance. */
  recentlyUsed: boolean;
}

/** Limits of a {@linkcode FileCache}. */
export interface FileCacheLimits {
  /** Largest file kept. */
  maxFileBytes: number;
  /** Most bytes kept in all. */
  maxTotalBytes: number;
  /** How long after its last change a file may be cached; default {@linkcode SETTLE_MS}. */
  settleMs?: number;
}

/**
 * Files modified or changed this recently are not cached: two changes within
 * one timestamp tick could otherwise leave the same metadata for different bytes.
 */
export const SETTLE_MS = 2_000;

/**
 * Maps a file-system path to the content of the file version it had.
 *
 * An entry is used only while `stat` of the path still reports the same
 * device, inode, size, modification time and change time. The change time
 * moves on any rename, link or content change, so a replaced, edited, moved
 * or re-linked file misses. Eviction is the clock (second-chance) approximation
 * of least recently used: a hit only sets a flag, because moving the entry to
 * the end of the map on every hit made V8 reallocate the map's table each time,
 * megabytes a second of old-generation garbage under load.
 *
 * @example
 * ```ts
 * const cache = new FileCache({ maxFileBytes: 256 * 1024, maxTotalBytes: 64 * 1024 * 1024 });
 * const hit = cache.get("/srv/a.txt", await Deno.stat("/srv/a.txt"));
 * ```
 */
export class FileCache {
  readonly #limits: FileCacheLimits;
  readonly #entries = new Map<string, Entry>();
  #totalBytes = 0;

  /** @param limits size bounds */
  constructor(limits: FileCacheLimits) {
    this.#limits = limits;
  }

  /** Whether a file of this size and age may be cached at all. */
  accepts(info: Deno.FileInfo): boolean {
    const mtime = info.mtime?.getTime();
    // The change time too: it cannot be set back (mtime can), and on file systems
    // that keep it in whole seconds a change within the same second leaves it equal.
    const ctime = info.ctime?.getTime() ?? Infinity;
    return info.isFile && info.size <= this.#limits.maxFileBytes && mtime !== undefined &&
      Date.now() - Math.max(mtime, ctime) > (this.#limits.settleMs ?? SETTLE_MS);
  }

  /** Whether a version of `fsPath` is cached (current or not). */
  has(fsPath: string): boolean {
    return this.#entries.has(fsPath);
  }

  /** The cached version of `fsPath` if `info` (a fresh stat) still describes it. */
  get(fsPath: string, info: Deno.FileInfo): CachedFile | undefined {
    const entry = this.#entries.get(fsPath);
    if (entry === undefined) return undefined;
    if (
      entry.entry.size !== info.size || entry.ino !== info.ino || entry.dev !== info.dev ||
      entry.mtime !== info.mtime?.getTime() || entry.ctime !== (info.ctime?.getTime() ?? 0)
    ) {
      this.#remove(fsPath, entry);
      return undefined;
    }
    entry.recentlyUsed = true;
    return entry;
  }

  /** Stores `body` as the content of `fsPath` at the version `info` describes. */
  set(fsPath: string, info: Deno.FileInfo, cached: CachedFile): void {
    if (!this.accepts(info) || cached.body.length !== info.size) return;
    const previous = this.#entries.get(fsPath);
    if (previous !== undefined) this.#remove(fsPath, previous);
    this.#entries.set(fsPath, {
      ...cached,
      dev: info.dev,
      ino: info.ino,
      mtime: info.mtime?.getTime() ?? 0,
      ctime: info.ctime?.getTime() ?? 0,
      recentlyUsed: false,
    });
    this.#totalBytes += info.size;
    // Oldest first; a recently used entry moves to the end with its flag cleared,
    // so this loop visits every entry at most twice.
    for (const [key, entry] of this.#entries) {
      if (this.#totalBytes <= this.#limits.maxTotalBytes) break;
      this.#entries.delete(key);
      if (entry.recentlyUsed) {
        entry.recentlyUsed = false;
        this.#entries.set(key, entry);
      } else {
        this.#totalBytes -= entry.body.length;
      }
    }
  }

  /** Bytes held. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  #remove(fsPath: string, entry: Entry): void {
    this.#entries.delete(fsPath);
    this.#totalBytes -= entry.body.length;
  }
}
