/**
 * A full disk: the server serves a 2 MiB tmpfs, and a PUT larger than the
 * free space must get 507 Insufficient Storage, leave the previous file
 * and no temp file behind, and leave the server working. Needs root (to
 * mount); skipped with the reason otherwise.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { serve } from "../lib/mod.ts";
import type { FileServer } from "../lib/mod.ts";
import { bytes, parseResponses, readUntil, storedNames, writeAll } from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const TMPFS_SIZE = "2m";

/** Runs a command; returns null on success, or why it failed. */
async function runCommand(command: string, args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
      .output();
    if (output.success) return null;
    const stderr = new TextDecoder().decode(output.stderr).trim();
    return `${command} ${args.join(" ")} exited ${output.code}: ${stderr}`;
  } catch (error) {
    return `${command} could not run: ${error instanceof Error ? error.message : error}`;
  }
}

/** Mounts a small tmpfs at `directory`; null on success, or why it failed. */
function mountTmpfs(directory: string, extraOptions = ""): Promise<string | null> {
  const options = `size=${TMPFS_SIZE}${extraOptions}`;
  return runCommand("mount", ["-t", "tmpfs", "-o", options, "tmpfs", directory]);
}

/** Unmounts `directory`, lazily if something still holds it. */
async function unmount(directory: string): Promise<void> {
  const problem = await runCommand("umount", [directory]);
  if (problem !== null && (await runCommand("umount", ["-l", directory])) !== null) {
    throw new Error(`cannot unmount ${directory}: ${problem}`);
  }
}

