/**
 * Tests of the test helpers themselves (tests/_helpers.ts), where a wrong
 * answer would make other tests pass that should fail: a reset must not be
 * reported as a clean close.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { bytes, readUntil, writeAll } from "./_helpers.ts";

/** Connects to a one-shot server that runs `serve` on the accepted connection. */
async function withPeer(
  serve: (conn: Deno.Conn) => Promise<void>,
  fn: (client: Deno.Conn) => Promise<void>,
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = listener.accept().then(serve);
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  try {
    await fn(client);
  } finally {
    client.close();
    await served;
  }
}

Deno.test("readUntil reports a clean close as closed, not reset", async () => {
  await withPeer(async (conn) => {
    await writeAll(conn, bytes("bye"));
    conn.close();
  }, async (client) => {
    assert.deepEqual(await readUntil(client), { text: "bye", closed: true, reset: false });
  });
});

Deno.test("readUntil reports a reset as reset, not closed", async () => {
  // Deno's own close sends FIN even with bytes unread; node:net can send a
  // bare RST (SO_LINGER 0), as a crashed or aborting server would.
  const server = net.createServer((socket) => socket.on("data", () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(client, bytes("GET / HTTP/1.1\r\n\r\n"));
      assert.deepEqual(await readUntil(client), { text: "", closed: false, reset: true });
    } finally {
      client.close();
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("readUntil reports neither when the peer stays silent past the timeout", async () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  await withPeer(async (conn) => {
    await released;
    conn.close();
  }, async (client) => {
    const result = await readUntil(client, { timeoutMs: 100 });
    release();
    assert.deepEqual(result, { text: "", closed: false, reset: false });
  });
});
