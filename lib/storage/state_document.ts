/**
 * Small named documents of server state (the share-link secret, revocations,
 * link usage) kept where every worker and instance serving one store sees
 * them: files under the fs store's hidden state directory, objects under the
 * S3 store's hidden prefix (`s3_state_document.ts`). Both are never served
 * or listed (their names start with the reserved temp prefix).
 *
 * @module
 */

import * as path from "node:path";
import type { KeyedLock } from "./keyed_lock.ts";
import { syncDirectory } from "./durability.ts";
import { STATE_DIR } from "./temp_files.ts";

/** One document: read it (cheaply, again and again), or change it atomically. */
export interface StateDocument {
  /**
   * Its text, or null when there is none. Kept in memory and checked against
   * the store on every call (a `stat` on disk, a HeadObject in a bucket), so
   * a change any process made is seen at once.
   */
  read(): Promise<string | null>;
  /**
   * Replaces the text with what `change` makes of it, with no other change
   * in between (across processes); `change` may throw, or make the text null,
   * to leave it as it is (null writes nothing). Resolves with `change`'s
   * result.
   */
  update<T>(change: (text: string | null) => { text: string | null; result: T }): Promise<T>;
}

/**
 * A document as the file `ROOT/.filedrop-tmp-state/NAME`: changes hold an
 * exclusive `flock` on `NAME.lock` beside it, write `NAME.new` (mode 0600)
 * and rename it over the document, so a reader sees the old text or the new,
 * never a part.
 */
export class FsStateDocument implements StateDocument {
  readonly #file: string;
  readonly #queue: KeyedLock;
  readonly #fsync: boolean;
  #cached: { text: string; stamp: string } | null = null;

  /**
   * @param rootReal ROOT's real path
   * @param name the document's name ("a/b.json": directories are created)
   * @param queue this process's lock queue
   * @param fsync flush a change before it counts as done
   */
  constructor(rootReal: string, name: string, queue: KeyedLock, fsync: boolean) {
    this.#file = path.join(rootReal, STATE_DIR, ...name.split("/"));
    this.#queue = queue;
    this.#fsync = fsync;
  }

  // deno-lint-ignore require-await -- synchronous inside: a stat of a local file costs microseconds.
  async read(): Promise<string | null> {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(this.#file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    // A rename puts a new inode in place (which may reuse the old number): with size and
    // both times, a change goes unseen only if all four match to the nanosecond.
    const stamp = `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
    if (this.#cached?.stamp === stamp) return this.#cached.text;
    let text: string;
    try {
      text = Deno.readTextFileSync(this.#file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    this.#cached = { text, stamp };
    return text;
  }

  async update<T>(
    change: (text: string | null) => { text: string | null; result: T },
  ): Promise<T> {
    return await this.#queue.run(`state-document:${this.#file}`, async () => {
      const directory = path.dirname(this.#file);
      await Deno.mkdir(directory, { recursive: true });
      using mutex = await Deno.open(`${this.#file}.lock`, {
        read: true,
        write: true,
        create: true,
      });
      await mutex.lock(true);
      try {
        const { text, result } = change(await this.read());
        if (text === null) return result;
        const next = `${this.#file}.new`;
        {
          using file = await Deno.open(next, {
            write: true,
            create: true,
            truncate: true,
            mode: 0o600,
          });
          const bytes = new TextEncoder().encode(text);
          for (let offset = 0; offset < bytes.length;) {
            offset += await file.write(bytes.subarray(offset));
          }
          if (this.#fsync) await file.syncData();
        }
        await Deno.rename(next, this.#file);
        if (this.#fsync) await syncDirectory(directory);
        return result;
      } finally {
        await mutex.unlock();
      }
    });
  }
}
