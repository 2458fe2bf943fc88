/**
 * End-to-end tests of PUT (lib/handlers/put.ts) and DELETE (lib/handlers/delete.ts) against
 * a real server on 127.0.0.1 over real temp directories, with raw sockets for
 * misbehaving clients and curl where a user would use it.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import type { ExchangeRecord } from "../lib/mod.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { fileETag } from "../lib/storage/fs.ts";
import {
  bytes,
  exchange,
  parseResponses,
  readUntil,
  run,
  sendOne as send,
  withServer,
  writeAll,
} from "./_helpers.ts";

const CURL = "/usr/bin/curl";
const MiB = 1024 * 1024;

/** PUT of `body` with a Content-Length. */
function put(port: number, target: string, body: string, headers: string[] = []) {
  return send(port, `PUT ${target} HTTP/1.1`, [`Content-Length: ${body.length}`, ...headers], body);
}

function del(port: number, target: string, headers: string[] = []) {
  return send(port, `DELETE ${target} HTTP/1.1`, headers);
}

/** Names of upload temp files left in `dir`. */
async function tempFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) names.push(entry.name);
  }
  return names;
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 2_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.lstat(file);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function etagOf(file: string): Promise<string> {
  return fileETag(await Deno.stat(file));
}

// --- Create and replace ---------------------------------------------------------

Deno.test("PUT creates (201, Location, ETag) and then replaces (204, new ETag)", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "note.txt");

    const created = await put(port, "/note.txt", "first version");
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/note.txt");
    assert.equal(await Deno.readTextFile(file), "first version");
    const firstETag = await etagOf(file);
    assert.equal(created.headers.get("etag"), firstETag);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o644);

    const replaced = await put(port, "/note.txt", "second");
    assert.equal(replaced.status, 204);
    assert.equal(replaced.body, "");
    assert.equal(replaced.headers.get("location"), undefined);
    assert.equal(await Deno.readTextFile(file), "second");
    assert.equal(replaced.headers.get("etag"), await etagOf(file));
    assert.notEqual(replaced.headers.get("etag"), firstETag);

    // A GET gives the ETag the PUT announced.
    const get = await send(port, "GET /note.txt HTTP/1.1");
    assert.equal(get.headers.get("etag"), replaced.headers.get("etag"));
    assert.deepEqual(await tempFiles(root), []);
  });
});

Deno.test("PUT answers with the body's Repr-Digest when the client checks integrity, only then", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    const body = "digest me";
    const sha256 = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
    const md5 = createHash("md5").update(body).digest("base64");
    const rows: [string[], string | undefined][] = [
      [[], undefined],
      [["Want-Repr-Digest: sha-256=0"], undefined],
      [["Want-Repr-Digest: sha-512=3"], undefined],
      [["Want-Repr-Digest: sha-256=1"], sha256],
      [["Want-Repr-Digest: sha-512=3, sha-256=9"], sha256],
      [[`Content-MD5: ${md5}`], sha256],
      [[`Repr-Digest: ${sha256}`], sha256],
      [[`Content-Digest: ${sha256}`], sha256],
    ];
    for (const [headers, expected] of rows) {
      const response = await put(port, "/d.txt", body, headers);
      assert.ok(response.status === 201 || response.status === 204, String(response.status));
      assert.equal(response.headers.get("repr-digest"), expected, headers.join("; "));
    }
  });
});

Deno.test("PUT encodes Location and keeps an existing file's mode", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const created = await put(port, "/my%20docs/%C3%BCber%23.txt", "umlaut");
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/my%20docs/%C3%BCber%23.txt");
    assert.equal(await Deno.readTextFile(path.join(root, "my docs", "über#.txt")), "umlaut");

    const secret = path.join(root, "private.txt");
    await Deno.writeTextFile(secret, "v1");
    await Deno.chmod(secret, 0o600);
    assert.equal((await put(port, "/private.txt", "v2")).status, 204);
    assert.equal((await Deno.stat(secret)).mode! & 0o777, 0o600);
  });
});

Deno.test("PUT over a symlink inside ROOT: GET's ETag matches, no 0777 file", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "real.txt"), "real");
    await Deno.symlink("real.txt", path.join(root, "alias.txt"));
    const etag = (await send(port, "GET /alias.txt HTTP/1.1")).headers.get("etag")!;

    const replaced = await put(port, "/alias.txt", "new", [`If-Match: ${etag}`]);
    assert.equal(replaced.status, 204);
    const info = await Deno.lstat(path.join(root, "alias.txt"));
    assert.ok(info.isFile, "the link is replaced by a regular file");
    assert.equal(info.mode! & 0o777, 0o644);
    assert.equal(await Deno.readTextFile(path.join(root, "alias.txt")), "new");
    assert.equal(await Deno.readTextFile(path.join(root, "real.txt")), "real");
  });
});

