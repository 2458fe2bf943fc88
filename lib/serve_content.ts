/**
 * One place for every file response (like Go's `serveContent`): validators,
 * preconditions, ranges and the streamed body, for GET and HEAD alike.
 *
 * @module
 */

import mime from "mime-types";
import { CompressedFileBody } from "./compression.ts";
import type { Coding } from "./negotiate.ts";
import { formatHttpDate } from "./http/date.ts";
import type { BodySink, BodyStream, Request, Response } from "./http/message.ts";
import type { HeaderList } from "./http/serialize.ts";
import { checkPreconditions, ifRangeAllowsRange } from "./preconditions.ts";
import type { ConditionalHeaders, Validators } from "./preconditions.ts";
import { parseRange } from "./range.ts";
import type { ByteRange } from "./range.ts";

/** Beyond this many parts after coalescing, a multi-range request gets the whole file (200) instead. */
const MAX_RANGE_PARTS = 16;

const STREAM_CHUNK_BYTES = 256 * 1024;

/** The strong ETag of a file version: inode, size and modification time in milliseconds. */
export function fileETag(info: Deno.FileInfo): string {
  const mtime = info.mtime?.getTime() ?? 0;
  return `"${(info.ino ?? 0).toString(16)}-${info.size.toString(16)}-${mtime.toString(16)}"`;
}

/** The validators of a file version. */
export function fileValidators(info: Deno.FileInfo): Validators {
  return { etag: fileETag(info), lastModified: info.mtime?.getTime() ?? 0 };
}

/** The media type for a file name: from its extension, `charset=utf-8` on text, octet-stream when unknown. */
export function contentTypeFor(name: string): string {
  return mime.contentType(name.slice(name.lastIndexOf("/") + 1)) || "application/octet-stream";
}

/** The conditional request headers of `request`. */
export function conditionalHeaders(request: Request): ConditionalHeaders {
  const h = request.headers;
  return {
    ifMatch: h.get("if-match"),
    ifNoneMatch: h.get("if-none-match"),
    ifModifiedSince: h.get("if-modified-since"),
    ifUnmodifiedSince: h.get("if-unmodified-since"),
    ifRange: h.get("if-range"),
  };
}

/** How a file response is to be made. */
export interface ContentOptions {
  /** The `Cache-Control` value for file responses. */
  cacheControl: string;
  /** The media type of the file. */
  contentType: string;
  /** The content coding the file is stored in (a precompressed sibling), or null. */
  storedCoding?: Coding | null;
  /** A coding to apply while sending (never with ranges), or null. */
  compressWith?: Coding | null;
  /** Whether the representation depends on Accept-Encoding (adds `Vary`). */
  varyOnEncoding?: boolean;
}

/**
 * Answers GET or HEAD for an open file: 304 or 412 from the preconditions,
 * else 200, 206 (one range or multipart/byteranges) or 416. Takes ownership
 * of `file`: it is closed when the response is done.
 */
