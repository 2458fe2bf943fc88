/**
 * A read-only view of a store below one path, from which nothing escapes:
 * not by a path outside it, and on disk not by a symlink whose real target
 * lies outside it (though inside ROOT). What a share link reads through.
 *
 * @module
 */

import * as path from "node:path";
import { HttpError } from "../http/errors.ts";
import type { ListedEntry, OpenedFile, Storage, StoragePath, StoredEntry } from "./storage.ts";
import type { LockTable } from "./lock_table.ts";
import type { StateDocument } from "./state_document.ts";

/**
 * Reads of `inner` limited to `base` and below. `realPathOf` gives the real
 * path of a store path on disk (null when it resolves to nothing), or is
 * null for a store without symlinks (S3).
 */
export class ContainedStorage implements Storage {
  readonly #inner: Storage;
  readonly #base: StoragePath;
  readonly #realPathOf: ((path: StoragePath) => string | null) | null;
  #baseReal: string | null | undefined;

  /**
   * @param inner the whole store
   * @param base the path everything read must be at or below
   * @param realPathOf a path's real path on disk, or null for a store without symlinks
   */
  constructor(
    inner: Storage,
    base: StoragePath,
    realPathOf: ((path: StoragePath) => string | null) | null,
  ) {
    this.#inner = inner;
    this.#base = base;
    this.#realPathOf = realPathOf;
  }

  get lockTable(): LockTable {
    return this.#inner.lockTable;
  }

  /** Whether `target` is at or below the base, by name and (on disk) by real path. */
  #inside(target: StoragePath): boolean {
    if (target.length < this.#base.length) return false;
    if (!this.#base.every((segment, i) => target[i] === segment)) return false;
    if (this.#realPathOf === null) return true;
    this.#baseReal ??= this.#realPathOf(this.#base);
    const real = this.#realPathOf(target);
    if (this.#baseReal === null || real === null) return false;
    return real === this.#baseReal || real.startsWith(this.#baseReal + path.sep);
  }

  async stat(target: StoragePath): Promise<StoredEntry | null> {
    return this.#inside(target) ? await this.#inner.stat(target) : null;
  }

  async open(target: StoragePath): Promise<OpenedFile | StoredEntry | null> {
    return this.#inside(target) ? await this.#inner.open(target) : null;
  }

  async list(target: StoragePath): Promise<ListedEntry[]> {
    if (!this.#inside(target)) throw new HttpError(404, "Not found");
    const entries = await this.#inner.list(target);
    return entries.filter((entry) => this.#inside([...target, entry.name]));
  }

  stateDocument(name: string): StateDocument {
    return this.#inner.stateDocument(name);
  }

  usage(): ReturnType<Storage["usage"]> {
    return this.#inner.usage();
  }

  // Reads only: the writes of a share link go to the whole store, after their own checks.
  stage(): never {
    throw readOnly();
  }
  commit(): never {
    throw readOnly();
  }
  discard(): never {
    throw readOnly();
  }
  remove(): never {
    throw readOnly();
  }
  removeTree(): never {
    throw readOnly();
  }
  move(): never {
    throw readOnly();
  }
  mkdir(): never {
    throw readOnly();
  }
  copy(): never {
    throw readOnly();
  }
  readProperties(): Promise<Map<string, string>> {
    return Promise.resolve(new Map());
  }
  memberProperties(): Promise<Map<string, Map<string, string>>> {
    return Promise.resolve(new Map());
  }
  writeProperties(): never {
    throw readOnly();
  }
  setModified(): never {
    throw readOnly();
  }
}

function readOnly(): HttpError {
  return new HttpError(403, "A share link is read-only");
}
