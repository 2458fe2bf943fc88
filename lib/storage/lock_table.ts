/**
 * The table of WebDAV locks, kept by the store so that every worker and
 * every instance serving one ROOT sees the same locks: a file under the fs
 * store's hidden state directory (this module), an object under the S3
 * store's hidden prefix (`s3_lock_table.ts`).
 *
 * Restarts: the table is data, not process memory, so locks outlive the
 * server that granted them and every server that restarts on the ROOT; a
 * lock ends when its client unlocks it, when its timeout passes (expired
 * locks are ignored at once and dropped at the next change), or when the
 * resource it is rooted at is deleted or moved away.
 *
 * @module
 */

import { existsSync } from "node:fs";
import * as path from "node:path";
import type { KeyedLock } from "./keyed_lock.ts";
import { syncDirectory } from "./durability.ts";
import { STATE_DIR } from "./temp_files.ts";

/** One lock as the store keeps it: plain data that the WebDAV layer gives meaning to. */
export interface StoredLock {
  /** Its token, an absolute URI (`urn:uuid:...`). */
  token: string;
  /** The path of the resource it is rooted at (decoded segments, `[]` is ROOT). */
  path: string[];
  /** Whether it covers the resource only or its members too. */
  depth: "0" | "infinity";
  /** An exclusive lock admits no other; shared ones admit other shared ones. */
  scope: "exclusive" | "shared";
  /** The client's `owner` XML element, verbatim ("" when it sent none). */
  owner: string;
  /** The timeout granted, in seconds. */
  timeoutSeconds: number;
  /** When it expires, in ms since the epoch. */
  expiresAt: number;
  /** The user who took it (with `--auth`), the only one who may use it; absent without auth. */
  principal?: string;
}

/** The shared table of locks: read it whole, or change it atomically. */
export interface LockTable {
  /** Every stored lock (expired ones included: the caller judges). */
  read(): Promise<StoredLock[]>;
  /**
   * Replaces the table with what `change` makes of it, with no other change
   * in between (across processes); `change` may throw to leave it as it is.
   * Resolves with `change`'s result.
   */
  update<T>(change: (locks: StoredLock[]) => { locks: StoredLock[]; result: T }): Promise<T>;
  /** Releases what the table holds open. */
  close(): void;
}

/** Checks the shape of a table read back (a file someone edited by hand must not crash a write). */
export function parseLockTable(text: string): StoredLock[] {
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value) || !value.every(isStoredLock)) {
    throw new Error("The lock table is corrupt");
  }
  return value;
}

function isStoredLock(value: unknown): value is StoredLock {
  if (typeof value !== "object" || value === null) return false;
  const lock = value as Record<string, unknown>;
  return typeof lock.token === "string" && Array.isArray(lock.path) &&
    lock.path.every((segment) => typeof segment === "string") &&
    (lock.depth === "0" || lock.depth === "infinity") &&
    (lock.scope === "exclusive" || lock.scope === "shared") && typeof lock.owner === "string" &&
    typeof lock.timeoutSeconds === "number" && typeof lock.expiresAt === "number" &&
    (lock.principal === undefined || typeof lock.principal === "string");
}

/**
 * The table as `ROOT/.filedrop-tmp-state/dav/locks.json`, absent when empty
 * (so a write to a ROOT without locks costs one failed open). A change
 * holds an exclusive `flock` on `locks.lock` beside it (this process's
 * changes queue first, so one at a time waits on the file lock) and writes
 * `locks.json.new`, then renames it over the table: a reader, which takes no
 * lock, sees the old table or the new one, never a part.
 */
export class FsLockTable implements LockTable {
  readonly #directory: string;
  readonly #file: string;
  readonly #queue: KeyedLock;
  readonly #fsync: boolean;
  #mutex: Deno.FsFile | null = null;

  /**
   * @param rootReal ROOT's real path
   * @param queue this process's lock queue
   * @param fsync flush the table before a change counts as done
   */
  constructor(rootReal: string, queue: KeyedLock, fsync: boolean) {
    this.#directory = path.join(rootReal, STATE_DIR, "dav");
    this.#file = path.join(this.#directory, "locks.json");
    this.#queue = queue;
    this.#fsync = fsync;
  }

  // deno-lint-ignore require-await -- synchronous inside (see below); async so that errors reject.
  async read(): Promise<StoredLock[]> {
    // Synchronous on purpose: every write reads the table, mostly to find it absent, and a
    // small local file answers in microseconds where an async op is a blocking-pool round trip.
    // Absent is asked first without an exception (a NotFound error costs more than the lookup).
    if (!existsSync(this.#file)) return [];
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#file); // Removed since the check: absent after all.
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
    return parseLockTable(text);
  }

  async update<T>(change: (locks: StoredLock[]) => { locks: StoredLock[]; result: T }): Promise<T> {
    return await this.#queue.run(`dav-lock-table:${this.#file}`, async () => {
      const mutex = this.#mutex ??= await this.#openMutex();
      await mutex.lock(true);
      try {
        const { locks, result } = change(await this.read());
        await this.#write(locks);
        return result;
      } finally {
        await mutex.unlock();
      }
    });
  }

  close(): void {
    this.#mutex?.close();
    this.#mutex = null;
  }

  async #write(locks: StoredLock[]): Promise<void> {
    if (locks.length === 0) {
      await Deno.remove(this.#file).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    } else {
      const next = `${this.#file}.new`;
      {
        using file = await Deno.open(next, { write: true, create: true, truncate: true });
        const bytes = new TextEncoder().encode(JSON.stringify(locks));
        for (let offset = 0; offset < bytes.length;) {
          offset += await file.write(bytes.subarray(offset));
        }
        if (this.#fsync) await file.syncData();
      }
      await Deno.rename(next, this.#file);
    }
    if (this.#fsync) await syncDirectory(this.#directory);
  }

  async #openMutex(): Promise<Deno.FsFile> {
    await Deno.mkdir(this.#directory, { recursive: true });
    return await Deno.open(path.join(this.#directory, "locks.lock"), {
      read: true,
      write: true,
      create: true,
    });
  }
}
