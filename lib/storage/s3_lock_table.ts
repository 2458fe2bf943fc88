/**
 * The WebDAV lock table of the S3 store: one JSON object,
 * `PREFIX.filedrop-tmp-state/dav-locks.json` (hidden and unreachable by URL
 * like every temp name), changed only by conditional PutObjects
 * (`If-None-Match: *` to create it, `If-Match` with the ETag it was read at
 * to replace it), so two instances changing it at once never both win: the
 * loser reads it again and re-applies its change. Restarts behave as on the
 * fs store (see `lock_table.ts`): locks live until they time out.
 *
 * Costs: a write request looks at the table (a HeadObject; a GetObject too
 * when it holds locks), and an emptied table stays as `[]` (S3 has no
 * conditional delete every gateway honours).
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { parseLockTable } from "./lock_table.ts";
import type { LockTable, StoredLock } from "./lock_table.ts";
import { conditionalWriteLost, putConditionHeaders, S3Error } from "./s3_client.ts";
import type { S3Client } from "./s3_client.ts";
import { STATE_DIR } from "./temp_files.ts";

/** Tries of a change that keeps losing races (or of a read the table changes under) before a 503. */
const ATTEMPTS = 8;

/** The lock table as one object, changed by conditional writes. */
export class S3LockTable implements LockTable {
  readonly #client: S3Client;
  readonly #key: string;
  readonly #queue: KeyedLock;

  /**
   * @param client the store's client
   * @param prefix the store's key prefix ("" or ending with "/")
   * @param queue this process's lock queue (its changes go one at a time)
   */
  constructor(client: S3Client, prefix: string, queue: KeyedLock) {
    this.#client = client;
    this.#key = `${prefix}${STATE_DIR}/dav-locks.json`;
    this.#queue = queue;
  }

  async read(): Promise<StoredLock[]> {
    return (await this.#readWithETag()).locks;
  }

  async update<T>(change: (locks: StoredLock[]) => { locks: StoredLock[]; result: T }): Promise<T> {
    return await this.#queue.run(`dav-lock-table:${this.#key}`, async () => {
      for (let attempt = 1;; attempt++) {
        const current = await this.#readWithETag();
        const { locks, result } = change(current.locks);
        if (locks.length === 0 && current.locks.length === 0) return result;
        try {
          await this.#client.putObject(
            this.#key,
            new TextEncoder().encode(JSON.stringify(locks)),
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

  close(): void {}

  /** The table and the ETag it was read at (null when there is no object yet). */
  async #readWithETag(): Promise<{ locks: StoredLock[]; etag: string | null }> {
    for (let attempt = 1;; attempt++) {
      const info = await this.#client.headObject(this.#key);
      if (info === null) return { locks: [], etag: null };
      // "[]": an emptied table, no GetObject needed.
      if (info.size === 2) return { locks: [], etag: info.etag };
      try {
        const response = await this.#client.getObject(this.#key, { start: 0, etag: info.etag });
        return { locks: parseLockTable(await response.text()), etag: info.etag };
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
  return new HttpError(503, "The lock table kept changing; try again", { "Retry-After": "1" });
}
