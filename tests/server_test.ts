/**
 * Integration tests of the accept loop (lib/server.ts) over real sockets:
 * the connection limit, the sweeper's timeouts, graceful shutdown and the
 * access-log callback.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import type { ExchangeRecord } from "../lib/mod.ts";
import { bytes, exchange, parseResponses, readUntil, withServer, writeAll } from "./_helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

const GET = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

/** Sends a GET on `conn` and returns its one response (a keep-alive exchange). */
async function getOnce(conn: Deno.Conn, target = "/"): Promise<{ status: number; body: string }> {
  await writeAll(conn, bytes(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
  const { text } = await readUntil(conn, { responses: 1 });
  const { responses } = parseResponses(text);
  assert.equal(responses.length, 1, `one response in ${JSON.stringify(text)}`);
  return { status: responses[0].status, body: responses[0].body };
}

/** Retries a fresh-connection GET until it is answered 200 or `timeoutMs` passes. */
async function servedWithin(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { text } = await exchange(port, GET, { responses: 1, timeoutMs: 500 });
    if (parseResponses(text).responses[0]?.status === 200) return true;
    await sleep(25);
  }
  return false;
}

Deno.test("beyond maxConnections a new connection gets a well-formed 503 and is closed", async () => {
  await withServer({ limits: { maxConnections: 3 } }, async (server) => {
    const port = server.addr.port;
    const held: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const conn = await connect(port);
        held.push(conn);
        assert.equal((await getOnce(conn)).status, 200); // Admitted and kept alive.
      }
      const refused = await exchange(port, GET);
      assert.ok(refused.closed, "the refused connection is closed");
      const { responses, rest } = parseResponses(refused.text);
      assert.equal(responses.length, 1);
      assert.equal(rest, "", "Content-Length matches the body");
      assert.equal(responses[0].status, 503);
      assert.equal(responses[0].headers.get("connection"), "close");
      assert.equal(responses[0].headers.get("retry-after"), "1");
      assert.equal(responses[0].body, "503 Server is busy\n");

      // The admitted connections are unaffected.
      assert.equal((await getOnce(held[0])).status, 200);

      closeQuietly(held.pop()!);
      assert.ok(await servedWithin(port, 2000), "served again once a connection closed");
    } finally {
      held.forEach(closeQuietly);
    }
  });
});

Deno.test("a connection freed by a timeout makes room for a new one", async () => {
  await withServer({ limits: { maxConnections: 1, idleTimeoutMs: 300 } }, async (server) => {
    const port = server.addr.port;
    const idle = await connect(port);
    try {
      await sleep(50);
      const refused = await exchange(port, GET);
      assert.equal(parseResponses(refused.text).responses[0]?.status, 503);
      assert.ok(await servedWithin(port, 2000), "served once the idle connection timed out");
    } finally {
      closeQuietly(idle);
    }
  });
});

Deno.test("a client that stops reading is cut off by the write timeout", async () => {
  await withServer(
    { limits: { maxConnections: 1, writeTimeoutMs: 300 } },
    async (server, root) => {
      const port = server.addr.port;
      await Deno.writeFile(path.join(root, "big.bin"), new Uint8Array(8 * 1024 * 1024));
      const stuck = await connect(port);
      try {
        // The response is far larger than the socket buffers, and never read.
        await writeAll(stuck, bytes("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        await sleep(50);
        assert.ok(await servedWithin(port, 3000), "served once the stuck writer was closed");
      } finally {
        closeQuietly(stuck);
      }
    },
  );
});

Deno.test("shutdown closes idle connections at once and lets an upload in flight finish", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "up.txt"), "old");
    const idle = await connect(port);
    const uploader = await connect(port);
    try {
      assert.equal((await getOnce(idle)).status, 200);
      await writeAll(
        uploader,
        bytes("PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n01234"),
      );
      await sleep(50);

      let resolved = false;
      const stopping = server.shutdown().then(() => (resolved = true));

      const started = Date.now();
      const idleEnd = await readUntil(idle, { timeoutMs: 1000 });
      assert.ok(idleEnd.closed, "the idle connection is closed");
      assert.equal(idleEnd.text, "");
      assert.ok(Date.now() - started < 500, `idle closed after ${Date.now() - started} ms`);

      await assert.rejects(connect(port), "no new connections are accepted");

      await sleep(100);
      assert.equal(resolved, false, "shutdown waits for the upload");
      await writeAll(uploader, bytes("56789"));
      const { text, closed } = await readUntil(uploader, { timeoutMs: 2000 });
      const { responses, rest } = parseResponses(text);
      assert.equal(responses.length, 1);
      assert.equal(rest, "");
      assert.equal(responses[0].status, 204);
      assert.equal(responses[0].headers.get("connection"), "close");
      assert.ok(closed, "the server closes after the response");
      assert.equal(await Deno.readTextFile(path.join(root, "up.txt")), "0123456789");

      closeQuietly(uploader); // Ends the server's lingering read at once.
      await stopping;
      await server.finished;
    } finally {
      closeQuietly(idle);
      closeQuietly(uploader);
    }
  });
});

