/**
 * One integration suite over a real server (`serve()`) for every storage
 * backend: the file system, and an S3 bucket (see tests/_s3.ts; the S3
 * cases are ignored when no gateway is configured). The same requests must
 * get the same answers: GET/HEAD, single and multiple ranges, conditional
 * GET and PUT, PUT create/replace, a large streamed PUT, POST forms,
 * DELETE, MOVE, listings (HTML and JSON), PUT dir/, digests and auth. Then,
 * S3 only: a resumable upload continued through another instance, and two
 * instances on one bucket racing If-Match PUTs get exactly one winner per
 * round. (The resumable-upload protocol tests run over both stores in
 * tests/resumable_test.ts.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { serve } from "../lib/mod.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";
import {
  patternBytes,
  removePrefix,
  s3Ignored,
  sha256Hex,
  testClient,
  testPrefix,
  testRoot,
  testServeOptions,
  testStoreOption,
} from "./_s3.ts";

/** A way to store files under a fresh root. */
interface Backend {
  name: "fs" | "s3";
  ignore: boolean;
  /** A fresh root for one test, and how to remove it. */
  makeRoot(
    test: string,
  ): Promise<{ root: string; options: Partial<ServeOptions>; remove(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: "fs",
    ignore: false,
    async makeRoot() {
      const root = await Deno.makeTempDir({ prefix: "filedrop-backends-" });
      return { root, options: {}, remove: () => Deno.remove(root, { recursive: true }) };
    },
  },
  {
    name: "s3",
    ignore: s3Ignored,
    makeRoot(test) {
      const prefix = testPrefix(`backends-${test}`);
      return Promise.resolve({
        root: testRoot(prefix),
        options: { s3: testStoreOption() },
        remove: () => removePrefix(testClient(), prefix),
      });
    },
  },
];

/** An answer, its body read whole. */
interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
}

/** Sends one request to `server` and reads the whole answer. */
async function send(
  server: FileServer,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: BodyInit } = {},
): Promise<Answer> {
  const response = await fetch(new URL(path, server.url), {
    method,
    headers: init.headers,
    body: init.body,
    redirect: "manual",
  });
  const body = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body,
    text: new TextDecoder().decode(body),
  };
}

/** Runs `fn` against a server over a fresh root of `backend`. */
async function withBackend(
  backend: Backend,
  test: string,
  options: Partial<ServeOptions>,
  fn: (server: FileServer) => Promise<void>,
): Promise<void> {
  const root = await backend.makeRoot(test);
  const server = await serve({
    root: root.root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    onError: (error) => console.error("server error:", error),
    ...root.options,
    ...options,
  });
  try {
    await fn(server);
  } finally {
    await server.shutdown();
    await root.remove();
  }
}

/** One test per backend. */
function suite(
  name: string,
  fn: (server: FileServer, backend: Backend) => Promise<void>,
  options: Partial<ServeOptions> = {},
): void {
  for (const backend of BACKENDS) {
    Deno.test({
      name: `${backend.name}: ${name}`,
      ignore: backend.ignore,
      fn: () =>
        withBackend(
          backend,
          name.replace(/\W+/g, "-").slice(0, 40),
          options,
          (server) => fn(server, backend),
        ),
    });
  }
}

async function putText(server: FileServer, path: string, body: string, headers = {}) {
  return await send(server, "PUT", path, { body, headers });
}

