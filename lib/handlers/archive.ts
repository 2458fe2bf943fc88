/**
 * Folder downloads: `GET <dir>/?archive=zip|tar|tar.gz` streams the folder's
 * tree as an archive while it is read, one file open at a time, so memory
 * stays bounded whatever the tree's size.
 *
 * The tree is read through the {@linkcode Storage} (`list` and `open`), so it
 * works over any store, and holds exactly what the listings show: names a
 * listing would leave out (dotfiles unless enabled, temp files, names no URL
 * can reach) are left out with everything below them, and so is whatever the
 * store refuses to open (a symlink leading out of ROOT). A directory met
 * again below itself (a symlink loop) is not entered twice. `select=NAME`
 * (repeatable) limits the archive to those entries of the folder: the page's
 * "download selected".
 *
 * Zip archives are made by `client-zip` (stored, not compressed; Zip64 when
 * needed), tar archives by `tar-stream` (gzip by the web `CompressionStream`).
 * The length is not known in advance: the response is chunked. A file that
 * shrinks while it is read fails the response (the archive is cut short, and
 * the client sees a broken transfer rather than a wrong file).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { makeZip } from "client-zip";
import { pack } from "tar-stream";
import type { Pack } from "tar-stream";
import { HttpError } from "../http/errors.ts";
import type { BodySink, BodyStream, Request, Response } from "../http/message.ts";
import type {
  ContentReader,
  ListedEntry,
  OpenedFile,
  Storage,
  StoragePath,
} from "../storage/storage.ts";
import { encodePathSegment } from "../ui/portable.ts";
import { isListable } from "./listing.ts";
import type { ListingOptions } from "./listing.ts";

/** The archive formats a folder can be downloaded as. */
export type ArchiveFormat = "zip" | "tar" | "tar.gz";

const FORMATS: Record<ArchiveFormat, { contentType: string; gzip: boolean }> = {
  "zip": { contentType: "application/zip", gzip: false },
  "tar": { contentType: "application/x-tar", gzip: false },
  "tar.gz": { contentType: "application/gzip", gzip: true },
};

/** How much of a file is read at a time. */
const CHUNK_BYTES = 64 * 1024;

/**
 * The buffers files are read into, used again once their bytes are sent.
 * A fresh buffer per read is garbage the moment it is sent, but V8 collects
 * such buffers (memory outside its heap) only after tens of megabytes of them
 * (measured on a 2 GiB tree: 34-59 MB of them for a zip, 51 for a tar, 56 for
 * a tar.gz, and a peak RSS of 110-144 MB; with the pool, 2 MB and 80 MB). A
 * buffer comes back through the view it was lent as, once that very view has
 * been written to the response, or taken by the gzip compressor (which
 * copies it): both archivers pass the reader's chunks on as they are, and
 * never look at one again once passed on. A view that never comes back is
 * left to the collector.
 */
class ChunkPool {
  readonly #free: Uint8Array[] = [];
  /** The buffer behind each view handed out and not yet given back. */
  readonly #lent = new WeakMap<Uint8Array, Uint8Array>();

  /** A buffer of {@linkcode CHUNK_BYTES} to read into. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(CHUNK_BYTES);
  }

  /**
   * Lends `buffer` out as its first `n` bytes: the view to pass on. A Node
   * Buffer (a Uint8Array), since `tar-stream` copies any other chunk into one.
   */
  lend(buffer: Uint8Array, n: number): Uint8Array {
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, n);
    this.#lent.set(view, buffer);
    return view;
  }

  /** Takes back the buffer behind `chunk` if it is a view this pool lent (its bytes are sent). */
  giveBack(chunk: Uint8Array): void {
    const buffer = this.#lent.get(chunk);
    if (buffer === undefined) return;
    this.#lent.delete(chunk);
    this.#free.push(buffer);
  }
}

/**
 * The archive format a query asks for (`archive=zip`, `tar` or `tar.gz`),
 * null when it asks for none; 400 for a format this server does not make.
 */
export function archiveFormatOf(query: URLSearchParams): ArchiveFormat | null {
  const asked = query.get("archive");
  if (asked === null) return null;
  if (Object.hasOwn(FORMATS, asked)) return asked as ArchiveFormat;
  throw new HttpError(
    400,
    "Unknown archive format: use archive=zip, archive=tar or archive=tar.gz",
  );
}

/**
 * The response streaming the folder at `segments` as a `format` archive.
 * 404 when the folder is not there or a `select`ed name is not one of its
 * listed entries. Nothing is read before the body is written (a HEAD reads
 * nothing).
 */
