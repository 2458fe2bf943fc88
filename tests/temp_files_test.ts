import assert from "node:assert/strict";
import { openTempFile, removeStaleTemps, UPLOAD_TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";

Deno.test("removeStaleTemps removes other processes' temp files everywhere, and nothing else", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    const stale = [`${root}/${TEMP_PREFIX}1`, `${root}/a/b/${TEMP_PREFIX}2`];
    for (const file of stale) await Deno.writeTextFile(file, "partial");
    await Deno.writeTextFile(`${root}/a/keep.txt`, "user data");
    await Deno.writeTextFile(`${root}/a/${UPLOAD_TEMP_PREFIX}abc`, "resumable, kept");
    await Deno.writeTextFile(`${root}/a/x${TEMP_PREFIX}`, "user data");
    await Deno.writeTextFile(`${outside}/${TEMP_PREFIX}3`, "not ours");
    await Deno.symlink(outside, `${root}/link`);
    const opened = await openTempFile(`${root}/a`);
    opened.file.close();
    const ours = opened.path;
    assert.ok(ours.split("/").pop()!.startsWith(TEMP_PREFIX));

    const removed = await removeStaleTemps(root);
    assert.deepEqual(removed.sort(), stale.sort());
    for (const file of stale) await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
    await Deno.stat(`${root}/a/keep.txt`);
    await Deno.stat(`${root}/a/${UPLOAD_TEMP_PREFIX}abc`);
    await Deno.stat(`${root}/a/x${TEMP_PREFIX}`);
    await Deno.stat(ours);
    await Deno.stat(`${outside}/${TEMP_PREFIX}3`);
    assert.equal((await Deno.stat(ours)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});
