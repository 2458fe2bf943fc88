import assert from "node:assert/strict";
import { FileCache } from "../lib/storage/file_cache.ts";
import { entryOf } from "../lib/storage/fs.ts";

/** No settling time: these files' change times are seconds fresh (see the test of settling below). */
const limits = { maxFileBytes: 1024, maxTotalBytes: 2500, settleMs: -Infinity };

async function oldFile(dir: string, name: string, content: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, content);
  const past = new Date(Date.now() - 60_000);
  await Deno.utime(path, past, past);
  return path;
}

function entry(info: Deno.FileInfo, text: string) {
  return { entry: entryOf(info)!, body: new TextEncoder().encode(text) };
}

Deno.test("FileCache hits while the file is unchanged and misses after any change", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = new FileCache(limits);
    const path = await oldFile(dir, "a.txt", "hello");
    cache.set(path, await Deno.stat(path), entry(await Deno.stat(path), "hello"));
    assert.equal(new TextDecoder().decode(cache.get(path, await Deno.stat(path))!.body), "hello");

    // Same size, content rewritten in place: mtime and ctime move.
    await Deno.writeTextFile(path, "jello");
    assert.equal(cache.get(path, await Deno.stat(path)), undefined);

    // Replaced by rename with the old timestamps restored: the inode differs.
    const path2 = await oldFile(dir, "b.txt", "hello");
    cache.set(path2, await Deno.stat(path2), entry(await Deno.stat(path2), "hello"));
    const other = await oldFile(dir, "c.txt", "HELLO");
    const { mtime } = await Deno.stat(path2);
    await Deno.utime(other, mtime!, mtime!);
    await Deno.rename(other, path2);
    assert.equal(cache.get(path2, await Deno.stat(path2)), undefined);
    assert.equal(cache.totalBytes, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileCache refuses large and freshly modified files, and evicts what was not used since eviction last passed it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const settling = new FileCache({ ...limits, settleMs: undefined });
    const fresh = `${dir}/fresh.txt`;
    await Deno.writeTextFile(fresh, "new");
    assert.equal(settling.accepts(await Deno.stat(fresh)), false);
    // Its mtime set back: the change time still says it changed just now.
    const past = new Date(Date.now() - 60_000);
    await Deno.utime(fresh, past, past);
    assert.equal(settling.accepts(await Deno.stat(fresh)), false);
    const cache = new FileCache(limits);
    const big = await oldFile(dir, "big.txt", "x".repeat(2000));
    assert.equal(cache.accepts(await Deno.stat(big)), false);

    const paths = [];
    for (const name of ["1", "2", "3"]) {
      const path = await oldFile(dir, name, name.repeat(1000));
      const info = await Deno.stat(path);
      cache.set(path, info, entry(info, name.repeat(1000)));
      paths.push(path);
      if (name === "2") assert.ok(cache.get(paths[0], await Deno.stat(paths[0]))); // touch "1"
    }
    assert.ok(cache.totalBytes <= limits.maxTotalBytes);
    assert.ok(cache.get(paths[0], await Deno.stat(paths[0])), "recently used survives");
    assert.equal(
      cache.get(paths[1], await Deno.stat(paths[1])),
      undefined,
      "least recently used goes",
    );
    assert.ok(cache.get(paths[2], await Deno.stat(paths[2])));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
