/**
 * The storage layer's contract: handlers reach stored files through a
 * {@linkcode Storage} and nothing else touches the disk (or, later, an
 * object store). Paths are decoded, validated URL segments; the store maps
 * them to its own namespace and keeps its own bookkeeping (temp files,
 * locks) out of sight.
 *
 * @module
 */

import type { LockTable } from "./lock_table.ts";
import type { StateDocument } from "./state_document.ts";

/** A path in the store: decoded, validated URL segments (`[]` is the root). */
export type StoragePath = readonly string[];

/** What the store knows about one file or directory. */
export interface StoredEntry {
  /** A regular file or a directory: a store holds nothing else. */
  kind: "file" | "directory";
  /** Size in bytes (0 for a directory). */
  size: number;
  /** The strong entity-tag of a file version, quotes included (`""` for a directory). */
  etag: string;
  /** Modification time in ms since the epoch. */
  lastModified: number;
  /**
   * A directory's identity, the same through every path that reaches it (a
   * symlink's too: device and inode on a file system), so a walk of a tree can
   * tell a loop. Absent where a path is the only way to a directory (S3).
   */
  directoryId?: string;
}

/** One entry of a directory, by name. */
export interface ListedEntry extends StoredEntry {
  /** The entry's name in its directory. */
  name: string;
}

/** An entry somewhere below a directory, by its path from there. */
export interface TreeEntry {
  /** The names from the directory down to the entry (never empty). */
  path: readonly string[];
  /** What is there. */
  entry: StoredEntry;
}

/**
 * The bytes of a file version, readable at any offset and closed by whoever
 * holds it last. `Deno.FsFile` is one.
 */
export interface ContentReader {
  /** Moves the read position. */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Reads into `buffer`; the count, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Releases the version (an open file, a connection to the store). */
  close(): void;
}

/** A file version opened for reading: its metadata and its bytes (in memory when small and cached). */
export interface OpenedFile {
  /** The version's metadata; `kind` is "file". */
  entry: StoredEntry;
  /** Its bytes. Whoever takes it closes a reader. */
  content: ContentReader | Uint8Array;
}

/**
 * When a write may go ahead. {@linkcode WriteCondition.check} is the whole
 * rule; a store runs it under its own exclusion, right before the new
 * version becomes visible, against what is there then.
 */
export interface WriteCondition {
  /**
   * Throws (an `HttpError` of `lib/http/errors.ts`: 409, 412...) unless the write may
   * replace `current` (null when nothing is there).
   */
  check(current: StoredEntry | null): void;
  /**
   * The write must not replace anything (`If-None-Match: *`, a form without
   * overwrite). {@linkcode WriteCondition.check} already says so; a store
   * that can also refuse atomically (a no-replace rename, a conditional put)
   * does, so that not even a writer that bypasses this server can be overwritten.
   */
  readonly createOnly?: boolean;
}

/** A new file version being written, invisible until committed. */
export interface StagedFile {
  /** Where it is to go. */
  readonly path: StoragePath;
  /** Bytes written so far. */
  readonly size: number;
  /** Appends `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Says no more bytes will be written, so a store may send what it still
   * holds in memory now rather than at the commit (the S3 store does: a
   * form's files then do not all wait in memory). Optional; a commit ends
   * a file anyway.
   */
  end?(): Promise<void>;
}

/** What a committed write did. */
export interface Committed {
  /** True when nothing was at the path before (201), false when a file was replaced (204). */
  created: boolean;
  /** The new version's metadata. */
  entry: StoredEntry;
}

/** How much of a copy goes: the resource alone, or a directory with everything under it. */
export type CopyDepth = "0" | "infinity";

/** A member of a tree that a recursive removal could not remove, and why (an HTTP status). */
export interface RemovalFailure {
  /** Its path. */
  path: StoragePath;
  /** The status that says why (403, 423, 500...). */
  status: number;
}

/** Space in the store, for WebDAV's quota properties (RFC 4331). */
export interface StorageUsage {
  /** Bytes in use. */
  usedBytes: number;
  /** Bytes that may still be written. */
  availableBytes: number;
}