/** Why a tmpfs cannot be mounted here (not root, no mount, a container), or null when it can. */
async function cannotMountReason(): Promise<string | null> {
  let probe: string;
  try {
    probe = await Deno.makeTempDir({ prefix: "filedrop-mount-probe-" });
  } catch (error) {
    return `no temp directory: ${error}`;
  }
  try {
    const problem = await mountTmpfs(probe);
    if (problem !== null) return problem;
    await unmount(probe);
    return null;
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
}

const skipReason = await cannotMountReason();
if (skipReason !== null) {
  console.warn(`disk_full_test: skipped, cannot mount a tmpfs (needs root): ${skipReason}`);
}

/** Bytes of a repeating, recognisable pattern. */
function pattern(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/**
 * PUTs `length` bytes over a raw socket, with Content-Length or chunked,
 * reading the answer while still writing: the server answers before the
 * body ends and may then stop reading, so write errors are expected.
 */
async function rawPut(
  port: number,
  target: string,
  length: number,
  framing: "content-length" | "chunked",
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const answer = readUntil(conn, { responses: 1, timeoutMs: 10_000 });
    const lengthHeader = framing === "chunked"
      ? "Transfer-Encoding: chunked"
      : `Content-Length: ${length}`;
    try {
      await writeAll(
        conn,
        bytes(`PUT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lengthHeader}\r\n\r\n`),
      );
      const piece = pattern(64 * KiB, 7);
      for (let sent = 0; sent < length; sent += piece.length) {
        const data = piece.subarray(0, Math.min(piece.length, length - sent));
        if (framing === "chunked") await writeAll(conn, bytes(`${data.length.toString(16)}\r\n`));
        await writeAll(conn, data);
        if (framing === "chunked") await writeAll(conn, bytes("\r\n"));
      }
      if (framing === "chunked") await writeAll(conn, bytes("0\r\n\r\n"));
    } catch {
      // The server answered early and closed: the answer is what matters.
    }
    const { responses } = parseResponses((await answer).text);
    assert.ok(responses.length > 0, `an answer to the ${framing} PUT`);
    return responses[0];
  } finally {
    conn.close();
  }
}

function namesIn(directory: string): Promise<string[]> {
  return Promise.resolve(storedNames(directory));
}

/**
 * Runs `fn` over a fresh tmpfs (mounted with `extraOptions` after its size);
 * `start` serves it. Fails if the server reported an unexpected error: a
 * full disk is the client's 507, not a 500.
 */
async function withFullDisk(
  extraOptions: string,
  fn: (mountPoint: string, start: () => Promise<FileServer>) => Promise<void>,
): Promise<void> {
  const mountPoint = await Deno.makeTempDir({ prefix: "filedrop-full-" });
  const mountProblem = await mountTmpfs(mountPoint, extraOptions);
  if (mountProblem !== null) {
    await Deno.remove(mountPoint);
    throw new Error(mountProblem);
  }
  const errors: unknown[] = [];
  const servers: FileServer[] = [];
  // fsync stays on (the default), as in production.
  const start = async () => {
    const server = await serve({ root: mountPoint, port: 0, onError: (e) => errors.push(e) });
    servers.push(server);
    return server;
  };
  try {
    await fn(mountPoint, start);
    assert.deepEqual(errors, [], "unexpected server errors");
  } finally {
    for (const server of servers) await server.shutdown();
    await unmount(mountPoint);
    await Deno.remove(mountPoint);
  }
}

Deno.test({
  name: "a PUT larger than the free space gets 507, keeps the old file, leaves no temp file",
  ignore: skipReason !== null,
  fn: () =>
    withFullDisk("", async (mountPoint, start) => {
      const victim = path.join(mountPoint, "victim.bin");
      const previous = pattern(512 * KiB, 1);
      await Deno.writeFile(victim, previous);
      const server = await start();
      const port = server.addr.port;

      for (const framing of ["content-length", "chunked"] as const) {
        const response = await rawPut(port, "/victim.bin", 3 * MiB, framing);
        assert.equal(response.status, 507, `${framing}: ${response.body}`);
        assert.deepEqual(await Deno.readFile(victim), previous, `${framing}: old file intact`);
        assert.deepEqual(await namesIn(mountPoint), ["victim.bin"], `${framing}: no temp file`);
      }

      const get = await fetch(`${server.url}victim.bin`);
      assert.equal(get.status, 200);
      assert.deepEqual(await get.bytes(), previous);
      const listing = await fetch(server.url);
      assert.equal(listing.status, 200);
      await listing.body?.cancel();

      const replacement = pattern(768 * KiB, 2);
      const replaced = await fetch(`${server.url}victim.bin`, { method: "PUT", body: replacement });
      await replaced.body?.cancel();
      assert.equal(replaced.status, 204);
      assert.deepEqual(await Deno.readFile(victim), replacement);
      const fresh = pattern(256 * KiB, 3);
      const created = await fetch(`${server.url}fresh.bin`, { method: "PUT", body: fresh });
      await created.body?.cancel();
      assert.equal(created.status, 201);
      assert.deepEqual(await Deno.readFile(path.join(mountPoint, "fresh.bin")), fresh);
      assert.deepEqual(await namesIn(mountPoint), ["fresh.bin", "victim.bin"]);
    }),
});

Deno.test({
  name: "with no inode left, a PUT of a new file gets 507 and a replacement still works",
  ignore: skipReason !== null,
  fn: () =>
    // Three inodes: the root directory and two files.
    // Room for the store's own state (its owner file and a lock file, made by the
    // first write) and a few files; the test fills the rest itself.
    withFullDisk(",nr_inodes=16", async (mountPoint, start) => {
      const server = await start();
      for (const name of ["a.txt", "b.txt"]) {
        const stored = await fetch(`${server.url}${name}`, { method: "PUT", body: name[0] });
        await stored.body?.cancel();
        assert.equal(stored.status, 201);
      }
      // Take every inode left.
      const fillers: string[] = [];
      for (;;) {
        const filler = path.join(mountPoint, `filler-${fillers.length}`);
        try {
          await Deno.writeTextFile(filler, "");
        } catch {
          break;
        }
        fillers.push(filler);
      }
      assert.ok(fillers.length > 0);
      const refused = await fetch(`${server.url}c.txt`, { method: "PUT", body: "c" });
      await refused.body?.cancel();
      assert.equal(refused.status, 507);
      // A replacement needs a temp file too, so it is refused the same way.
      const replaced = await fetch(`${server.url}a.txt`, { method: "PUT", body: "A" });
      await replaced.body?.cancel();
      assert.equal(replaced.status, 507);
      assert.equal(await Deno.readTextFile(path.join(mountPoint, "a.txt")), "a");
      assert.deepEqual(
        (await namesIn(mountPoint)).filter((name) => !name.startsWith("filler-")),
        ["a.txt", "b.txt"],
      );
      await Deno.remove(fillers.pop()!);
      const fits = await fetch(`${server.url}a.txt`, { method: "PUT", body: "A" });
      await fits.body?.cancel();
      assert.equal(fits.status, 204);
      assert.equal(await Deno.readTextFile(path.join(mountPoint, "a.txt")), "A");
    }),
});
