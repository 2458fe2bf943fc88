/**
 * The S3 store: a bucket and key prefix (`s3://bucket/prefix`) on any
 * S3-compatible object store, tested against Ceph's RADOS Gateway 16.2.
 * Stateless: any number of instances may serve one bucket, and nothing
 * but the store holds the truth.
 *
 * Mapping. A path is the key `prefix + segments.join("/")`. A file is an
 * object (its ETag, quoted and strong, and its Last-Modified are the
 * validators); a directory is a common prefix (`dir/` with something
 * under it) or a `dir/` marker object of 0 bytes, which `mkdir` writes. `stat` is
 * HeadObject, then a one-key ListObjectsV2 probe for a directory; `open`
 * reads with ranged GetObjects started lazily at the read position and
 * pinned to the opened version (`If-Match`), so ranges and multipart ranges
 * need no download of the rest; `list` is ListObjectsV2 with delimiter "/",
 * every page followed. Ancestors that are files make a write 409, as on a
 * file system.
 *
 * Writing. A staged file is buffered in memory up to one part (8 MiB by
 * default). If the body ends within it, the commit is ONE PutObject with a
 * signed payload (its SHA-256, which the store verifies); past it the
 * upload becomes a multipart upload of 8 MiB parts (Content-MD5 on each),
 * with at most two parts in memory (one uploading, one filling), completed
 * at the commit. Forms end each file
 * ({@linkcode StagedFile.end}) before the next: a small ended file stays in
 * memory while the store holds less than 64 MiB of such files, else it goes
 * up at once as a one-part multipart upload.
 *
 * What is atomic, across instances (the store decides) and within one
 * process (a per-key {@linkcode KeyedLock}; other instances do not see it):
 *
 * - A write committed as one PutObject (bodies up to the part size): the
 *   condition is checked against a HEAD (for a commit of one file staged
 *   with its condition, as PUT does, the one its stage took before the body
 *   was read; for several files, one each under the lock), and
 *   the PUT carries `If-None-Match: *` (nothing was there) or `If-Match:
 *   <that ETag>`, so the store refuses it if anything changed in between,
 *   from any instance; the condition is then checked again against the new
 *   state (up to 4 times, then 503). This is exact across instances: two
 *   instances racing `If-Match` PUTs get exactly one winner. (RGW 16.2
 *   usually answers the loser with 500 instead of 412: see
 *   {@linkcode conditionalWriteLost}, where that is handled.)
 * - A multipart write (bodies over the part size, and form files spilled
 *   from memory): RGW 16.2 ignores preconditions on CompleteMultipartUpload,
 *   so it is check-then-act: exact against this process's writers only;
 *   another instance may replace the object between our HEAD and the
 *   Complete, and its version is then overwritten (last writer wins).
 * - A commit of several files (a form): every condition is checked first,
 *   then the files are put one by one. Not atomic across objects: a failure
 *   in the middle leaves the earlier files in place.
 * - DELETE: RGW ignores `If-Match` on DeleteObject; check-then-act under the
 *   lock. A directory is removed only when it is empty (just its marker);
 *   a file put under it by another instance in between survives.
 * - MOVE of a file: CopyObject with `x-amz-copy-if-match` (RGW's header;
 *   `x-amz-copy-source-if-match` too, for AWS) set to the ETag the
 *   condition was checked against, so the source cannot change between the
 *   check and the copy (exact across instances); then DeleteObject of the
 *   source, which is not conditional: a version written by another
 *   instance between the copy and the delete is deleted. The destination's
 *   "Overwrite: F" and directory checks are check-then-act (RGW ignores
 *   preconditions on the copy's destination).
 * - MOVE of a directory (a prefix): every object under it is listed, then
 *   copied (each with `x-amz-copy-if-match` on its listed ETag), then the
 *   sources are deleted; a copy that fails removes the copies made and
 *   nothing moved (412 when a file changed meanwhile). Not atomic: during
 *   the move readers see the new tree fill and then the old one empty; a
 *   file another instance writes under the source after the listing stays
 *   there (the source directory survives with it), and one it replaces
 *   between its copy and the deletes is deleted; an instance that dies
 *   mid-move leaves both trees (partly). Resumable uploads in progress
 *   under it complete at their old path.
 * - An existing COPY or MOVE destination (Overwrite: T) is removed first,
 *   whatever its kind (RFC 4918 §9.9.3), so a copy that then fails loses it.
 * - COPY and DELETE of a directory, and dead properties: one request per
 *   object, not atomic (see lib/storage/s3_trees.ts). Modification times
 *   cannot be set (`setModified` says false).
 * - MKDIR: the marker is PUT with `If-None-Match: *`: atomic.
 * - "No file over a directory, nothing under a file" is check-then-act: an
 *   object store has no such rule, and another instance may create `a/x`
 *   while this one writes the file `a` (both then exist; the listing shows
 *   both names).
 *
 * Memory: an upload in progress holds at most two parts (16 MiB by default);
 * concurrent uploads each hold theirs (no store-wide bound beyond the
 * 64 MiB of ended form files). A committed entry's Last-Modified is the
 * store's Date of the answer (PutObject reports none) or this process's
 * clock after a multipart Complete: close, not exact; reads use HEAD's.
 *
 * Limits: a multipart upload has at most 10,000 parts (80 GiB at 8 MiB);
 * CopyObject copies at most 5 GiB (larger files cannot be moved); a
 * directory exists only while something is under it or it has a marker, so
 * removing the last file of a directory made by a PUT (no marker) makes
 * the directory go too. Resumable uploads are multipart uploads too
 * (lib/storage/s3_uploads.ts).
 *
 * @module
 */

