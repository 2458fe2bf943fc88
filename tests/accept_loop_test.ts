/**
 * Integration tests of the accept loop (lib/server/accept_loop.ts) over real sockets:
 * the connection limit, the sweeper's timeouts, graceful shutdown and the
 * access-log callback.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { DEFAULT_LIMITS, serve } from "../lib/mod.ts";
import type { ExchangeRecord } from "../lib/mod.ts";
import type { RawResponse } from "./_helpers.ts";
import { ConnectionPool } from "../lib/server/accept_loop.ts";
import { UPLOAD_TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import {
  bytes,
  exchange,
  firstLine,
  parseResponses,
  readUntil,
  storedNames,
  withServer,
  writeAll,
} from "./_helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

/** Waits (up to 5 s) until `condition` holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(10);
  }
}

const GET = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

/** Sends a GET on `conn` and returns its one response (a keep-alive exchange). */
async function getOnce(conn: Deno.Conn, target = "/"): Promise<RawResponse> {
  await writeAll(conn, bytes(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
  const { text } = await readUntil(conn, { responses: 1 });
  const { responses } = parseResponses(text);
  assert.equal(responses.length, 1, `one response in ${JSON.stringify(text)}`);
  return responses[0];
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

Deno.test("connections that close out of order free exactly their own places", async () => {
  await withServer({ limits: { maxConnections: 3 } }, async (server) => {
    const port = server.addr.port;
    const [a, b, c] = await Promise.all([connect(port), connect(port), connect(port)]);
    try {
      for (const conn of [a, b, c]) assert.equal((await getOnce(conn)).status, 200);
      assert.equal(server.openConnections, 3);
      // The first goes, then the one that took its place in the pool's list.
      a.close();
      await waitFor(() => server.openConnections === 2);
      c.close();
      await waitFor(() => server.openConnections === 1);
      assert.equal((await getOnce(b)).status, 200, "the one left is still served");
      const [d, e] = await Promise.all([connect(port), connect(port)]);
      try {
        for (const conn of [d, e]) assert.equal((await getOnce(conn)).status, 200);
        assert.equal(server.openConnections, 3);
      } finally {
        closeQuietly(d);
        closeQuietly(e);
      }
    } finally {
      for (const conn of [a, b, c]) closeQuietly(conn);
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
        if (storedNames(root).length === 0) break;
        await sleep(25);
      }
      assert.deepEqual(storedNames(root), []);
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

const RESET_CLIENTS = path.join(import.meta.dirname!, "fixtures", "reset_clients.py");

/** Runs the reset client (TCP RSTs from Python, which can set SO_LINGER {1, 0}); returns resets sent. */
async function resetConnections(port: number, mode: "burst" | "storm", amount: number) {
  const output = await new Deno.Command("python3", {
    args: [RESET_CLIENTS, String(port), mode, String(amount)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `reset client failed: ${stderr}`);
  return Number(new TextDecoder().decode(output.stdout).trim());
}

/** Milliseconds until a fresh connection's GET is answered 200 (Infinity if not within `limitMs`). */
async function timeToAnswer(port: number, limitMs: number): Promise<number> {
  const started = performance.now();
  const { text } = await exchange(port, GET, { responses: 1, timeoutMs: limitMs });
  const elapsed = performance.now() - started;
  return parseResponses(text).responses[0]?.status === 200 ? elapsed : Infinity;
}

/** Waits until the server counts no open connection; returns the count it settled at. */
async function settledConnections(server: { openConnections: number }, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (server.openConnections > 0 && Date.now() < deadline) await sleep(20);
  return server.openConnections;
}

Deno.test("300 reset connections in a burst cost nothing: the next GET is answered at once", async () => {
  const notices: string[] = [];
  await withServer({ onNotice: (line) => notices.push(line) }, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "index.html"), "hello\n");
    const port = server.addr.port;
    assert.equal(await resetConnections(port, "burst", 300), 300);
    const elapsed = await timeToAnswer(port, 2000);
    assert.ok(elapsed < 200, `first answer after the burst took ${elapsed.toFixed(0)} ms`);
    assert.equal(await settledConnections(server, 2000), 0, "every reset connection is closed");
  });
  // At most one line a minute, however many resets: never a line per reset.
  assert.ok(notices.length <= 2, `notices: ${notices.join(" | ")}`);
});

Deno.test("a download finishes intact during a 2 s storm of resets, and GETs stay prompt", async () => {
  const notices: string[] = [];
  const errors: unknown[] = [];
  await withServer({
    onNotice: (line) => notices.push(line),
    onError: (error) => errors.push(error),
  }, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "index.html"), "hello\n");
    const big = new Uint8Array(32 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    await Deno.writeFile(path.join(root, "big.bin"), big);
    const port = server.addr.port;

    const storm = resetConnections(port, "storm", 2);
    const download = (async () => {
      const conn = await connect(port);
      try {
        await writeAll(conn, bytes("GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        const all = new Uint8Array(big.length + 4096);
        let total = 0;
        let bodyStart = -1;
        // Read slowly at first, so that the download spans the storm.
        for (let reads = 0; bodyStart < 0 || total - bodyStart < big.length; reads++) {
          const n = await conn.read(all.subarray(total));
          if (n === null) break;
          total += n;
          if (bodyStart < 0) {
            const headEnd = new TextDecoder("latin1").decode(all.subarray(0, total))
              .indexOf("\r\n\r\n");
            if (headEnd >= 0) bodyStart = headEnd + 4;
          }
          if (reads < 20) await sleep(50);
        }
        assert.match(new TextDecoder("latin1").decode(all.subarray(0, 20)), /^HTTP\/1\.1 200 /);
        return all.slice(bodyStart, total) as Uint8Array<ArrayBuffer>;
      } finally {
        closeQuietly(conn);
      }
    })();
    const latencies: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 10; i++) {
        await sleep(150);
        latencies.push(await timeToAnswer(port, 2000));
      }
    })();
    const [resets, body] = await Promise.all([storm, download, probing]);
    assert.ok(resets > 100, `the storm sent ${resets} resets`);
    const digest = async (data: Uint8Array<ArrayBuffer>) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    assert.equal(body.length, big.length);
    assert.deepEqual(await digest(body), await digest(big), "the download is intact");
    assert.ok(
      // Every GET answered; nearly all at once (one may meet a GC pause or a busy
      // machine; the defect this guards against left most unanswered for seconds).
      latencies.every((ms) => ms < 2000) && latencies.filter((ms) => ms < 500).length >= 8,
      `GETs during the storm answered in ${latencies.map((ms) => ms.toFixed(0)).join(", ")} ms ` +
        `(notices: ${notices.join(" | ")}; errors: ${errors.join(" | ")})`,
    );
    assert.equal(await settledConnections(server, 2000), 0, "every connection is closed");
  });
});

Deno.test("a socket that fails during set-up is closed and never rejects serve()", async () => {
  // setNoDelay on a socket reset since accept throws EINVAL on macOS; Linux cannot
  // reproduce that, so a socket that throws there stands in for it.
  let closes = 0;
  const failing = {
    localAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 2 },
    setNoDelay() {
      throw new Deno.errors.InvalidData("Invalid argument (os error 22)");
    },
    close() {
      closes++;
    },
  } as unknown as Deno.TcpConn;
  const pool = new ConnectionPool(() => {
    throw new Error("never reached: set-up failed before");
  }, DEFAULT_LIMITS);
  await pool.serve(failing); // Resolves: a rejection here would end the process.
  assert.equal(closes, 1);
  assert.equal(pool.size, 0);
  await pool.shutdown();
});

Deno.test({
  name: "out of file descriptors: accepting pauses, requests get 503, served again within a second",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "filedrop-emfile-" });
    await Deno.writeTextFile(path.join(root, "index.html"), "hello\n");
    await Deno.writeTextFile(path.join(root, "other.txt"), "other\n");
    // prlimit (util-linux) lowers RLIMIT_NOFILE for the server process alone.
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=160:160",
        Deno.execPath(),
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        path.join(import.meta.dirname!, "..", "main.ts"),
        "--port",
        "0",
        "--log",
        "off",
        root,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (stderr += text) }),
    );
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const held: Deno.TcpConn[] = [];
    try {
      const url = new URL((await firstLine(stdout, () => stderr)).split(" at ")[1]);
      const port = Number(url.port);
      // Twice the descriptors the server has: accept must run out.
      for (let i = 0; i < 320; i++) held.push(await connect(port));
      const deadline = Date.now() + 5000;
      while (!stderr.includes("out of file descriptors") && Date.now() < deadline) {
        await sleep(50);
      }
      assert.match(stderr, /accepting paused .* out of file descriptors/);
      assert.equal(await timeToAnswer(port, 300), Infinity, "no answer while out of descriptors");
      // A connection accepted before: opening a file fails for want of a descriptor, and says so.
      const busy = await getOnce(held[0], "/other.txt");
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get("retry-after"), "1");

      held.splice(0).forEach(closeQuietly);
      const closedAt = performance.now();
      const deadlineAfterClose = Date.now() + 3000;
      let answeredAt = Infinity;
      while (Date.now() < deadlineAfterClose) {
        if (await timeToAnswer(port, 300) < Infinity) {
          answeredAt = performance.now();
          break;
        }
      }
      const recovery = answeredAt - closedAt;
      console.log(`served again ${recovery.toFixed(0)} ms after the connections closed`);
      assert.ok(
        recovery < 1000,
        `served again ${recovery.toFixed(0)} ms after the connections closed`,
      );
      assert.doesNotMatch(stderr, /internal error/);
    } finally {
      held.forEach(closeQuietly);
      child.kill("SIGTERM");
      await child.status;
      await stdout.cancel();
      await stderrDone;
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("serve() that cannot bind stops its start-up walk: nothing outlives the failure", async () => {
  const occupied = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const root = await Deno.makeTempDir({ prefix: "filedrop-bind-" });
  // Crash debris of a resumable upload (data without a sidecar) in 200 folders:
  // a start-up walk that outlived the failed bind would remove it.
  const debris = `${UPLOAD_TEMP_PREFIX}${"ab".repeat(32)}`;
  for (let i = 0; i < 200; i++) {
    await Deno.mkdir(path.join(root, `d${i}`));
    await Deno.writeTextFile(path.join(root, `d${i}`, debris), "partial");
  }
  try {
    await assert.rejects(
      serve({ root, hostname: "127.0.0.1", port: (occupied.addr as Deno.NetAddr).port }),
      Deno.errors.AddrInUse,
    );
    await sleep(300);
    let left = 0;
    for (let i = 0; i < 200; i++) {
      left += await Deno.stat(path.join(root, `d${i}`, debris)).then(() => 1, () => 0);
    }
    assert.equal(left, 200, "the walk stopped when serve() failed");
  } finally {
    occupied.close();
    await Deno.remove(root, { recursive: true });
  }
});

/** Keeps this thread (the in-process server's event loop with it) busy for `ms` milliseconds. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Spinning: no timer and no I/O callback runs meanwhile.
  }
}

Deno.test("a request that arrived before the idle deadline is answered after the server stalled past it", async () => {
  // A process that does not run for a while (CPU starvation, a long GC, a blocking
  // task) finds both its sweeper's timer and the request's bytes ready when it runs
  // again: the client sent in time, so the request must win.
  await withServer({ limits: { idleTimeoutMs: 200 } }, async (server) => {
    for (let round = 0; round < 3; round++) {
      const conn = await connect(server.addr.port);
      try {
        await sleep(20); // accepted: the idle deadline runs
        await writeAll(
          conn,
          bytes("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        blockEventLoop(600);
        const { text } = await readUntil(conn, { timeoutMs: 3000 });
        const status = parseResponses(text).responses[0]?.status;
        assert.equal(status, 200, `round ${round}: ${JSON.stringify(text)}`);
      } finally {
        closeQuietly(conn);
      }
    }
  });
});

Deno.test("an idle connection still times out while the server's loop keeps stalling", async () => {
  // Deferring an expiry until the server has looked at its sockets must not defer
  // it forever when every sweep comes late.
  await withServer({ limits: { idleTimeoutMs: 200 } }, async (server) => {
    const conn = await connect(server.addr.port);
    try {
      const reading = readUntil(conn, { timeoutMs: 5000 });
      const started = Date.now();
      let closed = false;
      reading.then(() => (closed = true));
      while (!closed && Date.now() - started < 4000) {
        blockEventLoop(300);
        await sleep(1);
      }
      const { text, closed: cleanly, reset } = await reading;
      assert.equal(text, "");
      assert.ok(cleanly || reset, "closed by the server");
      assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
    } finally {
      closeQuietly(conn);
    }
  });
});