suite(
  "PUT creates (201) and replaces (204); GET and HEAD serve it with its validators",
  async (server) => {
    const created = await putText(server, "/docs/a.txt", "hello world");
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/docs/a.txt");
    const etag = created.headers.get("etag")!;
    assert.match(etag, /^"[^"]+"$/, "a strong ETag");
    const get = await send(server, "GET", "/docs/a.txt");
    assert.equal(get.status, 200);
    assert.equal(get.text, "hello world");
    assert.equal(get.headers.get("etag"), etag, "the ETag of the PUT is the ETag of the GET");
    assert.equal(get.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(get.headers.get("accept-ranges"), "bytes");
    assert.ok(get.headers.get("last-modified"));
    const head = await send(server, "HEAD", "/docs/a.txt");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "11");
    assert.equal(head.body.length, 0);
    const replaced = await putText(server, "/docs/a.txt", "bye");
    assert.equal(replaced.status, 204);
    assert.notEqual(replaced.headers.get("etag"), etag);
    assert.equal((await send(server, "GET", "/docs/a.txt")).text, "bye");
    assert.equal((await send(server, "GET", "/docs/missing.txt")).status, 404);
    assert.equal((await send(server, "GET", "/docs")).status, 301, "a directory without its slash");
    assert.equal((await send(server, "GET", "/docs/a.txt/")).status, 404);
  },
);

suite("single, suffix, multiple and unsatisfiable ranges; If-Range", async (server) => {
  const body = "0123456789abcdefghij";
  const etag = (await putText(server, "/r.txt", body)).headers.get("etag")!;
  const one = await send(server, "GET", "/r.txt", { headers: { Range: "bytes=2-5" } });
  assert.equal(one.status, 206);
  assert.equal(one.text, "2345");
  assert.equal(one.headers.get("content-range"), "bytes 2-5/20");
  const suffix = await send(server, "GET", "/r.txt", { headers: { Range: "bytes=-3" } });
  assert.equal(suffix.text, "hij");
  const open = await send(server, "GET", "/r.txt", { headers: { Range: "bytes=15-" } });
  assert.equal(open.text, "fghij");
  const many = await send(server, "GET", "/r.txt", { headers: { Range: "bytes=0-1,10-12,18-" } });
  assert.equal(many.status, 206);
  const type = many.headers.get("content-type")!;
  assert.match(type, /^multipart\/byteranges; boundary=/);
  for (const [range, bytes] of [["0-1/20", "01"], ["10-12/20", "abc"], ["18-19/20", "ij"]]) {
    assert.ok(many.text.includes(`Content-Range: bytes ${range}\r\n\r\n${bytes}\r\n`), range);
  }
  const past = await send(server, "GET", "/r.txt", { headers: { Range: "bytes=30-40" } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get("content-range"), "bytes */20");
  const stale = await send(server, "GET", "/r.txt", {
    headers: { Range: "bytes=0-1", "If-Range": '"old"' },
  });
  assert.equal(stale.status, 200, "a stale If-Range gets the whole file");
  const fresh = await send(server, "GET", "/r.txt", {
    headers: { Range: "bytes=0-1", "If-Range": etag },
  });
  assert.equal(fresh.status, 206);
});

suite("conditional GET: If-None-Match, If-Match, If-Modified-Since", async (server) => {
  const etag = (await putText(server, "/c.txt", "content")).headers.get("etag")!;
  const lastModified = (await send(server, "HEAD", "/c.txt")).headers.get("last-modified")!;
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-None-Match": etag } })).status,
    304,
  );
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-None-Match": '"x"' } })).status,
    200,
  );
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-Match": etag } })).status,
    200,
  );
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-Match": '"x"' } })).status,
    412,
  );
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-Modified-Since": lastModified } }))
      .status,
    304,
  );
  const before = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-Modified-Since": before } })).status,
    200,
  );
  assert.equal(
    (await send(server, "GET", "/c.txt", { headers: { "If-Unmodified-Since": before } })).status,
    412,
  );
});