import { S3LockTable } from "./s3_lock_table.ts";
import { S3StateDocument } from "./s3_state_document.ts";
import type { StateDocument } from "./state_document.ts";
import { HttpError } from "../http/errors.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import {
  conditionalWriteLost,
  md5,
  multipartETag,
  putConditionHeaders,
  S3Client,
  S3Error,
  unquoteETag,
} from "./s3_client.ts";
import type { ListedObject, ListPage, ObjectInfo, UploadedPart } from "./s3_client.ts";
import { describeS3Location, resolveS3Config, S3ConfigError } from "./s3_config.ts";
import type { S3Options } from "./s3_config.ts";
import { s3ErrorToHttp } from "./s3_errors.ts";
import { requireParentDirectory, S3Trees } from "./s3_trees.ts";
import type {
  Committed,
  ContentReader,
  CopyDepth,
  ListedEntry,
  OpenedFile,
  RemovalFailure,
  StagedFile,
  Storage,
  StoragePath,
  StorageUsage,
  StoredEntry,
  TreeEntry,
  WriteCondition,
} from "./storage.ts";

/** S3's smallest part (every part but the last). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** The part size by default, and the largest body written as one (atomic) PutObject. */
export const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
/** Bytes of ended, uncommitted small files (a form's) the store keeps in memory by default. */
export const DEFAULT_HELD_BYTES = 64 * 1024 * 1024;
/** A multipart upload older than this is an interrupted one (no upload takes a day). */
const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;
/** S3's most parts in one upload. */
const MAX_PARTS = 10_000;
/** Tries of a conditional PutObject that lost a race, each after checking the condition again. */
const PUT_ATTEMPTS = 4;
/** A forward seek up to this far reads and drops bytes instead of starting a new GetObject. */
const SKIP_LIMIT = 256 * 1024;
/** The first buffer of a staged file of unknown length; it doubles up to the part size. */
const FIRST_BUFFER_BYTES = 64 * 1024;
/**
 * Bytes of buffers sized from an announced length before the bytes came, in
 * all staged files at once: past it a staged file grows its buffer by
 * doubling as bytes arrive, so clients that announce large bodies and send
 * little cannot make the process allocate more than this for them.
 */
const PRESIZED_BUDGET_BYTES = 64 * 1024 * 1024;

/** How an {@linkcode S3Storage} behaves. */
export interface S3StorageOptions {
  /** The signed-request client of the bucket. */
  client: S3Client;
  /** The key prefix everything lives under: "" or ending with "/". */
  prefix: string;
  /** Per-key locks for check-then-act within this process. */
  locks: KeyedLock;
  /** Part size and single-PutObject limit; default 8 MiB, at least 5 MiB. */
  partBytes?: number;
  /** Keys per ListObjectsV2 page (max-keys); default 1000 (small values are for tests). */
  listPageKeys?: number;
  /** Bytes of ended small staged files kept in memory in all; default 64 MiB. */
  heldBytes?: number;
}

const ROOT_ENTRY: StoredEntry = Object.freeze({
  kind: "directory",
  size: 0,
  etag: "",
  lastModified: 0,
});

function fileEntry(info: ObjectInfo): StoredEntry {
  return { kind: "file", size: info.size, etag: info.etag, lastModified: info.lastModified };
}

function directoryEntry(lastModified: number): StoredEntry {
  return { kind: "directory", size: 0, etag: "", lastModified };
}

