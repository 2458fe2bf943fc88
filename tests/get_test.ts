import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { withServer } from "./_helpers.ts";
import { SETTLE_MS } from "../lib/storage/file_cache.ts";

const text = "All work and no play makes Jack a dull boy.\n".repeat(200);

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

Deno.test("compressible files are gzipped on the fly with their own ETag and Vary", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/book.txt`, text);
    await Deno.writeTextFile(`${root}/small.txt`, "tiny");
    const plain = await get(`${server.url}book.txt`, { "Accept-Encoding": "identity" });
    // fetch decodes gzip itself; the next test checks the raw bytes.
    const gzipped = await get(`${server.url}book.txt`, { "Accept-Encoding": "gzip" });
    assert.equal(gzipped.response.headers.get("content-encoding"), "gzip");
    assert.equal(new TextDecoder().decode(gzipped.bytes), text);
    assert.equal(gzipped.response.headers.get("vary"), "Accept-Encoding");
    const plainTag = plain.response.headers.get("etag")!;
    const gzipTag = gzipped.response.headers.get("etag")!;
    assert.notEqual(plainTag, gzipTag);
    assert.equal(plain.response.headers.get("content-encoding"), null);

    const revalidated = await get(`${server.url}book.txt`, {
      "Accept-Encoding": "gzip",
      "If-None-Match": gzipTag,
    });
    assert.equal(revalidated.response.status, 304);

    const ranged = await get(`${server.url}book.txt`, {
      "Accept-Encoding": "gzip",
      Range: "bytes=0-9",
    });
    assert.equal(ranged.response.status, 206);
    assert.equal(ranged.response.headers.get("content-encoding"), null);
    assert.equal(new TextDecoder().decode(ranged.bytes), text.slice(0, 10));

    const small = await get(`${server.url}small.txt`, { "Accept-Encoding": "gzip" });
    assert.equal(small.response.headers.get("content-encoding"), null);
  });
});

Deno.test("raw gzip bytes on the wire decode to the file", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/book.txt`, text);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(new TextEncoder().encode(
      "GET /book.txt HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
    ));
    const chunks: Uint8Array[] = [];
    for await (const chunk of conn.readable) chunks.push(chunk);
    const raw = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      raw.set(chunk, at);
      at += chunk.length;
    }
    const latin1 = new TextDecoder("latin1").decode(raw);
    const headEnd = latin1.indexOf("\r\n\r\n");
    assert.match(latin1.slice(0, headEnd), /Transfer-Encoding: chunked/);
    // De-chunk.
    let pos = headEnd + 4;
    const body: number[] = [];
    for (;;) {
      const lineEnd = latin1.indexOf("\r\n", pos);
      const size = parseInt(latin1.slice(pos, lineEnd), 16);
      if (size === 0) break;
      body.push(...raw.subarray(lineEnd + 2, lineEnd + 2 + size));
      pos = lineEnd + 2 + size + 2;
    }
    assert.equal(new TextDecoder().decode(gunzipSync(new Uint8Array(body))), text);
  });
});

Deno.test("precompressed siblings are served when accepted", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/app.js`, text);
    await Deno.writeFile(`${root}/app.js.br`, new Uint8Array([1, 2, 3]));
    await Deno.writeFile(`${root}/app.js.gz`, new Uint8Array([4, 5, 6]));
    const conn = async (accept: string) => {
      const { responses } = await import("./_helpers.ts").then(async (h) => {
        const { text } = await h.exchange(
          server.addr.port,
          `GET /app.js HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: ${accept}\r\nConnection: close\r\n\r\n`,
        );
        return h.parseResponses(text);
      });
      return responses[0];
    };
    const br = await conn("gzip, br");
    assert.equal(br.headers.get("content-encoding"), "br");
    assert.equal(br.body, "\x01\x02\x03");
    assert.equal(br.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(br.headers.get("vary"), "Accept-Encoding");
    const gz = await conn("gzip");
    assert.equal(gz.headers.get("content-encoding"), "gzip");
    assert.equal(gz.body, "\x04\x05\x06");
    assert.notEqual(br.headers.get("etag"), gz.headers.get("etag"));
  });
});

Deno.test("--spa answers unknown HTML requests with /index.html, 404.html is the 404 body", async () => {
  await withServer({ spa: true }, async (server, root) => {
    await Deno.writeTextFile(`${root}/index.html`, "<h1>app</h1>");
    const route = await get(`${server.url}users/42`, { Accept: "text/html" });
    assert.equal(route.response.status, 200);
    assert.equal(new TextDecoder().decode(route.bytes), "<h1>app</h1>");
    const asset = await get(`${server.url}missing.png`, { Accept: "image/png" });
    assert.equal(asset.response.status, 404);
  });
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/404.html`, "<p>lost</p>");
    const missing = await get(`${server.url}nope`);
    assert.equal(missing.response.status, 404);
    assert.equal(missing.response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(new TextDecoder().decode(missing.bytes), "<p>lost</p>");
    const route = await get(`${server.url}users/42`, { Accept: "text/html" });
    assert.equal(route.response.status, 404, "no SPA fallback without --spa");
  });
});