Deno.test("shutdown answers a 100-continue upload that starts during the grace period", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const uploader = await connect(port);
    try {
      await writeAll(
        uploader,
        bytes(
          "PUT /new.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        ),
      );
      const interim = await readUntil(uploader, { responses: 1 });
      assert.match(interim.text, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      const stopping = server.shutdown();
      await sleep(50);
      await writeAll(uploader, bytes("hello"));
      const { text, closed } = await readUntil(uploader, { timeoutMs: 2000 });
      const { responses } = parseResponses(text);
      assert.equal(responses[0]?.status, 201);
      assert.equal(responses[0].headers.get("connection"), "close");
      assert.ok(closed);
      closeQuietly(uploader);
      await stopping;
      assert.equal(await Deno.readTextFile(path.join(root, "new.txt")), "hello");
    } finally {
      closeQuietly(uploader);
    }
  });
});

Deno.test("shutdown closes a stalled connection when the grace period ends", async () => {
  await withServer({ limits: { shutdownGraceMs: 300 } }, async (server, root) => {
    const port = server.addr.port;
    const stalled = await connect(port);
    const slowHead = await connect(port);
    try {
      await writeAll(
        stalled,
        bytes("PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n01234"),
      );
      await writeAll(slowHead, bytes("GET / HTTP/1.1\r\nHost: localhost\r\n"));
      await sleep(50);
      const started = Date.now();
      await server.shutdown();
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1000, `shutdown took ${elapsed} ms`);
      const stalledEnd = await readUntil(stalled, { timeoutMs: 1000 });
      assert.ok(stalledEnd.closed);
      assert.equal(stalledEnd.text, "");
      assert.ok((await readUntil(slowHead, { timeoutMs: 1000 })).closed);
      // The aborted upload leaves nothing behind once its handler unwinds.
      for (let i = 0; i < 40; i++) {
        const names = [...Deno.readDirSync(root)].map((entry) => entry.name);
        if (names.length === 0) break;
        await sleep(25);
      }
      assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), []);
    } finally {
      closeQuietly(stalled);
      closeQuietly(slowHead);
    }
  });
});

Deno.test("shutdown of an idle server resolves at once, and twice is harmless", async () => {
  await withServer({}, async (server) => {
    const started = Date.now();
    const first = server.shutdown();
    const second = server.shutdown();
    await Promise.all([first, second, server.finished]);
    assert.ok(Date.now() - started < 500);
    await assert.rejects(connect(server.addr.port));
  });
});

Deno.test("onExchange records each response once, rejections included", async () => {
  const records: ExchangeRecord[] = [];
  await withServer({ onExchange: (record) => records.push(record) }, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const port = server.addr.port;
    const ok = await exchange(
      port,
      "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    const bad = await exchange(port, "GET / HTTP/1.1\r\n\r\n");
    assert.equal(records.length, 3);
    assert.deepEqual(records.map((r) => r.status), [200, 404, 400]);
    assert.equal(records[0].request?.path, "/a.txt");
    assert.equal(records[2].request, null);
    const sent = parseResponses(ok.text);
    assert.equal(records[0].bytesSent + records[1].bytesSent, ok.text.length);
    assert.equal(sent.responses.length, 2);
    assert.equal(records[2].bytesSent, bad.text.length);
  });
});
