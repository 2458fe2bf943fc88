/**
 * Tests of CheckBatch (lib/storage/check_batch.ts), and of the file-system
 * store's use of it on real files: callers asking together share one check
 * made after all of them asked, and a caller asking after a check gets a new
 * one, so no read is answered by a check older than itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { CheckBatch } from "../lib/storage/check_batch.ts";
import { FileCache } from "../lib/storage/file_cache.ts";
import { FsStorage } from "../lib/storage/fs.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import type { OpenedFile, StoredEntry } from "../lib/storage/storage.ts";

Deno.test("callers asking in one batch share one check per key, made after the last of them asked", async () => {
  let state = "before";
  const checked: string[] = [];
  const batch = new CheckBatch((key: string) => {
    checked.push(key);
    return `${key}:${state}`;
  });
  const a1 = batch.check("a");
  const b = batch.check("b");
  state = "changed after the first callers asked";
  const a2 = batch.check("a");
  assert.deepEqual(await Promise.all([a1, b, a2]), [
    "a:changed after the first callers asked",
    "b:changed after the first callers asked",
    "a:changed after the first callers asked",
  ]);
  assert.deepEqual(checked, ["a", "b"], "one check per key");

  state = "later";
  assert.equal(await batch.check("a"), "a:later", "a caller after the run gets a new check");
  assert.deepEqual(checked, ["a", "b", "a"]);
});

Deno.test("callers continuing from the same turn join the batch, however deep their await chains", async () => {
  let checks = 0;
  const batch = new CheckBatch(() => ++checks);
  // Like connections whose reads completed together: each takes a few hops before asking.
  const hop = async (depth: number): Promise<number> =>
    depth === 0 ? await batch.check("k") : await hop(depth - 1);
  const results = await Promise.all([hop(0), hop(2), hop(2), hop(2)]);
  assert.deepEqual(results, [1, 1, 1, 1]);
});

Deno.test("a check that throws fails its own callers and no others", async () => {
  const batch = new CheckBatch((key: string) => {
    if (key === "bad") throw new Error("bad key");
    return key.toUpperCase();
  });
  const good = batch.check("good");
  const bad = batch.check("bad");
  const other = batch.check("other");
  await assert.rejects(bad, /bad key/);
  assert.deepEqual(await Promise.all([good, other]), ["GOOD", "OTHER"]);
});

async function withCachedStorage(fn: (storage: FsStorage, root: string) => Promise<void>) {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-checks-" }));
  const storage = new FsStorage({
    rootReal: root,
    fsync: false,
    followSymlinks: false,
    // Cached as soon as written, so a replacement is the only way to miss.
    cache: new FileCache({ maxFileBytes: 4096, maxTotalBytes: 65536, settleMs: -Infinity }),
    locks: new KeyedLock(),
  });
  try {
    await fn(storage, root);
  } finally {
    await storage.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Replaces `file` as another process would: a new inode renamed over it, synchronously. */
function replaceBehindTheStore(file: string, content: string): void {
  Deno.writeTextFileSync(`${file}.new`, content);
  Deno.renameSync(`${file}.new`, file);
}

function text(opened: OpenedFile | StoredEntry | null): string | null {
  if (opened === null || !("content" in opened)) return null;
  assert.ok(opened.content instanceof Uint8Array, "a small file comes from the cache");
  return new TextDecoder().decode(opened.content);
}

Deno.test("the fs store: reads asked together see one state no older than any of them", async () => {
  await withCachedStorage(async (storage, root) => {
    const file = path.join(root, "a.txt");
    Deno.writeTextFileSync(file, "version 1");
    assert.equal(text(await storage.open(["a.txt"])), "version 1");

    const first = storage.open(["a.txt"]);
    replaceBehindTheStore(file, "version 2"); // After the first read asked, before the check.
    const second = storage.open(["a.txt"]);
    assert.deepEqual([text(await first), text(await second)], ["version 2", "version 2"]);

    replaceBehindTheStore(file, "version 3");
    assert.equal(text(await storage.open(["a.txt"])), "version 3", "asked after the change");
    Deno.removeSync(file);
    assert.equal(await storage.open(["a.txt"]), null);
    Deno.writeTextFileSync(file, "version 4");
    assert.equal(text(await storage.open(["a.txt"])), "version 4", "created after a miss");
  });
});

Deno.test("the fs store: paths that cannot be reached read as missing, never as another file", async () => {
  await withCachedStorage(async (storage, root) => {
    await Deno.symlink(path.join(root, "nowhere"), path.join(root, "dangling"));
    await Deno.writeTextFile(path.join(root, "file"), "x");
    const outside = await Deno.makeTempFile();
    try {
      await Deno.symlink(outside, path.join(root, "escape"));
      assert.equal(await storage.open(["dangling"]), null);
      assert.equal(await storage.open(["escape"]), null);
      assert.equal(await storage.open(["file", "below"]), null, "a file as a directory");
      const directory = await storage.open([]);
      assert.equal(directory !== null && "kind" in directory && directory.kind, "directory");
    } finally {
      await Deno.remove(outside);
    }
  });
});
