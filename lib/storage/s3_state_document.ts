/**
 * The S3 store's {@linkcode StateDocument}: an object under its hidden
 * prefix, changed only by conditional PutObjects. Apart from the file-system
 * one, so that a server of a directory never loads the S3 client.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import { conditionalWriteLost, putConditionHeaders, S3Error } from "./s3_client.ts";
import type { S3Client } from "./s3_client.ts";
import type { StateDocument } from "./state_document.ts";
import { STATE_DIR } from "./temp_files.ts";

/** Tries of an S3 change that keeps losing races before a 503. */
const ATTEMPTS = 8;

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

/** The answer when a change kept losing races with other instances' changes. */
function busy(): HttpError {
  return new HttpError(503, "Server state kept changing; try again", { "Retry-After": "1" });
}
