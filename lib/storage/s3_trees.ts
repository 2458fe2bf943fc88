/**
 * The WebDAV side of the S3 store: whole directories (every key under a
 * prefix) copied and removed object by object, and dead properties kept in
 * sidecar JSON objects under `prefix/.filedrop-tmp-state/props/`, mirroring
 * the paths like the file-system store's state directory does. A temp name,
 * so never listed or reachable by URL.
 *
 * Not exact, and said where it shows: an object store has no rename and no
 * transaction, so a directory COPY, MOVE or DELETE is one request per
 * object; another instance writing under the same prefix meanwhile may see
 * (or keep) part of the tree, and a failure part-way leaves the objects
 * done so far. A property rewrite is read-modify-write: exact within one
 * process (the store's per-key lock), last writer wins across instances.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { S3Client } from "./s3_client.ts";
import type { ListedObject } from "./s3_client.ts";
import { s3ErrorToHttp } from "./s3_errors.ts";
import { PROPERTIES_FILE, STATE_DIR } from "./temp_files.ts";
import type { RemovalFailure, StoragePath } from "./storage.ts";

/** Requests a tree operation runs at once: the store is shared. */
const TREE_CONCURRENCY = 16;

/** Runs `task` on every item, at most `limit` at a time. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Tree operations and dead properties over one bucket prefix. */
export class S3Trees {
  readonly #client: S3Client;
  readonly #prefix: string;
  readonly #propertiesRoot: string;

  /**
   * @param client the bucket's client
   * @param prefix the store's key prefix ("" or ending with "/")
   */
  constructor(client: S3Client, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#propertiesRoot = `${prefix}${STATE_DIR}/props/`;
  }

  /** The key prefix of everything under a directory path (the store's prefix for ROOT). */
  directoryPrefix(path: StoragePath): string {
    return path.length === 0 ? this.#prefix : `${this.#prefix}${path.join("/")}/`;
  }

  /** The prefix of the properties of `path` and everything under it. */
  #propertiesPrefix(path: StoragePath): string {
    return path.length === 0 ? this.#propertiesRoot : `${this.#propertiesRoot}${path.join("/")}/`;
  }

  /** The object holding the properties of `path`. */
  #propertiesKey(path: StoragePath): string {
    return this.#propertiesPrefix(path) + PROPERTIES_FILE;
  }

  /** Every object under `prefix` (all pages, no delimiter). */
  async objectsUnder(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | null = null;
    do {
      const page = await this.#client.listObjects({ prefix, token });
      objects.push(...page.objects);
      token = page.nextToken;
    } while (token !== null);
    return objects;
  }

  /**
   * Deletes every object under the directory `path` (its marker too);
   * returns the members whose deletion failed, by path.
   */
  async removeDirectory(path: StoragePath): Promise<RemovalFailure[]> {
    const prefix = this.directoryPrefix(path);
    const objects = await this.objectsUnder(prefix);
    const failures: RemovalFailure[] = [];
    await forEachLimited(objects, TREE_CONCURRENCY, async (object) => {
      try {
        await this.#client.deleteObject(object.key);
      } catch (error) {
        const member = object.key.slice(prefix.length).split("/").filter((s) => s !== "");
        failures.push({ path: [...path, ...member], status: s3ErrorToHttp(error)?.status ?? 500 });
      }
    });
    return failures;
  }

  /**
   * Copies the directory `from` to `to`: its marker always, and with
   * `recursive` every object under it (each pinned to the ETag listed, so a
   * file replaced meanwhile fails the copy with 412 rather than mixing versions).
   */
  async copyDirectory(from: StoragePath, to: StoragePath, recursive: boolean): Promise<void> {
    const source = this.directoryPrefix(from);
    const target = this.directoryPrefix(to);
    await this.#client.putObject(target, new Uint8Array(0));
    if (!recursive) return;
    const objects = (await this.objectsUnder(source)).filter((object) => object.key !== source);
    await forEachLimited(objects, TREE_CONCURRENCY, async (object) => {
      await this.#client.copyObject(
        object.key,
        target + object.key.slice(source.length),
        object.etag,
      );
    });
  }

  /** The dead properties of `path` (empty when it has none). */
  async readProperties(path: StoragePath): Promise<Map<string, string>> {
    const info = await this.#client.headObject(this.#propertiesKey(path));
    if (info === null) return new Map();
    const response = await this.#client.getObject(this.#propertiesKey(path), {
      start: 0,
      etag: info.etag,
    });
    const text = await response.text();
    return new Map(Object.entries(JSON.parse(text) as Record<string, string>));
  }

  /** The properties of the members of the directory `path` that have any, by name. */
  async memberProperties(path: StoragePath): Promise<Map<string, Map<string, string>>> {
    const prefix = this.#propertiesPrefix(path);
    const found = new Map<string, Map<string, string>>();
    let token: string | null = null;
    do {
      const page = await this.#client.listObjects({ prefix, delimiter: "/", token });
      for (const member of page.prefixes) {
        const name = member.slice(prefix.length, -1);
        const properties = await this.readProperties([...path, name]);
        if (properties.size > 0) found.set(name, properties);
      }
      token = page.nextToken;
    } while (token !== null);
    return found;
  }

  /** Applies `changes` (null removes) to the properties of `path`: one PutObject or DeleteObject. */
  async writeProperties(
    path: StoragePath,
    changes: ReadonlyMap<string, string | null>,
  ): Promise<void> {
    const properties = await this.readProperties(path);
    for (const [key, value] of changes) {
      if (value === null) properties.delete(key);
      else properties.set(key, value);
    }
    const key = this.#propertiesKey(path);
    if (properties.size === 0) return await this.#client.deleteObject(key);
    const body = new TextEncoder().encode(JSON.stringify(Object.fromEntries(properties)));
    await this.#client.putObject(key, body);
  }

  /** Removes the properties of `path` and of everything under it. */
  async removeProperties(path: StoragePath): Promise<void> {
    const objects = await this.objectsUnder(this.#propertiesPrefix(path));
    await forEachLimited(
      objects,
      TREE_CONCURRENCY,
      (object) => this.#client.deleteObject(object.key),
    );
  }

  /**
   * Copies the properties of `from` to `to` (replacing those there); with
   * `recursive`, those of everything under `from` too.
   */
  async copyProperties(from: StoragePath, to: StoragePath, recursive: boolean): Promise<void> {
    await this.removeProperties(to);
    const source = this.#propertiesPrefix(from);
    const target = this.#propertiesPrefix(to);
    const objects = recursive
      ? await this.objectsUnder(source)
      : (await this.objectsUnder(this.#propertiesKey(from))).filter((object) =>
        object.key === this.#propertiesKey(from)
      );
    await forEachLimited(objects, TREE_CONCURRENCY, async (object) => {
      await this.#client.copyObject(
        object.key,
        target + object.key.slice(source.length),
        object.etag,
      );
    });
  }
}

/** 409 unless the parent of `path` is a directory (`stat` says what is at a path). */
export async function requireParentDirectory(
  path: StoragePath,
  stat: (path: StoragePath) => Promise<{ kind: string } | null>,
): Promise<void> {
  if (path.length > 1 && (await stat(path.slice(0, -1)))?.kind !== "directory") {
    throw new HttpError(409, "The destination's parent directory does not exist");
  }
}
