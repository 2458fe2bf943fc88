/**
 * Folder downloads (`?archive=zip|tar|tar.gz`) from a real server over a temp
 * ROOT, each archive read back by Python's `zipfile` and `tarfile` (an
 * independent reader) and compared byte for byte with the tree; and a 2 GiB
 * tree streamed by a `main.ts` process that stays under 150 MB resident.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { run, withServer } from "./_helpers.ts";
import { readStatusBytes, RSS_LIMIT_BYTES } from "../scripts/memory_check.ts";
import { startServerProcess } from "../scripts/crash_test.ts";
import { contentDisposition } from "../lib/handlers/archive.ts";

/**
 * Reads an archive (a file path; "-" streams a tar from stdin) with Python's
 * standard library and prints one JSON object: each member's name (without a
 * trailing "/") to "dir" or to its size and SHA-256.
 */
const PYTHON_READER = `
import hashlib, json, sys, tarfile, zipfile
kind, source = sys.argv[1], sys.argv[2]
members = {}
def add(name, is_dir, stream):
    name = name.rstrip("/")
    if name in members:
        raise SystemExit("duplicate member " + name)
    if is_dir:
        members[name] = "dir"
        return
    digest, size = hashlib.sha256(), 0
    while True:
        block = stream.read(1 << 20)
        if not block:
            break
        digest.update(block)
        size += len(block)
    members[name] = "%d:%s" % (size, digest.hexdigest())
if kind == "zip":
    with zipfile.ZipFile(source) as archive:
        bad = archive.testzip()
        if bad is not None:
            raise SystemExit("bad CRC in " + bad)
        for info in archive.infolist():
            with archive.open(info) as stream:
                add(info.filename, info.is_dir(), stream)
else:
    mode = "r|gz" if kind == "tar.gz" else "r|"
    fileobj = sys.stdin.buffer if source == "-" else open(source, "rb")
    with tarfile.open(fileobj=fileobj, mode=mode) as archive:
        for info in archive:
            if not (info.isdir() or info.isfile()):
                raise SystemExit("unexpected member type " + info.name)
            add(info.name, info.isdir(), None if info.isdir() else archive.extractfile(info))
json.dump(members, sys.stdout, sort_keys=True)
`;

type Members = Record<string, string>;