Deno.test("PUT creates missing parent directories", async () => {
  await withServer({}, async (server, root) => {
    const response = await put(server.addr.port, "/a/b/c/deep.txt", "deep");
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("location"), "/a/b/c/deep.txt");
    assert.equal(await Deno.readTextFile(path.join(root, "a", "b", "c", "deep.txt")), "deep");
    assert.ok((await Deno.stat(path.join(root, "a", "b"))).isDirectory);
  });
});

Deno.test("PUT of an empty body creates an empty file", async () => {
  await withServer({}, async (server, root) => {
    assert.equal((await put(server.addr.port, "/empty.txt", "")).status, 201);
    assert.equal((await Deno.stat(path.join(root, "empty.txt"))).size, 0);
  });
});

// --- Refusals -----------------------------------------------------------------

Deno.test("PUT to a directory, or below a file, is 409 and changes nothing", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "dir"));
    await Deno.writeTextFile(path.join(root, "dir", "keep.txt"), "keep");
    await Deno.writeTextFile(path.join(root, "file.txt"), "plain");

    for (const target of ["/dir", "/dir/", "/file.txt/child", "/file.txt/x/y.txt", "/"]) {
      const response = await put(port, target, "body");
      assert.equal(response.status, 409, target);
    }
    assert.ok((await Deno.stat(path.join(root, "dir"))).isDirectory);
    assert.equal(await Deno.readTextFile(path.join(root, "dir", "keep.txt")), "keep");
    assert.equal(await Deno.readTextFile(path.join(root, "file.txt")), "plain");
    assert.deepEqual(await tempFiles(root), []);
    assert.deepEqual(await tempFiles(path.join(root, "dir")), []);
  });
});

Deno.test("PUT without Content-Length or Transfer-Encoding is 411", async () => {
  await withServer({}, async (server, root) => {
    const response = await send(server.addr.port, "PUT /unframed.txt HTTP/1.1");
    assert.equal(response.status, 411);
    assert.equal(await exists(path.join(root, "unframed.txt")), false);
  });
});

Deno.test("a read-only server refuses PUT and DELETE with 403", async () => {
  await withServer({ readOnly: true }, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "existing.txt");
    await Deno.writeTextFile(file, "original");
    assert.equal((await put(port, "/new.txt", "x")).status, 403);
    assert.equal((await put(port, "/existing.txt", "x")).status, 403);
    assert.equal((await del(port, "/existing.txt")).status, 403);
    assert.equal(await exists(path.join(root, "new.txt")), false);
    assert.equal(await Deno.readTextFile(file), "original");
    // Reads still work.
    assert.equal((await send(port, "GET /existing.txt HTTP/1.1")).body, "original");
  });
});

/** Whether permission bits stop this process (they do not for root). */
async function permissionsApply(): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "filedrop-perm-" });
  try {
    await Deno.chmod(dir, 0o555);
    await Deno.writeTextFile(path.join(dir, "probe"), "x");
    return false;
  } catch {
    return true;
  } finally {
    await Deno.chmod(dir, 0o755);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "a directory the server may not write to gives 403 (skipped when running as root)",
  ignore: Deno.build.os === "windows" || !(await permissionsApply()),
  fn: async () => {
    await withServer({}, async (server, root) => {
      const locked = path.join(root, "locked");
      await Deno.mkdir(locked);
      await Deno.writeTextFile(path.join(locked, "old.txt"), "old");
      await Deno.chmod(locked, 0o555);
      try {
        assert.equal((await put(server.addr.port, "/locked/new.txt", "x")).status, 403);
        assert.equal((await put(server.addr.port, "/locked/old.txt", "x")).status, 403);
        assert.equal((await del(server.addr.port, "/locked/old.txt")).status, 403);
        assert.equal(await Deno.readTextFile(path.join(locked, "old.txt")), "old");
      } finally {
        await Deno.chmod(locked, 0o755);
      }
    });
  },
});

