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
 * State lives in the store, behind an {@linkcode UploadStore}
 * (lib/storage/uploads.ts): the file system keeps the bytes beside the target,
 * an S3 bucket in a multipart upload. Either way any worker or instance
 * serving the store can take a request for any upload: each request finds the
 * upload in the store and claims it (a second one gets 409 and `Retry-After`).
 * This module keeps only the protocol, the running hashes of uploads it
 * received, and the uploads it completed (HEAD reports them until expiry).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { UploadDigests } from "../content/digest.ts";
import { writeErrorToHttp } from "../storage/fs_errors.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import type { HeaderList } from "../http/serialize.ts";
import { encodeUrlPath } from "./url_path.ts";
import { writeCondition } from "../content/preconditions.ts";
import { conditionalHeaders } from "../content/serve_content.ts";
import type { Committed, Storage, StoredEntry } from "../storage/storage.ts";
import type { UploadClaim, UploadStatus, UploadStore } from "../storage/uploads.ts";

/** Where upload resources live: `UPLOAD_PATH_PREFIX + token`. */
export const UPLOAD_PATH_PREFIX = "/.well-known/filedrop-uploads/";

/** The draft interop version implemented (drafts -09 and later), sent in every 104. */
export const INTEROP_VERSION = 8;

/** The media type of an append (PATCH) request, and the `Accept-Patch` value. */
export const PARTIAL_UPLOAD_TYPE = "application/partial-upload";

/** Settings of {@linkcode ResumableUploads}. */
export interface ResumableOptions {
  /** Where unfinished uploads live (the store's own: fs or S3). */
  uploads: UploadStore;
  /** The store completed uploads land in (read back when a digest must be checked there). */
  storage: Storage;
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

/** An upload this process completed: HEAD reports it complete until it expires. */
interface Completed {
  expiresAt: number;
  length: number;
}

/** Hashes of exactly the bytes [0, offset) of an upload, kept between its requests. */
interface RunningHashes {
  offset: number;
  digests: UploadDigests;
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

/** The answer to a request for an upload that another request, here or elsewhere, holds. */
function busy(offset: number): HttpError {
  return new HttpError(409, "Another request is transferring data to this upload", {
    "Upload-Offset": String(offset),
    "Retry-After": "1",
  });
}

/** A store failure that may pass (5xx but a full store): the upload stays, the client may retry. */
function isPassing(error: HttpError): boolean {
  return error.status >= 500 && error.status !== 507;
}

/**
 * The resumable-upload endpoints of one server. Route creation requests
 * ({@linkcode ResumableUploads.isCreation}) on file targets to
 * {@linkcode ResumableUploads.handleCreation}, and every request under
 * {@linkcode UPLOAD_PATH_PREFIX} to {@linkcode ResumableUploads.handleResource};
 * call {@linkcode ResumableUploads.close} at shutdown.
 */
export class ResumableUploads {
  readonly #uploads: UploadStore;
  readonly #storage: Storage;
  readonly #maxBodyBytes: number;
  readonly #expiryMs: number;
  /** Uploads a request of this process holds: a second one is 409 before asking the store. */
  readonly #busy = new Set<string>();
  readonly #completed = new Map<string, Completed>();
  readonly #hashes = new Map<string, RunningHashes>();
  readonly #sweeper: ReturnType<typeof setInterval>;

