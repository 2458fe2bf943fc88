/**
 * Locks on paths that hold across every process serving one ROOT (workers,
 * instances, other hosts on a shared file system), so that a check and the
 * write it allows are never interleaved with another writer's.
 *
 * A key hashes to one of {@linkcode STRIPES} lock files under
 * `ROOT/.filedrop-tmp-state/locks/`: a bounded set, created once and never
 * removed (removing a lock file while someone waits on it would let two
 * holders in). Within a process a stripe is taken through a queue first, so
 * that only one of its requests at a time waits on the file lock (each wait
 * holds one of Deno's blocking threads), and the stripe's file stays open for
 * the next (two operations saved per write). Two keys on one stripe just wait
 * for each other.
 *
 * The file lock is `flock` (`Deno.FsFile.lock`): local file systems honour
 * it between processes; Linux NFS clients map it to NFS byte-range locks,
 * which the server arbitrates between hosts (NFSv4, or v3 with lockd);
 * CephFS honours it across its clients.
 *
 * @module
 */

import * as path from "node:path";
import type { KeyedLock } from "./keyed_lock.ts";
import { STATE_DIR } from "./temp_files.ts";

/** How many lock files there are: unrelated paths share one with a chance of 1 in this. */
export const STRIPES = 256;

/** FNV-1a: a fast, well-spread hash of a key's UTF-16 code units. */
function stripeOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % STRIPES;
}

/** Exclusive locks on keys (resolved paths) under one ROOT, across processes. */
export class PathLocks {
  readonly #directory: string;
  readonly #queue: KeyedLock;
  /** The stripes' files opened so far, kept open (each used by one holder at a time, through the queue). */
  readonly #files = new Map<number, Deno.FsFile>();

  /**
   * @param rootReal ROOT's real path (the lock files live under it)
   * @param queue this process's queue (shared with any in-process-only critical sections)
   */
  constructor(rootReal: string, queue: KeyedLock) {
    this.#directory = path.join(rootReal, STATE_DIR, "locks");
    this.#queue = queue;
  }

  /** Runs `task` holding the lock of every key (taken in one order, so that two holders cannot deadlock). */
  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const stripes = [...new Set(keys.map(stripeOf))].sort((a, b) => a - b);
    return await this.#hold(stripes, task);
  }

  async #hold<T>(stripes: number[], task: () => Promise<T>): Promise<T> {
    const [first, ...rest] = stripes;
    if (first === undefined) return await task();
    return await this.#queue.run(`stripe:${first}`, async () => {
      let file = this.#files.get(first);
      if (file === undefined) {
        file = await this.#open(first);
        this.#files.set(first, file);
      }
      // Another process rarely holds it: try without blocking first, which needs no
      // round trip through the blocking pool; wait off the event loop only if taken.
      if (!file.tryLockSync(true)) await file.lock(true);
      try {
        return await this.#hold(rest, task);
      } finally {
        file.unlockSync();
      }
    });
  }

  /** Closes the lock files (call once no write is in flight). */
  close(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }

  async #open(stripe: number): Promise<Deno.FsFile> {
    const file = path.join(this.#directory, stripe.toString(16).padStart(2, "0"));
    const options = { read: true, write: true, create: true };
    try {
      return await Deno.open(file, options);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // First use under this ROOT (or the state directory was removed): make it.
      await Deno.mkdir(this.#directory, { recursive: true });
      return await Deno.open(file, options);
    }
  }
}