suite("conditional PUT: If-None-Match: *, If-Match, If-Unmodified-Since", async (server) => {
  assert.equal((await putText(server, "/p.txt", "v1", { "If-None-Match": "*" })).status, 201);
  assert.equal((await putText(server, "/p.txt", "v2", { "If-None-Match": "*" })).status, 412);
  const etag = (await send(server, "HEAD", "/p.txt")).headers.get("etag")!;
  assert.equal((await putText(server, "/p.txt", "v2", { "If-Match": '"stale"' })).status, 412);
  assert.equal((await send(server, "GET", "/p.txt")).text, "v1", "a refused PUT changes nothing");
  const replaced = await putText(server, "/p.txt", "v2", { "If-Match": etag });
  assert.equal(replaced.status, 204);
  assert.equal(
    (await putText(server, "/p.txt", "v3", { "If-Match": etag })).status,
    412,
    "now stale",
  );
  assert.equal(
    (await putText(server, "/p.txt", "v3", { "If-Match": replaced.headers.get("etag")! })).status,
    204,
  );
  assert.equal((await putText(server, "/new.txt", "x", { "If-Match": "*" })).status, 412);
  const old = new Date(Date.now() - 3_600_000).toUTCString();
  assert.equal((await putText(server, "/p.txt", "v4", { "If-Unmodified-Since": old })).status, 412);
  assert.equal((await send(server, "GET", "/p.txt")).text, "v3");
});

suite(
  "a large streamed PUT (chunked, over one part) round-trips with its digest",
  async (server) => {
    const body = patternBytes(12 * 1024 * 1024 + 3, 11);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < body.length; offset += 256 * 1024) {
          controller.enqueue(body.slice(offset, offset + 256 * 1024));
        }
        controller.close();
      },
    });
    const sha = await sha256Hex(body);
    const shaBase64 = btoa(String.fromCharCode(...sha.match(/../g)!.map((h) => parseInt(h, 16))));
    const put = await send(server, "PUT", "/big/blob.bin", {
      body: stream,
      headers: { "Repr-Digest": `sha-256=:${shaBase64}:` },
    });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers.get("repr-digest"), `sha-256=:${shaBase64}:`);
    const get = await send(server, "GET", "/big/blob.bin", {
      headers: { "Want-Repr-Digest": "sha-256=1" },
    });
    assert.equal(get.status, 200);
    assert.equal(get.body.length, body.length);
    assert.equal(await sha256Hex(get.body), sha);
    assert.equal(get.headers.get("repr-digest"), `sha-256=:${shaBase64}:`);
    assert.equal(get.headers.get("etag"), put.headers.get("etag"));
    const tail = await send(server, "GET", "/big/blob.bin", { headers: { Range: "bytes=-100" } });
    assert.deepEqual(tail.body, body.subarray(body.length - 100));
    const wrong = await send(server, "PUT", "/big/blob.bin", {
      body: "not that",
      headers: { "Repr-Digest": `sha-256=:${shaBase64}:` },
    });
    assert.equal(wrong.status, 400, "a wrong digest stores nothing");
    assert.equal(
      (await send(server, "HEAD", "/big/blob.bin")).headers.get("content-length"),
      String(body.length),
    );
  },
);

function form(files: Record<string, string>): FormData {
  const data = new FormData();
  for (const [name, content] of Object.entries(files)) {
    data.append("file", new Blob([content]), name);
  }
  return data;
}

suite("POST form: several files at once; a taken name stores nothing", async (server) => {
  assert.equal((await send(server, "PUT", "/up/")).status, 201);
  const posted = await send(server, "POST", "/up/?format=json", {
    body: form({ "a.txt": "A", "b.txt": "BB" }),
  });
  assert.equal(posted.status, 201, posted.text);
  const { files } = JSON.parse(posted.text);
  assert.deepEqual(files.map((f: { name: string; size: number }) => [f.name, f.size]), [[
    "a.txt",
    1,
  ], [
    "b.txt",
    2,
  ]]);
  assert.equal((await send(server, "GET", "/up/b.txt")).text, "BB");
  const taken = await send(server, "POST", "/up/?format=json", {
    body: form({ "c.txt": "C", "a.txt": "again" }),
  });
  assert.equal(taken.status, 409);
  assert.equal((await send(server, "GET", "/up/c.txt")).status, 404, "all or nothing");
  const overwrite = await send(server, "POST", "/up/?overwrite=1&format=json", {
    body: form({ "a.txt": "new" }),
  });
  assert.equal(overwrite.status, 201);
  assert.equal((await send(server, "GET", "/up/a.txt")).text, "new");
  assert.equal(
    (await send(server, "POST", "/nodir/", { body: form({ "x.txt": "x" }) })).status,
    404,
  );
});

