/**
 * Resumable uploads on an S3 store: the {@linkcode UploadStore} of an
 * {@linkcode S3Storage}, an S3 multipart upload at the target's key, found
 * from the bucket alone so that any instance can continue an upload another
 * one started.
 *
 * Objects under `PREFIX.filedrop-tmp-state/uploads/<key>/` (never served or
 * listed: a temp name) hold what the multipart upload cannot:
 *
 * - `record`: the {@linkcode UploadRecord}, the multipart upload's id and its
 *   part size (fixed for the upload, whichever instance continues it);
 * - `claim`: a lease, `{"until": ms}`, taken with `If-None-Match: *`, or over
 *   an expired one with `If-Match`, and renewed as data flows: whoever holds
 *   it may append (another request gets 409); an instance that dies holding
 *   it blocks the upload until the lease runs out (a minute);
 * - `tail-<n>`: the bytes of the unfinished part `n` (fewer than a part:
 *   S3's parts but the last are at least 5 MiB), written at the end of each
 *   request.
 *
 * The offset is what the store holds: the full parts ListParts reports,
 * plus the tail of the next part. While a request streams, the bytes of the
 * part being filled are in this process's memory only (one part buffer per
 * upload); an instance that crashes loses them, and the offset goes back
 * to the last full part or tail, as the draft allows. A full part goes up
 * (UploadPart with Content-MD5) as soon as it is filled, and the tail it
 * replaces is deleted; a crash in between leaves a tail of a part number
 * that is no longer next, which is ignored. At completion the tail goes up
 * as the last (small) part; if the completion then fails (the store was
 * unreachable), that small part is ignored when the upload is claimed again
 * (its bytes are in the tail), and the next full part replaces it.
 *
 * Completion: an upload of less than one part never became parts: it is
 * written by the store's own PutObject path (conditional at the store:
 * exact across instances) and its multipart upload is aborted. A larger one
 * is a CompleteMultipartUpload, whose preconditions RGW 16.2 ignores:
 * check-then-act under this process's lock (see lib/storage/s3.ts). The
 * state objects go afterwards. Nothing is visible at the target before the
 * completion, whatever happens to the instance.
 *
 * Not possible on S3: reading an unfinished upload back, so the
 * `Repr-Digest` of an upload whose bytes did not all pass through one
 * process is checked by reading the completed file (the handler does that).
 * A request with its own digest is atomic only while its bytes fit in the
 * part being filled: past that, a mismatch ends the upload.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { S3Storage } from "./s3.ts";
import { conditionalWriteLost, md5, putConditionHeaders } from "./s3_client.ts";
import type { ListedPart, S3Client } from "./s3_client.ts";
import { s3ErrorToHttp } from "./s3_errors.ts";
import type { Committed, StoragePath, WriteCondition } from "./storage.ts";
import { STATE_DIR } from "./temp_files.ts";
import { removeExpired } from "./uploads.ts";
import type { UploadClaim, UploadRecord, UploadStatus, UploadStore } from "./uploads.ts";

/** How long a claim holds without renewal: an instance that died blocks its upload this long. */
export const LEASE_MS = 60_000;
const KEY = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The `record` object. */
interface S3Record extends UploadRecord {
  version: 1;
  uploadId: string;
  partBytes: number;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseRecord(bytes: Uint8Array): S3Record | null {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const conditions = r.conditions;
  const valid = r.version === 1 && typeof r.uploadId === "string" && isCount(r.partBytes) &&
    Array.isArray(r.segments) && r.segments.length > 0 &&
    r.segments.every((s) => typeof s === "string") && typeof r.method === "string" &&
    typeof conditions === "object" && conditions !== null &&
    Object.values(conditions).every((v) => typeof v === "string") &&
    (r.reprDigest === null || typeof r.reprDigest === "string") &&
    typeof r.expiresAt === "number" && (r.length === null || isCount(r.length));
  return valid ? r as unknown as S3Record : null;
}

function recordOf(record: S3Record): UploadRecord {
  return {
    segments: record.segments,
    method: record.method,
    conditions: record.conditions,
    reprDigest: record.reprDigest,
    expiresAt: record.expiresAt,
    length: record.length,
  };
}

/**
 * The parts that count: full-size parts numbered 1, 2, ... in a row. A
 * smaller part is a last part sent for a completion that failed; its bytes
 * are in the tail.
 */
function fullParts(parts: readonly ListedPart[], partBytes: number): ListedPart[] {
  const counted: ListedPart[] = [];
  for (const part of parts) {
    if (part.partNumber !== counted.length + 1 || part.size !== partBytes) break;
    counted.push(part);
  }
  return counted;
}

/** Runs `task`, turning store errors into client-safe statuses. */
async function mapped<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw s3ErrorToHttp(error) ?? error;
  }
}

