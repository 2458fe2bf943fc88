/**
 * Integration tests of the per-connection loop (lib/server/connection.ts) over real
 * sockets: keep-alive, pipelining, framing errors and smuggling, body
 * draining, 100-continue, head limits, timeouts, chunked uploads and large
 * responses.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import type { FileServer, ServeOptions } from "../lib/mod.ts";
import { exchange, parseResponses, withServer } from "./_helpers.ts";

/** A response read from raw bytes; header names lowercase, repeated fields joined. */
interface ReadResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
  /** The body as latin1 text (decoded on each access). */
  readonly text: string;
}

function latin1(data: Uint8Array): string {
  let text = "";
  for (let i = 0; i < data.length; i += 8192) {
    text += String.fromCharCode(...data.subarray(i, i + 8192));
  }
  return text;
}

const encoder = new TextEncoder();

/**
 * A raw HTTP/1.1 client over one TCP connection that reads one response at a
 * time, so tests can interleave writes and reads (100-continue, keep-alive).
 * Every read has a deadline; a read left pending by a timeout is reused.
 */
class Client {
  readonly #conn: Deno.TcpConn;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #pending: Promise<Uint8Array | null> | null = null;
  #eof = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async connect(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed already */ }
  }

  #read(): Promise<Uint8Array | null> {
    this.#pending ??= (async () => {
      const chunk = new Uint8Array(64 * 1024);
      try {
        const n = await this.#conn.read(chunk);
        return n === null ? null : chunk.subarray(0, n);
      } catch {
        return null; // A reset counts as the end of the stream.
      }
    })();
    return this.#pending;
  }

  /** Reads more bytes; false at the end of the stream; throws past `deadline`. */
  async #fill(deadline: number): Promise<boolean> {
    if (this.#eof) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
    });
    const result = await Promise.race([this.#read(), timeout]);
    clearTimeout(timer);
    if (result === "timeout") throw new Error("Timed out waiting for the server");
    this.#pending = null;
    if (result === null) {
      this.#eof = true;
      return false;
    }
    if (this.#buffer.length - this.#end < result.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#end + result.length));
      grown.set(this.#buffer.subarray(0, this.#end));
      this.#buffer = grown;
    }
    this.#buffer.set(result, this.#end);
    this.#end += result.length;
    return true;
  }

  #headEnd(): number {
    for (let i = this.#start; i + 3 < this.#end; i++) {
      if (
        this.#buffer[i] === 13 && this.#buffer[i + 1] === 10 && this.#buffer[i + 2] === 13 &&
        this.#buffer[i + 3] === 10
      ) return i;
    }
    return -1;
  }

  /**
   * Reads the next response (an interim 1xx one included). `head` says it
   * answers HEAD, so it has no body whatever its Content-Length.
   */
  async response(options: { head?: boolean; timeoutMs?: number } = {}): Promise<ReadResponse> {
    const deadline = Date.now() + (options.timeoutMs ?? 3000);
    let headEnd = this.#headEnd();
    while (headEnd === -1) {
      if (!await this.#fill(deadline)) throw new Error("Connection closed before a response head");
      headEnd = this.#headEnd();
    }
    const lines = latin1(this.#buffer.subarray(this.#start, headEnd)).split("\r\n");
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1]);
    assert.ok(status >= 100, `bad status line ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    this.#start = headEnd + 4;
    assert.equal(headers.get("transfer-encoding"), undefined, "responses use Content-Length");
    let length = 0;
    if (!(options.head || status < 200 || status === 204 || status === 304)) {
      assert.ok(headers.has("content-length"), `no Content-Length on ${status}`);
      length = Number(headers.get("content-length"));
    }
    while (this.#end - this.#start < length) {
      if (!await this.#fill(deadline)) throw new Error("Connection closed inside a body");
    }
    const body = this.#buffer.slice(this.#start, this.#start + length);
    this.#start += length;
    return {
      status,
      headers,
      body,
      get text() {
        return latin1(body);
      },
    };
  }

  /**
   * Reads until the server closes or `timeoutMs` passes; returns whether it
   * closed and any bytes received but not yet taken as responses.
   */
  async end(timeoutMs = 2000): Promise<{ closed: boolean; rest: string }> {
    const deadline = Date.now() + timeoutMs;
    let closed = true;
    try {
      while (await this.#fill(deadline));
    } catch {
      closed = false;
    }
    const rest = latin1(this.#buffer.subarray(this.#start, this.#end));
    this.#start = this.#end;
    return { closed, rest };
  }

  /** Asserts that the server closes the connection without sending anything more. */
  async assertClosed(timeoutMs = 2000): Promise<void> {
    const { closed, rest } = await this.end(timeoutMs);
    assert.equal(rest, "", "nothing more is sent");
    assert.ok(closed, "the server closes the connection");
  }
}

/**
 * Runs `fn` against a real server (see `withServer`) with a connected-client
 * factory, and fails the test if the server reported an internal error.
 */
async function serverTest(
  options: Partial<ServeOptions>,
  fn: (ctx: {
    server: FileServer;
    root: string;
    port: number;
    connect: () => Promise<Client>;
  }) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  const clients: Client[] = [];
  await withServer({ onError: (error) => errors.push(error), ...options }, async (server, root) => {
    const port = server.addr.port;
    const connect = async () => {
      const client = await Client.connect(port);
      clients.push(client);
      return client;
    };
    try {
      await fn({ server, root, port, connect });
    } finally {
      for (const client of clients) client.close();
    }
  });
  assert.deepEqual(errors, [], "no internal server errors");
}

function get(target: string, extra = ""): string {
  return `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
}

function put(target: string, body: string, extra = ""): string {
  return `PUT ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
}

async function tempFilesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.startsWith(".filedrop-tmp-")) names.push(entry.name);
  }
  return names;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- keep-alive ---------------------------------------------------------------

Deno.test("HTTP/1.1 keeps the connection alive across requests until Connection: close", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    for (let i = 0; i < 3; i++) {
      await client.write(get("/a.txt"));
      const response = await client.response();
      assert.equal(response.status, 200);
      assert.equal(response.text, "alpha");
      assert.equal(response.headers.get("connection"), undefined);
    }
    await client.write(get("/a.txt", "Connection: close\r\n"));
    const last = await client.response();
    assert.equal(last.status, 200);
    assert.equal(last.text, "alpha");
    assert.equal(last.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

Deno.test("HTTP/1.0 closes by default and stays open with Connection: keep-alive", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");

    const plain = await connect();
    await plain.write("GET /a.txt HTTP/1.0\r\n\r\n");
    const closing = await plain.response();
    assert.equal(closing.status, 200);
    assert.equal(closing.text, "alpha");
    assert.equal(closing.headers.get("connection"), "close");
    await plain.assertClosed();

    const kept = await connect();
    for (let i = 0; i < 2; i++) {
      await kept.write("GET /a.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
      const response = await kept.response();
      assert.equal(response.status, 200);
      assert.equal(response.text, "alpha");
      assert.equal(response.headers.get("connection"), "keep-alive");
    }
    await kept.write("GET /a.txt HTTP/1.0\r\n\r\n");
    assert.equal((await kept.response()).headers.get("connection"), "close");
    await kept.assertClosed();
  });
});

Deno.test("Connection: close among other connection options is honoured", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(get("/a.txt", "Connection: X-Foo, CLOSE\r\n"));
    const response = await client.response();
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

// --- pipelining -----------------------------------------------------------------

Deno.test("pipelined requests in one write are answered once each, in order", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(
      get("/a.txt") +
        "HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        get("/missing") +
        put("/new.txt", "hello pipeline") +
        get("/new.txt"),
    );
    const first = await client.response();
    assert.equal(first.status, 200);
    assert.equal(first.text, "alpha");
    const head = await client.response({ head: true });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "5");
    const missing = await client.response();
    assert.equal(missing.status, 404);
    const created = await client.response();
    assert.equal(created.status, 201);
    const fetched = await client.response();
    assert.equal(fetched.status, 200);
    assert.equal(fetched.text, "hello pipeline");
    await client.closeWrite();
    await client.assertClosed();
  });
});

Deno.test("100 pipelined requests in one write are answered in order", async () => {
  await serverTest({}, async ({ root, connect }) => {
    for (let i = 0; i < 10; i++) await Deno.writeTextFile(path.join(root, `${i}.txt`), `#${i}`);
    const client = await connect();
    let batch = "";
    for (let i = 0; i < 100; i++) batch += get(`/${i % 10}.txt`, `X-N: ${i}\r\n`);
    await client.write(batch);
    for (let i = 0; i < 100; i++) assert.equal((await client.response()).text, `#${i % 10}`);
    await client.closeWrite();
    await client.assertClosed();
  });
});