suite("DELETE: files, conditions, empty directories and whole trees", async (server) => {
  const etag = (await putText(server, "/d/x.txt", "x")).headers.get("etag")!;
  assert.equal(
    (await send(server, "DELETE", "/d/x.txt", { headers: { "If-Match": '"no"' } })).status,
    412,
  );
  assert.equal((await send(server, "GET", "/d/x.txt")).status, 200);
  assert.equal(
    (await send(server, "DELETE", "/d/x.txt", { headers: { "If-Match": etag } })).status,
    204,
  );
  assert.equal((await send(server, "GET", "/d/x.txt")).status, 404);
  assert.equal((await send(server, "DELETE", "/d/x.txt")).status, 404);
  assert.equal((await send(server, "PUT", "/e/")).status, 201);
  await putText(server, "/e/in.txt", "in");
  assert.equal((await send(server, "DELETE", "/e/in.txt")).status, 204);
  assert.equal((await send(server, "DELETE", "/e/")).status, 204);
  assert.equal((await send(server, "GET", "/e/")).status, 404);
  await putText(server, "/t/a/b.txt", "b");
  await putText(server, "/t/c.txt", "c");
  assert.equal((await send(server, "DELETE", "/t")).status, 204);
  assert.equal((await send(server, "GET", "/t/a/b.txt")).status, 404);
  assert.equal((await send(server, "GET", "/t/")).status, 404);
  assert.equal((await send(server, "DELETE", "/")).status, 403);
});

suite("MOVE: rename, Overwrite: F, preconditions, a missing parent", async (server) => {
  const etag = (await putText(server, "/m/a.txt", "alpha")).headers.get("etag")!;
  const moved = await send(server, "MOVE", "/m/a.txt", {
    headers: { Destination: "/m/b.txt", "If-Match": etag },
  });
  assert.equal(moved.status, 201);
  assert.equal(moved.headers.get("location"), "/m/b.txt");
  assert.equal((await send(server, "GET", "/m/a.txt")).status, 404);
  assert.equal((await send(server, "GET", "/m/b.txt")).text, "alpha");
  await putText(server, "/m/c.txt", "gamma");
  const refused = await send(server, "MOVE", "/m/c.txt", {
    headers: { Destination: "/m/b.txt", Overwrite: "F" },
  });
  assert.equal(refused.status, 412);
  const stale = await send(server, "MOVE", "/m/c.txt", {
    headers: { Destination: "/m/z.txt", "If-Match": etag },
  });
  assert.equal(stale.status, 412);
  assert.equal(
    (await send(server, "MOVE", "/m/c.txt", { headers: { Destination: "/m/b.txt" } })).status,
    204,
  );
  assert.equal((await send(server, "GET", "/m/b.txt")).text, "gamma");
  assert.equal(
    (await send(server, "MOVE", "/m/b.txt", { headers: { Destination: "/no/b.txt" } })).status,
    409,
  );
  assert.equal(
    (await send(server, "MOVE", "/m/none", { headers: { Destination: "/m/n2" } })).status,
    404,
  );
});

