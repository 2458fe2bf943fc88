/**
 * One place for every file response (like Go's `serveContent`): validators,
 * preconditions, ranges and the streamed body, for GET and HEAD alike.
 *
 * @module
 */

import mime from "mime-types";
import type { Coding } from "./negotiate.ts";
import { formatHttpDate } from "../http/date.ts";
import type { BodySink, BodyStream, Request, Response } from "../http/message.ts";
import type { HeaderList } from "../http/serialize.ts";
import { checkPreconditions, ifRangeAllowsRange } from "./preconditions.ts";
import type { ConditionalHeaders, Validators } from "./preconditions.ts";
import { parseRange } from "./range.ts";
import type { ContentReader, StoredEntry } from "../storage/storage.ts";
import type { ByteRange } from "./range.ts";

/** Beyond this many parts after coalescing, a multi-range request gets the whole file (200) instead. */
const MAX_RANGE_PARTS = 16;

const STREAM_CHUNK_BYTES = 256 * 1024;

/** A file version's size and validators, with Last-Modified already formatted. */
export interface FileVersion {
  /** Size in bytes. */
  size: number;
  /** The strong ETag and modification time. */
  validators: Validators;
  /** `validators.lastModified` as an IMF-fixdate. */
  lastModifiedText: string;
}

/** Versions already described, per entry object: a cached file's entry is the same object each time. */
const versions = new WeakMap<StoredEntry, FileVersion>();

/** Describes the version of a stored file from its entry. */
export function versionOf(entry: StoredEntry): FileVersion {
  let version = versions.get(entry);
  if (version === undefined) {
    version = {
      size: entry.size,
      validators: { etag: entry.etag, lastModified: entry.lastModified },
      lastModifiedText: formatHttpDate(entry.lastModified),
    };
    versions.set(entry, version);
  }
  return version;
}

/** The bytes of a file version: a reader, streamed and closed when the response is done, or a copy in memory. */
export type ContentSource = ContentReader | Uint8Array;

function release(source: ContentSource): void {
  if (!(source instanceof Uint8Array)) source.close();
}

/** The bytes of a file version from its start, in chunks (the reader is left open). */
export async function* contentChunks(
  source: ContentSource,
  size: number,
): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) return yield source;
  // An empty buffer would read 0 bytes forever: an empty file has no chunks.
  if (size === 0) return;
  await source.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(Math.min(size, STREAM_CHUNK_BYTES));
  for (;;) {
    const n = await source.read(buffer);
    if (n === null || n === 0) return;
    yield buffer.subarray(0, n);
  }
}

/** Media types by lowercase extension: the table lookup was 5% of a small GET's CPU (measured). */
const typeByExtension = new Map<string, string>();

/** Most extensions remembered: requests choose names, so the memo is bounded. */
const TYPE_MEMO_ENTRIES = 512;

/** The media type for a file name: from its extension, `charset=utf-8` on text, octet-stream when unknown. */
export function contentTypeFor(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  // What mime-types looks up: the text after the last dot (the whole name without one).
  const extension = base.slice(base.lastIndexOf(".") + 1).toLowerCase();
  let type = typeByExtension.get(extension);
  if (type === undefined) {
    type = mime.contentType(base) || "application/octet-stream";
    if (typeByExtension.size >= TYPE_MEMO_ENTRIES) typeByExtension.clear();
    typeByExtension.set(extension, type);
  }
  return type;
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
  /** The `Repr-Digest` of the stored bytes, when the client asked for it. */
  reprDigest?: string;
  /** Headers of the representation itself, sent with a 304 too (a listing's `Vary` and CSP). */
  representationHeaders?: HeaderList;
}

const encoder = new TextEncoder();

/**
 * Answers GET or HEAD for one file version: 304 or 412 from the
 * preconditions, else 200, 206 (one range or multipart/byteranges) or 416.
 * Takes ownership of `source`: an open file is closed when the response is
 * done.
 */