  /**
   * Starts the expiry sweep.
   *
   * @throws {RangeError} when `expiryMs` is not a positive, finite number
   */
  constructor(options: ResumableOptions) {
    this.#uploads = options.uploads;
    this.#storage = options.storage;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#expiryMs = options.expiryMs ?? DEFAULT_EXPIRY_MS;
    // A record keeps the expiry as a JSON number: Infinity would not survive a restart.
    if (!Number.isFinite(this.#expiryMs) || this.#expiryMs <= 0) {
      throw new RangeError("expiryMs must be a positive, finite number of milliseconds");
    }
    const interval = options.sweepIntervalMs ??
      Math.min(DEFAULT_SWEEP_INTERVAL_MS, Math.max(1000, this.#expiryMs));
    this.#sweeper = setInterval(() => this.sweep().catch(() => {}), interval);
    Deno.unrefTimer(this.#sweeper);
  }

  /** Settles with the number of uploads of earlier runs the store found intact. */
  get restored(): Promise<number> {
    return this.#uploads.restored;
  }

  /** Stops the expiry sweep and the store's background work. Unfinished uploads stay. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#uploads.close();
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
    return answeringProblems(() => this.#create(request, segments));
  }

  /**
   * Serves `UPLOAD_PATH_PREFIX + token`: HEAD (offset), PATCH (append, and
   * completion with `Upload-Complete: ?1`), DELETE (cancel), OPTIONS. An
   * unknown, malformed or expired token is 404 whatever the method.
   */
  handleResource(request: Request, token: string): Promise<Response> {
    return answeringProblems(async () => {
      if (!TOKEN.test(token)) throw new HttpError(404, "No such upload");
      const key = keyOf(token);
      const completed = this.#completed.get(key);
      if (completed !== undefined && completed.expiresAt > Date.now()) {
        return this.#completedResource(request, key, completed);
      }
      const status = await this.#uploads.status(key);
      if (status === null || status.record.expiresAt <= Date.now()) {
        throw new HttpError(404, "No such upload");
      }
      switch (request.method) {
        case "HEAD":
          return { status: 204, headers: this.#stateHeaders(status, false) };
        case "PATCH":
          return await this.#append(key, status, request);
        case "DELETE":
          await this.#withClaim(key, status.offset, (claim) => claim.remove());
          this.#hashes.delete(key);
          return { status: 204, headers: [] };
        default:
          return resourceOptions(request);
      }
    });
  }

  /** The path of the file the upload `token` is to become, or null when there is no such upload. */
  async targetOf(token: string): Promise<readonly string[] | null> {
    if (!TOKEN.test(token)) return null;
    const status = await this.#uploads.status(keyOf(token));
    return status === null || status.record.expiresAt <= Date.now() ? null : status.record.segments;
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

  /** Removes every expired upload nobody holds, and its bytes; returns how many. Also run by the timer. */
  async sweep(now: number = Date.now()): Promise<number> {
    for (const [key, completed] of this.#completed) {
      if (completed.expiresAt <= now) this.#completed.delete(key);
    }
    return await this.#uploads.sweep(now);
  }

  /** HEAD, PATCH, DELETE of an upload this process completed. */
  #completedResource(request: Request, key: string, completed: Completed): Response {
    switch (request.method) {
      case "HEAD":
        return {
          status: 204,
          headers: this.#stateHeaders(
            {
              offset: completed.length,
              record: { length: completed.length, expiresAt: completed.expiresAt },
            },
            true,
          ),
        };
      case "PATCH":
        if (request.body.length === 0) {
          throw new UploadProblem(410, "completed-upload", "The upload is already complete");
        }
        throw inconsistentLength();
      case "DELETE":
        this.#completed.delete(key);
        return { status: 204, headers: [] };
      default:
        return resourceOptions(request);
    }
  }

  /** Runs `task` holding the upload's claim; 409 while another request or process holds it. */
  async #withClaim<T>(
    key: string,
    offset: number,
    task: (claim: UploadClaim) => Promise<T>,
  ): Promise<T> {
    if (this.#busy.has(key)) throw busy(offset);
    this.#busy.add(key);
    try {
      const claim = await this.#uploads.claim(key);
      if (claim === null) throw busy(offset);
      try {
        return await task(claim);
      } finally {
        await claim.release();
      }
    } finally {
      this.#busy.delete(key);
    }
  }

  /** The `Upload-Limit` value for an upload expiring at `expiresAt`. */
  #limitField(expiresAt: number): string {
    const maxAge = `max-age=${Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))}`;
    return Number.isFinite(this.#maxBodyBytes)
      ? `max-size=${this.#maxBodyBytes}, ${maxAge}`
      : maxAge;
  }

  #stateHeaders(
    status: { offset: number; record: { length: number | null; expiresAt: number } },
    complete: boolean,
  ): HeaderList {
    const headers: HeaderList = [
      ["Upload-Offset", String(status.offset)],
      ["Upload-Complete", complete ? "?1" : "?0"],
    ];
    if (status.record.length !== null) {
      headers.push(["Upload-Length", String(status.record.length)]);
    }
    headers.push(["Upload-Limit", this.#limitField(status.record.expiresAt)]);
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

  async #create(request: Request, segments: readonly string[]): Promise<Response> {
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
    const reprDigest = request.headers.get("repr-digest") ?? null;
    // Both parse the digest fields: a malformed one is 400 before any work.
    const digests = reprDigestsFor(reprDigest);
    contentDigestsOf(request);
    await this.#uploads.checkTarget(segments);
    const conditions = conditionalHeaders(request);
    writeCondition(request.method, conditions).check(await this.#storage.stat(segments));

    const token = newToken();
    const key = keyOf(token);
    const record = {
      segments: [...segments],
      method: request.method,
      conditions,
      reprDigest,
      expiresAt,
      length,
    };
    this.#busy.add(key);
    try {
      const claim = await this.#uploads.create(key, record);
      try {
        this.#hashes.set(key, { offset: 0, digests });
        const location = UPLOAD_PATH_PREFIX + token;
        const announce = speaksInterop(request);
        if (announce) {
          await request.informational(104, [
            ["Location", location],
            ["Upload-Limit", this.#limitField(expiresAt)],
            ["Upload-Draft-Interop-Version", String(INTEROP_VERSION)],
          ]);
        }
        // Without the 104 the client cannot know where to resume: an interrupted body is dropped.
        await this.#receive(key, claim, request, { announce, keepPartial: announce });
        if (complete) return await this.#finish(key, claim);
        return {
          status: 201,
          headers: [
            ["Location", location],
            ["Upload-Complete", "?0"],
            ["Upload-Offset", String(claim.offset)],
            ["Upload-Limit", this.#limitField(expiresAt)],
          ],
        };
      } finally {
        await claim.release();
      }
    } finally {
      this.#busy.delete(key);
    }
  }

  async #append(key: string, status: UploadStatus, request: Request): Promise<Response> {
    if (!isPartialUpload(request.headers.get("content-type"))) {
      throw new HttpError(415, `Appending needs Content-Type: ${PARTIAL_UPLOAD_TYPE}`, {
        "Accept-Patch": PARTIAL_UPLOAD_TYPE,
      });
    }
    const complete = parseStructuredBoolean(request.headers.get("upload-complete"));
    if (complete === null) throw new HttpError(400, "Appending needs Upload-Complete");
    const offset = parseStructuredInteger(request.headers.get("upload-offset"));
    if (offset === null) throw new HttpError(400, "Appending needs Upload-Offset");
    return await this.#withClaim(key, status.offset, async (claim) => {
      if (offset !== claim.offset) {
        throw new UploadProblem(
          409,
          "mismatching-upload-offset",
          "The offset does not match the upload's offset",
          { "expected-offset": claim.offset, "provided-offset": offset },
          { "Upload-Offset": String(claim.offset) },
        );
      }
      const record = claim.record;
      const length = this.#agreedLength(
        record.length,
        request,
        claim.offset,
        complete,
        record.expiresAt,
      );
      if (length !== record.length && length !== null) await claim.setLength(length);
      await this.#uploads.checkTarget(record.segments);
      await this.#receive(key, claim, request, {
        announce: speaksInterop(request),
        keepPartial: true,
      });
      if (complete) return await this.#finish(key, claim);
      return {
        status: 204,
        headers: [["Upload-Complete", "?0"], ["Upload-Offset", String(claim.offset)]],
      };
    });
  }

  /**
   * Appends the request body at the upload's offset. Long transfers are
   * checkpointed (and, with `announce`, reported in 104s). If the transfer
   * fails, what arrived is kept (`keepPartial`) or the upload is dropped,
   * and the error is rethrown. A request with its own content digest is kept
   * whole or not at all: its bytes cannot be trusted before the check.
   */
  async #receive(
    key: string,
    claim: UploadClaim,
    request: Request,
    options: { announce: boolean; keepPartial: boolean },
  ): Promise<void> {
    const contentDigests = contentDigestsOf(request);
    const atomic = contentDigests !== null;
    const limit = Math.min(claim.record.length ?? Infinity, this.#maxBodyBytes);
    const known = this.#hashes.get(key);
    this.#hashes.delete(key);
    const running = known?.offset === claim.offset ? known.digests : null;
    let hashed = claim.offset;
    let overLimit = false;
    try {
      let checkpointAt = Date.now() + CHECKPOINT_MS;
      let checkpointed = claim.written;
      for (
        let chunk = await request.body.read();
        chunk !== null;
        chunk = await request.body.read()
      ) {
        if (claim.written + chunk.length > limit) {
          overLimit = true;
          throw claim.record.length !== null && claim.record.length < this.#maxBodyBytes
            ? inconsistentLength()
            : this.#tooLarge(claim.record.expiresAt);
        }
        await claim.write(chunk);
        running?.update(chunk);
        hashed += chunk.length;
        contentDigests?.update(chunk);
        const due = claim.written - checkpointed >= CHECKPOINT_BYTES || Date.now() >= checkpointAt;
        if (!atomic && due) {
          await claim.checkpoint(false);
          checkpointAt = Date.now() + CHECKPOINT_MS;
          checkpointed = claim.written;
          if (options.announce) {
            await request.informational(104, [
              ["Upload-Offset", String(claim.offset)],
              ["Upload-Draft-Interop-Version", String(INTEROP_VERSION)],
            ]);
          }
        }
      }
      contentDigests?.verify();
      await claim.checkpoint(true);
    } catch (error) {
      await this.#keepWhatArrived(claim, overLimit || !options.keepPartial, atomic)
        .catch(() => {});
      const http = writeErrorToHttp(error);
      if (http?.status === 413 && !("Upload-Limit" in http.headers)) {
        throw this.#tooLarge(claim.record.expiresAt);
      }
      throw http ?? error;
    } finally {
      // The running hashes are only worth keeping if they cover exactly [0, offset).
      if (running !== null && hashed === claim.offset && claim.written === claim.offset) {
        this.#hashes.set(key, { offset: hashed, digests: running });
      }
    }
  }

  /**
   * After a failed transfer: drops the upload (past the length or max-size the
   * draft deactivates it; without a 104 it cannot be resumed), drops the
   * request's bytes (`atomic`; the upload too if the store cannot), or keeps them.
   */
  async #keepWhatArrived(claim: UploadClaim, drop: boolean, atomic: boolean): Promise<void> {
    if (drop) return await claim.remove();
    if (!atomic) return await claim.checkpoint(true);
    if (!(await claim.rollback())) await claim.remove();
  }

  /**
   * Completes an upload whose data has all arrived: verifies the length and
   * the creation request's `Repr-Digest`, re-checks the target, and puts the
   * data in place. Refusals about the representation (412, digest,
   * directory, permissions) end the upload; failures that may pass leave it
   * resumable, so an empty PATCH with `Upload-Complete: ?1` can retry.
   */
  async #finish(key: string, claim: UploadClaim): Promise<Response> {
    const record = claim.record;
    if (record.length !== null && claim.offset !== record.length) throw inconsistentLength();
    const known = this.#hashes.get(key);
    this.#hashes.delete(key); // verify() consumes the hashes; a retry recomputes them.
    const digests = known?.offset === claim.offset ? known.digests : await this.#rehash(claim);
    const target = writeCondition(record.method, record.conditions);
    let committed: Committed;
    try {
      digests?.verify();
      committed = await claim.complete({
        check: (current: StoredEntry | null) => target.check(current),
      });
    } catch (error) {
      const http = writeErrorToHttp(error);
      if (http === null || isPassing(http)) throw error;
      await claim.remove();
      this.#completed.set(key, { expiresAt: record.expiresAt, length: claim.offset });
      throw final(http);
    }
    this.#completed.set(key, { expiresAt: record.expiresAt, length: claim.offset });
    // Bytes this process did not all see, on a store that cannot read them back before.
    const reprDigest = digests?.reprDigest() ??
      await this.#verifyStored(record.segments, record.reprDigest, committed.entry);
    const headers: HeaderList = [["Upload-Complete", "?1"], ["ETag", committed.entry.etag]];
    if (reprDigest !== null) headers.push(["Repr-Digest", reprDigest]);
    if (!committed.created) return { status: 204, headers };
    headers.push(["Location", encodeUrlPath(record.segments, false)]);
    headers.push(["Content-Type", "text/plain; charset=utf-8"]);
    return { status: 201, headers, body: encoder.encode("201 Created\n") };
  }

