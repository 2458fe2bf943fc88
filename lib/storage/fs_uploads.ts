/**
 * Resumable uploads on the file system: the {@linkcode UploadStore} of an
 * {@linkcode FsStorage}, whose files are the truth, so that any worker or
 * instance serving ROOT can take a request for any upload.
 *
 * Each upload has a claim file, `ROOT/.filedrop-tmp-state/uploads/<key>`,
 * holding its target's path (how any process finds it) and locked (`flock`)
 * by whichever process holds the upload ({@linkcode UploadStore.claim}):
 * nothing cuts data that is being written. Beside the target lie the partial
 * data and a JSON sidecar that records the {@linkcode UploadRecord} and the
 * last *checkpointed* offset: the data up to it was flushed before the
 * sidecar said so. A claim cuts the data back to that offset, so an upload
 * survives a restart or a crash and the offset a client was told never goes
 * backwards. Both files are named with {@linkcode UPLOAD_TEMP_PREFIX} and the
 * key (the SHA-256 of the token, never the token: a local user who can list a
 * directory must not learn it), so they are never served, listed or writable
 * by URL. At start-up a walk of ROOT removes expired uploads and debris.
 *
 * @module
 */

import * as path from "node:path";
import { HttpError } from "../http/errors.ts";
import { makeParents, syncDirectory } from "./durability.ts";
import { writeErrorToHttp } from "./fs_errors.ts";
import { checkWriteInside, toFsPath } from "./fs_path.ts";
import type { FsStorage } from "./fs.ts";
import type { KeyedLock } from "./keyed_lock.ts";
import type { Committed, StoragePath, StoredEntry, WriteCondition } from "./storage.ts";
import { directoriesUnder, STATE_DIR, UPLOAD_TEMP_PREFIX } from "./temp_files.ts";
import { removeExpired } from "./uploads.ts";
import type { UploadClaim, UploadRecord, UploadStatus, UploadStore } from "./uploads.ts";

const KEY = /^[0-9a-f]{64}$/;
const SIDECAR_SUFFIX = ".json";
const STAGING_SUFFIX = ".new";
const READ_BYTES = 256 * 1024;
const encoder = new TextEncoder();

/** The sidecar file: the record and the acknowledged offset. */
interface Sidecar extends UploadRecord {
  version: 1;
  offset: number;
}

