import assert from "node:assert/strict";
import { serve } from "../lib/mod.ts";
import { exchange, parseResponses, run } from "./_helpers.ts";

/** A test CA and a certificate it signed for localhost and 127.0.0.1, made by openssl. */
async function certificates(dir: string): Promise<{ cert: string; key: string; caFile: string }> {
  const openssl = async (args: string[]) => {
    const result = await run("openssl", args, { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-days",
    "1",
    "-subj",
    "/CN=filedrop test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  ]);
  await openssl(["req", ...ec, "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "leaf.ext",
    "-out",
    "cert.pem",
  ]);
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
    caFile: `${dir}/ca.pem`,
  };
}

Deno.test("--tls serves HTTPS to curl and to raw TLS sockets, with the same parser", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/a.txt`, "secure hello");
  const { cert, key, caFile } = await certificates(dir);
  const ca = await Deno.readTextFile(caFile);
  const server = await serve({ root, port: 0, tls: { cert, key }, fsync: false });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const port = server.addr.port;
    const got = await run("curl", ["-sS", "--cacert", caFile, `https://localhost:${port}/a.txt`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, "secure hello");
    // A client that asks to close gets its response and a clean TLS end, no error.
    const closing = await run("curl", [
      "-sS",
      "-H",
      "Connection: close",
      "--cacert",
      caFile,
      `https://localhost:${port}/a.txt`,
    ]);
    assert.deepEqual([closing.code, closing.stdout, closing.stderr], [0, "secure hello", ""]);
    const put = await run("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--cacert",
      caFile,
      "-T",
      caFile,
      `https://localhost:${port}/uploaded.pem`,
    ]);
    assert.equal(put.stdout, "201");
    assert.equal(await Deno.readTextFile(`${root}/uploaded.pem`), ca);

    // Raw bytes over TLS: two pipelined requests, then a smuggling attempt that must close.
    const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
    const text = new TextEncoder().encode(
      "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    await conn.write(text);
    let received = "";
    const buffer = new Uint8Array(16384);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      received += new TextDecoder("latin1").decode(buffer.subarray(0, n));
    }
    conn.close();
    const { responses } = parseResponses(received, [false, true, false]);
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 400]);
    assert.equal(responses[0].body, "secure hello");
    assert.equal(responses[1].headers.get("content-length"), "12");
    assert.equal(responses[2].headers.get("connection"), "close");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plain HTTP, garbage and resets on the TLS port are the client's failure: no error logged", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/a.txt`, "secure hello");
  const { cert, key, caFile } = await certificates(dir);
  const errors: unknown[] = [];
  const server = await serve({
    root,
    port: 0,
    tls: { cert, key },
    fsync: false,
    onError: (error) => errors.push(error),
    onNotice: () => {},
  });
  try {
    const port = server.addr.port;
    for (
      const probe of ["GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "\x16\x03\x01\x00\x05hello"]
    ) {
      const { closed } = await exchange(port, probe, { timeoutMs: 2000 });
      assert.ok(closed, `the server closes after ${JSON.stringify(probe)}`);
    }
    const resets = await run("python3", [
      new URL("./fixtures/reset_clients.py", import.meta.url).pathname,
      String(port),
      "burst",
      "30",
    ]);
    assert.equal(resets.code, 0, resets.stderr);
    const got = await run("curl", ["-sS", "--cacert", caFile, `https://localhost:${port}/a.txt`]);
    assert.equal(got.stdout, "secure hello", got.stderr);
    assert.deepEqual(errors, []);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
