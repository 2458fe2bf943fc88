/**
 * Resumable uploads (draft-ietf-httpbis-resumable-upload, interop version 8).
 *
 * A PUT or POST carrying `Upload-Complete` creates an upload resource at
 * {@linkcode UPLOAD_PATH_PREFIX}`<token>`, announced in a `104 Upload
 * Resumption Supported` before the body is read. The client can then ask for
 * the offset (HEAD), append from it (PATCH, `application/partial-upload`) and
 * cancel (DELETE). When the last byte arrives with `Upload-Complete: ?1`, the
 * data is renamed into place exactly like a PUT: the target's preconditions
 * from the creation request are checked again, and a reader sees the old file
 * or the new one, never a part.
 *
 * State: the files are the truth, so that any worker or instance serving ROOT
 * can take a request for any upload. Each upload has a claim file,
 * `ROOT/.filedrop-tmp-state/uploads/<key>`, holding its target's path (how
 * another instance finds it) and locked (`flock`) by whichever process is
 * transferring data to it, completing or cancelling it: a second one gets 409
 * and `Retry-After`, and nothing cuts data that is being written. An in-memory
 * record per upload caches the sidecar; it is read again before each request
 * acts (another instance may have appended). Beside the target lie the
 * partial data and a JSON sidecar that records the target, the preconditions
 * and the last *checkpointed* offset: the data up to it was flushed before the
 * sidecar said so. At start-up the sidecars are read back and the data is cut
 * to that offset, so an upload survives a restart or a crash, and the offset
 * a client was told never goes backwards. Both files are named with
 * {@linkcode UPLOAD_TEMP_PREFIX} and the SHA-256 of the token (never the token:
 * a local user who can list a directory must not learn it), so they are
 * never served, listed or writable by URL.
 *
 * @module
 */

import { createHash } from "node:crypto";
import * as path from "node:path";
import { UploadDigests } from "../content/digest.ts";
import { makeParents, syncDirectory } from "../storage/durability.ts";
import { writeErrorToHttp } from "../storage/fs_errors.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import type { HeaderList } from "../http/serialize.ts";
import type { KeyedLock } from "../storage/keyed_lock.ts";
import { checkWriteInside, toFsPath } from "../storage/fs_path.ts";
import { encodeUrlPath } from "./url_path.ts";
import { directoriesUnder, STATE_DIR, UPLOAD_TEMP_PREFIX } from "../storage/temp_files.ts";
import { writeCondition } from "../content/preconditions.ts";
import type { ConditionalHeaders } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { FsStorage } from "../storage/fs.ts";
import type { Committed, StoredEntry } from "../storage/storage.ts";

/** Where upload resources live: `UPLOAD_PATH_PREFIX + token`. */
export const UPLOAD_PATH_PREFIX = "/.well-known/filedrop-uploads/";

/** The draft interop version implemented (drafts -09 and later), sent in every 104. */
export const INTEROP_VERSION = 8;

/** The media type of an append (PATCH) request, and the `Accept-Patch` value. */
export const PARTIAL_UPLOAD_TYPE = "application/partial-upload";

/** Settings of {@linkcode ResumableUploads}. */
export interface ResumableOptions {
  /**
   * The store a completed upload is committed to. Partial data lives on its
   * disk, beside the target, until then.
   */
  storage: FsStorage;
  /** Flush data, sidecars and directories before acknowledging bytes. */
  fsync: boolean;
  /** The server's per-path locks (shared with PUT, so a completion and a PUT never interleave). */
  locks: KeyedLock;
  /** Largest whole upload in bytes (`max-size`); Infinity for none. */
  maxBodyBytes: number;
  /** Lifetime of an upload resource from its creation; default 24 hours. */
  expiryMs?: number;
  /** How often expired uploads are removed; default every 5 minutes (or the lifetime, if shorter). */
  sweepIntervalMs?: number;
}

const DEFAULT_EXPIRY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_SWEEP_INTERVAL_MS = 5 * 60 * 1000;
/** A long transfer is checkpointed (flushed, offset recorded, progress 104 sent) this often. */
const CHECKPOINT_BYTES = 16 * 1024 * 1024;
const CHECKPOINT_MS = 5_000;
const TOKEN = /^[A-Za-z0-9_-]{22}$/;
const KEY = /^[0-9a-f]{64}$/;
const SIDECAR_SUFFIX = ".json";
const STAGING_SUFFIX = ".new";
const PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types#";
const encoder = new TextEncoder();

/**
 * Parses a Structured Field Boolean (`?1`, `?0`, parameters allowed), or null
 * when absent or malformed; the draft says a malformed field is ignored.
 */