/** Where one upload's files are. */
interface Paths {
  key: string;
  segments: string[];
  fsPath: string;
  dataPath: string;
  sidecarPath: string;
  claimPath: string;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

async function removeIfPresent(filePath: string): Promise<void> {
  try {
    await Deno.remove(filePath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function parseSidecar(text: string): Sidecar | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const record = value as Record<string, unknown>;
  const conditions = record.conditions;
  const valid = record.version === 1 &&
    Array.isArray(record.segments) && record.segments.every((s) => typeof s === "string") &&
    typeof record.method === "string" &&
    typeof conditions === "object" && conditions !== null &&
    Object.values(conditions).every((v) => typeof v === "string") &&
    (record.reprDigest === null || typeof record.reprDigest === "string") &&
    typeof record.expiresAt === "number" &&
    (record.length === null || isCount(record.length)) && isCount(record.offset);
  return valid ? record as unknown as Sidecar : null;
}

async function readSidecar(sidecarPath: string): Promise<Sidecar | null> {
  try {
    return parseSidecar(await Deno.readTextFile(sidecarPath));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function recordOf(sidecar: Sidecar): UploadRecord {
  return {
    segments: sidecar.segments,
    method: sidecar.method,
    conditions: sidecar.conditions,
    reprDigest: sidecar.reprDigest,
    expiresAt: sidecar.expiresAt,
    length: sidecar.length,
  };
}

/** Settings of an {@linkcode FsUploadStore}. */
export interface FsUploadOptions {
  /** The store completed uploads are committed to; partial data lives under its ROOT. */
  storage: FsStorage;
  /** Flush data, sidecars and directories before acknowledging bytes. */
  fsync: boolean;
  /** The server's per-path locks (shared with PUT, so a completion and a PUT never interleave). */
  locks: KeyedLock;
}

/** Resumable uploads beside their targets under ROOT. See the module documentation. */
export class FsUploadStore implements UploadStore {
  readonly #storage: FsStorage;
  readonly #rootReal: string;
  readonly #claims: string;
  readonly #fsync: boolean;
  readonly #locks: KeyedLock;
  #closed = false;
  readonly restored: Promise<number>;

  /** Starts the walk of ROOT that checks the uploads of earlier runs. */
  constructor(options: FsUploadOptions) {
    this.#storage = options.storage;
    this.#rootReal = options.storage.rootReal;
    this.#claims = path.join(this.#rootReal, STATE_DIR, "uploads");
    this.#fsync = options.fsync;
    this.#locks = options.locks;
    this.restored = this.#restore();
  }

  /** Stops the restoring walk. Uploads on disk stay for the next run. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.restored;
  }

  checkTarget(target: StoragePath): Promise<void> {
    try {
      checkWriteInside(this.#rootReal, this.#storage.fsPath(target));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #paths(key: string, segments: string[]): Paths {
    const fsPath = toFsPath(this.#rootReal, segments);
    const directory = path.dirname(fsPath);
    return {
      key,
      segments,
      fsPath,
      dataPath: path.join(directory, UPLOAD_TEMP_PREFIX + key),
      sidecarPath: path.join(directory, UPLOAD_TEMP_PREFIX + key + SIDECAR_SUFFIX),
      claimPath: path.join(this.#claims, key),
    };
  }

  async create(key: string, record: UploadRecord): Promise<UploadClaim> {
    const paths = this.#paths(key, record.segments);
    let claimFile: Deno.FsFile | null = null;
    try {
      await Deno.mkdir(this.#claims, { recursive: true });
      claimFile = await Deno.open(paths.claimPath, { read: true, write: true, createNew: true });
      await claimFile.lock(true);
      await writeAll(claimFile, encoder.encode(JSON.stringify(record.segments)));
      const directory = path.dirname(paths.fsPath);
      const createdDirectories = await makeParents(directory);
      (await Deno.open(paths.dataPath, { write: true, createNew: true, mode: 0o600 })).close();
      const claim = new FsUploadClaim(this, paths, record, 0, claimFile);
      await claim.writeSidecar(0);
      if (this.#fsync) {
        for (const created of createdDirectories) await syncDirectory(path.dirname(created));
      }
      return claim;
    } catch (error) {
      await removeFiles(paths).catch(() => {});
      if (claimFile !== null) await removeIfPresent(paths.claimPath).catch(() => {});
      claimFile?.close();
      throw writeErrorToHttp(error) ?? error;
    }
  }

  /** The upload's paths from its claim file, or null when there is none. */
  async #find(key: string): Promise<Paths | null> {
    if (!KEY.test(key)) return null;
    let segments: unknown;
    try {
      segments = JSON.parse(await Deno.readTextFile(path.join(this.#claims, key)));
    } catch {
      return null;
    }
    if (!Array.isArray(segments) || !segments.every((s) => typeof s === "string")) return null;
    try {
      return this.#paths(key, segments);
    } catch {
      return null; // Segments that are not a path under ROOT.
    }
  }

  async status(key: string): Promise<UploadStatus | null> {
    const paths = await this.#find(key);
    const sidecar = paths && await readSidecar(paths.sidecarPath);
    return sidecar === null ? null : { record: recordOf(sidecar), offset: sidecar.offset };
  }

  async claim(key: string): Promise<UploadClaim | null> {
    const paths = await this.#find(key);
    if (paths === null) throw new HttpError(404, "No such upload");
    let claimFile: Deno.FsFile;
    try {
      claimFile = await Deno.open(paths.claimPath, { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new HttpError(404, "No such upload");
      throw error;
    }
    if (!(await claimFile.tryLock(true))) {
      claimFile.close();
      return null;
    }
    try {
      const sidecar = await readSidecar(paths.sidecarPath);
      if (sidecar === null) throw new HttpError(404, "No such upload");
      const size = await Deno.stat(paths.dataPath).then((info) => info.size, () => -1);
      if (size < sidecar.offset) {
        // Its acknowledged data is lost: the upload cannot go on.
        await removeFiles(paths);
        await removeIfPresent(paths.claimPath);
        throw new HttpError(404, "No such upload");
      }
      // Bytes past the checkpoint were never acknowledged (a crash's): cut them.
      if (size > sidecar.offset) await Deno.truncate(paths.dataPath, sidecar.offset);
      return new FsUploadClaim(this, paths, recordOf(sidecar), sidecar.offset, claimFile);
    } catch (error) {
      claimFile.close();
      throw error;
    }
  }

  async sweep(now: number): Promise<number> {
    let keys: string[];
    try {
      keys = (await Array.fromAsync(Deno.readDir(this.#claims))).map((entry) => entry.name);
    } catch {
      return 0;
    }
    return await removeExpired(
      this,
      keys,
      now,
      async (key) => (await this.status(key))?.record ?? null,
    );
  }

  /** For a claim: runs `task` under the upload's in-process lock. */
  locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.#locks.run(`upload:${key}`, task);
  }

  /** For a claim: the settings it needs. */
  get settings(): { fsync: boolean; storage: FsStorage } {
    return { fsync: this.#fsync, storage: this.#storage };
  }

  /**
   * Walks ROOT (never following symlinks) and checks the uploads of earlier
   * runs: expired or damaged ones are removed, data or staging files without
   * a sidecar are removed, and an upload from before claim files gets one.
   */
  async #restore(): Promise<number> {
    let restored = 0;
    for await (const { directory, entries } of directoriesUnder(this.#rootReal)) {
      if (this.#closed) break;
      const names = new Set<string>();
      for (const entry of entries) {
        if (entry.isFile && entry.name.startsWith(UPLOAD_TEMP_PREFIX)) names.add(entry.name);
      }
      for (const name of names) {
        try {
          if (await this.#restoreFile(directory, name, names)) restored++;
        } catch {
          // Unreadable or not ours to change: leave it for the next start.
        }
      }
    }
    return restored;
  }

  /** Handles one prefixed file found by {@linkcode FsUploadStore.#restore}; true for a live upload. */
  async #restoreFile(directory: string, name: string, siblings: Set<string>): Promise<boolean> {
    const rest = name.slice(UPLOAD_TEMP_PREFIX.length);
    const key = rest.slice(0, 64);
    const suffix = rest.slice(64);
    if (!KEY.test(key)) return false;
    const fullPath = path.join(directory, name);
    if (suffix !== SIDECAR_SUFFIX) {
      // Data whose sidecar never got written, or a staging file: debris of a crash.
      if (suffix !== "" || !siblings.has(name + SIDECAR_SUFFIX)) {
        if (!(await this.#heldByAnyone(key))) await removeIfPresent(fullPath);
      }
      return false;
    }
    const sidecar = await readSidecar(fullPath);
    let paths: Paths | null = null;
    try {
      if (sidecar !== null && sidecar.segments.length > 0) {
        paths = this.#paths(key, sidecar.segments);
      }
    } catch {
      paths = null;
    }
    const dataPath = path.join(directory, UPLOAD_TEMP_PREFIX + key);
    if (
      sidecar === null || paths === null || path.dirname(paths.fsPath) !== directory ||
      sidecar.expiresAt <= Date.now()
    ) {
      // Expired or damaged: the upload cannot go on.
      if (await this.#heldByAnyone(key)) return false;
      await removeIfPresent(dataPath);
      await removeIfPresent(fullPath);
      await removeIfPresent(path.join(this.#claims, key));
      return false;
    }
    if ((await this.#find(key)) === null) {
      // An upload of an earlier version, from before claim files: make its own now.
      await Deno.mkdir(this.#claims, { recursive: true });
      await Deno.writeTextFile(path.join(this.#claims, key), JSON.stringify(sidecar.segments));
    }
    const size = await Deno.stat(dataPath).then((info) => info.size, () => -1);
    if (size !== sidecar.offset) {
      // Bytes past the checkpoint (a crash's) are cut, lost acknowledged data ends the
      // upload; unless a process holds it now (it is writing them).
      const claim = await this.claim(key).catch(() => null);
      await claim?.release();
    }
    return size >= sidecar.offset;
  }

  /** Whether a process holds the claim of upload `key` now (one being created has no sidecar yet). */
  async #heldByAnyone(key: string): Promise<boolean> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path.join(this.#claims, key), { read: true, write: true });
    } catch {
      return false;
    }
    try {
      return !(await file.tryLock(true));
    } finally {
      file.close();
    }
  }
}

/** A claimed upload on the file system: its data file open for appending. */
class FsUploadClaim implements UploadClaim {
  readonly #store: FsUploadStore;
  readonly #paths: Paths;
  readonly record: UploadRecord;
  #offset: number;
  #written: number;
  #claimFile: Deno.FsFile | null;
  #data: Deno.FsFile | null = null;

  constructor(
    store: FsUploadStore,
    paths: Paths,
    record: UploadRecord,
    offset: number,
    claimFile: Deno.FsFile,
  ) {
    this.#store = store;
    this.#paths = paths;
    this.record = record;
    this.#offset = offset;
    this.#written = offset;
    this.#claimFile = claimFile;
  }

  get offset(): number {
    return this.#offset;
  }

  get written(): number {
    return this.#written;
  }

  async setLength(length: number): Promise<void> {
    this.record.length = length;
    await this.#store.locked(this.#paths.key, () => this.writeSidecar(this.#offset));
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#data === null) {
      try {
        this.#data = await Deno.open(this.#paths.dataPath, { write: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        throw new HttpError(404, "No such upload"); // Removed behind our back.
      }
      await this.#data.truncate(this.#written);
      await this.#data.seek(this.#written, Deno.SeekMode.Start);
    }
    try {
      await writeAll(this.#data, chunk);
    } catch (error) {
      throw writeErrorToHttp(error) ?? error;
    }
    this.#written += chunk.length;
  }

  async checkpoint(): Promise<void> {
    if (this.#written === this.#offset) return;
    if (this.#store.settings.fsync) await this.#data?.syncData();
    const offset = this.#written;
    await this.#store.locked(this.#paths.key, () => this.writeSidecar(offset));
    this.#offset = offset;
  }

  async rollback(): Promise<boolean> {
    await this.#data?.truncate(this.#offset);
    this.#written = this.#offset;
    return true;
  }

  async *read(): AsyncIterable<Uint8Array> {
    using file = await Deno.open(this.#paths.dataPath);
    const buffer = new Uint8Array(READ_BYTES);
    let left = this.#offset;
    while (left > 0) {
      const n = await file.read(buffer.subarray(0, Math.min(left, buffer.length)));
      if (n === null) throw new Error("The upload's data is shorter than its offset");
      left -= n;
      yield buffer.subarray(0, n);
    }
  }

  async complete(condition: WriteCondition): Promise<Committed> {
    const { storage, fsync } = this.#store.settings;
    this.#data?.close();
    this.#data = null;
    const [committed] = await this.#store.locked(this.#paths.key, async () => {
      const staged = await storage.adopt(this.#paths.segments, this.#paths.dataPath);
      return await storage.commit([{
        staged,
        condition: { check: (current: StoredEntry | null) => condition.check(current) },
      }]);
    });
    await removeIfPresent(this.#paths.sidecarPath).catch(() => {});
    await removeIfPresent(this.#paths.claimPath).catch(() => {});
    if (fsync) await syncDirectory(path.dirname(this.#paths.fsPath));
    return committed;
  }

  async remove(): Promise<void> {
    this.#data?.close();
    this.#data = null;
    await this.#store.locked(this.#paths.key, async () => {
      await removeFiles(this.#paths);
      await removeIfPresent(this.#paths.claimPath);
    });
  }

  release(): Promise<void> {
    this.#data?.close();
    this.#data = null;
    this.#claimFile?.close(); // Closing the file unlocks it.
    this.#claimFile = null;
    return Promise.resolve();
  }

  /** Replaces the sidecar atomically (staging file + rename). */
  async writeSidecar(offset: number): Promise<void> {
    const record: Sidecar = {
      version: 1,
      ...this.record,
      conditions: Object.fromEntries(
        Object.entries(this.record.conditions).filter(([, value]) => value !== undefined),
      ),
      offset,
    };
    const { fsync } = this.#store.settings;
    const staging = this.#paths.sidecarPath + STAGING_SUFFIX;
    {
      using file = await Deno.open(staging, {
        write: true,
        create: true,
        truncate: true,
        mode: 0o600,
      });
      await writeAll(file, encoder.encode(JSON.stringify(record)));
      if (fsync) await file.syncData();
    }
    await Deno.rename(staging, this.#paths.sidecarPath);
    if (fsync) await syncDirectory(path.dirname(this.#paths.sidecarPath));
  }
}

async function removeFiles(paths: Paths): Promise<void> {
  await removeIfPresent(paths.dataPath);
  await removeIfPresent(paths.sidecarPath);
  await removeIfPresent(paths.sidecarPath + STAGING_SUFFIX);
}