suite(
  "listings: HTML and JSON, directories first, ETags as GET gives them; PUT dir/",
  async (server) => {
    assert.equal((await send(server, "PUT", "/l/")).status, 201);
    assert.equal((await send(server, "PUT", "/l/")).status, 204, "already there");
    assert.equal((await send(server, "PUT", "/l/sub/")).status, 201);
    const etag = (await putText(server, "/l/z file & more.txt", "zz")).headers.get("etag")!;
    await putText(server, "/l/a.txt", "a");
    assert.equal((await send(server, "PUT", "/l/a.txt/")).status, 409, "a file is in the way");
    const json = await send(server, "GET", "/l/?format=json");
    assert.equal(json.status, 200);
    const listing = JSON.parse(json.text);
    assert.equal(listing.path, "/l/");
    assert.deepEqual(
      listing.entries.map((e: { name: string; type: string }) => [e.name, e.type]),
      [["sub", "directory"], ["a.txt", "file"], ["z file & more.txt", "file"]],
    );
    const z = listing.entries.find((e: { name: string }) => e.name === "z file & more.txt");
    assert.equal(z.size, 2);
    assert.equal(z.etag, etag);
    const html = await send(server, "GET", "/l/", { headers: { Accept: "text/html" } });
    assert.equal(html.status, 200);
    assert.match(html.headers.get("content-type")!, /^text\/html/);
    assert.ok(html.text.includes("z file &amp; more.txt"));
    assert.ok(html.text.includes('href="./z%20file%20%26%20more.txt"'));
    assert.ok(html.text.includes('href="./sub/"'));
    const again = await send(server, "GET", "/l/?format=json", {
      headers: { "If-None-Match": json.headers.get("etag")! },
    });
    assert.equal(again.status, 304, "an unchanged listing revalidates");
    const root = JSON.parse((await send(server, "GET", "/?format=json")).text);
    assert.deepEqual(root.entries.map((e: { name: string }) => e.name), ["l"]);
    assert.equal((await send(server, "GET", "/nothing/")).status, 404);
  },
);

suite("auth: writes need credentials, reads do not", async (server) => {
  assert.equal((await putText(server, "/s.txt", "x")).status, 401);
  const authorization = `Basic ${btoa("me:secret")}`;
  assert.equal(
    (await putText(server, "/s.txt", "x", { Authorization: authorization })).status,
    201,
  );
  assert.equal((await send(server, "GET", "/s.txt")).text, "x");
  assert.equal((await send(server, "DELETE", "/s.txt")).status, 401);
}, { auth: ["me:secret"] });

suite(
  "MOVE of a directory: every file under it, onto nothing, an empty directory or anything with Overwrite",
  async (server) => {
    await putText(server, "/d/a.txt", "alpha");
    await putText(server, "/d/sub/b.txt", "beta");
    assert.equal((await send(server, "PUT", "/d/empty/")).status, 201);
    const moved = await send(server, "MOVE", "/d", { headers: { Destination: "/e" } });
    assert.equal(moved.status, 201, moved.text);
    assert.equal((await send(server, "GET", "/e/a.txt")).text, "alpha");
    assert.equal((await send(server, "GET", "/e/sub/b.txt")).text, "beta");
    const listing = JSON.parse(
      (await send(server, "GET", "/e/", { headers: { Accept: "application/json" } })).text,
    );
    assert.deepEqual(
      listing.entries.map((e: { name: string }) => e.name).sort(),
      ["a.txt", "empty", "sub"],
    );
    assert.equal((await send(server, "GET", "/d/a.txt")).status, 404);
    assert.equal((await send(server, "GET", "/d/")).status, 404, "the source is gone");

    await putText(server, "/full/x.txt", "x");
    const refused = await send(server, "MOVE", "/e", {
      headers: { Destination: "/full", Overwrite: "F" },
    });
    assert.equal(refused.status, 412);
    const intoItself = await send(server, "MOVE", "/e", { headers: { Destination: "/e/sub/e" } });
    assert.equal(intoItself.status, 409);
    assert.equal((await send(server, "GET", "/e/sub/b.txt")).text, "beta", "nothing moved");
    // Overwrite: T replaces what is there whatever its kind (RFC 4918 §9.9.3).
    await putText(server, "/keep/e2/k.txt", "k");
    assert.equal(
      (await send(server, "MOVE", "/keep/e2", { headers: { Destination: "/full/x.txt" } })).status,
      204,
    );
    assert.equal((await send(server, "GET", "/full/x.txt/k.txt")).text, "k");
    const overFull = await send(server, "MOVE", "/full", { headers: { Destination: "/e" } });
    assert.equal(overFull.status, 204);
    assert.equal((await send(server, "GET", "/e/x.txt/k.txt")).text, "k");
    assert.equal((await send(server, "GET", "/e/sub/b.txt")).status, 404, "the old tree is gone");
    await putText(server, "/e/a.txt", "alpha");
    await putText(server, "/e/sub/b.txt", "beta");

    assert.equal((await send(server, "PUT", "/blank/")).status, 201);
    const replaced = await send(server, "MOVE", "/e", { headers: { Destination: "/blank" } });
    assert.equal(replaced.status, 204);
    assert.equal((await send(server, "GET", "/blank/sub/b.txt")).text, "beta");
    assert.equal((await send(server, "GET", "/e/a.txt")).status, 404);
  },
);

