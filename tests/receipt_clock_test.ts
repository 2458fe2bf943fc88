/**
 * Tests of the receipt clock (lib/storage/receipt_clock.ts) and of how the
 * file-system store shares a check among the requests received before it:
 * on real files, a change made before a request's stamp is always seen, and
 * a request stamped before a check may be answered by that check alone.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { FileCache } from "../lib/storage/file_cache.ts";
import { FsStorage } from "../lib/storage/fs.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { receiptsSoFar, stampReceipt } from "../lib/storage/receipt_clock.ts";
import type { OpenedFile, StoredEntry } from "../lib/storage/storage.ts";

async function withCachedStorage(fn: (storage: FsStorage, root: string) => Promise<void>) {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-receipts-" }));
  const storage = new FsStorage({
    rootReal: root,
    fsync: false,
    followSymlinks: false,
    // Files are cached as soon as written, so a replacement is the only way to miss.
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

/** Replaces `file` as another process would: a new inode renamed over it. */
async function replaceBehindTheStore(file: string, content: string): Promise<void> {
  await Deno.writeTextFile(`${file}.new`, content);
  await Deno.rename(`${file}.new`, file);
}

function text(opened: OpenedFile | StoredEntry | null): string | null {
  if (opened === null || !("content" in opened)) return null;
  assert.ok(opened.content instanceof Uint8Array, "a small file comes from the cache");
  return new TextDecoder().decode(opened.content);
}

Deno.test("receipt stamps increase, and the clock reads the latest", () => {
  const first = stampReceipt();
  const second = stampReceipt();
  assert.equal(second, first + 1);
  assert.equal(receiptsSoFar(), second);
});

Deno.test("a replaced file: requests received before the check share it, a later one sees the change", async () => {
  await withCachedStorage(async (storage, root) => {
    const file = path.join(root, "a.txt");
    await Deno.writeTextFile(file, "version 1");
    assert.equal(text(await storage.open(["a.txt"], stampReceipt())), "version 1");

    const before = stampReceipt();
    assert.equal(text(await storage.open(["a.txt"], before)), "version 1"); // The check.
    await replaceBehindTheStore(file, "version 2");
    // Received before the check: its answer may be what the check saw (no new stat is made).
    assert.equal(text(await storage.open(["a.txt"], before)), "version 1");
    // Without a stamp, or received after the change: a fresh check.
    assert.equal(text(await storage.open(["a.txt"])), "version 2");
    await replaceBehindTheStore(file, "version 3");
    assert.equal(text(await storage.open(["a.txt"], stampReceipt())), "version 3");
  });
});

Deno.test("a missing path: shared by earlier requests, found by a request received after its creation", async () => {
  await withCachedStorage(async (storage, root) => {
    const before = stampReceipt();
    assert.equal(await storage.open(["late.txt"], before), null);
    await Deno.writeTextFile(path.join(root, "late.txt"), "here now");
    assert.equal(
      await storage.open(["late.txt"], before),
      null,
      "the miss answers earlier requests",
    );
    assert.equal(text(await storage.open(["late.txt"], stampReceipt())), "here now");
    await Deno.remove(path.join(root, "late.txt"));
    assert.equal(await storage.open(["late.txt"], stampReceipt()), null);
  });
});

Deno.test("paths that cannot be reached read as missing, never as another file", async () => {
  await withCachedStorage(async (storage, root) => {
    await Deno.symlink(path.join(root, "nowhere"), path.join(root, "dangling"));
    await Deno.writeTextFile(path.join(root, "file"), "x");
    const outside = await Deno.makeTempFile();
    try {
      await Deno.symlink(outside, path.join(root, "escape"));
      for (const name of ["dangling", "escape"]) {
        assert.equal(await storage.open([name], stampReceipt()), null, name);
      }
      assert.equal(
        await storage.open(["file", "below"], stampReceipt()),
        null,
        "a file as a directory",
      );
      const directory = await storage.open([], stampReceipt());
      assert.equal(directory !== null && "kind" in directory && directory.kind, "directory");
    } finally {
      await Deno.remove(outside);
    }
  });
});