  /** Hashes the acknowledged bytes read back from the store, or null when it cannot read them. */
  async #rehash(claim: UploadClaim): Promise<UploadDigests | null> {
    const bytes = claim.read();
    if (bytes === null) return null;
    const digests = reprDigestsFor(claim.record.reprDigest);
    for await (const chunk of bytes) digests.update(chunk);
    return digests;
  }

  /**
   * Reads a completed upload back from the store to verify the creation's
   * `Repr-Digest`, when the store could not read it before: a mismatch
   * removes the new file (if it is still that version) and is 400. The
   * `Repr-Digest` to answer with, or null when none was asked for.
   */
  async #verifyStored(
    segments: readonly string[],
    field: string | null,
    entry: StoredEntry,
  ): Promise<string | null> {
    if (field === null) return null;
    const digests = reprDigestsFor(field);
    const opened = await this.#storage.open(segments);
    if (opened === null || !("content" in opened) || opened.entry.etag !== entry.etag) {
      throw final(new HttpError(409, "The file was replaced before its digest could be checked"));
    }
    const content = opened.content;
    if (content instanceof Uint8Array) {
      digests.update(content);
    } else {
      try {
        const buffer = new Uint8Array(256 * 1024);
        for (let n = await content.read(buffer); n !== null; n = await content.read(buffer)) {
          digests.update(buffer.subarray(0, n));
        }
      } finally {
        content.close();
      }
    }
    try {
      digests.verify();
    } catch (error) {
      await this.#storage.remove(segments, {
        check: (current) => {
          if (current?.etag !== entry.etag) throw new HttpError(412, "Replaced meanwhile");
        },
      }).catch(() => {});
      throw final(error instanceof HttpError ? error : new HttpError(400, "Digest mismatch"));
    }
    return digests.reprDigest();
  }
}

/** OPTIONS of an upload resource, and 405 for the methods it does not have. */
function resourceOptions(request: Request): Response {
  const allow = "HEAD, PATCH, DELETE, OPTIONS";
  if (request.method === "OPTIONS") return { status: 204, headers: [["Allow", allow]] };
  throw new HttpError(405, "Method not allowed", { Allow: allow });
}
