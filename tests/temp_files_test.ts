/**
 * Tests of lib/storage/temp_files.ts: temp files carry their writer's
 * session, and a start-up removes only those no live writer owns, with real
 * processes holding (and dying with) their owner files' locks.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  STATE_DIR,
  TEMP_PREFIX,
  TempFiles,
  UNOWNED_TEMP_AGE_MS,
  UPLOAD_TEMP_PREFIX,
} from "../lib/storage/temp_files.ts";

Deno.test("removeStale removes abandoned temp files everywhere, and nothing else", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  const temps = new TempFiles(root);
  const old = new Date(Date.now() - UNOWNED_TEMP_AGE_MS - 60_000);
  try {
    await Deno.mkdir(`${root}/a/b`, { recursive: true });
    // Names of an earlier version (no owner in them), not written for over an hour.
    const stale = [`${root}/${TEMP_PREFIX}1`, `${root}/a/b/${TEMP_PREFIX}2`];
    // A session whose owner file is gone: its process died and someone cleaned up after it.
    stale.push(`${root}/a/${TEMP_PREFIX}w_0123456789abcdef_00ff`);
    for (const file of stale) {
      await Deno.writeTextFile(file, "partial");
      if (!file.includes("_")) await Deno.utime(file, old, old);
    }
    const recent = `${root}/a/${TEMP_PREFIX}3`;
    await Deno.writeTextFile(recent, "an unknown writer's, written just now: kept");
    await Deno.writeTextFile(`${root}/a/keep.txt`, "user data");
    await Deno.writeTextFile(`${root}/a/${UPLOAD_TEMP_PREFIX}abc`, "resumable, kept");
    await Deno.writeTextFile(`${root}/a/x${TEMP_PREFIX}`, "user data");
    await Deno.writeTextFile(`${outside}/${TEMP_PREFIX}4`, "not ours");
    await Deno.utime(`${outside}/${TEMP_PREFIX}4`, old, old);
    await Deno.symlink(outside, `${root}/link`);
    const opened = await temps.open(`${root}/a`);
    opened.file.close();
    const ours = opened.path;
    assert.ok(ours.split("/").pop()!.startsWith(temps.prefix));

    const removed = await temps.removeStale();
    assert.deepEqual(removed.sort(), stale.sort());
    for (const file of stale) await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
    for (const kept of [recent, `${root}/a/keep.txt`, `${root}/a/${UPLOAD_TEMP_PREFIX}abc`]) {
      await Deno.stat(kept);
    }
    await Deno.stat(`${root}/a/x${TEMP_PREFIX}`);
    await Deno.stat(ours);
    await Deno.stat(`${outside}/${TEMP_PREFIX}4`);
    assert.equal((await Deno.stat(ours)).mode! & 0o777, 0o600);
  } finally {
    await temps.close();
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("another live process's temp file is kept; removed once that process dies", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  const temps = new TempFiles(root);
  try {
    // A real other process: a child Deno that opens a temp file the way the store
    // does (claiming its owner file), reports the path, and keeps running.
    const moduleUrl = new URL("../lib/storage/temp_files.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { TempFiles } from "${moduleUrl}";
         const t = await new TempFiles(${JSON.stringify(root)}).open(${JSON.stringify(root)});
         console.log(t.path);
         await new Promise((r) => setTimeout(r, 30000));`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) line += (await reader.read()).value ?? "";
    const inFlight = line.trim();
    assert.deepEqual(await temps.removeStale(), [], "a live writer's file stays");
    await Deno.stat(inFlight);
    const owners = `${root}/${STATE_DIR}/owners`;
    assert.equal((await Array.fromAsync(Deno.readDir(owners))).length, 1, "its owner file");

    child.kill("SIGKILL"); // No chance to clean up: the kernel drops its lock.
    await child.status;
    await reader.cancel();
    assert.deepEqual(await temps.removeStale(), [inFlight], "removed once its writer died");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(owners)), [], "and its owner file too");
  } finally {
    await temps.close();
    await Deno.remove(root, { recursive: true });
  }
});