export async function archiveResponse(
  request: Request,
  storage: Storage,
  segments: StoragePath,
  format: ArchiveFormat,
  options: ListingOptions,
): Promise<Response> {
  const folder = await storage.stat(segments);
  if (folder?.kind !== "directory") throw new HttpError(404, "Not found");
  const selected = [...new Set(new URLSearchParams(request.query).getAll("select"))];
  for (const name of selected) {
    const listable = name !== "" && !name.includes("/") && isListable(segments, name, options);
    if (!listable || (await storage.stat([...segments, name])) === null) {
      throw new HttpError(404, "A selected name is not in this folder");
    }
  }
  const tree: Tree = {
    storage,
    segments,
    options,
    selected: selected.length === 0 ? null : new Set(selected),
    rootId: folder.directoryId,
  };
  return {
    status: 200,
    headers: [
      ["Content-Type", FORMATS[format].contentType],
      ["Content-Disposition", contentDisposition(`${archiveBaseName(segments)}.${format}`)],
      ["Cache-Control", "no-store"],
    ],
    body: new ArchiveBody(tree, format),
  };
}

/** The archive's base name: the folder's name, "files" for ROOT. */
function archiveBaseName(segments: StoragePath): string {
  return segments.length === 0 ? "files" : segments[segments.length - 1];
}