suite(
  "compression: a precompressed sibling, or gzip on the fly, and identity ranges",
  async (server) => {
    const text = "filedrop ".repeat(4000);
    await putText(server, "/z/page.txt", text);
    const gz = await send(server, "GET", "/z/page.txt", { headers: { "Accept-Encoding": "gzip" } });
    assert.equal(gz.status, 200);
    assert.equal(gz.text, text);
    const raw = await fetch(new URL("/z/page.txt", server.url), {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(raw.headers.get("content-encoding"), "gzip");
    assert.equal(raw.headers.get("vary"), "Accept-Encoding");
    await raw.body?.cancel();
    const packed = await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer();
    await send(server, "PUT", "/z/page.txt.gz", { body: packed });
    const sibling = await fetch(new URL("/z/page.txt", server.url), {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(sibling.headers.get("content-encoding"), "gzip");
    assert.equal(
      sibling.headers.get("content-length"),
      String(packed.byteLength),
      "the stored sibling",
    );
    assert.equal(await sibling.text(), text);
    const range = await send(server, "GET", "/z/page.txt", {
      headers: { "Accept-Encoding": "identity", Range: "bytes=9-16" },
    });
    assert.equal(range.text, "filedrop");
  },
);

Deno.test({
  name:
    "s3: a resumable upload started on one instance is continued on another, across parts and tails",
  ignore: s3Ignored,
  async fn() {
    const prefix = testPrefix("resume-across");
    const options = testServeOptions(prefix);
    const first = await serve(options);
    const second = await serve(options);
    try {
      // 8 MiB parts: 3 MiB (a tail), +7 MiB (a part and a tail), +9 MiB (a part, a tail), complete.
      const data = patternBytes(19 * 1024 * 1024 + 5, 7) as Uint8Array<ArrayBuffer>;
      const cuts = [0, 3 * 1024 * 1024, 10 * 1024 * 1024, data.length];
      const digest = `sha-256=:${
        btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-256", data))))
      }:`;
      const created = await send(first, "PUT", "/big/resumed.bin", {
        headers: { "Upload-Complete": "?0", "Repr-Digest": digest },
        body: data.subarray(cuts[0], cuts[1]),
      });
      assert.equal(created.status, 201, created.text);
      const location = created.headers.get("location")!;
      assert.equal(created.headers.get("upload-offset"), String(cuts[1]));
      const servers = [second, first, second];
      for (let i = 1; i < cuts.length - 1; i++) {
        const server = servers[i - 1];
        const head = await send(server, "HEAD", location);
        assert.equal(
          head.headers.get("upload-offset"),
          String(cuts[i]),
          "the offset from the store",
        );
        const appended = await send(server, "PATCH", location, {
          headers: {
            "Content-Type": "application/partial-upload",
            "Upload-Offset": String(cuts[i]),
            "Upload-Complete": "?0",
          },
          body: data.subarray(cuts[i], cuts[i + 1]),
        });
        assert.equal(appended.status, 204, appended.text);
        assert.equal(appended.headers.get("upload-offset"), String(cuts[i + 1]));
      }
      assert.equal((await send(first, "GET", "/big/resumed.bin")).status, 404, "nothing visible");
      // Completed on the instance that did not see the first bytes: the digest is checked by reading back.
      const done = await send(second, "PATCH", location, {
        headers: {
          "Content-Type": "application/partial-upload",
          "Upload-Offset": String(data.length),
          "Upload-Complete": "?1",
        },
      });
      assert.equal(done.status, 201, done.text);
      assert.equal(done.headers.get("repr-digest"), digest);
      const stored = await send(first, "GET", "/big/resumed.bin");
      assert.equal(stored.body.length, data.length);
      assert.equal(await sha256Hex(stored.body), await sha256Hex(data));
      const client = testClient();
      assert.deepEqual(await client.listMultipartUploads(prefix), [], "no multipart upload left");
      const state = await client.listObjects({ prefix: `${prefix}.filedrop-tmp-state/` });
      assert.deepEqual(state.objects.map((o) => o.key), [], "no state objects left");

      // A wrong Repr-Digest, completed on another instance: 400, and no file left.
      const bad = await send(first, "PUT", "/bad.bin", {
        headers: { "Upload-Complete": "?0", "Repr-Digest": digest },
        body: data.subarray(0, 10),
      });
      const refused = await send(second, "PATCH", bad.headers.get("location")!, {
        headers: {
          "Content-Type": "application/partial-upload",
          "Upload-Offset": "10",
          "Upload-Complete": "?1",
        },
        body: "x",
      });
      assert.equal(refused.status, 400);
      assert.equal((await send(first, "GET", "/bad.bin")).status, 404);
    } finally {
      await first.shutdown();
      await second.shutdown();
      await removePrefix(testClient(), prefix);
    }
  },
});

// --- Two instances on one bucket -------------------------------------------------

/** Rounds of the race: each round, two PUTs with the same If-Match through two instances. */
const RACE_ROUNDS = Number(Deno.env.get("FILEDROP_S3_RACE_ROUNDS") ?? "200");

Deno.test({
  name:
    `s3: two instances on one bucket racing If-Match PUTs: exactly one winner in each of ${RACE_ROUNDS} rounds`,
  ignore: s3Ignored,
  async fn() {
    const prefix = testPrefix("race");
    const options = testServeOptions(prefix);
    const first = await serve(options);
    const second = await serve(options);
    try {
      let etag = (await putText(first, "/race.txt", "start")).headers.get("etag")!;
      const winners = { first: 0, second: 0 };
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const [a, b] = await Promise.all([
          putText(first, "/race.txt", `first ${round}`, { "If-Match": etag }),
          putText(second, "/race.txt", `second ${round}`, { "If-Match": etag }),
        ]);
        const statuses = [a.status, b.status].sort();
        assert.deepEqual(statuses, [204, 412], `round ${round}: one winner, one 412`);
        const winner = a.status === 204 ? a : b;
        winners[a.status === 204 ? "first" : "second"]++;
        const stored = await send(second, "GET", "/race.txt");
        assert.equal(
          stored.text,
          `${a.status === 204 ? "first" : "second"} ${round}`,
          "the winner's body",
        );
        assert.equal(stored.headers.get("etag"), winner.headers.get("etag"));
        etag = winner.headers.get("etag")!;
      }
      console.log(
        `race: ${RACE_ROUNDS} rounds, first won ${winners.first}, second ${winners.second}`,
      );
    } finally {
      await first.shutdown();
      await second.shutdown();
      await removePrefix(testClient(), prefix);
    }
  },
});
