/**
 * The storage layer's contract for resumable uploads: where the bytes of an
 * unfinished upload and its record live, found again from the store by any
 * process that serves it. The protocol (lib/handlers/resumable.ts) talks to
 * an {@linkcode UploadStore} only; the file system keeps the bytes beside
 * the target (lib/storage/fs_uploads.ts), an S3 store in a multipart upload
 * (lib/storage/s3_uploads.ts).
 *
 * @module
 */

import type { ConditionalHeaders } from "../content/preconditions.ts";
import type { Committed, StoragePath, WriteCondition } from "./storage.ts";

/** What an upload records besides its bytes: enough to complete it in any process. */
export interface UploadRecord {
  /** The target's path. */
  segments: string[];
  /** The creation request's method and preconditions, checked again at completion. */
  method: string;
  conditions: ConditionalHeaders;
  /** The creation request's `Repr-Digest`, verified over the whole upload. */
  reprDigest: string | null;
  /** When the upload expires, in ms since the epoch. */
  expiresAt: number;
  /** The announced total length, once known. */
  length: number | null;
}

/** An upload as the store holds it now. */
export interface UploadStatus {
  record: UploadRecord;
  /** Bytes the store holds: what a client may resume from. */
  offset: number;
}

/**
 * One process's exclusive hold on an upload, from {@linkcode UploadStore.create}
 * or {@linkcode UploadStore.claim}; another claim fails until
 * {@linkcode UploadClaim.release}.
 */
export interface UploadClaim {
  readonly record: UploadRecord;
  /** Bytes acknowledged: held by the store, reported to clients. */
  readonly offset: number;
  /** Bytes written in all: the offset plus those not acknowledged yet. */
  readonly written: number;
  /** Records the upload's total length. */
  setLength(length: number): Promise<void>;
  /** Appends `chunk` after the bytes written so far. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Acknowledges what was written: afterwards {@linkcode UploadClaim.offset}
   * covers as much of it as the store holds. `final` at the end of a
   * request, when everything written must be kept; without it a store may
   * keep the bytes of an unfinished part in memory a while longer.
   */
  checkpoint(final: boolean): Promise<void>;
  /**
   * Drops the bytes written since the last checkpoint (a request whose own
   * digest failed). False when the store cannot (parts already sent): the
   * caller ends the upload.
   */
  rollback(): Promise<boolean>;
  /**
   * The acknowledged bytes, read back for hashing, or null when the store
   * cannot read an unfinished upload.
   */
  read(): AsyncIterable<Uint8Array> | null;
  /**
   * Puts the acknowledged bytes in place at the target once `condition`
   * accepts what is there, as a PUT would; the upload is gone afterwards.
   * On a refusal the upload stays (the caller removes it).
   */
  complete(condition: WriteCondition): Promise<Committed>;
  /** Removes the upload and its bytes (cancelled, expired, refused). */
  remove(): Promise<void>;
  /** Gives the claim up. */
  release(): Promise<void>;
}

/** Where the unfinished uploads of one store live. */
export interface UploadStore {
  /** Settles once uploads of earlier runs are checked (crash debris removed), with their count. */
  readonly restored: Promise<number>;
  /**
   * Creates the empty upload `key` (a hex SHA-256 of its token) for
   * `record`, claimed by the caller. Throws an `HttpError` when the target
   * cannot be written (409, 403...).
   */
  create(key: string, record: UploadRecord): Promise<UploadClaim>;
  /** The upload `key` as the store holds it, or null when there is none (completed, cancelled). */
  status(key: string): Promise<UploadStatus | null>;
  /** Claims the upload `key`: null when another request or process holds it; 404 when there is none. */
  claim(key: string): Promise<UploadClaim | null>;
  /** Removes the uploads expired at `now` that nobody holds; how many. */
  sweep(now: number): Promise<number>;
  /** Checks that a file may be written at `path` (403/409 otherwise), before any byte is read. */
  checkTarget(path: StoragePath): Promise<void>;
  /** Stops background work. */
  close(): Promise<void>;
}

/**
 * What both stores' {@linkcode UploadStore.sweep} does once they have listed
 * their uploads' `keys`: removes, one at a time, those whose record
 * (`recordOf`, null when gone) expired at `now` and that `store` can claim.
 * One it cannot claim is held (it may be completing) or gone meanwhile, and
 * an unreadable record is skipped: the next sweep sees. How many it removed.
 */
export async function removeExpired(
  store: Pick<UploadStore, "claim">,
  keys: Iterable<string>,
  now: number,
  recordOf: (key: string) => Promise<UploadRecord | null>,
): Promise<number> {
  let removed = 0;
  for (const key of keys) {
    const record = await recordOf(key).catch(() => null);
    if (record === null || record.expiresAt > now) continue;
    const claim = await store.claim(key).catch(() => null);
    if (claim === null) continue;
    try {
      await claim.remove();
      removed++;
    } finally {
      await claim.release();
    }
  }
  return removed;
}
