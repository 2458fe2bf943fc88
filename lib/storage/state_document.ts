/**
 * Small named documents of server state (the share-link secret, revocations,
 * link usage) kept where every worker and instance serving one store sees
 * them: files under the fs store's hidden state directory, objects under the
 * S3 store's hidden prefix. Both are never served or listed (their names
 * start with the reserved temp prefix).
 *
 * @module
 */

import * as path from "node:path";
import { HttpError } from "../http/errors.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { syncDirectory } from "./durability.ts";
import { conditionalWriteLost, putConditionHeaders, S3Error } from "./s3_client.ts";
import type { S3Client } from "./s3_client.ts";
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

/** Tries of an S3 change that keeps losing races before a 503. */
const ATTEMPTS = 8;

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

/**
 * A document as the object `PREFIX.filedrop-tmp-state/NAME`, changed only by
 * conditional PutObjects (`If-None-Match: *` to create, `If-Match` with the
 * ETag it was read at to replace), so of two instances changing it at once
 * one wins and the other reads again and re-applies its change.
 */
export class S3StateDocument implements StateDocument {
  readonly #client: S3Client;
  readonly #key: string;
  readonly #queue: KeyedLock;
  #cached: { text: string; etag: string } | null = null;

  /**
   * @param client the store's client
   * @param prefix the store's key prefix ("" or ending with "/")
   * @param name the document's name
   * @param queue this process's lock queue
   */
  constructor(client: S3Client, prefix: string, name: string, queue: KeyedLock) {
    this.#client = client;
    this.#key = `${prefix}${STATE_DIR}/${name}`;
    this.#queue = queue;
  }

  async read(): Promise<string | null> {
    return (await this.#readWithETag()).text;
  }

  async update<T>(
    change: (text: string | null) => { text: string | null; result: T },
  ): Promise<T> {
    return await this.#queue.run(`state-document:${this.#key}`, async () => {
      for (let attempt = 1;; attempt++) {
        const current = await this.#readWithETag();
        const { text, result } = change(current.text);
        if (text === null) return result;
        try {
          await this.#client.putObject(
            this.#key,
            new TextEncoder().encode(text),
            putConditionHeaders(current.etag),
          );
          return result;
        } catch (error) {
          if (!conditionalWriteLost(error)) throw error;
          if (attempt === ATTEMPTS) throw busy();
        }
      }
    });
  }

  /** The text and the ETag it was read at (both null when there is no object). */
  async #readWithETag(): Promise<{ text: string | null; etag: string | null }> {
    for (let attempt = 1;; attempt++) {
      const info = await this.#client.headObject(this.#key);
      if (info === null) return { text: null, etag: null };
      if (this.#cached?.etag === info.etag) return this.#cached;
      try {
        const response = await this.#client.getObject(this.#key, { start: 0, etag: info.etag });
        this.#cached = { text: await response.text(), etag: info.etag };
        return this.#cached;
      } catch (error) {
        // Replaced between the two requests (412), or removed (404): look again.
        const changed = error instanceof S3Error && (error.status === 412 || error.status === 404);
        if (!changed) throw error;
        if (attempt === ATTEMPTS) throw busy();
      }
    }
  }
}

function busy(): HttpError {
  return new HttpError(503, "Server state kept changing; try again", { "Retry-After": "1" });
}