/** A file store: the only way handlers read and write files. */
export interface Storage {
  /** The WebDAV locks, kept where every process serving this store sees them. */
  readonly lockTable: LockTable;
  /** What is at `path`, or null when nothing the store serves is there. */
  stat(path: StoragePath): Promise<StoredEntry | null>;
  /**
   * Opens the file at `path` for reading. A directory there is described,
   * not opened (so a caller needs no second look); null when neither is there.
   */
  open(path: StoragePath): Promise<OpenedFile | StoredEntry | null>;
  /**
   * The entries of the directory at `path`, in no particular order. Throws
   * (404) when there is no directory there.
   */
  list(path: StoragePath): Promise<ListedEntry[]>;
  /**
   * Every entry below the directory at `path`, page by page, each directory
   * before what is in it: for a store whose listing is flat by nature (S3's
   * keys under a prefix), where this costs one request per page rather than
   * one per directory. Its own bookkeeping comes too (a caller filters as
   * listings do). A caller that passes a directory (its path from `path`) to
   * `next()` gets nothing more from below it: a hidden directory is passed
   * over without being read. Optional: a store without it is walked with
   * {@linkcode Storage.list}. Throws (404) when there is no directory there.
   */
  listTree?(path: StoragePath): AsyncGenerator<TreeEntry[], void, readonly string[] | undefined>;
  /**
   * Starts a new version of the file at `path`, creating missing parent
   * directories. Nothing is visible at `path` until {@linkcode Storage.commit}.
   * With `early`, that condition is checked first against what is there now
   * (and again at the commit): a write that cannot succeed fails before its
   * body is read, so a client waiting on `100-continue` learns it at once.
   * `length` is the body's announced length when known (Content-Length): a
   * store that buffers may size its buffer once from it.
   */
  stage(path: StoragePath, early?: WriteCondition, length?: number): Promise<StagedFile>;
  /**
   * Makes staged versions visible, all or none: every condition is checked
   * (against what is at each path then) before any version is put in place.
   * A staged file is spent afterwards, whatever the outcome.
   */
  commit(
    writes: readonly { staged: StagedFile; condition: WriteCondition }[],
  ): Promise<Committed[]>;
  /** Drops a staged version that will not be committed. */
  discard(staged: StagedFile): Promise<void>;
  /**
   * Removes the file or empty directory at `path` once `condition` accepts
   * what is there (404 when nothing is).
   */
  remove(path: StoragePath, condition: WriteCondition): Promise<void>;
  /**
   * Removes the file or directory at `path` and everything under it, its
   * dead properties too, once `condition` accepts what is there (404 when
   * nothing is). Returns the members that could not be removed (the rest
   * are gone); a store that removes a tree at once returns none.
   */
  removeTree(path: StoragePath, condition: WriteCondition): Promise<RemovalFailure[]>;
  /**
   * Renames `from` (a file or a directory, with its dead properties) to `to`
   * once `condition` accepts the source; with `overwrite` false an existing
   * destination is 412, else it is replaced whatever its kind (its tree and
   * properties go). 409 when the parent of `to` is missing or `to` is inside
   * `from`. True when `to` was new.
   */
  move(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; condition: WriteCondition },
  ): Promise<boolean>;
  /** Creates the directory at `path` and its parents; true when it was new (409 when a file is in the way). */
  mkdir(path: StoragePath): Promise<boolean>;
  /**
   * Copies `from` to `to` with its dead properties, under the rules of
   * {@linkcode Storage.move} (`condition` judges the source). A directory
   * is copied alone with depth "0" (an empty directory) and with its whole
   * tree with "infinity". True when `to` was new.
   */
  copy(
    from: StoragePath,
    to: StoragePath,
    options: { overwrite: boolean; depth: CopyDepth; condition: WriteCondition },
  ): Promise<boolean>;
  /**
   * The WebDAV dead properties of `path`: each property element, serialized
   * as the client gave it, by its Clark name (`{namespace}name`). Empty when
   * it has none.
   */
  readProperties(path: StoragePath): Promise<Map<string, string>>;
  /**
   * The dead properties of the members of the directory at `path`, by
   * member name; members without any are left out (a PROPFIND of a large
   * directory then costs one look, not one per member).
   */
  memberProperties(path: StoragePath): Promise<Map<string, Map<string, string>>>;
  /**
   * Applies `changes` to the dead properties of what is at `path` (a null
   * value removes), all at once; 404 when nothing is there.
   */
  writeProperties(path: StoragePath, changes: ReadonlyMap<string, string | null>): Promise<void>;
  /**
   * Sets the modification time of what is at `path`, in ms since the epoch
   * (404 when nothing is there); false when the store cannot set times.
   */
  setModified(path: StoragePath, lastModified: number): Promise<boolean>;
  /** Space used and available, or null when the store cannot tell. */
  usage(): Promise<StorageUsage | null>;
  /**
   * The server-state document `name` (such as "share/revoked.json"), kept
   * hidden where every process serving this store sees it.
   */
  stateDocument(name: string): StateDocument;
}