Deno.test("pipelined requests split at awkward points are answered in order", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const all = get("/a.txt") + put("/b.txt", "0123456789") + get("/b.txt") + get("/a.txt");
    const client = await connect();
    // One byte at a time for the first 120 bytes, then the rest: exercises partial heads and bodies.
    for (let i = 0; i < 120; i++) await client.write(all[i]);
    await client.write(all.slice(120));
    assert.equal((await client.response()).text, "alpha");
    assert.equal((await client.response()).status, 201);
    assert.equal((await client.response()).text, "0123456789");
    assert.equal((await client.response()).text, "alpha");
  });
});

Deno.test("a client that half-closes after its requests still gets every response", async () => {
  await serverTest({}, async ({ root, port }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const one = await exchange(port, get("/a.txt"), { closeWrite: true });
    assert.ok(one.closed);
    const parsedOne = parseResponses(one.text);
    assert.equal(parsedOne.responses.length, 1);
    assert.equal(parsedOne.responses[0].body, "alpha");
    assert.equal(parsedOne.rest, "");

    const two = await exchange(port, put("/up.txt", "data") + get("/up.txt"), { closeWrite: true });
    assert.ok(two.closed);
    const parsedTwo = parseResponses(two.text);
    assert.deepEqual(parsedTwo.responses.map((r) => r.status), [201, 200]);
    assert.equal(parsedTwo.responses[1].body, "data");
    assert.equal(parsedTwo.rest, "");
  });
});