Deno.test("a cached file changed on disk is never served stale", async () => {
  await withServer({}, async (server, root) => {
    const path = `${root}/page.txt`;
    const past = new Date(Date.now() - 60_000);
    await Deno.writeTextFile(path, "version one");
    await Deno.utime(path, past, past);
    // Only a settled file is cached: its change time (which utime cannot set back) must age.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 1100));
    for (let i = 0; i < 3; i++) {
      assert.equal(
        new TextDecoder().decode((await get(`${server.url}page.txt`)).bytes),
        "version one",
      );
    }
    // Same length, same timestamps restored: only ctime and content differ (the
    // first GETs filled the cache; this one must see the change).
    await Deno.writeTextFile(path, "version two");
    await Deno.utime(path, past, past);
    assert.equal(
      new TextDecoder().decode((await get(`${server.url}page.txt`)).bytes),
      "version two",
    );
    await Deno.remove(path);
    assert.equal((await get(`${server.url}page.txt`)).response.status, 404);
  });
});

Deno.test("--no-listing gives 404 for a directory without index.html, --cache-control is used", async () => {
  await withServer({ listing: false, cacheControl: "public, max-age=60" }, async (server, root) => {
    await Deno.mkdir(`${root}/dir`);
    await Deno.writeTextFile(`${root}/dir/a.txt`, "a");
    assert.equal((await get(`${server.url}dir/`)).response.status, 404);
    const file = await get(`${server.url}dir/a.txt`);
    assert.equal(file.response.headers.get("cache-control"), "public, max-age=60");
  });
});

Deno.test("Want-Repr-Digest gets the sha-256 of the whole file, on 200 and 206", async () => {
  const { createHash } = await import("node:crypto");
  await withServer({}, async (server, root) => {
    const content = "0123456789".repeat(100_000);
    await Deno.writeTextFile(`${root}/big.bin`, content);
    const expected = `sha-256=:${createHash("sha256").update(content).digest("base64")}:`;
    const full = await get(`${server.url}big.bin`, { "Want-Repr-Digest": "sha-256=1" });
    assert.equal(full.response.headers.get("repr-digest"), expected);
    const part = await get(`${server.url}big.bin`, {
      "Want-Repr-Digest": "sha-512=3, sha-256=1",
      Range: "bytes=5-9",
    });
    assert.equal(part.response.status, 206);
    assert.equal(part.response.headers.get("repr-digest"), expected);
    assert.equal(new TextDecoder().decode(part.bytes), "56789");
    const none = await get(`${server.url}big.bin`);
    assert.equal(none.response.headers.get("repr-digest"), null);
  });
});

Deno.test("Want-Repr-Digest on an empty file answers (the digest of nothing)", async () => {
  await withServer({ cache: false }, async (server, root) => {
    await Deno.writeFile(`${root}/empty.txt`, new Uint8Array());
    const response = await get(`${server.url}empty.txt`, { "Want-Repr-Digest": "sha-256=1" });
    assert.equal(response.response.status, 200);
    assert.equal(
      response.response.headers.get("repr-digest"),
      "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
    );
  });
});