export function parseStructuredBoolean(value: string | undefined): boolean | null {
  const match = value === undefined ? null : /^ *\?([01])((?:;[^;,]*)*) *$/.exec(value);
  return match === null ? null : match[1] === "1";
}

/**
 * Parses a non-negative Structured Field Integer (at most 15 digits,
 * parameters allowed), or null when absent, negative or malformed.
 */
export function parseStructuredInteger(value: string | undefined): number | null {
  const match = value === undefined ? null : /^ *([0-9]{1,15})((?:;[^;,]*)*) *$/.exec(value);
  return match === null ? null : Number(match[1]);
}

/** Whether `Content-Type` names `application/partial-upload` (parameters ignored). */
function isPartialUpload(contentType: string | undefined): boolean {
  return contentType?.split(";")[0].trim().toLowerCase() === PARTIAL_UPLOAD_TYPE;
}

/**
 * Whether 104 responses may be sent: only HTTP/1.1 has interim responses, and
 * a draft server must not send one to a client of another interop version.
 */
function speaksInterop(request: Request): boolean {
  return request.minorVersion === 1 &&
    parseStructuredInteger(request.headers.get("upload-draft-interop-version")) ===
      INTEROP_VERSION;
}

/** 128 random bits, base64url without padding (22 characters). */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function keyOf(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** What the server keeps about one upload. */
interface Upload {
  /** SHA-256 of the token, hex: the map key and the file names. */
  readonly key: string;
  readonly segments: readonly string[];
  readonly fsPath: string;
  readonly dataPath: string;
  readonly sidecarPath: string;
  /** The creation request's method and preconditions, checked again at completion. */
  readonly method: string;
  readonly conditions: ConditionalHeaders;
  /** The creation request's `Repr-Digest`, verified over the whole upload. */
  readonly reprDigestField: string | null;
  readonly expiresAt: number;
  /** The announced total length, once known. */
  length: number | null;
  /** Bytes acknowledged: flushed and recorded in the sidecar. */
  offset: number;
  /** active: data on disk; complete: finished (kept for HEAD until expiry); gone: cancelled or expired. */
  state: "active" | "complete" | "gone";
  /** A request of this process is transferring data (creation or append), or cancelling. */
  busy: boolean;
  /** The locked claim file while `busy` (see {@linkcode ResumableUploads.#claim}). */
  claim: Deno.FsFile | null;
  /** Hashes of exactly the bytes [0, offset), or null when they must be recomputed from the file. */
  reprDigests: UploadDigests | null;
}

/** The sidecar file: what a restarted server needs to resume an upload. */
interface Sidecar {
  version: 1;
  segments: string[];
  method: string;
  conditions: ConditionalHeaders;
  reprDigest: string | null;
  expiresAt: number;
  length: number | null;
  offset: number;
}

/** An error answered as an RFC 9457 problem document, with a draft problem type. */
class UploadProblem extends HttpError {
  readonly type: string;
  readonly members: Record<string, number>;

  constructor(
    status: number,
    type: string,
    title: string,
    members: Record<string, number> = {},
    headers: Record<string, string> = {},
  ) {
    super(status, title, headers);
    this.type = type;
    this.members = members;
  }

  toResponse(): Response {
    const document = { type: PROBLEM_TYPES + this.type, title: this.message, ...this.members };
    return {
      status: this.status,
      headers: [["Content-Type", "application/problem+json"], ...Object.entries(this.headers)],
      body: encoder.encode(`${JSON.stringify(document)}\n`),
    };
  }
}

function inconsistentLength(): UploadProblem {
  return new UploadProblem(
    400,
    "inconsistent-upload-length",
    "Inconsistent length values for the upload",
  );
}

/** Runs a handler, answering an {@linkcode UploadProblem} with its problem document. */
async function answeringProblems(task: () => Promise<Response>): Promise<Response> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof UploadProblem) return error.toResponse();
    throw error;
  }
}