Deno.test("a client that half-closes inside a head or a body gets 400 and is closed", async () => {
  await serverTest({}, async ({ port, root }) => {
    const head = await exchange(port, "GET / HTTP/1.1\r\nHost: localhost\r\n", {
      closeWrite: true,
    });
    assert.ok(head.closed);
    assert.match(head.text, /^HTTP\/1\.1 400 /);
    assert.match(head.text, /Connection: close/);
    const body = await exchange(
      port,
      "PUT /short.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nab",
      { closeWrite: true },
    );
    assert.ok(body.closed);
    assert.match(body.text, /^HTTP\/1\.1 400 /);
    await assert.rejects(Deno.stat(`${root}/short.txt`), Deno.errors.NotFound);
    const nothing = await exchange(port, "", { closeWrite: true });
    assert.ok(nothing.closed);
    assert.equal(nothing.text, "", "no bytes, no answer");
  });
});

// --- framing errors and smuggling ------------------------------------------------

const SMUGGLED = "GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n";

const FRAMING_ERRORS: { name: string; request: string }[] = [
  {
    name: "Content-Length with Transfer-Encoding",
    request:
      "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  },
  {
    name: "Transfer-Encoding before Content-Length",
    request:
      "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
  },
  {
    name: "non-numeric Content-Length",
    request: "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5x\r\n\r\nhello",
  },
  {
    name: "signed Content-Length",
    request: "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +0\r\n\r\n",
  },
  {
    name: "negative Content-Length",
    request: "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
  },
  {
    name: "differing Content-Length list",
    request: "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1, 30\r\n\r\nx",
  },
  {
    name: "repeated Content-Length fields",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
  },
  {
    name: "hex Content-Length",
    request: "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x10\r\n\r\n",
  },
  {
    name: "Content-Length beyond 2^53",
    request: "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999\r\n\r\n",
  },
  { name: "bare LF ending a header line", request: "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n" },
  { name: "bare LF ending the head", request: "GET / HTTP/1.1\r\nHost: localhost\r\n\n" },
  { name: "bare LF ending the request line", request: "GET / HTTP/1.1\nHost: localhost\r\n\r\n" },
  {
    name: "bare CR in a header value",
    request: "GET / HTTP/1.1\r\nHost: localhost\r\nX: a\rb\r\n\r\n",
  },
  { name: "obs-fold", request: "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n  folded\r\n\r\n" },
  {
    name: "space before the colon",
    request: "GET / HTTP/1.1\r\nHost: localhost\r\nX-A : b\r\n\r\n",
  },
  {
    name: "space before colon of Transfer-Encoding",
    request: "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
  },
  {
    name: "chunked not last",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
  },
  {
    name: "chunked twice",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
  },
  {
    name: "Transfer-Encoding in HTTP/1.0",
    request: "PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  },
  {
    name: "non-hex chunk size",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "chunk size with a sign",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "chunk data longer than its size",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "bare LF after a chunk size",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
  },
  {
    name: "chunk size beyond 2^53",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000000\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "control character in a chunk extension",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n",
  },
  {
    name: "malformed trailer",
    request:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
  },
  { name: "missing Host in HTTP/1.1", request: "GET / HTTP/1.1\r\n\r\n" },
  {
    name: "two Host fields",
    request: "GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n",
  },
  { name: "request line with two spaces", request: "GET  / HTTP/1.1\r\nHost: localhost\r\n\r\n" },
  { name: "lowercase version", request: "GET / http/1.1\r\nHost: localhost\r\n\r\n" },
  { name: "NUL in the target", request: "GET /\0 HTTP/1.1\r\nHost: localhost\r\n\r\n" },
];

for (const { name, request } of FRAMING_ERRORS) {
  Deno.test(`framing error → 400 and close, nothing smuggled: ${name}`, async () => {
    await serverTest({}, async ({ root, connect }) => {
      await Deno.writeTextFile(path.join(root, "secret"), "secret");
      const client = await connect();
      await client.write(request + SMUGGLED);
      const response = await client.response();
      assert.equal(response.status, 400);
      assert.equal(response.headers.get("connection"), "close");
      await client.assertClosed();
      assert.deepEqual(await tempFilesIn(root), []);
      await assert.rejects(Deno.stat(path.join(root, "x")), Deno.errors.NotFound);
    });
  });
}

Deno.test("an unsupported transfer coding → 501 and close, nothing smuggled", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write(
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" +
        SMUGGLED,
    );
    const response = await client.response();
    assert.equal(response.status, 501);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

Deno.test("a rejected HEAD request gets the status and length but no body", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write(
      "HEAD / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const response = await client.response({ head: true });
    assert.equal(response.status, 400);
    assert.ok(Number(response.headers.get("content-length")) > 0);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

Deno.test("a GET with an unread chunked body is answered, then closed: nothing smuggled", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(
      "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
        `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    );
    const response = await client.response();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

Deno.test("a Content-Length body that holds a request is not taken for one", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(
      `GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` +
        get("/a.txt"),
    );
    assert.equal((await client.response()).text, "alpha");
    assert.equal((await client.response()).text, "alpha");
    await client.closeWrite();
    await client.assertClosed();
  });
});

// --- unread request bodies --------------------------------------------------------

Deno.test("a GET with a small body has it drained and the connection stays usable", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(get("/a.txt", "Content-Length: 11\r\n") + "hello world");
    const first = await client.response();
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("connection"), undefined);
    // The body arrives after the response went out: still drained, not parsed as a request.
    await client.write(get("/a.txt", "Content-Length: 4\r\n") + "GE");
    assert.equal((await client.response()).status, 200);
    await client.write("T " + get("/a.txt"));
    const third = await client.response();
    assert.equal(third.status, 200);
    assert.equal(third.text, "alpha");
  });
});

Deno.test("a refused PUT's small body is drained and the next request answered", async () => {
  await serverTest({ readOnly: true }, async ({ connect }) => {
    const client = await connect();
    await client.write(put("/up.txt", "x".repeat(1000)) + get("/"));
    const refused = await client.response();
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("connection"), undefined);
    assert.equal((await client.response()).status, 200);
  });
});

Deno.test("a GET with a big body is answered with Connection: close, then closed", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    const body = "x".repeat(200 * 1024);
    await client.write(get("/a.txt", `Content-Length: ${body.length}\r\n`) + body + SMUGGLED);
    const response = await client.response();
    assert.equal(response.status, 200);
    assert.equal(response.text, "alpha");
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed(3000);
  });
});

Deno.test("a GET announcing a huge body it never sends is answered and closed", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
    const client = await connect();
    await client.write(get("/a.txt", "Content-Length: 1000000000\r\n") + "abc");
    const response = await client.response();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("connection"), "close");
    await client.closeWrite();
    await client.assertClosed();
  });
});

// --- 100-continue -------------------------------------------------------------------

Deno.test("Expect: 100-continue gets 100 Continue before the body, then 201", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    const interim = await client.response();
    assert.equal(interim.status, 100);
    await client.write("hello");
    const final = await client.response();
    assert.equal(final.status, 201);
    assert.equal(final.headers.get("connection"), undefined);
    assert.equal(await Deno.readTextFile(path.join(root, "up.txt")), "hello");
    // Still usable afterwards.
    await client.write(get("/up.txt"));
    assert.equal((await client.response()).text, "hello");
  });
});

Deno.test("Expect: 100-continue with a chunked body gets 100 Continue, then 201", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n" +
        "Expect: 100-Continue\r\n\r\n",
    );
    assert.equal((await client.response()).status, 100);
    await client.write("3\r\nabc\r\n0\r\n\r\n");
    assert.equal((await client.response()).status, 201);
    assert.equal(await Deno.readTextFile(path.join(root, "up.txt")), "abc");
  });
});

Deno.test("a client that sends its body without waiting for 100 Continue is served", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello" +
        get("/up.txt"),
    );
    let response = await client.response();
    // A 100 is optional once the body has arrived (RFC 9110 §10.1.1), but at most one.
    if (response.status === 100) response = await client.response();
    assert.equal(response.status, 201);
    assert.equal((await client.response()).text, "hello");
  });
});

const REFUSED_UPLOADS: {
  name: string;
  options: Partial<ServeOptions>;
  target: string;
  status: number;
}[] = [
  { name: "read-only server", options: { readOnly: true }, target: "/up.txt", status: 403 },
  {
    name: "body over maxBodyBytes",
    options: { limits: { maxBodyBytes: 10 } },
    target: "/up.txt",
    status: 413,
  },
  { name: "PUT to a directory", options: {}, target: "/dir", status: 409 },
  { name: "PUT to a directory with a slash", options: {}, target: "/dir/", status: 409 },
];

for (const { name, options, target, status } of REFUSED_UPLOADS) {
  Deno.test(`Expect: 100-continue on a refused PUT gets ${status} without 100: ${name}`, async () => {
    await serverTest(options, async ({ root, connect }) => {
      await Deno.mkdir(path.join(root, "dir"));
      const client = await connect();
      await client.write(
        `PUT ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`,
      );
      const response = await client.response();
      assert.equal(response.status, status);
      assert.equal(response.headers.get("connection"), "close");
      await client.assertClosed();
      assert.deepEqual(await tempFilesIn(root), []);
      assert.deepEqual(await tempFilesIn(path.join(root, "dir")), []);
    });
  });
}

Deno.test("a client that writes a whole oversized body before reading still gets 413", async () => {
  await serverTest({ limits: { maxBodyBytes: 1000 } }, async ({ port }) => {
    // More than the socket buffers hold: the server must read it all, not reset.
    const body = new Uint8Array(8 * 1024 * 1024).fill(0x78);
    const { text, closed } = await exchange(port, [
      `PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    ]);
    assert.ok(closed);
    const { responses, rest } = parseResponses(text);
    assert.equal(responses.length, 1);
    assert.equal(rest, "");
    assert.equal(responses[0].status, 413);
    assert.equal(responses[0].headers.get("connection"), "close");
  });
});

Deno.test("a chunked body over maxBodyBytes → 413, close, and no file", async () => {
  await serverTest({ limits: { maxBodyBytes: 10 } }, async ({ root, connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n" + SMUGGLED,
    );
    const response = await client.response();
    assert.equal(response.status, 413);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
    assert.deepEqual(await tempFilesIn(root), []);
    await assert.rejects(Deno.stat(path.join(root, "up.txt")), Deno.errors.NotFound);
  });
});

Deno.test("an unknown expectation → 417", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: foo\r\n\r\nhello",
    );
    const response = await client.response();
    assert.equal(response.status, 417);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
  });
});