Deno.test("PUT through a symlinked directory that leads outside ROOT is 403", async () => {
  const outside = await Deno.makeTempDir({ prefix: "filedrop-outside-" });
  try {
    await withServer({}, async (server, root) => {
      await Deno.symlink(outside, path.join(root, "escape"));
      assert.equal((await put(server.addr.port, "/escape/planted.txt", "x")).status, 403);
      assert.equal((await put(server.addr.port, "/escape/sub/planted.txt", "x")).status, 403);
    });
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

// --- Size limit -------------------------------------------------------------------

Deno.test("maxBodyBytes: a larger Content-Length is 413 before any byte is stored", async () => {
  await withServer({ limits: { maxBodyBytes: 1024 } }, async (server, root) => {
    const tooBig = await put(server.addr.port, "/big.txt", "x".repeat(1025));
    assert.equal(tooBig.status, 413);
    assert.equal(await exists(path.join(root, "big.txt")), false);
    assert.deepEqual(await tempFiles(root), []);
    // Exactly at the limit is fine.
    assert.equal((await put(server.addr.port, "/fits.txt", "y".repeat(1024))).status, 201);
  });
});

Deno.test("maxBodyBytes: a chunked body is cut off with 413 while streaming", async () => {
  await withServer({ limits: { maxBodyBytes: 1024 } }, async (server, root) => {
    const chunk = (data: string) => `${data.length.toString(16)}\r\n${data}\r\n`;
    const head =
      "PUT /stream.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    const { text } = await exchange(
      server.addr.port,
      [head, chunk("a".repeat(700)), chunk("b".repeat(700)), "0\r\n\r\n"],
      { responses: 1 },
    );
    const [response] = parseResponses(text).responses;
    assert.equal(response.status, 413);
    assert.equal(await exists(path.join(root, "stream.txt")), false);
    assert.deepEqual(await tempFiles(root), []);

    // The same framing under the limit is stored.
    const small = await exchange(
      server.addr.port,
      [head, chunk("a".repeat(500)), chunk("b".repeat(500)), "0\r\n\r\n"],
      { responses: 1 },
    );
    assert.equal(parseResponses(small.text).responses[0].status, 201);
    assert.equal((await Deno.stat(path.join(root, "stream.txt"))).size, 1000);
  });
});

// --- curl ---------------------------------------------------------------------

/** Every byte value, several times, so any text-mode mangling shows. */
function binarySample(length: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
  return data;
}

Deno.test("curl -T file (sized) and curl -T - (chunked) store byte-exact content", async () => {
  const work = await Deno.makeTempDir({ prefix: "filedrop-curl-" });
  const records: ExchangeRecord[] = [];
  try {
    await withServer({ onExchange: (record) => records.push(record) }, async (server, root) => {
      const sample = binarySample(300_000);
      const source = path.join(work, "sample.bin");
      await Deno.writeFile(source, sample);

      const sized = await run(CURL, ["-sS", "-w", "%{http_code}", "-T", source, server.url]);
      assert.equal(sized.code, 0, sized.stderr);
      assert.match(sized.stdout, /201$/);
      // "-T file" to a URL ending in "/" appends the file name.
      assert.deepEqual(await Deno.readFile(path.join(root, "sample.bin")), sample);
      const sizedHeaders = records.at(-1)!.request!.headers;
      assert.equal(sizedHeaders.get("content-length"), String(sample.length));

      const piped = await run(
        CURL,
        ["-sS", "-w", "%{http_code}", "-T", "-", `${server.url}from-stdin.bin`],
        { stdin: sample },
      );
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stdout, /201$/);
      assert.deepEqual(await Deno.readFile(path.join(root, "from-stdin.bin")), sample);
      const pipedHeaders = records.at(-1)!.request!.headers;
      assert.equal(pipedHeaders.get("transfer-encoding"), "chunked");
      assert.equal(pipedHeaders.get("content-length"), undefined);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

/** Writes `mebibytes` MiB of random-looking bytes (a random block stamped with a counter); returns the SHA-256. */
async function writeLargeFile(file: string, mebibytes: number): Promise<string> {
  const block = new Uint8Array(MiB);
  const maxRandomBytes = 65536; // crypto.getRandomValues fills at most this much per call.
  for (let offset = 0; offset < block.length; offset += maxRandomBytes) {
    crypto.getRandomValues(block.subarray(offset, offset + maxRandomBytes));
  }
  const stamp = new DataView(block.buffer);
  const hash = createHash("sha256");
  using handle = await Deno.open(file, { write: true, create: true, truncate: true });
  for (let i = 0; i < mebibytes; i++) {
    // Stamp both ends, so a dropped, repeated or reordered block changes the digest.
    stamp.setUint32(0, i);
    stamp.setUint32(block.length - 4, i);
    hash.update(block);
    let written = 0;
    while (written < block.length) written += await handle.write(block.subarray(written));
  }
  return hash.digest("hex");
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  using handle = await Deno.open(file);
  const buffer = new Uint8Array(4 * MiB);
  for (let n = await handle.read(buffer); n !== null; n = await handle.read(buffer)) {
    hash.update(buffer.subarray(0, n));
  }
  return hash.digest("hex");
}

Deno.test("a 200 MiB upload with curl arrives intact (SHA-256)", async () => {
  const work = await Deno.makeTempDir({ prefix: "filedrop-large-" });
  try {
    const source = path.join(work, "large.bin");
    const expected = await writeLargeFile(source, 200);
    await withServer({}, async (server, root) => {
      const { code, stdout, stderr } = await run(CURL, [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-T",
        source,
        `${server.url}uploads/large.bin`,
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, "201");
      const stored = path.join(root, "uploads", "large.bin");
      assert.equal((await Deno.stat(stored)).size, 200 * MiB);
      assert.equal(await sha256OfFile(stored), expected);
      assert.deepEqual(await tempFiles(path.join(root, "uploads")), []);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

// --- Clients that go away -------------------------------------------------------

const CUT_SHORT_CASES = [
  {
    framing: "Content-Length",
    head: "Content-Length: 1000000",
    partial: "x".repeat(1000),
  },
  {
    framing: "chunked",
    head: "Transfer-Encoding: chunked",
    partial: `3e8\r\n${"x".repeat(1000)}\r\n100000\r\n${"y".repeat(1000)}`,
  },
];

for (const { framing, head, partial } of CUT_SHORT_CASES) {
  Deno.test(`a client that disconnects mid-body (${framing}) leaves the old file and no temp`, async () => {
    await withServer({}, async (server, root) => {
      const file = path.join(root, "keep.txt");
      await Deno.writeTextFile(file, "the old content");
      const before = await etagOf(file);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      try {
        await writeAll(
          conn,
          bytes(`PUT /keep.txt HTTP/1.1\r\nHost: localhost\r\n${head}\r\n\r\n${partial}`),
        );
        // Seeing the temp file proves the upload is under way before we vanish.
        await waitFor("the upload to start", async () => (await tempFiles(root)).length === 1);
      } finally {
        conn.close();
      }
      await waitFor("the temp file to go", async () => (await tempFiles(root)).length === 0);
      assert.equal(await Deno.readTextFile(file), "the old content");
      assert.equal(await etagOf(file), before);
    });
  });

  Deno.test(`a client that sends too little (${framing}) then half-closes gets no 2xx`, async () => {
    await withServer({}, async (server, root) => {
      const file = path.join(root, "keep.txt");
      await Deno.writeTextFile(file, "the old content");
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      let answer: string;
      try {
        await writeAll(
          conn,
          bytes(`PUT /keep.txt HTTP/1.1\r\nHost: localhost\r\n${head}\r\n\r\n${partial}`),
        );
        await waitFor("the upload to start", async () => (await tempFiles(root)).length === 1);
        await conn.closeWrite();
        const { text, closed } = await readUntil(conn, { timeoutMs: 2_000 });
        assert.ok(closed, "the server closes the connection");
        answer = text;
      } finally {
        conn.close();
      }
      assert.doesNotMatch(answer, /^HTTP\/1\.1 2/);
      await waitFor("the temp file to go", async () => (await tempFiles(root)).length === 0);
      assert.equal(await Deno.readTextFile(file), "the old content");
    });
  });
}

// --- Concurrency and preconditions --------------------------------------------------

Deno.test("20 concurrent PUTs to one path leave exactly one complete body", async () => {
  await withServer({}, async (server, root) => {
    const size = 256 * 1024;
    const bodies = Array.from({ length: 20 }, (_, i) => String.fromCharCode(65 + i).repeat(size));
    const results = await Promise.all(bodies.map(async (body) => {
      const head = `PUT /contested.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n` +
        "Connection: close\r\n\r\n";
      // Three writes each, so the uploads interleave on the server.
      const { text } = await exchange(
        server.addr.port,
        [head, body.slice(0, size / 2), body.slice(size / 2)],
        { responses: 1, timeoutMs: 10_000 },
      );
      return parseResponses(text).responses[0]?.status;
    }));
    const statuses = results.toSorted();
    assert.deepEqual(statuses, [201, ...Array(19).fill(204)]);

    const content = await Deno.readTextFile(path.join(root, "contested.txt"));
    assert.equal(content.length, size);
    assert.ok(bodies.includes(content), "the file is one whole body, not a mix");
    assert.deepEqual(await tempFiles(root), []);
  });
});

Deno.test("PUT preconditions: If-None-Match and If-Match", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "doc.txt");
    await Deno.writeTextFile(file, "v1");
    const v1 = await etagOf(file);

    const noOverwrite = await put(port, "/doc.txt", "clobber", ["If-None-Match: *"]);
    assert.equal(noOverwrite.status, 412);
    assert.equal(await Deno.readTextFile(file), "v1");

    const fresh = await put(port, "/fresh.txt", "new", ["If-None-Match: *"]);
    assert.equal(fresh.status, 201);

    const matched = await put(port, "/doc.txt", "v2", [`If-Match: ${v1}`]);
    assert.equal(matched.status, 204);
    assert.equal(await Deno.readTextFile(file), "v2");
    const v2 = matched.headers.get("etag")!;
    assert.equal(v2, await etagOf(file));

    const stale = await put(port, "/doc.txt", "v3 from a stale copy", [`If-Match: ${v1}`]);
    assert.equal(stale.status, 412);
    assert.equal(await Deno.readTextFile(file), "v2");

    const weak = await put(port, "/doc.txt", "weak", [`If-Match: W/${v2}`]);
    assert.equal(weak.status, 412, "If-Match uses the strong comparison");

    const missing = await put(port, "/absent.txt", "x", ["If-Match: *"]);
    assert.equal(missing.status, 412);
    assert.equal(await exists(path.join(root, "absent.txt")), false);
    assert.deepEqual(await tempFiles(root), []);
  });
});

Deno.test("two PUTs racing with the same If-Match: one wins, the other gets 412", async () => {
  await withServer({}, async (server, root) => {
    const file = path.join(root, "race.txt");
    await Deno.writeTextFile(file, "base");
    const etag = await etagOf(file);
    const size = 4000;
    const bodies = ["A".repeat(size), "B".repeat(size)];
    const conns = await Promise.all(
      bodies.map(() => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port })),
    );
    try {
      const head = `PUT /race.txt HTTP/1.1\r\nHost: localhost\r\nIf-Match: ${etag}\r\n` +
        `Content-Length: ${size}\r\nConnection: close\r\n\r\n`;
      await Promise.all(
        conns.map((conn, i) => writeAll(conn, bytes(head + bodies[i].slice(0, 1000)))),
      );
      // Both temp files exist: both passed the early precondition check with the same ETag.
      await waitFor("both uploads to start", async () => (await tempFiles(root)).length === 2);
      await Promise.all(conns.map((conn, i) => writeAll(conn, bytes(bodies[i].slice(1000)))));
      const answers = await Promise.all(conns.map((conn) => readUntil(conn, { responses: 1 })));
      const statuses = answers.map(({ text }) => parseResponses(text).responses[0]?.status);
      assert.deepEqual(statuses.toSorted(), [204, 412]);
      const winner = bodies[statuses.indexOf(204)];
      assert.equal(await Deno.readTextFile(file), winner);
    } finally {
      for (const conn of conns) conn.close();
    }
    assert.deepEqual(await tempFiles(root), []);
  });
});

// --- DELETE ---------------------------------------------------------------------

Deno.test("DELETE: file 204, missing 404, a directory tree 204 (RFC 4918 §9.6), empty dir 204", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "gone.txt"), "bye");
    await Deno.mkdir(path.join(root, "full"));
    await Deno.writeTextFile(path.join(root, "full", "child.txt"), "child");
    await Deno.mkdir(path.join(root, "empty"));

    const removed = await del(port, "/gone.txt");
    assert.equal(removed.status, 204);
    assert.equal(await exists(path.join(root, "gone.txt")), false);
    assert.equal((await del(port, "/gone.txt")).status, 404);
    assert.equal((await del(port, "/never/was.txt")).status, 404);

    // A collection goes with everything under it, with or without the trailing slash.
    assert.equal((await del(port, "/full")).status, 204);
    assert.equal(await exists(path.join(root, "full")), false);

    assert.equal((await del(port, "/empty/")).status, 204);
    assert.equal(await exists(path.join(root, "empty")), false);
  });
});

Deno.test("DELETE refuses ROOT, a file named with a trailing slash, and stale If-Match", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "kept.txt");
    await Deno.writeTextFile(file, "kept");
    const etag = await etagOf(file);

    assert.equal((await del(port, "/")).status, 403);
    assert.equal((await del(port, "/kept.txt/")).status, 404);
    assert.equal((await del(port, "/kept.txt", ['If-Match: "stale"'])).status, 412);
    assert.equal(await Deno.readTextFile(file), "kept");
    assert.equal((await del(port, "/kept.txt", [`If-Match: ${etag}`])).status, 204);
    assert.equal(await exists(file), false);
  });
});
