/**
 * Several servers over one ROOT, as users run them: two `main.ts` processes
 * (and the workers of one) racing conditional writes, a second instance
 * starting during the first one's upload, and `--workers` serving, logging
 * and stopping like one server. Real processes, real sockets, real files.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { startServerProcess } from "../scripts/crash_test.ts";
import type { ServerProcess } from "../scripts/crash_test.ts";
import { sendOne, storedNames } from "./_helpers.ts";

const linux = Deno.build.os === "linux";

interface Instance extends ServerProcess {
  port: number;
}

/** Starts `main.ts --port 0 ...args ROOT` as a user would; resolves once it listens. */
async function start(root: string, args: string[] = []): Promise<Instance> {
  const server = await startServerProcess(root, args);
  return Object.assign(server, { port: Number(new URL(server.url).port) });
}

async function withInstances(
  count: number,
  args: string[],
  fn: (instances: Instance[], root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-instances-" }));
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await start(root, args));
    await fn(instances, root);
  } finally {
    for (const instance of instances) {
      const code = await instance.stop();
      assert.equal(code, 0, `exit code; stderr: ${instance.stderr()}`);
      assert.doesNotMatch(instance.stderr(), /internal error/);
    }
    await Deno.remove(root, { recursive: true });
  }
}

function put(port: number, target: string, body: string, headers: string[] = []) {
  return sendOne(port, `PUT ${target} HTTP/1.1`, [
    `Content-Length: ${body.length}`,
    ...headers,
  ], body);
}

Deno.test("two instances on one ROOT: 200 racing If-Match PUTs each have exactly one winner", async () => {
  await withInstances(2, [], async ([a, b], root) => {
    assert.equal((await put(a.port, "/f.txt", "start")).status, 201);
    for (let round = 0; round < 200; round++) {
      const etag = (await sendOne(a.port, "GET /f.txt HTTP/1.1")).headers.get("etag")!;
      const results = await Promise.all([
        put(a.port, "/f.txt", `a${round}`, [`If-Match: ${etag}`]),
        put(b.port, "/f.txt", `b${round}`, [`If-Match: ${etag}`]),
      ]);
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [204, 412], `round ${round}`);
      const winner = results[0].status === 204 ? `a${round}` : `b${round}`;
      assert.equal(await Deno.readTextFile(path.join(root, "f.txt")), winner, `round ${round}`);
    }
  });
});

Deno.test("two instances on one ROOT: racing create-only PUTs make exactly one file each", async () => {
  await withInstances(2, [], async ([a, b], root) => {
    for (let round = 0; round < 100; round++) {
      const target = `/new-${round}.txt`;
      const results = await Promise.all([
        put(a.port, target, "from a", ["If-None-Match: *"]),
        put(b.port, target, "from b", ["If-None-Match: *"]),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), [201, 412], `round ${round}`);
      const body = await Deno.readTextFile(path.join(root, `new-${round}.txt`));
      assert.equal(body, results[0].status === 201 ? "from a" : "from b");
    }
  });
});