export function serveContent(
  request: Request,
  file: Deno.FsFile,
  info: Deno.FileInfo,
  options: ContentOptions,
): Response {
  const compressWith = options.compressWith ?? null;
  const validators = fileValidators(info);
  // An on-the-fly coding is another representation: it needs its own strong ETag.
  if (compressWith !== null) validators.etag = `${validators.etag.slice(0, -1)}-${compressWith}"`;
  const headers: HeaderList = [
    ["ETag", validators.etag],
    ["Last-Modified", formatHttpDate(validators.lastModified)],
    ["Cache-Control", options.cacheControl],
  ];
  if (options.varyOnEncoding) headers.push(["Vary", "Accept-Encoding"]);
  const conditions = conditionalHeaders(request);
  const outcome = checkPreconditions(request.method, conditions, validators);
  if (outcome !== "proceed") {
    file.close();
    if (outcome === "not-modified") return { status: 304, headers };
    return {
      status: 412,
      headers: [["Content-Type", "text/plain; charset=utf-8"]],
      body: new TextEncoder().encode("412 Precondition failed\n"),
    };
  }

  headers.push(["X-Content-Type-Options", "nosniff"]);
  const coding = compressWith ?? options.storedCoding ?? null;
  if (coding !== null) headers.push(["Content-Encoding", coding]);
  if (compressWith !== null) {
    headers.push(["Content-Type", options.contentType]);
    return { status: 200, headers, body: new CompressedFileBody(file, compressWith) };
  }
  headers.push(["Accept-Ranges", "bytes"]);
  const size = info.size;
  const rangeHeader = request.method === "GET" ? request.headers.get("range") : undefined;
  const ranges = rangeHeader !== undefined &&
      ifRangeAllowsRange(conditions.ifRange, validators, Date.now())
    ? parseRange(rangeHeader, size)
    : { kind: "ignore" as const };

  if (ranges.kind === "unsatisfiable") {
    file.close();
    headers.push(["Content-Range", `bytes */${size}`], [
      "Content-Type",
      "text/plain; charset=utf-8",
    ]);
    return { status: 416, headers, body: new TextEncoder().encode("416 Range not satisfiable\n") };
  }
  if (ranges.kind === "ranges" && ranges.ranges.length === 1) {
    const { start, end } = ranges.ranges[0];
    headers.push(["Content-Type", options.contentType], [
      "Content-Range",
      `bytes ${start}-${end - 1}/${size}`,
    ]);
    return { status: 206, headers, body: new FileBody(file, [{ start, end }]) };
  }
  if (ranges.kind === "ranges" && ranges.ranges.length <= MAX_RANGE_PARTS) {
    const body = new MultipartRangesBody(file, ranges.ranges, size, options.contentType);
    headers.push(["Content-Type", `multipart/byteranges; boundary=${body.boundary}`]);
    return { status: 206, headers, body };
  }
  headers.push(["Content-Type", options.contentType]);
  return { status: 200, headers, body: new FileBody(file, [{ start: 0, end: size }]) };
}

/** Streams byte ranges of an open file, reading straight into the send buffer. */
class FileBody implements BodyStream {
  readonly length: number;
  readonly #file: Deno.FsFile;
  readonly #ranges: ByteRange[];

  constructor(file: Deno.FsFile, ranges: ByteRange[]) {
    this.#file = file;
    this.#ranges = ranges;
    this.length = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  }

  async writeTo(sink: BodySink): Promise<void> {
    for (const range of this.#ranges) await streamRange(this.#file, range, sink);
  }

  close(): void {
    this.#file.close();
  }
}

async function streamRange(file: Deno.FsFile, range: ByteRange, sink: BodySink): Promise<void> {
  if (range.start !== 0) await file.seek(range.start, Deno.SeekMode.Start);
  let remaining = range.end - range.start;
  while (remaining > 0) {
    const region = await sink.region(Math.min(remaining, STREAM_CHUNK_BYTES));
    const n = await file.read(region.subarray(0, Math.min(region.length, remaining)));
    // The file shrank under us: the response is already promised at its length, so fail it.
    if (n === null) throw new Error("File shortened while being sent");
    sink.commit(n);
    remaining -= n;
  }
}

/** A `multipart/byteranges` body (RFC 9110 §14.6) of several ranges of one file. */
class MultipartRangesBody implements BodyStream {
  readonly length: number;
  readonly boundary: string;
  readonly #file: Deno.FsFile;
  readonly #parts: { head: Uint8Array; range: ByteRange }[];
  readonly #tail: Uint8Array;

  constructor(file: Deno.FsFile, ranges: ByteRange[], size: number, contentType: string) {
    const encoder = new TextEncoder();
    this.#file = file;
    this.boundary = crypto.randomUUID().replaceAll("-", "");
    this.#parts = ranges.map((range, i) => ({
      range,
      head: encoder.encode(
        `${i === 0 ? "" : "\r\n"}--${this.boundary}\r\nContent-Type: ${contentType}\r\n` +
          `Content-Range: bytes ${range.start}-${range.end - 1}/${size}\r\n\r\n`,
      ),
    }));
    this.#tail = encoder.encode(`\r\n--${this.boundary}--\r\n`);
    this.length = this.#parts.reduce(
      (sum, part) => sum + part.head.length + part.range.end - part.range.start,
      this.#tail.length,
    );
  }

  async writeTo(sink: BodySink): Promise<void> {
    for (const part of this.#parts) {
      await sink.write(part.head);
      await streamRange(this.#file, part.range, sink);
    }
    await sink.write(this.#tail);
  }

  close(): void {
    this.#file.close();
  }
}