async function readArchive(kind: string, file: string): Promise<Members> {
  const result = await run("python3", ["-c", PYTHON_READER, kind, file]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function describe(bytes: Uint8Array): string {
  return `${bytes.length}:${createHash("sha256").update(bytes).digest("hex")}`;
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

/**
 * A tree with nested, empty and non-ASCII folders, an empty file, a file
 * larger than a read, a dotfile and dot-folder, symlinks out of ROOT (a file
 * and a folder), a symlink inside ROOT and a symlink loop. Returns what an
 * archive of ROOT must hold without dotfiles.
 */
async function makeTree(root: string, outside: string): Promise<Members> {
  const files: Record<string, Uint8Array> = {
    "a.txt": new TextEncoder().encode("hello\n"),
    "empty.bin": new Uint8Array(0),
    "sub/big.bin": randomBytes(700_000),
    "sub/deep/ünï côde ✓.txt": new TextEncoder().encode("é\n"),
    "sub/.secret": new TextEncoder().encode("hidden"),
    ".config/x": new TextEncoder().encode("hidden too"),
  };
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.mkdir(path.join(root, path.dirname(name)), { recursive: true });
    await Deno.writeFile(path.join(root, name), bytes);
  }
  await Deno.mkdir(path.join(root, "empty dir"));
  await Deno.writeTextFile(path.join(outside, "secret.txt"), "outside ROOT");
  await Deno.symlink(path.join(outside, "secret.txt"), path.join(root, "out-file"));
  await Deno.symlink(outside, path.join(root, "out-dir"));
  await Deno.symlink("..", path.join(root, "sub", "loop"));
  await Deno.symlink("a.txt", path.join(root, "link-to-a.txt"));
  return {
    "a.txt": describe(files["a.txt"]),
    "empty.bin": describe(files["empty.bin"]),
    "empty dir": "dir",
    "link-to-a.txt": describe(files["a.txt"]),
    "sub": "dir",
    "sub/big.bin": describe(files["sub/big.bin"]),
    "sub/deep": "dir",
    "sub/deep/ünï côde ✓.txt": describe(files["sub/deep/ünï côde ✓.txt"]),
  };
}

/** Downloads `url` into `file`; returns the response (body consumed). */
async function download(url: string, file: string): Promise<Response> {
  const response = await fetch(url);
  await Deno.writeFile(file, response.body ?? new Uint8Array(0));
  return response;
}

async function withTree(
  options: { dotfiles?: boolean; listing?: boolean },
  fn: (base: string, expected: Members, scratch: string) => Promise<void>,
): Promise<void> {
  const outside = await Deno.makeTempDir({ prefix: "filedrop-outside-" });
  const scratch = await Deno.makeTempDir({ prefix: "filedrop-archives-" });
  try {
    await withServer(options, async (server, root) => {
      const expected = await makeTree(root, outside);
      await fn(server.url.replace(/\/$/, ""), expected, scratch);
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
    await Deno.remove(scratch, { recursive: true });
  }
}

for (const format of ["zip", "tar", "tar.gz"]) {
  Deno.test(`?archive=${format} holds the tree byte for byte, no dotfile, nothing outside ROOT`, async () => {
    await withTree({}, async (base, expected, scratch) => {
      const file = path.join(scratch, `root.${format}`);
      const response = await download(`${base}/?archive=${format}`, file);
      assert.equal(response.status, 200);
      assert.equal(
        response.headers.get("content-type"),
        { zip: "application/zip", tar: "application/x-tar", "tar.gz": "application/gzip" }[format],
      );
      assert.equal(
        response.headers.get("content-disposition"),
        `attachment; filename="files.${format}"; filename*=UTF-8''files.${format}`,
      );
      assert.deepEqual(await readArchive(format, file), expected);
    });
  });
}

Deno.test("an archive of a subfolder holds that folder's tree; select= takes some entries", async () => {
  await withTree({}, async (base, expected, scratch) => {
    const below = (prefix: string) =>
      Object.fromEntries(
        Object.entries(expected).filter(([name]) => name.startsWith(prefix)).map((
          [name, value],
        ) => [name.slice(prefix.length), value]),
      );
    const sub = path.join(scratch, "sub.zip");
    await download(`${base}/sub/?archive=zip`, sub);
    // sub/loop leads to ROOT, inside ROOT: followed, except into sub, already being archived.
    const subExpected = {
      ...below("sub/"),
      "loop": "dir",
      ...Object.fromEntries(
        Object.entries(expected).filter(([name]) => !name.startsWith("sub")).map((
          [name, value],
        ) => [`loop/${name}`, value]),
      ),
    };
    assert.deepEqual(await readArchive("zip", sub), subExpected);

    const some = path.join(scratch, "some.tar");
    const response = await download(
      `${base}/?archive=tar&select=a.txt&select=sub&select=a.txt`,
      some,
    );
    assert.equal(response.status, 200);
    const wanted = Object.fromEntries(
      Object.entries(expected).filter(([name]) => name === "a.txt" || name.startsWith("sub")),
    );
    assert.deepEqual(await readArchive("tar", some), wanted);
  });
});

Deno.test("with --dotfiles, an archive holds the dotfiles too", async () => {
  await withTree({ dotfiles: true }, async (base, expected, scratch) => {
    const file = path.join(scratch, "all.zip");
    await download(`${base}/?archive=zip`, file);
    const members = await readArchive("zip", file);
    assert.equal(members["sub/.secret"], describe(new TextEncoder().encode("hidden")));
    assert.equal(members[".config"], "dir");
    assert.equal(members[".config/x"], describe(new TextEncoder().encode("hidden too")));
    for (const [name, value] of Object.entries(expected)) assert.equal(members[name], value);
    assert.equal(Object.keys(members).length, Object.keys(expected).length + 3);
  });
});

Deno.test("archive requests that cannot be served get a clear status and no archive", async () => {
  await withTree({}, async (base) => {
    const status = async (target: string, init?: RequestInit) => {
      const response = await fetch(`${base}${target}`, init);
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await status("/?archive=rar"), 400);
    assert.equal(await status("/?archive="), 400);
    assert.equal(await status("/missing/?archive=zip"), 404);
    assert.equal(await status("/?archive=zip&select=nope"), 404);
    assert.equal(await status("/?archive=zip&select=sub/big.bin"), 404);
    assert.equal(await status("/?archive=zip&select=.config"), 404, "a dotfolder is not listed");
    assert.equal(await status("/?archive=zip&select=.."), 404);
    assert.equal(await status("/.config/?archive=zip"), 404);
    // A file's URL with the query is the file itself.
    const file = await fetch(`${base}/a.txt?archive=zip`);
    assert.equal(await file.text(), "hello\n");
    // HEAD says what a GET would send, and sends no body.
    const head = await fetch(`${base}/sub/?archive=tar.gz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "application/gzip");
    assert.match(head.headers.get("content-disposition") ?? "", /filename="sub\.tar\.gz"/);
    assert.equal(await head.text(), "");
  });
  await withTree({ listing: false }, async (base) => {
    const response = await fetch(`${base}/sub/?archive=zip`);
    await response.body?.cancel();
    assert.equal(response.status, 404, "no archive where there is no listing");
  });
});

Deno.test("Content-Disposition names are safe ASCII plus the exact UTF-8 name", () => {
  assert.equal(
    contentDisposition('a "quoted"\\ ✓ name;.zip'),
    `attachment; filename="a _quoted__ _ name;.zip"; ` +
      `filename*=UTF-8''a%20%22quoted%22%5C%20%E2%9C%93%20name%3B.zip`,
  );
  assert.equal(
    contentDisposition("x\r\nSet-Cookie: a=b.zip"),
    `attachment; filename="x__Set-Cookie: a=b.zip"; ` +
      `filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db.zip`,
  );
});

Deno.test("a long archive to a slow but steady reader is not cut by the write timeout", async () => {
  await withServer({ limits: { writeTimeoutMs: 1500 } }, async (server, root) => {
    const data = randomBytes(24 * 1024 * 1024);
    await Deno.writeFile(path.join(root, "big.bin"), data);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await conn.write(
        new TextEncoder().encode(
          "GET /?archive=tar HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ),
      );
      // 512 KiB every 100 ms: about 5 s in all, never near 1.5 s without progress.
      const buffer = new Uint8Array(512 * 1024);
      let received = 0;
      const started = Date.now();
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received += n;
        await new Promise((resolve) => setTimeout(resolve, 100 * n / buffer.length));
      }
      assert.ok(Date.now() - started > 3000, "the transfer took long enough to matter");
      // The tar of one 24 MiB file: a header, the data and the end blocks, chunked.
      assert.ok(received > data.length + 1536, `received only ${received} bytes`);
    } finally {
      conn.close();
    }
  });
});

/**
 * The archive's members as Python's `zipfile` reads its central directory:
 * name to size and CRC-32 (as the server computed them while reading).
 */
const PYTHON_ZIP_INDEX = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    json.dump({i.filename: "%d:%08x" % (i.file_size, i.CRC) for i in archive.infolist()}, sys.stdout)
`;

/** CRC-32 (zip's) of `size` zero bytes, computed by Python's zlib. */
async function zerosCrc(size: number): Promise<string> {
  const result = await run("python3", [
    "-c",
    `import zlib; c = 0\nfor _ in range(${
      size >> 20
    }): c = zlib.crc32(bytes(1 << 20), c)\nprint("%08x" % c)`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

Deno.test({
  name: "a 2 GiB tree streams as zip and as tar with the server under 150 MB resident",
  sanitizeResources: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "filedrop-2gib-" });
    const scratch = await Deno.makeTempDir({ prefix: "filedrop-2gib-out-" });
    // Sparse files: 2 GiB of zeros that take no disk, read at memory speed.
    const fileSize = 512 * 1024 * 1024;
    const names = ["d1/f1", "d1/f2", "d2/f1", "d2/f2"];
    for (const name of names) {
      await Deno.mkdir(path.join(root, path.dirname(name)), { recursive: true });
      const file = await Deno.open(path.join(root, name), { create: true, write: true });
      await file.truncate(fileSize);
      file.close();
    }
    const crc = await zerosCrc(fileSize);
    const server = await startServerProcess(root);
    try {
      // The zip: its central directory must give every file its full size and the CRC of zeros.
      const zip = path.join(scratch, "big.zip");
      const response = await download(`${server.url}?archive=zip`, zip);
      assert.equal(response.status, 200);
      const index = await run("python3", ["-c", PYTHON_ZIP_INDEX, zip]);
      assert.equal(index.code, 0, index.stderr);
      assert.deepEqual(JSON.parse(index.stdout), {
        "d1/": "0:00000000",
        "d2/": "0:00000000",
        ...Object.fromEntries(names.map((name) => [name, `${fileSize}:${crc}`])),
      });
      assert.ok((await Deno.stat(zip)).size > 4 * fileSize);
      await Deno.remove(zip);
      // The tar goes straight from the socket into GNU tar, never to disk.
      const listing = await run("sh", ["-c", `curl -sf '${server.url}?archive=tar' | tar -tvf -`]);
      assert.equal(listing.code, 0, listing.stderr);
      const members = listing.stdout.trim().split("\n").map((line) => {
        const fields = line.split(/\s+/);
        return `${fields[5]} ${fields[2]}`;
      });
      assert.deepEqual(members, [
        "d1/ 0",
        "d1/f1 536870912",
        "d1/f2 536870912",
        "d2/ 0",
        "d2/f1 536870912",
        "d2/f2 536870912",
      ]);
      const peak = await readStatusBytes(server.pid, "VmHWM");
      assert.ok(peak !== null);
      console.log(`peak RSS of the server: ${(peak / 1e6).toFixed(1)} MB`);
      assert.ok(peak < RSS_LIMIT_BYTES, `peak RSS ${peak} bytes`);
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(scratch, { recursive: true });
    }
  },
});