/** The bytes of a hex string (a part's MD5 from its ETag). */
function hexBytes(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

/** Copies or deletes a directory move runs at once. */
const MOVE_CONCURRENCY = 8;

/** Lookups a commit of many files (a form of up to 1000) runs at once: the store is shared. */
const STAT_CONCURRENCY = 16;

/** `items.map(task)`, with at most `limit` tasks running at a time; results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Runs `task` holding the lock of every key, taken in sorted order so two writers cannot deadlock. */
async function withLocks<T>(
  locks: KeyedLock,
  keys: readonly string[],
  task: () => Promise<T>,
): Promise<T> {
  const [first, ...rest] = [...new Set(keys)].sort();
  if (first === undefined) return await task();
  return await locks.run(first, () => withLocks(locks, rest, task));
}

/** What a staged file needs from its store. */
interface StagingHost {
  client: S3Client;
  partBytes: number;
  /** Counts `bytes` against the held-bytes budget; false when it would exceed it. */
  hold(bytes: number): boolean;
  /** Gives back what {@linkcode hold} counted. */
  unhold(bytes: number): void;
  /** Counts a buffer sized from an announced length; false when the presized budget is spent. */
  presize(bytes: number): boolean;
  /** Gives back what {@linkcode presize} counted. */
  unpresize(bytes: number): void;
}

/** A multipart upload in progress. */
interface Upload {
  id: string;
  parts: UploadedPart[];
  digests: Uint8Array[];
  /** The part being uploaded, if any: at most one at a time. */
  inFlight: Promise<void> | null;
  inFlightBytes: number;
  completed: boolean;
}

/** A new version being written: in memory up to a part, then a multipart upload. */
class S3StagedFile implements StagedFile {
  readonly path: StoragePath;
  readonly key: string;
  readonly #host: StagingHost;
  #buffer = new Uint8Array(0);
  /** A part buffer back from its upload, for the next part: a multipart upload allocates two in all. */
  #spare: Uint8Array<ArrayBuffer> | null = null;
  #filled = 0;
  #size = 0;
  #upload: Upload | null = null;
  #ended = false;
  #spent = false;
  #held = 0;
  #peak = 0;
  /**
   * What was at the path when it was staged (undefined: not looked at). A
   * PUT's commit puts its version conditional on exactly this (If-Match its
   * ETag, or If-None-Match), so the store refuses it if anything changed
   * since, and a lost race looks again: as exact as a fresh HEAD, one
   * request fewer.
   */
  readonly observed: StoredEntry | null | undefined;
  /** The body's announced length (0: unknown or empty); sizes the first buffer. */
  readonly #announced: number;
  /** Bytes of the buffer counted against the host's presized budget. */
  #presized = 0;

  constructor(
    host: StagingHost,
    path: StoragePath,
    key: string,
    options: { observed?: StoredEntry | null; length?: number } = {},
  ) {
    this.#host = host;
    this.path = path;
    this.key = key;
    this.observed = options.observed;
    this.#announced = options.length ?? 0;
  }

  get size(): number {
    return this.#size;
  }

  /** Most bytes this file held in memory at once (its buffer and the part in flight); for tests. */
  get peakBufferedBytes(): number {
    return this.#peak;
  }

  /** Whether it became a multipart upload (so its commit is not conditional at the store). */
  get multipart(): boolean {
    return this.#upload !== null;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#checkOpen();
    const partBytes = this.#host.partBytes;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(partBytes - this.#filled, chunk.length - offset);
      this.#reserve(this.#filled + n);
      // A copy: the caller's view is only valid until its next read.
      this.#buffer.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      this.#size += n;
      offset += n;
      if (this.#filled === partBytes) await this.#sendBuffer();
    }
  }

  /** No more bytes will come: a multipart file sends its last part, a small one stays in memory if the budget allows. */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#checkOpen();
    this.#ended = true;
    this.#unpresize();
    if (this.#upload === null && (this.#filled === 0 || this.#host.hold(this.#filled))) {
      this.#held = this.#filled;
      if (this.#buffer.length > this.#filled) this.#buffer = this.#buffer.slice(0, this.#filled);
      return;
    }
    // Over the budget, a small file goes up now as a one-part upload (a last part may be small).
    await this.#flush();
  }

  /** Before a commit: every byte of a multipart file uploaded. */
  async prepare(): Promise<void> {
    this.#checkWritable();
    if (this.#upload !== null) await this.#flush();
  }

  /**
   * Puts the version in place over `current` (checked by the caller under
   * the lock). One PutObject conditional on `current` when it is small,
   * re-checking `condition` after a lost race; else CompleteMultipartUpload.
   */
  async publish(
    current: StoredEntry | null,
    condition: WriteCondition,
    stat: () => Promise<StoredEntry | null>,
  ): Promise<Committed> {
    const client = this.#host.client;
    const upload = this.#upload;
    if (upload !== null) {
      const etag = await client.completeMultipartUpload(this.key, upload.id, upload.parts) ??
        multipartETag(upload.digests);
      upload.completed = true;
      const lastModified = Math.floor(Date.now() / 1000) * 1000;
      return { created: current === null, entry: this.#entry(etag, lastModified) };
    }
    const body = this.#buffer.subarray(0, this.#filled);
    for (let attempt = 1;; attempt++) {
      try {
        const put = await client.putObject(
          this.key,
          body,
          putConditionHeaders(current?.etag ?? null),
        );
        return { created: current === null, entry: this.#entry(put.etag, put.date) };
      } catch (error) {
        if (!conditionalWriteLost(error)) throw error;
        if (attempt === PUT_ATTEMPTS) {
          // A store error that persists is that error; only repeated lost races are a 503.
          if (error instanceof S3Error && error.status === 500) throw error;
          throw new HttpError(503, "The file kept changing during the write; try again", {
            "Retry-After": "1",
          });
        }
      }
      // Someone else wrote (another instance): judge the write again against what is there now.
      current = await stat();
      condition.check(current);
      if (current?.kind === "directory") throw new HttpError(409, "A directory has that name");
    }
  }

  /** Frees the buffer and any budget; aborts an uncompleted upload. Spends the file. */
  async release(): Promise<void> {
    this.#spent = true;
    this.#unpresize();
    this.#buffer = new Uint8Array(0);
    this.#spare = null;
    this.#filled = 0;
    if (this.#held > 0) this.#host.unhold(this.#held);
    this.#held = 0;
    const upload = this.#upload;
    if (upload === null || upload.completed) return;
    upload.completed = true; // Released once.
    await upload.inFlight?.catch(() => {});
    await this.#host.client.abortMultipartUpload(this.key, upload.id).catch(() => {});
  }

  #entry(etag: string, lastModified: number): StoredEntry {
    return { kind: "file", size: this.#size, etag, lastModified };
  }

  #checkWritable(): void {
    if (this.#spent) throw new Error("This staged file is spent");
  }

  #checkOpen(): void {
    this.#checkWritable();
    if (this.#ended) throw new Error("This staged file was ended");
  }

  /** Counts a buffer of `bytes` against the host's presized budget; false (nothing counted) when it is spent. */
  #presize(bytes: number): boolean {
    if (bytes === 0 || !this.#host.presize(bytes)) return false;
    this.#presized = bytes;
    return true;
  }

  /** The buffer is full or spent: nothing of it is waiting for bytes any more. */
  #unpresize(): void {
    if (this.#presized > 0) this.#host.unpresize(this.#presized);
    this.#presized = 0;
  }

  /**
   * Grows the buffer to hold `needed` bytes, at most a part: sized once from
   * the announced length when the budget allows, else doubling (small bodies
   * stay small).
   */
  #reserve(needed: number): void {
    if (needed <= this.#buffer.length) return;
    const partBytes = this.#host.partBytes;
    let grown: Uint8Array<ArrayBuffer>;
    if (this.#upload !== null && this.#filled === 0) {
      // After the first part the body is known to be large: a whole part, reused when one is back.
      grown = this.#spare ?? new Uint8Array(partBytes);
      this.#spare = null;
    } else if (this.#buffer.length === 0 && this.#presize(Math.min(this.#announced, partBytes))) {
      // The announced length, up to a part: one buffer for the whole body, no growth, no copies.
      grown = new Uint8Array(Math.max(this.#presized, needed));
    } else {
      let capacity = Math.max(FIRST_BUFFER_BYTES, this.#buffer.length * 2);
      while (capacity < needed) capacity *= 2;
      grown = new Uint8Array(Math.min(capacity, partBytes));
      grown.set(this.#buffer.subarray(0, this.#filled));
    }
    this.#buffer = grown;
    this.#peak = Math.max(this.#peak, grown.length + (this.#upload?.inFlightBytes ?? 0));
  }

  /** Sends what is buffered as the next part (if any) and waits for every part to be stored. */
  async #flush(): Promise<void> {
    if (this.#filled > 0) await this.#sendBuffer();
    const upload = this.#upload!;
    await this.#settle(upload);
  }

  async #settle(upload: Upload): Promise<void> {
    const inFlight = upload.inFlight;
    upload.inFlight = null;
    upload.inFlightBytes = 0;
    await inFlight;
  }

  /** Starts uploading the buffer as the next part, once the part before it is stored. */
  async #sendBuffer(): Promise<void> {
    const client = this.#host.client;
    this.#upload ??= {
      id: await client.createMultipartUpload(this.key),
      parts: [],
      digests: [],
      inFlight: null,
      inFlightBytes: 0,
      completed: false,
    };
    const upload = this.#upload;
    await this.#settle(upload); // At most one part in flight, one filling: two in memory.
    if (upload.parts.length === MAX_PARTS) {
      throw new HttpError(413, "Too large for the object store (10,000 parts)");
    }
    const buffer = this.#buffer;
    const body = buffer.subarray(0, this.#filled);
    const digest = md5(body);
    const part: UploadedPart = { partNumber: upload.parts.length + 1, etag: "" };
    upload.parts.push(part);
    upload.digests.push(digest);
    upload.inFlightBytes = this.#buffer.length;
    const inFlight = client.uploadPart(this.key, upload.id, part.partNumber, body, digest)
      .then((etag) => {
        part.etag = etag;
        // The transport is done with it (node:http wrote it, kept no copy): the next part's.
        if (buffer.length === this.#host.partBytes && !this.#spent) this.#spare = buffer;
      });
    inFlight.catch(() => {}); // Observed by the next #settle.
    upload.inFlight = inFlight;
    this.#unpresize();
    this.#buffer = new Uint8Array(0);
    this.#filled = 0;
  }
}

/** A GetObject being read: its body and the object offset of its next byte. */
interface ReadStream {
  /**
   * A BYOB reader: the body is read into {@linkcode ReadStream.scratch}, not
   * into a fresh chunk per read, which took a 100 MiB download's RSS growth
   * from 38 to 14 MiB (and ran 3x faster) in a measurement here.
   */
  reader: ReadableStreamBYOBReader;
  /** The buffer reads go into (it moves with each read; this is its latest home). */
  scratch: ArrayBuffer;
  position: number;
}

/** Bytes read from a GetObject at a time: the size serveContent asks for. */
const SCRATCH_BYTES = 256 * 1024;

/** The bytes of one object version, fetched with ranged GetObjects from the read position. */
class S3Reader implements ContentReader {
  readonly #client: S3Client;
  readonly #key: string;
  readonly #etag: string;
  readonly #size: number;
  #position = 0;
  #stream: ReadStream | null = null;
  #closed = false;

  constructor(client: S3Client, key: string, entry: StoredEntry) {
    this.#client = client;
    this.#key = key;
    this.#etag = entry.etag;
    this.#size = entry.size;
  }

  seek(offset: number, whence: Deno.SeekMode): Promise<number> {
    const base = whence === Deno.SeekMode.Start
      ? 0
      : whence === Deno.SeekMode.Current
      ? this.#position
      : this.#size;
    const position = base + offset;
    if (position < 0) return Promise.reject(new RangeError("Seek before the start"));
    this.#position = position;
    return Promise.resolve(position);
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new Error("Reader is closed");
    if (this.#position >= this.#size) return null;
    if (buffer.length === 0) return 0;
    let stream = this.#stream;
    if (stream !== null && stream.position !== this.#position) {
      const gap = this.#position - stream.position;
      if (gap > 0 && gap <= SKIP_LIMIT) {
        for (let left = gap; left > 0;) left -= (await this.#pull(stream, left)).length;
      } else {
        this.#cancel();
        stream = null;
      }
    }
    stream ??= await this.#start();
    const chunk = await this.#pull(stream, buffer.length);
    buffer.set(chunk);
    this.#position += chunk.length;
    return chunk.length;
  }

  close(): void {
    this.#closed = true;
    this.#cancel();
  }

  /** Starts a GetObject at the read position, pinned to the opened version. */
  async #start(): Promise<ReadStream> {
    let response: Response;
    try {
      response = await this.#client.getObject(this.#key, {
        start: this.#position,
        etag: this.#etag,
      });
    } catch (error) {
      if (error instanceof S3Error && (error.status === 412 || error.status === 404)) {
        throw new Error("The object changed or vanished while it was being sent");
      }
      throw error;
    }
    if (response.body === null) throw new Error("GetObject: no body");
    const stream: ReadStream = {
      reader: response.body.getReader({ mode: "byob" }),
      scratch: new ArrayBuffer(SCRATCH_BYTES),
      position: this.#position,
    };
    this.#stream = stream;
    return stream;
  }

  /** Up to `max` bytes from the stream (a view valid until the next pull), advancing it. */
  async #pull(
    stream: ReadStream,
    max: number,
  ): Promise<Uint8Array> {
    for (;;) {
      const view = new Uint8Array(stream.scratch, 0, Math.min(max, stream.scratch.byteLength));
      const { value, done } = await stream.reader.read(view);
      if (done || value === undefined) {
        throw new Error("The object ended early: it changed while it was being sent");
      }
      stream.scratch = value.buffer as ArrayBuffer;
      if (value.length === 0) continue;
      stream.position += value.length;
      return value;
    }
  }

  #cancel(): void {
    const stream = this.#stream;
    this.#stream = null;
    stream?.reader.cancel().catch(() => {});
  }
}

/** The S3 store. See the module documentation for what it guarantees. */
export class S3Storage implements Storage {
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #locks: KeyedLock;
  readonly #listPageKeys: number;
  readonly #heldBudget: number;
  readonly #host: StagingHost;
  readonly #trees: S3Trees;
  #heldBytes = 0;
  #presizedBytes = 0;
  readonly lockTable: S3LockTable;

  /** @param options the client, key prefix, locks and sizes */
  constructor(options: S3StorageOptions) {
    const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
    if (!(partBytes >= MIN_PART_BYTES) || !Number.isSafeInteger(partBytes)) {
      throw new RangeError(`partBytes must be at least ${MIN_PART_BYTES}`);
    }
    if (options.prefix !== "" && !options.prefix.endsWith("/")) {
      throw new RangeError('prefix must be "" or end with "/"');
    }
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#trees = new S3Trees(options.client, options.prefix);
    this.#locks = options.locks;
    this.lockTable = new S3LockTable(this.#client, this.#prefix, this.#locks);
    this.#listPageKeys = options.listPageKeys ?? 1000;
    this.#heldBudget = options.heldBytes ?? DEFAULT_HELD_BYTES;
    this.#host = {
      client: this.#client,
      partBytes,
      hold: (bytes) => {
        if (this.#heldBytes + bytes > this.#heldBudget) return false;
        this.#heldBytes += bytes;
        return true;
      },
      unhold: (bytes) => void (this.#heldBytes -= bytes),
      presize: (bytes) => {
        if (this.#presizedBytes + bytes > PRESIZED_BUDGET_BYTES) return false;
        this.#presizedBytes += bytes;
        return true;
      },
      unpresize: (bytes) => void (this.#presizedBytes -= bytes),
    };
  }

  /** The key prefix: "" or ending with "/". */
  get prefix(): string {
    return this.#prefix;
  }

  /** Bytes of ended small staged files held in memory now (for tests). */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /**
   * Aborts the multipart uploads under the prefix that were started more
   * than a day ago (`olderThanMs`): debris of instances that died
   * mid-upload, never visible as objects but billed as storage. Returns
   * their keys. Looks at the store's first 1000 uploads (one page) per call.
   */
  removeStaleTemps(olderThanMs = STALE_UPLOAD_MS): Promise<string[]> {
    return this.#mapped(async () => {
      const cutoff = Date.now() - olderThanMs;
      const removed: string[] = [];
      for (const upload of await this.#client.listMultipartUploads(this.#prefix)) {
        if (upload.initiated === 0 || upload.initiated > cutoff) continue;
        await this.#client.abortMultipartUpload(upload.key, upload.uploadId);
        removed.push(upload.key);
      }
      return removed;
    });
  }

  /** Closes the client's kept-alive connections (call once no request is in flight). */
  close(): Promise<void> {
    this.#client.close();
    return Promise.resolve();
  }

  /** The signed-request client of the bucket (for the store's resumable uploads). */
  get client(): S3Client {
    return this.#client;
  }

  /** The part size of multipart uploads. */
  get partBytes(): number {
    return this.#host.partBytes;
  }

  /** Checks that a file may be written at `path`: not ROOT, no file among its ancestors (409). */
  checkTarget(path: StoragePath): Promise<void> {
    return this.#mapped(async () => {
      if (path.length === 0) throw new HttpError(409, "ROOT is a directory");
      await this.#checkAncestors(path);
    });
  }

  /**
   * Completes the multipart upload `uploadId` of `path`'s key with `parts`
   * once `condition` accepts what is there: check-then-act under this
   * process's lock, like a multipart PUT (RGW 16.2 ignores preconditions on
   * CompleteMultipartUpload).
   */
  completeUpload(
    path: StoragePath,
    uploadId: string,
    parts: readonly UploadedPart[],
    size: number,
    condition: WriteCondition,
  ): Promise<Committed> {
    const key = this.key(path);
    return this.#mapped(() =>
      this.#locks.run(key, async () => {
        const current = await this.#statForWrite(path);
        condition.check(current);
        if (current?.kind === "directory") throw new HttpError(409, "A directory has that name");
        const digests = parts.map((part) => hexBytes(unquoteETag(part.etag)));
        const etag = await this.#client.completeMultipartUpload(key, uploadId, parts) ??
          multipartETag(digests);
        const lastModified = Math.floor(Date.now() / 1000) * 1000;
        return { created: current === null, entry: { kind: "file", size, etag, lastModified } };
      })
    );
  }

  /** The key of a path. */
  key(path: StoragePath): string {
    return this.#prefix + path.join("/");
  }

  /** The prefix of everything under a directory path (`prefix` itself for ROOT). */
  #directoryPrefix(path: StoragePath): string {
    return path.length === 0 ? this.#prefix : `${this.key(path)}/`;
  }

  /** Runs `task`, turning store errors into client-safe statuses. */
  async #mapped<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await task();
    } catch (error) {
      throw s3ErrorToHttp(error) ?? error;
    }
  }

  async #stat(path: StoragePath): Promise<StoredEntry | null> {
    if (path.length === 0) return ROOT_ENTRY;
    const info = await this.#client.headObject(this.key(path));
    return info !== null ? fileEntry(info) : await this.#directoryEntry(path);
  }

  /**
   * What is at `path` (not ROOT) for a write there: 409 when a proper
   * ancestor is a file. A file at `path` itself ends the look at once: its
   * ancestors were checked when it was written (a file that another writer
   * put under a file is replaced, not made worse), so a replacement costs
   * one HeadObject. Otherwise the directory probe and the ancestors' HEADs
   * go at once.
   */
  async #statForWrite(path: StoragePath): Promise<StoredEntry | null> {
    const info = await this.#client.headObject(this.key(path));
    if (info !== null) return fileEntry(info);
    const [entry] = await Promise.all([this.#directoryEntry(path), this.#checkAncestors(path)]);
    return entry;
  }

  /** The directory at `path` (not ROOT), or null: a one-key listing under it. */
  async #directoryEntry(path: StoragePath): Promise<StoredEntry | null> {
    const directory = this.#directoryPrefix(path);
    const [first] = (await this.#client.listObjects({ prefix: directory, maxKeys: 1 })).objects;
    if (first === undefined) return null;
    // The marker sorts first; without one the directory has no time of its own.
    return directoryEntry(first.key === directory ? first.lastModified : 0);
  }

  /** 409 when a proper ancestor of `path` is a file: nothing can be under a file. */
  async #checkAncestors(path: StoragePath): Promise<void> {
    const ancestors = path.slice(0, -1).map((_, i) => this.key(path.slice(0, i + 1)));
    const found = await Promise.all(ancestors.map((key) => this.#client.headObject(key)));
    if (found.some((info) => info !== null)) {
      throw new HttpError(409, "A path component is not a directory");
    }
  }

  stat(path: StoragePath): Promise<StoredEntry | null> {
    return this.#mapped(() => this.#stat(path));
  }

  open(path: StoragePath): Promise<OpenedFile | StoredEntry | null> {
    return this.#mapped(async () => {
      const entry = await this.#stat(path);
      if (entry === null || entry.kind === "directory") return entry;
      return { entry, content: new S3Reader(this.#client, this.key(path), entry) };
    });
  }

  list(path: StoragePath): Promise<ListedEntry[]> {
    return this.#mapped(async () => {
      const directory = this.#directoryPrefix(path);
      const entries: ListedEntry[] = [];
      let found = path.length === 0;
      let token: string | null = null;
      do {
        const page = await this.#client.listObjects({
          prefix: directory,
          delimiter: "/",
          maxKeys: this.#listPageKeys,
          token,
        });
        for (const object of page.objects) {
          found = true;
          const name = object.key.slice(directory.length);
          if (name === "") continue; // The directory's own marker.
          entries.push({ name, ...fileEntry(object) });
        }
        for (const prefix of page.prefixes) {
          found = true;
          const name = prefix.slice(directory.length, -1);
          // "dir//x" has an empty segment no URL can reach.
          if (name !== "") entries.push({ name, ...directoryEntry(0) });
        }
        token = page.nextToken;
      } while (token !== null);
      if (!found) throw new HttpError(404, "Not found");
      return entries;
    });
  }

  /**
   * Every key under the directory's prefix, one page of entries per
   * listing request: directories are told by the keys below them (or their
   * marker), each met once since the keys of a directory are contiguous in
   * key order. Keys with an empty segment ("a//b"), which no URL reaches,
   * are left out. A directory passed to `next()` is skipped by starting the
   * next request after its keys.
   */
  async *listTree(
    path: StoragePath,
  ): AsyncGenerator<TreeEntry[], void, readonly string[] | undefined> {
    const prefix = this.#directoryPrefix(path);
    /** The directories of the previous key: where the walk is. */
    let current: string[] = [];
    let token: string | null = null;
    let startAfter: string | null = null;
    let found = path.length === 0;
    let more = true;
    while (more) {
      const page: ListPage = await this.#mapped(() =>
        this.#client.listObjects({ prefix, maxKeys: this.#listPageKeys, token, startAfter })
      );
      const entries: TreeEntry[] = [];
      for (const object of page.objects) {
        found = true;
        const names = object.key.slice(prefix.length).split("/");
        const isMarker = names[names.length - 1] === "";
        const directories = names.slice(0, -1);
        if (directories.includes("")) continue;
        let same = 0;
        while (same < current.length && current[same] === directories[same]) same++;
        for (let depth = same; depth < directories.length; depth++) {
          const time = isMarker && depth === directories.length - 1 ? object.lastModified : 0;
          entries.push({ path: directories.slice(0, depth + 1), entry: directoryEntry(time) });
        }
        current = directories;
        if (!isMarker) entries.push({ path: names, entry: fileEntry(object) });
      }
      if (!found) throw new HttpError(404, "Not found");
      token = page.nextToken;
      more = token !== null;
      const skip = yield entries;
      if (skip !== undefined && more) {
        // Past every key below `skip` (keys sort by their UTF-8 bytes, and none can go
        // past U+10FFFF after the "/"): the listing goes on from there, not from the token.
        token = null;
        startAfter = `${prefix}${skip.join("/")}/\u{10FFFF}`;
      }
    }
  }

  stage(path: StoragePath, early?: WriteCondition, length?: number): Promise<StagedFile> {
    return this.#mapped(async () => {
      if (path.length === 0) throw new HttpError(409, "ROOT is a directory");
      if (early === undefined) {
        await this.#checkAncestors(path);
        return new S3StagedFile(this.#host, path, this.key(path), { length });
      }
      const observed = await this.#statForWrite(path);
      early.check(observed);
      return new S3StagedFile(this.#host, path, this.key(path), { observed, length });
    });
  }

  commit(
    writes: readonly { staged: StagedFile; condition: WriteCondition }[],
  ): Promise<Committed[]> {
    const files = writes.map(({ staged }) => this.#own(staged));
    return this.#mapped(async () => {
      try {
        // Outside the lock: the last parts of multipart files (the slow part of a commit).
        for (const file of files) await file.prepare();
        return await withLocks(this.#locks, files.map((file) => file.key), async () => {
          // Every condition first: a taken name fails the whole form with nothing written.
          // One small file (a PUT) is put conditional on what its stage saw: no second HEAD.
          const currents = files.length === 1 && files[0].observed !== undefined &&
              !files[0].multipart
            ? [files[0].observed]
            : await mapLimited(files, STAT_CONCURRENCY, (file) => this.#stat(file.path));
          writes.forEach(({ condition }, i) => condition.check(currents[i]));
          if (currents.some((current) => current?.kind === "directory")) {
            throw new HttpError(409, "A directory has that name");
          }
          const committed: Committed[] = [];
          for (const [i, file] of files.entries()) {
            const stat = () => this.#stat(file.path);
            committed.push(await file.publish(currents[i], writes[i].condition, stat));
          }
          return committed;
        });
      } finally {
        await Promise.all(files.map((file) => file.release()));
      }
    });
  }

  async discard(staged: StagedFile): Promise<void> {
    await this.#own(staged).release();
  }

  remove(path: StoragePath, condition: WriteCondition): Promise<void> {
    return this.#mapped(async () => {
      if (path.length === 0) throw new HttpError(403, "ROOT cannot be deleted");
      await this.#locks.run(this.key(path), async () => {
        const current = await this.#stat(path);
        if (current === null) throw new HttpError(404, "Not found");
        condition.check(current);
        if (current.kind === "file") {
          await this.#client.deleteObject(this.key(path));
        } else {
          const directory = this.#directoryPrefix(path);
          const { objects } = await this.#client.listObjects({ prefix: directory, maxKeys: 2 });
          if (objects.some((object) => object.key !== directory)) {
            throw new HttpError(409, "Directory is not empty");
          }
          await this.#client.deleteObject(directory);
        }
        await this.#trees.removeProperties(path);
      });
    });
  }

  move(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; condition: WriteCondition },
  ): Promise<boolean> {
    return this.#mapped(async () => {
      if (from.length === 0) throw new HttpError(403, "ROOT cannot be moved");
      if (to.length === 0) throw new HttpError(403, "ROOT cannot be replaced");
      const source = this.key(from);
      const target = this.key(to);
      if (source === target) throw new HttpError(403, "Source and destination are the same");
      if (target.startsWith(`${source}/`)) {
        throw new HttpError(409, "Cannot move a directory into itself");
      }
      return await withLocks(this.#locks, [source, target], async () => {
        const current = await this.#stat(from);
        if (current === null) throw new HttpError(404, "Not found");
        options.condition.check(current);
        const existing = await this.#clearDestination(to, options.overwrite);
        if (current.kind === "directory") {
          await this.#moveDirectory(from, to);
          await this.#trees.copyProperties(from, to, true);
          await this.#trees.removeProperties(from);
          return existing === null;
        }
        try {
          await this.#client.copyObject(source, target, current.etag);
        } catch (error) {
          // The source changed since the check (another instance): as if the check had failed.
          if (error instanceof S3Error && error.status === 412) {
            throw new HttpError(412, "Precondition failed");
          }
          throw error;
        }
        await this.#client.deleteObject(source);
        await this.#trees.copyProperties(from, to, false);
        await this.#trees.removeProperties(from);
        return existing === null;
      });
    });
  }

  /**
   * Moves every object under directory `from` to `to` (an empty directory
   * or nothing; checked by the caller): copies them all, each only while
   * its ETag is the one listed, then deletes the sources. A copy that fails
   * (a file changed meanwhile: 412) removes the copies made so far and
   * leaves the source whole.
   */
  async #moveDirectory(from: StoragePath, to: StoragePath): Promise<void> {
    const source = this.#directoryPrefix(from);
    const target = this.#directoryPrefix(to);
    const { objects: present } = await this.#client.listObjects({ prefix: target, maxKeys: 2 });
    if (present.some((object) => object.key !== target)) {
      throw new HttpError(409, "Directory is not empty");
    }
    const objects: ListedObject[] = [];
    let token: string | null = null;
    do {
      const page = await this.#client.listObjects({ prefix: source, token });
      objects.push(...page.objects);
      token = page.nextToken;
    } while (token !== null);
    const copied: string[] = [];
    try {
      await mapLimited(objects, MOVE_CONCURRENCY, async (object) => {
        const destination = target + object.key.slice(source.length);
        await this.#client.copyObject(object.key, destination, object.etag);
        copied.push(destination);
      });
    } catch (error) {
      await mapLimited(copied, MOVE_CONCURRENCY, (key) => this.#client.deleteObject(key))
        .catch(() => {});
      if (error instanceof S3Error && error.status === 412) {
        throw new HttpError(412, "A file in the directory changed during the move; nothing moved");
      }
      throw error;
    }
    await mapLimited(objects, MOVE_CONCURRENCY, (object) => this.#client.deleteObject(object.key));
  }

  /**
   * Makes way at a COPY or MOVE destination (the caller holds its lock):
   * 412 when something is there and `overwrite` is false, 409 when its
   * parent is not a directory; else removes what is there (a whole tree,
   * object by object) and returns what it was.
   */
  async #clearDestination(to: StoragePath, overwrite: boolean): Promise<StoredEntry | null> {
    const existing = await this.#stat(to);
    if (existing !== null && !overwrite) {
      throw new HttpError(412, "Destination exists and Overwrite is F");
    }
    await requireParentDirectory(to, (path) => this.#stat(path));
    if (existing?.kind === "file") await this.#client.deleteObject(this.key(to));
    if (existing?.kind === "directory") {
      if ((await this.#trees.removeDirectory(to)).length > 0) {
        throw new HttpError(500, "The destination could not be removed");
      }
    }
    if (existing !== null) await this.#trees.removeProperties(to);
    return existing;
  }

  removeTree(path: StoragePath, condition: WriteCondition): Promise<RemovalFailure[]> {
    return this.#mapped(async () => {
      if (path.length === 0) throw new HttpError(403, "ROOT cannot be deleted");
      return await this.#locks.run(this.key(path), async () => {
        const current = await this.#stat(path);
        if (current === null) throw new HttpError(404, "Not found");
        condition.check(current);
        if (current.kind === "file") await this.#client.deleteObject(this.key(path));
        const failures = current.kind === "file" ? [] : await this.#trees.removeDirectory(path);
        // Properties stay with what could not be removed.
        if (failures.length === 0) await this.#trees.removeProperties(path);
        return failures;
      });
    });
  }

  copy(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; depth: CopyDepth; condition: WriteCondition },
  ): Promise<boolean> {
    return this.#mapped(async () => {
      if (to.length === 0) throw new HttpError(403, "ROOT cannot be replaced");
      const source = this.key(from);
      const target = this.key(to);
      if (source === target) throw new HttpError(403, "Source and destination are the same");
      return await withLocks(this.#locks, [target], async () => {
        const current = await this.#stat(from);
        if (current === null) throw new HttpError(404, "Not found");
        const recursive = current.kind === "directory" && options.depth === "infinity";
        if (recursive && target.startsWith(this.#directoryPrefix(from))) {
          throw new HttpError(409, "Cannot copy a directory into itself");
        }
        options.condition.check(current);
        const existing = await this.#clearDestination(to, options.overwrite);
        if (current.kind === "directory") {
          await this.#trees.copyDirectory(from, to, recursive);
        } else {
          try {
            await this.#client.copyObject(source, target, current.etag);
          } catch (error) {
            if (error instanceof S3Error && error.status === 412) {
              throw new HttpError(412, "Precondition failed");
            }
            throw error;
          }
        }
        await this.#trees.copyProperties(from, to, recursive);
        return existing === null;
      });
    });
  }

  readProperties(path: StoragePath): Promise<Map<string, string>> {
    return this.#mapped(() => this.#trees.readProperties(path));
  }

  memberProperties(path: StoragePath): Promise<Map<string, Map<string, string>>> {
    return this.#mapped(() => this.#trees.memberProperties(path));
  }

  writeProperties(path: StoragePath, changes: ReadonlyMap<string, string | null>): Promise<void> {
    return this.#mapped(async () => {
      await this.#locks.run(this.key(path), async () => {
        if ((await this.#stat(path)) === null) throw new HttpError(404, "Not found");
        await this.#trees.writeProperties(path, changes);
      });
    });
  }

  /** S3 keeps the time an object was written and lets no one set it: always false. */
  setModified(): Promise<boolean> {
    return Promise.resolve(false);
  }

  /** An S3 bucket has no size limit to report: null (the quota properties are then 404). */
  stateDocument(name: string): StateDocument {
    return new S3StateDocument(this.#client, this.#prefix, name, this.#locks);
  }

  usage(): Promise<StorageUsage | null> {
    return Promise.resolve(null);
  }

  mkdir(path: StoragePath): Promise<boolean> {
    return this.#mapped(async () => {
      if (path.length === 0) return false;
      return await this.#locks.run(this.key(path), async () => {
        const current = await this.#statForWrite(path);
        if (current?.kind === "directory") return false;
        if (current !== null) throw new HttpError(409, "A file exists at that path");
        try {
          await this.#client.putObject(this.#directoryPrefix(path), new Uint8Array(0), {
            ...putConditionHeaders(null),
          });
        } catch (error) {
          // Made by another instance just now (or a store failure, if it is not there).
          if (conditionalWriteLost(error) && (await this.#stat(path))?.kind === "directory") {
            return false;
          }
          throw error;
        }
        return true;
      });
    });
  }

  #own(staged: StagedFile): S3StagedFile {
    if (!(staged instanceof S3StagedFile)) throw new TypeError("Not staged by this store");
    return staged;
  }
}

/**
 * Opens the store of an `s3://bucket/prefix` root: resolves the
 * configuration (see {@linkcode resolveS3Config}) and checks with one
 * listing that the bucket answers to these credentials. The error says
 * what failed (no credentials, no bucket, no answer), never a secret.
 */
export async function openS3Storage(
  root: string,
  options: S3Options,
  locks: KeyedLock,
): Promise<{ storage: S3Storage; label: string; endpoint: string }> {
  const config = await resolveS3Config(root, options);
  const client = new S3Client(config);
  const label = describeS3Location(config);
  try {
    await client.probe(config.prefix);
  } catch (error) {
    const reason = error instanceof S3Error
      ? (error.code === "Unreachable" ? "no answer" : `${error.status} ${error.code}`)
      : String(error);
    throw new S3ConfigError(`cannot use ${label} at ${config.endpoint}: ${reason}`);
  }
  return {
    storage: new S3Storage({ client, prefix: config.prefix, locks }),
    label,
    endpoint: config.endpoint,
  };
}