Deno.test("Expect: 100-continue from an HTTP/1.0 client is ignored", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const client = await connect();
    await client.write(
      "PUT /up.txt HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    );
    const response = await client.response();
    assert.equal(response.status, 201);
    await client.assertClosed();
    assert.equal(await Deno.readTextFile(path.join(root, "up.txt")), "hello");
  });
});

// --- head limits and methods ------------------------------------------------------------

const manyHeaders = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join("");

const HEAD_LIMITS: { name: string; request: string; status: number; close: boolean }[] = [
  {
    name: "9 KiB request line",
    request: `GET /${"a".repeat(9 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    status: 414,
    close: true,
  },
  {
    name: "9 KiB request line without its end",
    request: `GET /${"a".repeat(9 * 1024)}`,
    status: 414,
    close: true,
  },
  {
    name: "101 header fields",
    request: `GET / HTTP/1.1\r\nHost: localhost\r\n${manyHeaders}\r\n`,
    status: 431,
    close: true,
  },
  {
    name: "70 KiB head",
    request: `GET / HTTP/1.1\r\nHost: localhost\r\n${
      `X-Big: ${"b".repeat(7000)}\r\n`.repeat(10)
    }\r\n`,
    status: 431,
    close: true,
  },
  {
    name: "HTTP/2.0",
    request: "GET / HTTP/2.0\r\nHost: localhost\r\n\r\n",
    status: 505,
    close: true,
  },
  {
    name: "unknown method",
    request: "FOO / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    status: 501,
    close: false,
  },
  {
    name: "lowercase get",
    request: "get / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    status: 501,
    close: false,
  },
  { name: "missing Host", request: "GET / HTTP/1.1\r\n\r\n", status: 400, close: true },
];

for (const { name, request, status, close } of HEAD_LIMITS) {
  Deno.test(`head check: ${name} → ${status}`, async () => {
    await serverTest({}, async ({ connect }) => {
      const client = await connect();
      await client.write(request);
      const response = await client.response();
      assert.equal(response.status, status);
      if (close) {
        assert.equal(response.headers.get("connection"), "close");
        await client.assertClosed();
      } else {
        await client.write(get("/"));
        assert.equal((await client.response()).status, 200);
      }
    });
  });
}

Deno.test("PATCH → 405 with Allow; OPTIONS * → 204 with Allow", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write("PATCH / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc");
    const post = await client.response();
    assert.equal(post.status, 405);
    const allowed = (post.headers.get("allow") ?? "").split(", ");
    for (const method of ["GET", "HEAD", "PUT", "POST", "DELETE", "MOVE", "OPTIONS"]) {
      assert.ok(allowed.includes(method), `Allow lists ${method}`);
    }
    assert.ok(!allowed.includes("PATCH"));
    await client.write("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const options = await client.response();
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), post.headers.get("allow"));
    assert.equal(options.headers.get("content-length"), undefined);
  });
});

Deno.test("empty lines before a request line are skipped", async () => {
  await serverTest({}, async ({ connect }) => {
    const client = await connect();
    await client.write("\r\n\r\n" + get("/"));
    assert.equal((await client.response()).status, 200);
  });
});

// --- timeouts --------------------------------------------------------------------------

const SHORT_TIMEOUTS: Partial<ServeOptions> = {
  limits: { headerTimeoutMs: 300, idleTimeoutMs: 300, bodyTimeoutMs: 300 },
};

Deno.test("a slow head (slowloris) → 408 and close within about a second", async () => {
  await serverTest(SHORT_TIMEOUTS, async ({ connect }) => {
    const client = await connect();
    const started = Date.now();
    await client.write("GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
    const response = await client.response({ timeoutMs: 2000 });
    assert.equal(response.status, 408);
    assert.equal(response.headers.get("connection"), "close");
    await client.assertClosed();
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
  });
});

Deno.test("a head trickled byte by byte still times out from its first byte", async () => {
  await serverTest(SHORT_TIMEOUTS, async ({ connect }) => {
    const client = await connect();
    const started = Date.now();
    const head = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + "z".repeat(100);
    let sent = 0;
    // Keep trickling so the idle timeout never applies; the header timeout must still fire.
    const trickle = (async () => {
      while (sent < head.length && Date.now() - started < 1500) {
        await client.write(head[sent++]).catch(() => {});
        await sleep(50);
      }
    })();
    const response = await client.response({ timeoutMs: 2000 });
    assert.equal(response.status, 408);
    assert.ok(Date.now() - started < 1200, `took ${Date.now() - started} ms`);
    sent = head.length;
    await trickle;
  });
});

Deno.test("an idle keep-alive connection is closed after the idle timeout, silently", async () => {
  await serverTest(SHORT_TIMEOUTS, async ({ connect }) => {
    const client = await connect();
    await client.write(get("/"));
    assert.equal((await client.response()).status, 200);
    const started = Date.now();
    await client.assertClosed(2000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 1200, `closed after ${elapsed} ms`);

    const fresh = await connect();
    await fresh.assertClosed(2000); // Never sent a byte: closed silently too.
  });
});

Deno.test("a stalled PUT body closes the connection and leaves no temp file", async () => {
  await serverTest(SHORT_TIMEOUTS, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "f.txt"), "old");
    const client = await connect();
    const started = Date.now();
    await client.write(
      "PUT /f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    await client.assertClosed(2000);
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    // The temp file is removed as the handler unwinds: give it a moment.
    for (let i = 0; i < 20 && (await tempFilesIn(root)).length > 0; i++) await sleep(25);
    assert.deepEqual(await tempFilesIn(root), []);
    assert.equal(await Deno.readTextFile(path.join(root, "f.txt")), "old");
  });
});

Deno.test("a stalled chunked PUT body closes the connection and leaves no temp file", async () => {
  await serverTest(SHORT_TIMEOUTS, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "f.txt"), "old");
    const client = await connect();
    await client.write(
      "PUT /f.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    );
    await client.assertClosed(2000);
    for (let i = 0; i < 20 && (await tempFilesIn(root)).length > 0; i++) await sleep(25);
    assert.deepEqual(await tempFilesIn(root), []);
    assert.equal(await Deno.readTextFile(path.join(root, "f.txt")), "old");
  });
});

Deno.test("a client that disconnects mid-body leaves no temp file and the old file", async () => {
  await serverTest({}, async ({ root, connect }) => {
    await Deno.writeTextFile(path.join(root, "f.txt"), "old");
    const client = await connect();
    await client.write(
      "PUT /f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    await sleep(50);
    client.close();
    for (let i = 0; i < 40 && (await tempFilesIn(root)).length > 0; i++) await sleep(25);
    assert.deepEqual(await tempFilesIn(root), []);
    assert.equal(await Deno.readTextFile(path.join(root, "f.txt")), "old");
  });
});

Deno.test("other clients are answered while a slow one is stalled", async () => {
  await serverTest(
    { limits: { headerTimeoutMs: 5000, bodyTimeoutMs: 5000 } },
    async ({ root, connect }) => {
      await Deno.writeTextFile(path.join(root, "a.txt"), "alpha");
      const slowHead = await connect();
      await slowHead.write("GET / HTTP/1.1\r\nHost: localhost\r\n");
      const slowBody = await connect();
      await slowBody.write(
        "PUT /s.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nab",
      );
      const started = Date.now();
      for (let i = 0; i < 5; i++) {
        const client = await connect();
        await client.write(get("/a.txt"));
        assert.equal((await client.response({ timeoutMs: 1000 })).text, "alpha");
      }
      assert.ok(Date.now() - started < 1000);
      await slowBody.write("cdefghij");
      assert.equal((await slowBody.response()).status, 201);
      await slowHead.write("\r\n");
      assert.equal((await slowHead.response()).status, 200);
    },
  );
});

// --- chunked uploads -------------------------------------------------------------------------

Deno.test("a chunked PUT with extensions and trailers is stored exactly", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const client = await connect();
    await client.write(
      "PUT /c.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5;name=value\r\nhello\r\n" +
        '6 ; q="quoted; string" ;flag\r\n world\r\n' +
        "A\r\n, chunked!\r\n" +
        "0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n" +
        get("/c.txt"),
    );
    assert.equal((await client.response()).status, 201);
    const fetched = await client.response();
    assert.equal(fetched.text, "hello world, chunked!");
    assert.equal(await Deno.readTextFile(path.join(root, "c.txt")), "hello world, chunked!");
  });
});

Deno.test("a 1 MiB chunked PUT of binary data is stored byte-exact", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const data = new Uint8Array(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 11)) & 0xff;
    const client = await connect();
    await client.write(
      "PUT /bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    const sizes = [1, 1000, 65536, 200000, 13, 400000];
    let offset = 0;
    for (let i = 0; offset < data.length; i++) {
      const size = Math.min(sizes[i % sizes.length], data.length - offset);
      await client.write(`${size.toString(16)}\r\n`);
      await client.write(data.subarray(offset, offset + size));
      await client.write("\r\n");
      offset += size;
    }
    await client.write("0\r\n\r\n");
    assert.equal((await client.response()).status, 201);
    assert.deepEqual(await Deno.readFile(path.join(root, "bin")), data);
  });
});

// --- large responses ------------------------------------------------------------------------------

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

Deno.test("a 20 MiB GET arrives byte-exact; HEAD sends the same length and no body", async () => {
  await serverTest({}, async ({ root, connect }) => {
    const data = new Uint8Array(20 * 1024 * 1024);
    crypto.getRandomValues(data.subarray(0, 65536));
    for (let i = 65536; i < data.length; i += 65536) {
      data.set(data.subarray(0, 65536), i);
      data[i] ^= i >> 16; // Every block differs a little.
    }
    await Deno.writeFile(path.join(root, "big.bin"), data);
    const client = await connect();
    await client.write(
      get("/big.bin") + "HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n" + get("/"),
    );
    const response = await client.response({ timeoutMs: 10_000 });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), String(data.length));
    assert.equal(response.body.length, data.length);
    assert.equal(sha256(response.body), sha256(data));
    const head = await client.response({ head: true });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(data.length));
    // The next response follows the HEAD response at once: no body bytes in between.
    const next = await client.response();
    assert.equal(next.status, 200);
    assert.match(next.headers.get("content-type") ?? "", /^text\/html/);
  });
});

// --- concurrency -----------------------------------------------------------------------------------

Deno.test("10 concurrent clients × 50 keep-alive requests are all answered correctly", async () => {
  await serverTest({}, async ({ root, connect }) => {
    for (let i = 0; i < 10; i++) {
      await Deno.writeTextFile(path.join(root, `f${i}.txt`), `file ${i} `.repeat(i * 100 + 1));
    }
    const clientRun = async (id: number) => {
      const client = await connect();
      for (let n = 0; n < 50; n++) {
        const file = (id + n) % 10;
        const isHead = n % 7 === 3;
        await client.write(
          `${isHead ? "HEAD" : "GET"} /f${file}.txt HTTP/1.1\r\nHost: localhost\r\n\r\n`,
        );
        const response = await client.response({ head: isHead });
        assert.equal(response.status, 200);
        const expected = `file ${file} `.repeat(file * 100 + 1);
        assert.equal(response.headers.get("content-length"), String(expected.length));
        assert.equal(response.text, isHead ? "" : expected);
      }
      await client.closeWrite();
      await client.assertClosed();
    };
    await Promise.all(Array.from({ length: 10 }, (_, id) => clientRun(id)));
  });
});

Deno.test("empty lines after a request are skipped, never answered (no extra 408)", async () => {
  await serverTest({ limits: { headerTimeoutMs: 200 } }, async ({ port }) => {
    const result = await exchange(port, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n\r\n", {
      timeoutMs: 800,
    });
    const statuses = [...result.text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ["204"]);
  });
});

Deno.test("connections reuse their buffers without mixing bytes: short connections in parallel, each body and head its own", async () => {
  await serverTest({}, async ({ root, port }) => {
    const rounds = 240;
    // Bodies below and above the pooled 8 KiB receive buffer, each byte tied to its upload.
    const bodyOf = (i: number) => new Uint8Array(i % 3 === 0 ? 20_000 : 700 + i).fill(i % 251);
    const upload = async (i: number) => {
      const body = bodyOf(i);
      const head =
        `PUT /up-${i}.bin HTTP/1.1\r\nHost: localhost\r\nX-Pad: ${"p".repeat(i * 13 % 4000)}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const result = await exchange(port, [head, body]);
      assert.match(result.text, /^HTTP\/1\.1 201 /, `upload ${i}: ${result.text.slice(0, 300)}`);
    };
    for (let start = 0; start < rounds; start += 24) {
      await Promise.all(Array.from({ length: 24 }, (_, k) => upload(start + k)));
    }
    for (let i = 0; i < rounds; i++) {
      assert.deepEqual(await Deno.readFile(path.join(root, `up-${i}.bin`)), bodyOf(i), `file ${i}`);
    }
  });
});