/**
 * `attachment` with the name twice: as printable ASCII with anything else
 * (and quotes, backslashes, slashes) replaced by "_", for old clients, and
 * exactly, percent-encoded as RFC 8187 says, for the rest.
 */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\/]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodePathSegment(fileName)}`;
}

// --- Reading the tree ------------------------------------------------------------

/** The folder being archived and what may go in. */
interface Tree {
  storage: Storage;
  segments: StoragePath;
  options: ListingOptions;
  /** The names of the folder's entries to take, or null for all. */
  selected: Set<string> | null;
  /** The folder's own identity, if the store has one (loop detection). */
  rootId: string | undefined;
}

/** One entry of the archive: a directory, or a file opened for reading. */
type TreeItem =
  | { kind: "directory"; path: string; lastModified: number }
  | { kind: "file"; path: string; lastModified: number; opened: OpenedFile };

/** The entries of the directory at `path`; null when the store will not list it (gone, or out of ROOT). */
async function listIfAllowed(storage: Storage, path: StoragePath): Promise<ListedEntry[] | null> {
  try {
    return await storage.list(path);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return null;
    throw error;
  }
}

/** The whole tree's entries (see {@linkcode walk}); nothing when the folder itself went away. */
async function* walkTree(tree: Tree): AsyncGenerator<TreeItem> {
  const listed = await listIfAllowed(tree.storage, tree.segments);
  if (listed === null) return;
  const ancestors = new Set(tree.rootId === undefined ? [] : [tree.rootId]);
  yield* walk(tree, [], listed, ancestors);
}

/**
 * The entries below `relative` (whose listing is `listed`), depth first in
 * name order, each directory before its contents. Files are opened as they
 * are reached; the caller reads each before asking for the next.
 * `ancestors` holds the identities of the directories above, so a symlink
 * loop is not followed.
 */
async function* walk(
  tree: Tree,
  relative: readonly string[],
  listed: ListedEntry[],
  ancestors: Set<string>,
): AsyncGenerator<TreeItem> {
  const directory = [...tree.segments, ...relative];
  listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of listed) {
    if (relative.length === 0 && tree.selected !== null && !tree.selected.has(entry.name)) {
      continue;
    }
    if (!isListable(directory, entry.name, tree.options)) continue;
    const names = [...relative, entry.name];
    const path = names.join("/");
    if (entry.kind === "directory") {
      const id = entry.directoryId;
      if (id !== undefined && ancestors.has(id)) continue;
      const children = await listIfAllowed(tree.storage, [...directory, entry.name]);
      if (children === null) continue;
      yield { kind: "directory", path, lastModified: entry.lastModified };
      if (id !== undefined) ancestors.add(id);
      yield* walk(tree, names, children, ancestors);
      if (id !== undefined) ancestors.delete(id);
    } else {
      const opened = await tree.storage.open([...directory, entry.name]);
      // Gone since the listing, or refused (a symlink out of ROOT): left out.
      if (opened === null || !("content" in opened)) continue;
      yield { kind: "file", path, lastModified: opened.entry.lastModified, opened };
    }
  }
}

/**
 * A file's bytes: exactly its size when opened, in chunks lent by `pool`. Throws when the file ends early: its entry in the archive
 * could only be wrong. The reader is closed at the end, and registered in
 * `open` meanwhile so that a response cut short can close it.
 */
async function* fileBytes(
  opened: OpenedFile,
  path: string,
  open: Set<ContentReader>,
  pool: ChunkPool,
): AsyncGenerator<Uint8Array> {
  const content = opened.content;
  if (content instanceof Uint8Array) {
    if (content.length > 0) yield content;
    return;
  }
  open.add(content);
  try {
    let left = opened.entry.size;
    while (left > 0) {
      const buffer = pool.take();
      const n = await content.read(left < buffer.length ? buffer.subarray(0, left) : buffer);
      if (n === null || n === 0) throw new Error(`${path} shrank while it was archived`);
      left -= n;
      yield pool.lend(buffer, n);
    }
  } finally {
    if (open.delete(content)) content.close();
  }
}

// --- Writing the archive -----------------------------------------------------------

/** The archive, made while it is sent. */
class ArchiveBody implements BodyStream {
  readonly length = null;
  readonly #tree: Tree;
  readonly #format: ArchiveFormat;
  /** Readers of files being archived, closed if the response ends early. */
  readonly #open = new Set<ContentReader>();
  readonly #pool = new ChunkPool();

  constructor(tree: Tree, format: ArchiveFormat) {
    this.#tree = tree;
    this.#format = format;
  }

  async writeTo(sink: BodySink): Promise<void> {
    const items = walkTree(this.#tree);
    const pool = this.#pool;
    const stream = this.#format === "zip"
      ? zipStream(items, this.#open, pool)
      : tarStream(items, this.#open, pool, FORMATS[this.#format].gzip);
    try {
      for await (const chunk of stream) {
        await sink.write(chunk);
        pool.giveBack(chunk);
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    for (const reader of this.#open) reader.close();
    this.#open.clear();
  }
}

/** A zip of the items (stored, Zip64 when needed), pulled item by item as it is read. */
function zipStream(
  items: AsyncIterable<TreeItem>,
  open: Set<ContentReader>,
  pool: ChunkPool,
): ReadableStream<Uint8Array> {
  async function* entries() {
    for await (const item of items) {
      const lastModified = new Date(item.lastModified);
      if (item.kind === "directory") yield { name: `${item.path}/`, lastModified };
      else {
        yield {
          name: item.path,
          lastModified,
          size: item.opened.entry.size,
          input: fileBytes(item.opened, item.path, open, pool),
        };
      }
    }
  }
  return makeZip(entries());
}

/** A tar (gzipped when `gzip`) of the items, made as it is read. */
function tarStream(
  items: AsyncIterable<TreeItem>,
  open: Set<ContentReader>,
  pool: ChunkPool,
  gzip: boolean,
): ReadableStream<Uint8Array> {
  const tar = tarChunks(items, open, pool);
  if (!gzip) return ReadableStream.from(tar);
  // Fed by hand, not piped: a chunk's buffer goes back to the pool once the compressor
  // has taken it (a write resolves when the chunk is compressed; it copies it first).
  const gzipper = new CompressionStream("gzip");
  const writer = gzipper.writable.getWriter();
  (async () => {
    for await (const chunk of tar) {
      // Typed for any BufferSource: the chunk is a Uint8Array, which is one.
      await writer.write(chunk as Uint8Array<ArrayBuffer>);
      pool.giveBack(chunk);
    }
    await writer.close();
  })().catch((error) => writer.abort(error).catch(() => {}));
  return gzipper.readable as ReadableStream<Uint8Array>;
}

/**
 * The tar's bytes. A producer adds the entries to `tar-stream`'s packer,
 * waiting whenever the packer holds enough unread; an error on either side
 * ends both (the reader sees the failure, not a short archive).
 */
async function* tarChunks(
  items: AsyncIterable<TreeItem>,
  open: Set<ContentReader>,
  pool: ChunkPool,
): AsyncGenerator<Uint8Array> {
  const packer = pack();
  const filling = fillTar(packer, items, open, pool).catch((error) => packer.destroy(error));
  try {
    for await (const chunk of packer) {
      // The packer's chunks are Buffers; its streamx types say only "unknown".
      if (!(chunk instanceof Uint8Array)) throw new TypeError("The tar packer gave no bytes");
      yield chunk;
    }
  } finally {
    packer.destroy();
    await filling;
  }
}

async function fillTar(
  packer: Pack,
  items: AsyncIterable<TreeItem>,
  open: Set<ContentReader>,
  pool: ChunkPool,
): Promise<void> {
  for await (const item of items) {
    const mtime = new Date(item.lastModified);
    if (item.kind === "directory") {
      await addEntry(packer, { name: `${item.path}/`, type: "directory", mtime }).done;
      continue;
    }
    const size = item.opened.entry.size;
    const { sink, done } = addEntry(packer, { name: item.path, type: "file", size, mtime });
    for await (const chunk of fileBytes(item.opened, item.path, open, pool)) {
      if (!sink.write(chunk)) await drained(sink);
    }
    sink.end(undefined);
    await done;
  }
  packer.finalize();
}

type PackEntry = ReturnType<Pack["entry"]>;

/** Starts an entry; `done` settles when the packer has taken all of it (or failed). */
function addEntry(
  packer: Pack,
  header: Parameters<Pack["entry"]>[0],
): { sink: PackEntry; done: Promise<void> } {
  let settle: (error?: Error | null) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  // Awaited by the caller; this only keeps a failure before then from being "unhandled".
  done.catch(() => {});
  return { sink: packer.entry(header, (error) => settle(error)), done };
}

/** Resolves when `sink` wants more, rejects when it was closed first (the packer failed). */
function drained(sink: PackEntry): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      sink.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      sink.off("drain", onDrain);
      reject(new Error("The archive was closed"));
    };
    sink.once("drain", onDrain);
    sink.once("close", onClose);
  });
}