/** Settings of an {@linkcode S3UploadStore}. */
export interface S3UploadOptions {
  /** The bucket's store. */
  storage: S3Storage;
}

/** Resumable uploads as multipart uploads of an S3 bucket. See the module documentation. */
export class S3UploadStore implements UploadStore {
  readonly #storage: S3Storage;
  readonly #client: S3Client;
  readonly #statePrefix: string;
  readonly restored: Promise<number> = Promise.resolve(0);

  /** @param options the bucket's store */
  constructor(options: S3UploadOptions) {
    this.#storage = options.storage;
    this.#client = options.storage.client;
    this.#statePrefix = `${options.storage.prefix}${STATE_DIR}/uploads/`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  checkTarget(path: StoragePath): Promise<void> {
    return this.#storage.checkTarget(path);
  }

  /** The key of one of upload `key`'s state objects. */
  stateKey(key: string, name: string): string {
    return `${this.#statePrefix}${key}/${name}`;
  }

  create(key: string, record: UploadRecord): Promise<UploadClaim> {
    return mapped(async () => {
      const target = this.#storage.key(record.segments);
      const uploadId = await this.#client.createMultipartUpload(target);
      const full: S3Record = {
        version: 1,
        ...record,
        conditions: Object.fromEntries(
          Object.entries(record.conditions).filter(([, value]) => value !== undefined),
        ),
        uploadId,
        partBytes: this.#storage.partBytes,
      };
      try {
        const lease = await this.#takeLease(key);
        if (lease === null) throw new Error("A new upload's key is taken");
        await this.#client.putObject(
          this.stateKey(key, "record"),
          encoder.encode(JSON.stringify(full)),
        );
        return new S3UploadClaim(this, full, key, [], new Uint8Array(0), lease);
      } catch (error) {
        await this.#client.abortMultipartUpload(target, uploadId).catch(() => {});
        await this.#client.deleteObject(this.stateKey(key, "claim")).catch(() => {});
        throw error;
      }
    });
  }

  async #record(key: string): Promise<S3Record | null> {
    if (!KEY.test(key)) return null;
    const found = await this.#client.getObjectBytes(this.stateKey(key, "record"));
    return found === null ? null : parseRecord(found.bytes);
  }

  /** The counted parts and the tail's bytes of an upload, or null when its multipart upload is gone. */
  async #held(
    key: string,
    record: S3Record,
    withTail: true,
  ): Promise<{ parts: ListedPart[]; tail: Uint8Array } | null>;
  async #held(
    key: string,
    record: S3Record,
    withTail: false,
  ): Promise<{ parts: ListedPart[]; tailBytes: number } | null>;
  async #held(key: string, record: S3Record, withTail: boolean) {
    const listed = await this.#client.listParts(
      this.#storage.key(record.segments),
      record.uploadId,
    );
    if (listed === null) return null;
    const parts = fullParts(listed, record.partBytes);
    const tailKey = this.stateKey(key, `tail-${parts.length + 1}`);
    if (withTail) {
      const tail = (await this.#client.getObjectBytes(tailKey))?.bytes ?? new Uint8Array(0);
      return { parts, tail };
    }
    return { parts, tailBytes: (await this.#client.headObject(tailKey))?.size ?? 0 };
  }

  status(key: string): Promise<UploadStatus | null> {
    return mapped(async () => {
      const record = await this.#record(key);
      if (record === null) return null;
      const held = await this.#held(key, record, false);
      if (held === null) return null;
      const offset = held.parts.length * record.partBytes + held.tailBytes;
      return { record: recordOf(record), offset };
    });
  }

  claim(key: string): Promise<UploadClaim | null> {
    return mapped(async () => {
      if ((await this.#record(key)) === null) throw new HttpError(404, "No such upload");
      const lease = await this.#takeLease(key);
      if (lease === null) return null;
      try {
        // Read again under the lease: the holder before may have changed it.
        const record = await this.#record(key);
        const held = record && await this.#held(key, record, true);
        if (record === null || held === null) {
          await this.#removeState(key);
          throw new HttpError(404, "No such upload");
        }
        return new S3UploadClaim(this, record, key, held.parts, held.tail, lease);
      } catch (error) {
        await this.#client.deleteObject(this.stateKey(key, "claim")).catch(() => {});
        throw error;
      }
    });
  }

  sweep(now: number): Promise<number> {
    return mapped(async () => {
      let token: string | null = null;
      const keys: string[] = [];
      do {
        const page = await this.#client.listObjects({ prefix: this.#statePrefix, token });
        for (const object of page.objects) {
          const [key, name] = object.key.slice(this.#statePrefix.length).split("/");
          if (name === "record" && KEY.test(key)) keys.push(key);
        }
        token = page.nextToken;
      } while (token !== null);
      return await removeExpired(this, keys, now, (key) => this.#record(key));
    });
  }

  /**
   * Takes the upload's lease: creates the claim object, or replaces an
   * expired one conditionally. Its ETag, or null when someone holds it.
   */
  async #takeLease(key: string): Promise<string | null> {
    const claimKey = this.stateKey(key, "claim");
    const body = () => encoder.encode(JSON.stringify({ until: Date.now() + LEASE_MS }));
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = attempt === 0 ? null : await this.#client.getObjectBytes(claimKey);
      if (attempt === 1 && current !== null) {
        let until = 0;
        try {
          until = Number(JSON.parse(decoder.decode(current.bytes)).until) || 0;
        } catch {
          // A damaged lease holds nothing.
        }
        if (until > Date.now()) return null;
      }
      try {
        const put = await this.#client.putObject(
          claimKey,
          body(),
          putConditionHeaders(current?.etag ?? null),
        );
        return put.etag;
      } catch (error) {
        if (!conditionalWriteLost(error)) throw error;
      }
    }
    return null;
  }

  /** Renews a lease this process holds; its new ETag (409 when another took it meanwhile). */
  async renewLease(key: string, etag: string): Promise<string> {
    try {
      const body = encoder.encode(JSON.stringify({ until: Date.now() + LEASE_MS }));
      return (await this.#client.putObject(
        this.stateKey(key, "claim"),
        body,
        putConditionHeaders(etag),
      )).etag;
    } catch (error) {
      if (!conditionalWriteLost(error)) throw error;
      throw new HttpError(409, "Another request took this upload over", { "Retry-After": "1" });
    }
  }

  /** Deletes every state object of an upload but its claim (released by its holder). */
  async #removeState(key: string): Promise<void> {
    const prefix = `${this.#statePrefix}${key}/`;
    const { objects } = await this.#client.listObjects({ prefix });
    for (const object of objects) {
      if (object.key !== `${prefix}claim`) await this.#client.deleteObject(object.key);
    }
  }

  /** For a claim: removes the upload's state (and aborts its multipart upload unless `completed`). */
  async removeUpload(key: string, record: S3Record, completed: boolean): Promise<void> {
    if (!completed) {
      await this.#client.abortMultipartUpload(this.#storage.key(record.segments), record.uploadId);
    }
    await this.#removeState(key);
  }

  /** For a claim: the bucket's client and store. */
  get parts(): { client: S3Client; storage: S3Storage } {
    return { client: this.#client, storage: this.#storage };
  }
}

/** A claimed upload on S3: the parts sent, and the part being filled in memory. */
class S3UploadClaim implements UploadClaim {
  readonly #store: S3UploadStore;
  readonly #record: S3Record;
  readonly #key: string;
  readonly #target: string;
  readonly #parts: ListedPart[];
  /** The part being filled: `#filled` bytes, of which `#tailStored` are in the store's tail object. */
  #buffer: Uint8Array;
  #filled: number;
  #tailStored: number;
  /** Parts when the claim was taken or last checkpointed: a rollback past them is impossible. */
  #partsAtCheckpoint: number;
  #lease: string | null;
  readonly record: UploadRecord;

  constructor(
    store: S3UploadStore,
    record: S3Record,
    key: string,
    parts: ListedPart[],
    tail: Uint8Array,
    lease: string,
  ) {
    this.#store = store;
    this.#record = record;
    this.record = recordOf(record);
    this.#key = key;
    this.#target = store.parts.storage.key(record.segments);
    this.#parts = parts;
    this.#buffer = new Uint8Array(record.partBytes);
    this.#buffer.set(tail.subarray(0, record.partBytes));
    this.#filled = Math.min(tail.length, record.partBytes);
    this.#tailStored = this.#filled;
    this.#partsAtCheckpoint = parts.length;
    this.#lease = lease;
  }

  get #partsBytes(): number {
    return this.#parts.length * this.#record.partBytes;
  }

  get offset(): number {
    return this.#partsBytes + this.#tailStored;
  }

  get written(): number {
    return this.#partsBytes + this.#filled;
  }

  setLength(length: number): Promise<void> {
    return mapped(async () => {
      this.#record.length = length;
      this.record.length = length;
      await this.#store.parts.client.putObject(
        this.#store.stateKey(this.#key, "record"),
        encoder.encode(JSON.stringify(this.#record)),
      );
    });
  }

  write(chunk: Uint8Array): Promise<void> {
    return mapped(async () => {
      const partBytes = this.#record.partBytes;
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(partBytes - this.#filled, chunk.length - at);
        this.#buffer.set(chunk.subarray(at, at + n), this.#filled);
        this.#filled += n;
        at += n;
        if (this.#filled === partBytes) await this.#sendPart();
      }
    });
  }

  /** Sends the full buffer as the next part; the tail it replaces goes. */
  async #sendPart(): Promise<void> {
    const { client } = this.#store.parts;
    const number = this.#parts.length + 1;
    const body = this.#buffer.subarray(0, this.#filled);
    const etag = await client.uploadPart(
      this.#target,
      this.#record.uploadId,
      number,
      body,
      md5(body),
    );
    this.#parts.push({ partNumber: number, etag, size: body.length });
    this.#filled = 0;
    if (this.#tailStored > 0) {
      this.#tailStored = 0;
      await client.deleteObject(this.#store.stateKey(this.#key, `tail-${number}`));
    }
    await this.#renew();
  }

  async #renew(): Promise<void> {
    if (this.#lease !== null) this.#lease = await this.#store.renewLease(this.#key, this.#lease);
  }

  checkpoint(final: boolean): Promise<void> {
    return mapped(async () => {
      if (final && this.#filled !== this.#tailStored) {
        const tailKey = this.#store.stateKey(this.#key, `tail-${this.#parts.length + 1}`);
        if (this.#filled === 0) {
          await this.#store.parts.client.deleteObject(tailKey);
        } else {
          await this.#store.parts.client.putObject(tailKey, this.#buffer.subarray(0, this.#filled));
        }
        this.#tailStored = this.#filled;
      }
      this.#partsAtCheckpoint = this.#parts.length;
      await this.#renew();
    });
  }

  rollback(): Promise<boolean> {
    if (this.#parts.length > this.#partsAtCheckpoint) return Promise.resolve(false);
    this.#filled = this.#tailStored;
    return Promise.resolve(true);
  }

  read(): null {
    return null;
  }

  complete(condition: WriteCondition): Promise<Committed> {
    return mapped(async () => {
      const { client, storage } = this.#store.parts;
      const size = this.offset;
      this.#filled = this.#tailStored; // Only what the store holds.
      let committed: Committed;
      if (this.#parts.length === 0) {
        // Less than a part: one PutObject, conditional at the store.
        const staged = await storage.stage(this.#record.segments);
        await staged.write(this.#buffer.subarray(0, this.#filled));
        [committed] = await storage.commit([{ staged, condition }]);
        await this.#store.removeUpload(this.#key, this.#record, false);
      } else {
        const parts = [...this.#parts];
        if (this.#filled > 0) {
          const body = this.#buffer.subarray(0, this.#filled);
          const number = parts.length + 1;
          const etag = await client.uploadPart(
            this.#target,
            this.#record.uploadId,
            number,
            body,
            md5(body),
          );
          parts.push({ partNumber: number, etag, size: body.length });
        }
        committed = await storage.completeUpload(
          this.#record.segments,
          this.#record.uploadId,
          parts,
          size,
          condition,
        );
        await this.#store.removeUpload(this.#key, this.#record, true);
      }
      return committed;
    });
  }

  remove(): Promise<void> {
    return mapped(() => this.#store.removeUpload(this.#key, this.#record, false));
  }

  async release(): Promise<void> {
    this.#buffer = new Uint8Array(0);
    if (this.#lease === null) return;
    this.#lease = null;
    await this.#store.parts.client.deleteObject(this.#store.stateKey(this.#key, "claim"))
      .catch(() => {});
  }
}