export function serveContent(
  request: Request,
  source: ContentSource,
  version: FileVersion,
  options: ContentOptions,
): Response {
  const compressWith = options.compressWith ?? null;
  let validators = version.validators;
  // An on-the-fly coding is another representation: it needs its own strong ETag.
  if (compressWith !== null) {
    validators = { ...validators, etag: `${validators.etag.slice(0, -1)}-${compressWith}"` };
  }
  const headers: HeaderList = [
    ["ETag", validators.etag],
    ["Last-Modified", version.lastModifiedText],
    ["Cache-Control", options.cacheControl],
  ];
  if (options.varyOnEncoding) headers.push(["Vary", "Accept-Encoding"]);
  if (options.representationHeaders) headers.push(...options.representationHeaders);
  const conditions = conditionalHeaders(request);
  const outcome = checkPreconditions(request.method, conditions, validators);
  if (outcome !== "proceed") {
    release(source);
    if (outcome === "not-modified") return { status: 304, headers };
    return {
      status: 412,
      headers: [["Content-Type", "text/plain; charset=utf-8"]],
      body: encoder.encode("412 Precondition failed\n"),
    };
  }

  headers.push(["X-Content-Type-Options", "nosniff"]);
  const coding = compressWith ?? options.storedCoding ?? null;
  if (coding !== null) headers.push(["Content-Encoding", coding]);
  if (compressWith !== null) {
    headers.push(["Content-Type", options.contentType]);
    return { status: 200, headers, body: new CompressedBody(source, version.size, compressWith) };
  }
  headers.push(["Accept-Ranges", "bytes"]);
  if (options.reprDigest !== undefined) headers.push(["Repr-Digest", options.reprDigest]);
  const size = version.size;
  const rangeHeader = request.method === "GET" ? request.headers.get("range") : undefined;
  const ranges = rangeHeader !== undefined &&
      ifRangeAllowsRange(conditions.ifRange, validators, Date.now())
    ? parseRange(rangeHeader, size)
    : { kind: "ignore" as const };

  if (ranges.kind === "unsatisfiable") {
    release(source);
    headers.push(["Content-Range", `bytes */${size}`], [
      "Content-Type",
      "text/plain; charset=utf-8",
    ]);
    return { status: 416, headers, body: encoder.encode("416 Range not satisfiable\n") };
  }
  if (ranges.kind === "ranges" && ranges.ranges.length === 1) {
    const range = ranges.ranges[0];
    headers.push(["Content-Type", options.contentType], [
      "Content-Range",
      `bytes ${range.start}-${range.end - 1}/${size}`,
    ]);
    return { status: 206, headers, body: rangesBody(source, [range]) };
  }
  if (ranges.kind === "ranges" && ranges.ranges.length <= MAX_RANGE_PARTS) {
    const body = new MultipartRangesBody(source, ranges.ranges, size, options.contentType);
    headers.push(["Content-Type", `multipart/byteranges; boundary=${body.boundary}`]);
    return { status: 206, headers, body };
  }
  headers.push(["Content-Type", options.contentType]);
  return { status: 200, headers, body: rangesBody(source, [{ start: 0, end: size }]) };
}

/** In-memory bytes go out as they are; an open file is streamed. */
function rangesBody(source: ContentSource, ranges: ByteRange[]): Uint8Array | BodyStream {
  if (source instanceof Uint8Array && ranges.length === 1) {
    return source.subarray(ranges[0].start, ranges[0].end);
  }
  return new RangesBody(source, ranges);
}

/** Streams byte ranges of a file version, reading straight into the send buffer. */
class RangesBody implements BodyStream {
  readonly length: number;
  readonly #source: ContentSource;
  readonly #ranges: ByteRange[];

  constructor(source: ContentSource, ranges: ByteRange[]) {
    this.#source = source;
    this.#ranges = ranges;
    this.length = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
  }

  async writeTo(sink: BodySink): Promise<void> {
    for (const range of this.#ranges) await streamRange(this.#source, range, sink);
  }

  close(): void {
    release(this.#source);
  }
}

async function streamRange(source: ContentSource, range: ByteRange, sink: BodySink): Promise<void> {
  if (source instanceof Uint8Array) return sink.write(source.subarray(range.start, range.end));
  await source.seek(range.start, Deno.SeekMode.Start);
  let remaining = range.end - range.start;
  while (remaining > 0) {
    const region = await sink.region(Math.min(remaining, STREAM_CHUNK_BYTES));
    const n = await source.read(region.subarray(0, Math.min(region.length, remaining)));
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
  readonly #source: ContentSource;
  readonly #parts: { head: Uint8Array; range: ByteRange }[];
  readonly #tail: Uint8Array;

  constructor(source: ContentSource, ranges: ByteRange[], size: number, contentType: string) {
    this.#source = source;
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
      await streamRange(this.#source, part.range, sink);
    }
    await sink.write(this.#tail);
  }

  close(): void {
    release(this.#source);
  }
}

const STREAM_NAMES: Record<Coding, CompressionFormat> = {
  gzip: "gzip",
  br: "brotli" as CompressionFormat,
};

/** A file version compressed while it is sent; its length is unknown, so it goes out chunked. */
class CompressedBody implements BodyStream {
  readonly length = null;
  readonly #source: ContentSource;
  readonly #size: number;
  readonly #coding: Coding;
  #released = false;

  constructor(source: ContentSource, size: number, coding: Coding) {
    this.#source = source;
    this.#size = size;
    this.#coding = coding;
  }

  async writeTo(sink: BodySink): Promise<void> {
    this.#released = true;
    const compressor = new CompressionStream(STREAM_NAMES[this.#coding]);
    try {
      // Copies: the compressor may hold a chunk past the next read into the same buffer.
      const input = ReadableStream.from(contentChunks(this.#source, this.#size))
        .pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform: (chunk, controller) => controller.enqueue(chunk.slice()),
          }),
        );
      // CompressionStream is typed for any BufferSource; Uint8Array is one of them.
      const compressed = input.pipeThrough(
        compressor as unknown as ReadableWritablePair<Uint8Array, Uint8Array>,
      );
      for await (const chunk of compressed) await sink.write(chunk);
    } finally {
      release(this.#source);
    }
  }

  close(): void {
    if (this.#released) return;
    this.#released = true;
    release(this.#source);
  }
}
