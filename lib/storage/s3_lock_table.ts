/**
 * The WebDAV lock table of the S3 store: one JSON object,
 * `PREFIX.filedrop-tmp-state/dav-locks.json` (hidden and unreachable by URL
 * like every temp name), kept as a state document (`state_document.ts`):
 * changed only by conditional PutObjects (`If-None-Match: *` to create it,
 * `If-Match` with the ETag it was read at to replace it), so two instances
 * changing it at once never both win: the loser reads it again and
 * re-applies its change. Restarts behave as on the fs store (see
 * `lock_table.ts`): locks live until they time out.
 *
 * Costs: a write request looks at the table (a HeadObject; a GetObject too
 * when it changed since this process last read it), and an emptied table
 * stays as `[]` (S3 has no conditional delete every gateway honours).
 *
 * @module
 */

import type { KeyedLock } from "./keyed_lock.ts";
import { parseLockTable } from "./lock_table.ts";
import type { LockTable, StoredLock } from "./lock_table.ts";
import type { S3Client } from "./s3_client.ts";
import { S3StateDocument } from "./s3_state_document.ts";

/** The lock table as one state document, changed by conditional writes. */
export class S3LockTable implements LockTable {
  readonly #document: S3StateDocument;

  /**
   * @param client the store's client
   * @param prefix the store's key prefix ("" or ending with "/")
   * @param queue this process's lock queue (its changes go one at a time)
   */
  constructor(client: S3Client, prefix: string, queue: KeyedLock) {
    this.#document = new S3StateDocument(client, prefix, "dav-locks.json", queue);
  }

  async read(): Promise<StoredLock[]> {
    return parseTable(await this.#document.read());
  }

  async update<T>(change: (locks: StoredLock[]) => { locks: StoredLock[]; result: T }): Promise<T> {
    return await this.#document.update((text) => {
      const current = parseTable(text);
      const { locks, result } = change(current);
      // Most write requests find no locks and leave none: nothing to write.
      const unchanged = locks.length === 0 && current.length === 0;
      return { text: unchanged ? null : JSON.stringify(locks), result };
    });
  }

  close(): void {}
}

/** The locks in the table's text; none when there is no table yet. */
function parseTable(text: string | null): StoredLock[] {
  return text === null ? [] : parseLockTable(text);
}