Deno.test("a second instance starting during the first one's upload leaves it intact", async () => {
  await withInstances(1, [], async ([first], root) => {
    const chunk = new Uint8Array(256 * 1024).map((_, i) => i % 251);
    const chunks = 32; // 8 MiB, sent over about a second.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: first.port });
    const head = "PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
      `Content-Length: ${chunk.length * chunks}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    let second: Instance | null = null;
    try {
      for (let i = 0; i < chunks; i++) {
        for (let offset = 0; offset < chunk.length;) {
          offset += await conn.write(chunk.subarray(offset));
        }
        await new Promise((resolve) => setTimeout(resolve, 30));
        // Mid-upload, a temp file of the first instance is on disk: start another instance.
        if (i === chunks / 2) second = await start(root);
      }
      const reply = new Uint8Array(4096);
      const n = await conn.read(reply);
      const status = new TextDecoder().decode(reply.subarray(0, n ?? 0)).split(" ")[1];
      assert.equal(status, "201", `the upload completed; second: ${second?.stderr()}`);
    } finally {
      conn.close();
      if (second !== null) assert.equal(await second.stop(), 0);
    }
    const stored = await Deno.readFile(path.join(root, "big.bin"));
    assert.equal(stored.length, chunk.length * chunks);
    for (let i = 0; i < chunks; i++) {
      assert.deepEqual(stored.subarray(i * chunk.length, (i + 1) * chunk.length), chunk);
    }
    assert.deepEqual(storedNames(root), ["big.bin"]);
  });
});

Deno.test({
  name: "--workers 2 serves one port, logs whole lines, races If-Match exactly, stops on SIGTERM",
  ignore: !linux,
  async fn() {
    await withInstances(1, ["--workers", "2"], async ([server], root) => {
      // Many connections, so that both workers take some.
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) => put(server.port, `/w${i % 10}.txt`, `body ${i}`)),
      );
      for (const response of responses) assert.ok([201, 204].includes(response.status));
      assert.equal((await put(server.port, "/f.txt", "start")).status, 201);
      for (let round = 0; round < 50; round++) {
        const etag = (await sendOne(server.port, "GET /f.txt HTTP/1.1")).headers.get("etag")!;
        const results = await Promise.all([
          put(server.port, "/f.txt", `x${round}`, [`If-Match: ${etag}`]),
          put(server.port, "/f.txt", `y${round}`, [`If-Match: ${etag}`]),
        ]);
        assert.deepEqual(results.map((r) => r.status).sort(), [204, 412], `round ${round}`);
      }
      assert.equal(storedNames(root).length, 11);
      // Give the log writer a moment, then check every line is one whole CLF line.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const lines = server.stdout().split("\n").filter((line) => line.startsWith("127.0.0.1"));
      const clf = /^127\.0\.0\.1 - - \[[^\]]+\] "[A-Z]+ \/[^ "]* HTTP\/1\.1" \d{3} (\d+|-)$/;
      for (const line of lines) assert.match(line, clf);
      assert.equal(lines.length, 100 + 1 + 50 * 3);
    });
  },
});

Deno.test("a resumable upload created on one instance is resumed and finished on the other", async () => {
  await withInstances(2, [], async ([a, b], root) => {
    const interop = "Upload-Draft-Interop-Version: 8";
    const created = await sendOne(a.port, "POST /up/file.bin HTTP/1.1", [
      "Upload-Complete: ?0",
      interop,
      "Content-Length: 5",
    ], "hello");
    // sendOne reads the first response: the 104, which carries the upload's address.
    const location = created.headers.get("location")!;
    assert.match(location, /^\/\.well-known\/filedrop-uploads\//);
    const offsetOn = async (port: number) =>
      (await sendOne(port, `HEAD ${location} HTTP/1.1`, [interop])).headers.get("upload-offset");
    // The creation is answered once the 5 bytes are checkpointed.
    const deadline = Date.now() + 3000;
    while ((await offsetOn(a.port)) !== "5" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await offsetOn(b.port), "5", "the other instance finds the upload and its offset");

    const appended = await sendOne(b.port, `PATCH ${location} HTTP/1.1`, [
      "Content-Type: application/partial-upload",
      "Upload-Offset: 5",
      "Upload-Complete: ?0",
      interop,
      "Content-Length: 6",
    ], " world");
    assert.equal(appended.status, 204);
    assert.equal(await offsetOn(a.port), "11", "the first instance sees the append");

    const finished = await sendOne(a.port, `PATCH ${location} HTTP/1.1`, [
      "Content-Type: application/partial-upload",
      "Upload-Offset: 11",
      "Upload-Complete: ?1",
      interop,
      "Content-Length: 1",
    ], "!");
    assert.equal(finished.status, 201, finished.body);
    assert.equal(await Deno.readTextFile(path.join(root, "up", "file.bin")), "hello world!");
    assert.equal((await sendOne(b.port, `HEAD ${location} HTTP/1.1`, [interop])).status, 404);
    assert.deepEqual(storedNames(path.join(root, "up")), ["file.bin"]);
  });
});

Deno.test("a read through one instance sees what another wrote before the read was sent, under load", async () => {
  await withInstances(2, ["--log", "off"], async ([a, b]) => {
    // Readers hammer the round's path on A, so that A's checks are shared among requests.
    let round = 0;
    let stop = false;
    const readers = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const status = (await sendOne(a.port, `GET /r${round}.txt HTTP/1.1`)).status;
        assert.ok(status === 200 || status === 404, `status ${status}`);
      }
    });
    try {
      for (; round < 60; round++) {
        assert.equal((await sendOne(a.port, `GET /r${round}.txt HTTP/1.1`)).status, 404);
        assert.equal((await put(b.port, `/r${round}.txt`, `round ${round}`)).status, 201);
        const read = await sendOne(a.port, `GET /r${round}.txt HTTP/1.1`);
        assert.equal(read.status, 200, `round ${round}: created through B before this GET`);
        assert.equal(read.body, `round ${round}`);
        assert.equal((await sendOne(b.port, `DELETE /r${round}.txt HTTP/1.1`)).status, 204);
        assert.equal((await sendOne(a.port, `GET /r${round}.txt HTTP/1.1`)).status, 404);
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
  });
});