/** The same error with `Upload-Complete: ?1`: the upload is over, resuming cannot help. */
function final(error: HttpError): HttpError {
  return new HttpError(error.status, error.message, { ...error.headers, "Upload-Complete": "?1" });
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

function reprDigestsFor(field: string | null): UploadDigests {
  return UploadDigests.fromHeaders(field === null ? new Map() : new Map([["repr-digest", field]]));
}

/** Digests of this request's content alone (`Content-Digest`, `Content-MD5`), or null for none. */
function contentDigestsOf(request: Request): UploadDigests | null {
  const fields = new Map<string, string>();
  for (const name of ["content-digest", "content-md5"]) {
    const value = request.headers.get(name);
    if (value !== undefined) fields.set(name, value);
  }
  return fields.size === 0 ? null : UploadDigests.fromHeaders(fields);
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

/**
 * The resumable-upload endpoints of one server. Route creation requests
 * ({@linkcode ResumableUploads.isCreation}) on file targets to
 * {@linkcode ResumableUploads.handleCreation}, and every request under
 * {@linkcode UPLOAD_PATH_PREFIX} to {@linkcode ResumableUploads.handleResource};
 * call {@linkcode ResumableUploads.close} at shutdown.
 */
export class ResumableUploads {
  readonly #storage: FsStorage;
  readonly #rootReal: string;
  /** Where the claim files are. */
  readonly #claims: string;
  readonly #fsync: boolean;
  readonly #locks: KeyedLock;
  readonly #maxBodyBytes: number;
  readonly #expiryMs: number;
  readonly #uploads = new Map<string, Upload>();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closed = false;
  /** Settles with the number of uploads read back from earlier runs (a background walk of ROOT). */
  readonly restored: Promise<number>;

  /**
   * Starts the expiry sweep and the restoring walk of ROOT.
   *
   * @throws {RangeError} when `expiryMs` is not a positive, finite number
   */
  constructor(options: ResumableOptions) {
    this.#storage = options.storage;
    this.#rootReal = options.storage.rootReal;
    this.#claims = path.join(this.#rootReal, STATE_DIR, "uploads");
    this.#fsync = options.fsync;
    this.#locks = options.locks;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#expiryMs = options.expiryMs ?? DEFAULT_EXPIRY_MS;
    // A sidecar records the expiry as a JSON number: Infinity would not survive a restart.
    if (!Number.isFinite(this.#expiryMs) || this.#expiryMs <= 0) {
      throw new RangeError("expiryMs must be a positive, finite number of milliseconds");
    }
    const interval = options.sweepIntervalMs ??
      Math.min(DEFAULT_SWEEP_INTERVAL_MS, Math.max(1000, this.#expiryMs));
    this.#sweeper = setInterval(() => this.sweep().catch(() => {}), interval);
    Deno.unrefTimer(this.#sweeper);
    this.restored = this.#restore();
  }

  /** Stops the expiry sweep and the restoring walk. Uploads on disk stay for the next run. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
  }

  /**
   * Whether `request` creates a resumable upload: a PUT or POST with a valid
   * `Upload-Complete`. A complete body from a client that cannot be told the
   * upload's URI (HTTP/1.0, or no matching `Upload-Draft-Interop-Version`)
   * is not: the draft lets the server ignore the field, and a plain PUT
   * serves it better. The caller routes only file targets (no trailing "/").
   */
  isCreation(request: Request): boolean {
    if (request.method !== "PUT" && request.method !== "POST") return false;
    const complete = parseStructuredBoolean(request.headers.get("upload-complete"));
    return complete === false || (complete === true && speaksInterop(request));
  }

  /**
   * Creates an upload for the file at URL path `segments`, sends
   * the 104 with its `Location`, and stores the body. With `Upload-Complete:
   * ?1` and the whole body, answers like a PUT (201 or 204, ETag) plus
   * `Upload-Complete: ?1`; otherwise 201 with the upload's `Location` and
   * `Upload-Offset`. Bytes of an interrupted body are kept when the client
   * got the 104 and can resume.
   */
  handleCreation(request: Request, segments: readonly string[]): Promise<Response> {
    return answeringProblems(() => this.#create(request, segments, this.#storage.fsPath(segments)));
  }

  /**
   * Serves `UPLOAD_PATH_PREFIX + token`: HEAD (offset), PATCH (append, and
   * completion with `Upload-Complete: ?1`), DELETE (cancel), OPTIONS. An
   * unknown, malformed or expired token is 404 whatever the method.
   */
  handleResource(request: Request, token: string): Promise<Response> {
    return answeringProblems(async () => {
      // An upload of an earlier run may not be read back yet; one created by
      // another instance is found through its claim file.
      const upload = this.#lookup(token) ??
        await this.restored.then(() => this.#lookup(token)) ??
        await this.#find(token);
      if (upload === null) throw new HttpError(404, "No such upload");
      switch (request.method) {
        case "HEAD":
          if (!(await this.#reload(upload))) throw new HttpError(404, "No such upload");
          return { status: 204, headers: this.#stateHeaders(upload) };
        case "PATCH":
          return await this.#append(upload, request);
        case "DELETE":
          await this.#exclusively(upload, () => this.#forget(upload));
          return { status: 204, headers: [] };
        case "OPTIONS":
          return { status: 204, headers: [["Allow", "HEAD, PATCH, DELETE, OPTIONS"]] };
        default:
          throw new HttpError(405, "Method not allowed", {
            Allow: "HEAD, PATCH, DELETE, OPTIONS",
          });
      }
    });
  }

  /**
   * Headers that advertise resumable uploads in an OPTIONS response for a
   * writable file target (the draft requires `Accept-Patch`).
   */
  discoveryHeaders(): HeaderList {
    return [
      ["Accept-Patch", PARTIAL_UPLOAD_TYPE],
      ["Upload-Limit", this.#limitField(Date.now() + this.#expiryMs)],
    ];
  }

  /** Removes every expired upload and its files; returns how many. Also run by the timer. */
  async sweep(now: number = Date.now()): Promise<number> {
    let removed = 0;
    for (const upload of [...this.#uploads.values()]) {
      if (upload.expiresAt > now) continue;
      await this.#forget(upload);
      removed++;
    }
    return removed;
  }

  #lookup(token: string): Upload | null {
    if (!TOKEN.test(token)) return null;
    const upload = this.#uploads.get(keyOf(token));
    if (upload === undefined || upload.expiresAt <= Date.now()) return null;
    return upload;
  }

  /** The `Upload-Limit` value for an upload expiring at `expiresAt`. */
  #limitField(expiresAt: number): string {
    const maxAge = `max-age=${Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))}`;
    return Number.isFinite(this.#maxBodyBytes)
      ? `max-size=${this.#maxBodyBytes}, ${maxAge}`
      : maxAge;
  }

  #stateHeaders(upload: Upload): HeaderList {
    const headers: HeaderList = [
      ["Upload-Offset", String(upload.offset)],
      ["Upload-Complete", upload.state === "complete" ? "?1" : "?0"],
    ];
    if (upload.length !== null) headers.push(["Upload-Length", String(upload.length)]);
    headers.push(["Upload-Limit", this.#limitField(upload.expiresAt)]);
    headers.push(["Cache-Control", "no-store"]);
    return headers;
  }

  #tooLarge(expiresAt: number): HttpError {
    return new HttpError(413, "The upload is larger than this server accepts", {
      "Upload-Limit": this.#limitField(expiresAt),
    });
  }

  /**
   * The upload's length after this request: the known one, `Upload-Length`,
   * or offset + Content-Length when the request completes the upload. They
   * must agree (400), and fit in `max-size` (413).
   */
  #agreedLength(
    known: number | null,
    request: Request,
    offset: number,
    complete: boolean,
    expiresAt: number,
  ): number | null {
    let length = known;
    const declared = parseStructuredInteger(request.headers.get("upload-length"));
    const implied = complete && request.headers.has("content-length")
      ? offset + (request.body.length ?? 0)
      : null;
    for (const candidate of [declared, implied]) {
      if (candidate === null) continue;
      if (length !== null && candidate !== length) throw inconsistentLength();
      length = candidate;
    }
    if (length !== null && length < offset) throw inconsistentLength();
    if (length !== null && length > this.#maxBodyBytes) throw this.#tooLarge(expiresAt);
    return length;
  }

  async #create(request: Request, segments: readonly string[], fsPath: string): Promise<Response> {
    const complete = parseStructuredBoolean(request.headers.get("upload-complete"));
    if (complete === null) throw new HttpError(400, "Invalid Upload-Complete");
    if (
      complete && !request.headers.has("content-length") &&
      !request.headers.has("transfer-encoding")
    ) {
      throw new HttpError(411, "A complete upload needs Content-Length or chunked encoding");
    }
    const expiresAt = Date.now() + this.#expiryMs;
    const length = this.#agreedLength(null, request, 0, complete, expiresAt);
    const reprDigestField = request.headers.get("repr-digest") ?? null;
    // Both parse the digest fields: a malformed one is 400 before any work.
    const reprDigests = reprDigestsFor(reprDigestField);
    contentDigestsOf(request);
    await checkWriteInside(this.#rootReal, fsPath);
    const conditions = conditionalHeaders(request);
    writeCondition(request.method, conditions).check(await this.#storage.stat(segments));

    const token = newToken();
    const key = keyOf(token);
    const directory = path.dirname(fsPath);
    const upload: Upload = {
      key,
      segments: [...segments],
      fsPath,
      dataPath: path.join(directory, UPLOAD_TEMP_PREFIX + key),
      sidecarPath: path.join(directory, UPLOAD_TEMP_PREFIX + key + SIDECAR_SUFFIX),
      method: request.method,
      conditions,
      reprDigestField,
      expiresAt,
      length,
      offset: 0,
      state: "active",
      busy: true,
      claim: null,
      reprDigests,
    };
    // Registered (and claimed) before its files exist, so that no restoring walk,
    // here or in another instance, takes them for debris.
    this.#uploads.set(key, upload);
    try {
      upload.claim = await this.#claim(upload, true);
      const createdDirectories = await makeParents(directory);
      (await Deno.open(upload.dataPath, { write: true, createNew: true, mode: 0o600 })).close();
      await this.#writeSidecar(upload, 0);
      if (this.#fsync) {
        for (const created of createdDirectories) await syncDirectory(path.dirname(created));
      }
    } catch (error) {
      await this.#forget(upload).catch(() => {});
      throw writeErrorToHttp(error) ?? error;
    }

    const location = UPLOAD_PATH_PREFIX + token;
    const announce = speaksInterop(request);
    try {
      if (announce) {
        await request.informational(104, [
          ["Location", location],
          ["Upload-Limit", this.#limitField(expiresAt)],
          ["Upload-Draft-Interop-Version", String(INTEROP_VERSION)],
        ]);
      }
      // Without the 104 the client cannot know where to resume: an interrupted body is dropped.
      await this.#receive(upload, request, { announce, keepPartial: announce });
      if (complete) return await this.#finish(upload);
      return {
        status: 201,
        headers: [
          ["Location", location],
          ["Upload-Complete", "?0"],
          ["Upload-Offset", String(upload.offset)],
          ["Upload-Limit", this.#limitField(expiresAt)],
        ],
      };
    } finally {
      this.#release(upload);
      upload.busy = false;
    }
  }

  async #append(upload: Upload, request: Request): Promise<Response> {
    if (!isPartialUpload(request.headers.get("content-type"))) {
      throw new HttpError(415, `Appending needs Content-Type: ${PARTIAL_UPLOAD_TYPE}`, {
        "Accept-Patch": PARTIAL_UPLOAD_TYPE,
      });
    }
    const complete = parseStructuredBoolean(request.headers.get("upload-complete"));
    if (complete === null) throw new HttpError(400, "Appending needs Upload-Complete");
    const offset = parseStructuredInteger(request.headers.get("upload-offset"));
    if (offset === null) throw new HttpError(400, "Appending needs Upload-Offset");
    return await this.#exclusively(upload, async () => {
      if (!(await this.#reload(upload))) throw new HttpError(404, "No such upload");
      return await this.#appendClaimed(upload, request, complete, offset);
    });
  }

  /** {@linkcode ResumableUploads.#append} once the upload is this request's alone. */
  async #appendClaimed(
    upload: Upload,
    request: Request,
    complete: boolean,
    offset: number,
  ): Promise<Response> {
    if (upload.state === "complete") {
      if (request.body.length === 0) {
        throw new UploadProblem(410, "completed-upload", "The upload is already complete");
      }
      throw inconsistentLength();
    }
    if (offset !== upload.offset) {
      throw new UploadProblem(
        409,
        "mismatching-upload-offset",
        "The offset does not match the upload's offset",
        { "expected-offset": upload.offset, "provided-offset": offset },
        { "Upload-Offset": String(upload.offset) },
      );
    }
    upload.length = this.#agreedLength(
      upload.length,
      request,
      upload.offset,
      complete,
      upload.expiresAt,
    );
    await checkWriteInside(this.#rootReal, upload.fsPath);
    await this.#receive(upload, request, { announce: speaksInterop(request), keepPartial: true });
    if (complete) return await this.#finish(upload);
    return {
      status: 204,
      headers: [["Upload-Complete", "?0"], ["Upload-Offset", String(upload.offset)]],
    };
  }

  /**
   * Appends the request body at the upload's offset. Long transfers are
   * checkpointed (and, with `announce`, reported in 104s). If the transfer
   * fails, what arrived is kept (`keepPartial`) or the upload is dropped,
   * and the error is rethrown. A request with its own content digest is kept
   * whole or not at all: its bytes cannot be trusted before the check.
   */
  async #receive(
    upload: Upload,
    request: Request,
    options: { announce: boolean; keepPartial: boolean },
  ): Promise<void> {
    const start = upload.offset;
    const contentDigests = contentDigestsOf(request);
    const atomic = contentDigests !== null;
    const limit = Math.min(upload.length ?? Infinity, this.#maxBodyBytes);
    using file = await this.#openData(upload);
    let written = start;
    let overLimit = false;
    try {
      await file.truncate(start);
      await file.seek(start, Deno.SeekMode.Start);
      let checkpointAt = Date.now() + CHECKPOINT_MS;
      for (
        let chunk = await request.body.read();
        chunk !== null;
        chunk = await request.body.read()
      ) {
        if (upload.state !== "active") throw new HttpError(404, "The upload was cancelled");
        if (written + chunk.length > limit) {
          overLimit = true;
          throw upload.length !== null && upload.length < this.#maxBodyBytes
            ? inconsistentLength()
            : this.#tooLarge(upload.expiresAt);
        }
        await writeAll(file, chunk);
        written += chunk.length;
        upload.reprDigests?.update(chunk);
        contentDigests?.update(chunk);
        const due = written - upload.offset >= CHECKPOINT_BYTES || Date.now() >= checkpointAt;
        if (!atomic && due) {
          await this.#checkpoint(upload, file, written);
          checkpointAt = Date.now() + CHECKPOINT_MS;
          if (options.announce) {
            await request.informational(104, [
              ["Upload-Offset", String(upload.offset)],
              ["Upload-Draft-Interop-Version", String(INTEROP_VERSION)],
            ]);
          }
        }
      }
      contentDigests?.verify();
      await this.#checkpoint(upload, file, written);
    } catch (error) {
      if (overLimit || !options.keepPartial) {
        // Past the length or max-size the draft deactivates the upload.
        await this.#forget(upload).catch(() => {});
      } else if (upload.state === "active") {
        const keep = atomic ? start : written;
        try {
          await file.truncate(keep);
          await this.#checkpoint(upload, file, keep);
        } catch {
          // The offset stays at the last checkpoint; the next append cuts what lies beyond.
        }
      }
      const http = writeErrorToHttp(error);
      if (http?.status === 413 && !("Upload-Limit" in http.headers)) {
        throw this.#tooLarge(upload.expiresAt);
      }
      throw http ?? error;
    } finally {
      // The running hashes are only worth keeping if they cover exactly [0, offset).
      if (upload.offset !== written) upload.reprDigests = null;
    }
  }

  /** Opens the partial data for writing; 404 (and the upload ends) when it was removed behind our back. */
  async #openData(upload: Upload): Promise<Deno.FsFile> {
    try {
      return await Deno.open(upload.dataPath, { write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      await this.#forget(upload);
      throw new HttpError(404, "No such upload");
    }
  }

  /** Flushes `file` and records `offset` as acknowledged, unless the upload is gone. */
  async #checkpoint(upload: Upload, file: Deno.FsFile, offset: number): Promise<void> {
    if (this.#fsync) await file.syncData();
    await this.#locks.run(lockKey(upload), async () => {
      if (upload.state !== "active") return;
      await this.#writeSidecar(upload, offset);
      upload.offset = offset;
    });
  }

  /** Replaces the sidecar atomically (staging file + rename). */
  async #writeSidecar(upload: Upload, offset: number): Promise<void> {
    const record: Sidecar = {
      version: 1,
      segments: [...upload.segments],
      method: upload.method,
      conditions: Object.fromEntries(
        Object.entries(upload.conditions).filter(([, value]) => value !== undefined),
      ),
      reprDigest: upload.reprDigestField,
      expiresAt: upload.expiresAt,
      length: upload.length,
      offset,
    };
    const staging = upload.sidecarPath + STAGING_SUFFIX;
    {
      using file = await Deno.open(staging, {
        write: true,
        create: true,
        truncate: true,
        mode: 0o600,
      });
      await writeAll(file, encoder.encode(JSON.stringify(record)));
      if (this.#fsync) await file.syncData();
    }
    await Deno.rename(staging, upload.sidecarPath);
    if (this.#fsync) await syncDirectory(path.dirname(upload.sidecarPath));
  }

  /**
   * Completes an upload whose data has all arrived: verifies the length and
   * the creation request's `Repr-Digest`, re-checks the target, and renames
   * the data into place. Refusals about the representation (412, digest,
   * directory, permissions) end the upload; unexpected errors leave it
   * resumable, so an empty PATCH with `Upload-Complete: ?1` can retry.
   */
  async #finish(upload: Upload): Promise<Response> {
    if (upload.length !== null && upload.offset !== upload.length) throw inconsistentLength();
    const digests = upload.reprDigests ?? await this.#digestFile(upload);
    upload.reprDigests = null; // verify() consumes the hashes; a retry recomputes them.
    const cancelled = new HttpError(404, "The upload was cancelled");
    let committed: Committed;
    try {
      digests.verify();
      const target = writeCondition(upload.method, upload.conditions);
      [committed] = await this.#locks.run(lockKey(upload), async () => {
        if (upload.state !== "active") throw cancelled;
        const staged = await this.#storage.adopt(upload.segments, upload.dataPath);
        const done = await this.#storage.commit([{
          staged,
          condition: { check: (current: StoredEntry | null) => target.check(current) },
        }]);
        upload.state = "complete";
        upload.length = upload.offset;
        return done;
      });
    } catch (error) {
      if (error === cancelled) throw error;
      const http = writeErrorToHttp(error);
      if (http === null) throw error;
      await this.#endFailed(upload);
      throw final(http);
    }
    await removeIfPresent(upload.sidecarPath).catch(() => {});
    if (this.#fsync) await syncDirectory(path.dirname(upload.fsPath));
    const headers: HeaderList = [
      ["Upload-Complete", "?1"],
      ["ETag", committed.entry.etag],
      ["Repr-Digest", digests.reprDigest()],
    ];
    if (!committed.created) return { status: 204, headers };
    headers.push(["Location", encodeUrlPath(upload.segments, false)]);
    headers.push(["Content-Type", "text/plain; charset=utf-8"]);
    return { status: 201, headers, body: encoder.encode("201 Created\n") };
  }

  /** Hashes the partial data from the file (after a restart, or when running hashes were lost). */
  async #digestFile(upload: Upload): Promise<UploadDigests> {
    const digests = reprDigestsFor(upload.reprDigestField);
    using file = await Deno.open(upload.dataPath);
    const buffer = new Uint8Array(256 * 1024);
    for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
      digests.update(buffer.subarray(0, n));
    }
    return digests;
  }

  /** Ends an upload whose completion was refused: its data is removed, HEAD reports it complete. */
  async #endFailed(upload: Upload): Promise<void> {
    await this.#locks.run(lockKey(upload), async () => {
      if (upload.state !== "active") return;
      upload.state = "complete";
      await removeFiles(upload).catch(() => {});
    });
  }

  /** Cancels or expires an upload: removes its files and its record. */
  async #forget(upload: Upload): Promise<void> {
    await this.#locks.run(lockKey(upload), async () => {
      const active = upload.state === "active";
      upload.state = "gone";
      if (this.#uploads.get(upload.key) === upload) this.#uploads.delete(upload.key);
      if (active) await removeFiles(upload);
      await removeIfPresent(path.join(this.#claims, upload.key)).catch(() => {});
    });
  }

  /**
   * Takes the upload's claim: opens (with `create`, making) its claim file and
   * locks it if no other process holds it; null when one does. A new claim
   * file gets the target's segments, for other instances to find the upload.
   */
  async #claim(
    upload: Pick<Upload, "key" | "segments">,
    create: boolean,
  ): Promise<Deno.FsFile | null> {
    const claimPath = path.join(this.#claims, upload.key);
    if (create) await Deno.mkdir(this.#claims, { recursive: true });
    let file: Deno.FsFile;
    try {
      file = await Deno.open(claimPath, { read: true, write: true, create: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      // An upload of an earlier version, from before claim files: make its own now.
      await Deno.mkdir(this.#claims, { recursive: true });
      file = await Deno.open(claimPath, { read: true, write: true, create: true });
    }
    if (!(await file.tryLock(true))) {
      file.close();
      return null;
    }
    if ((await file.stat()).size === 0) {
      await writeAll(file, encoder.encode(JSON.stringify(upload.segments)));
    }
    return file;
  }

  /** Drops this request's claim on the upload, if it holds one (closing the file unlocks it). */
  #release(upload: Upload): void {
    upload.claim?.close();
    upload.claim = null;
  }

  /** Runs `task` holding the upload's claim; 409 while another request or instance holds it. */
  async #exclusively<T>(upload: Upload, task: () => Promise<T>): Promise<T> {
    if (upload.busy) throw busy(upload);
    upload.busy = true;
    try {
      upload.claim = await this.#claim(upload, false);
      if (upload.claim === null) throw busy(upload);
      return await task();
    } finally {
      this.#release(upload);
      upload.busy = false;
    }
  }

  /**
   * Reads the upload's sidecar again (another instance may have appended,
   * completed or cancelled it): false when it is no longer active anywhere.
   */
  async #reload(upload: Upload): Promise<boolean> {
    if (upload.state !== "active") return true; // Completed or gone here: that is final.
    let sidecar: Sidecar | null;
    try {
      sidecar = parseSidecar(await Deno.readTextFile(upload.sidecarPath));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      sidecar = null;
    }
    if (sidecar === null) {
      // Completed or cancelled by another instance.
      upload.state = "gone";
      if (this.#uploads.get(upload.key) === upload) this.#uploads.delete(upload.key);
      return false;
    }
    if (sidecar.offset !== upload.offset) upload.reprDigests = null; // Bytes we did not hash.
    upload.offset = sidecar.offset;
    upload.length = sidecar.length;
    return true;
  }

  /** Finds an upload created by another instance (or worker) from its claim file. */
  async #find(token: string): Promise<Upload | null> {
    if (!TOKEN.test(token)) return null;
    const key = keyOf(token);
    let segments: unknown;
    try {
      segments = JSON.parse(await Deno.readTextFile(path.join(this.#claims, key)));
    } catch {
      return null;
    }
    if (!Array.isArray(segments) || !segments.every((s) => typeof s === "string")) return null;
    let fsPath: string;
    try {
      fsPath = toFsPath(this.#rootReal, segments);
    } catch {
      return null;
    }
    const name = UPLOAD_TEMP_PREFIX + key + SIDECAR_SUFFIX;
    await this.#restoreFile(path.dirname(fsPath), name, new Set([name])).catch(() => false);
    return this.#lookup(token);
  }

  /**
   * Walks ROOT (never following symlinks) and reads back the uploads of
   * earlier runs: expired or damaged ones are removed, data past the
   * recorded offset is cut, and data or staging files without a sidecar are
   * removed. Uploads already known to this process are left alone.
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

  /** Handles one prefixed file found by {@linkcode ResumableUploads.#restore}; true when an upload came back. */
  async #restoreFile(directory: string, name: string, siblings: Set<string>): Promise<boolean> {
    const rest = name.slice(UPLOAD_TEMP_PREFIX.length);
    const key = rest.slice(0, 64);
    const suffix = rest.slice(64);
    if (!KEY.test(key) || this.#uploads.has(key)) return false;
    const fullPath = path.join(directory, name);
    if (suffix !== SIDECAR_SUFFIX) {
      // Data whose sidecar never got written, or a staging file: debris of a crash.
      if (suffix !== "" || !siblings.has(name + SIDECAR_SUFFIX)) await removeIfPresent(fullPath);
      return false;
    }
    const dataPath = path.join(directory, UPLOAD_TEMP_PREFIX + key);
    const sidecar = parseSidecar(await Deno.readTextFile(fullPath));
    let fsPath: string | null = null;
    try {
      if (sidecar !== null) fsPath = toFsPath(this.#rootReal, sidecar.segments);
    } catch {
      fsPath = null; // Segments that are not a path under ROOT.
    }
    const size = await Deno.stat(dataPath).then((info) => info.size, () => -1);
    if (
      sidecar === null || fsPath === null || sidecar.segments.length === 0 ||
      path.dirname(fsPath) !== directory || sidecar.expiresAt <= Date.now() ||
      size < sidecar.offset
    ) {
      // Expired, damaged, or its acknowledged data is lost: the upload cannot go on.
      await removeIfPresent(dataPath);
      await removeIfPresent(fullPath);
      return false;
    }
    if (size > sidecar.offset) {
      // Bytes past the checkpoint: a crash's, to cut; or another instance's,
      // being written right now (it holds the claim), to leave alone.
      const claim = await this.#claim({ key, segments: sidecar.segments }, false);
      if (claim !== null) {
        try {
          await Deno.truncate(dataPath, sidecar.offset);
        } finally {
          claim.close();
        }
      }
    }
    if (this.#uploads.has(key)) return false;
    this.#uploads.set(key, {
      key,
      segments: sidecar.segments,
      fsPath,
      dataPath,
      sidecarPath: fullPath,
      method: sidecar.method,
      conditions: sidecar.conditions,
      reprDigestField: sidecar.reprDigest,
      expiresAt: sidecar.expiresAt,
      length: sidecar.length,
      offset: sidecar.offset,
      state: "active",
      busy: false,
      claim: null,
      reprDigests: null,
    });
    return true;
  }
}

/** The answer to a request for an upload that another request, here or elsewhere, is busy with. */
function busy(upload: Upload): HttpError {
  return new HttpError(409, "Another request is transferring data to this upload", {
    "Upload-Offset": String(upload.offset),
    "Retry-After": "1",
  });
}

/** The KeyedLock key that serialises an upload's sidecar writes, completion and removal. */
function lockKey(upload: Upload): string {
  return `upload:${upload.key}`;
}

async function removeFiles(upload: Upload): Promise<void> {
  await removeIfPresent(upload.dataPath);
  await removeIfPresent(upload.sidecarPath);
  await removeIfPresent(upload.sidecarPath + STAGING_SUFFIX);
}
