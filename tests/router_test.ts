/**
 * End-to-end tests of request routing (lib/handlers/router.ts) against a real server
 * on 127.0.0.1 over real temp directories: GET and HEAD of files, directory
 * redirects, index and listing, and every way out of ROOT that must stay shut.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { serve } from "../lib/mod.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";
import { fileETag } from "../lib/storage/fs.ts";
import { exchange, parseResponses, run, sendOne as send, withServer } from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";

const CURL = "/usr/bin/curl";

/** GET of `target` (the raw request-target, sent as is). */
function get(port: number, target: string, headers: string[] = []): Promise<RawResponse> {
  return send(port, `GET ${target} HTTP/1.1`, headers);
}

const SECRET = "TOP-SECRET-7f3a9c: this file lives next to ROOT";

/**
 * A server whose ROOT sits in a parent directory that also holds
 * `secret.txt`, so a request that escapes ROOT by one level would find it.
 */
async function withJail(
  options: Partial<ServeOptions>,
  fn: (server: FileServer, root: string, parent: string) => Promise<void>,
): Promise<void> {
  const parent = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-jail-" }));
  const root = path.join(parent, "root");
  await Deno.mkdir(root);
  await Deno.writeTextFile(path.join(parent, "secret.txt"), SECRET);
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    onError: () => {},
    ...options,
  });
  try {
    await fn(server, root, parent);
  } finally {
    await server.shutdown();
    await Deno.remove(parent, { recursive: true });
  }
}

Deno.test("GET a text file: body and every representation header", async () => {
  await withServer({}, async (server, root) => {
    const file = path.join(root, "hello.txt");
    await Deno.writeTextFile(file, "Hello, filedrop!\n");
    const info = await Deno.stat(file);
    const before = Date.now();
    const response = await get(server.addr.port, "/hello.txt");

    assert.equal(response.status, 200);
    assert.equal(response.body, "Hello, filedrop!\n");
    assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("content-length"), String(info.size));
    assert.equal(response.headers.get("etag"), fileETag(info));
    assert.match(response.headers.get("etag")!, /^"[^"]+"$/, "a strong ETag");
    const lastModified = response.headers.get("last-modified")!;
    assert.match(lastModified, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.equal(Date.parse(lastModified), Math.floor(info.mtime!.getTime() / 1000) * 1000);
    const date = Date.parse(response.headers.get("date")!);
    assert.ok(Math.abs(date - before) < 5_000, `Date ${response.headers.get("date")} is now`);
  });
});

Deno.test("GET picks the media type from the extension; unknown ones are octet-stream", async () => {
  await withServer({}, async (server, root) => {
    const cases: [string, string][] = [
      ["page.html", "text/html; charset=utf-8"],
      ["data.json", "application/json; charset=utf-8"],
      ["style.css", "text/css; charset=utf-8"],
      ["image.png", "image/png"],
      ["blob.qqqzz", "application/octet-stream"],
      ["no-extension", "application/octet-stream"],
    ];
    for (const [name] of cases) await Deno.writeTextFile(path.join(root, name), "x");
    for (const [name, expected] of cases) {
      const response = await get(server.addr.port, `/${name}`);
      assert.equal(response.status, 200, name);
      assert.equal(response.headers.get("content-type"), expected, name);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", name);
    }
  });
});

Deno.test("HEAD has the same head as GET and no body, even pipelined", async () => {
  await withServer({}, async (server, root) => {
    const content = "0123456789".repeat(1000);
    await Deno.writeTextFile(path.join(root, "ten-k.txt"), content);
    // HEAD then GET on one connection: if HEAD sent a body, the GET would be misread.
    const { text } = await exchange(
      server.addr.port,
      "HEAD /ten-k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /ten-k.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      { responses: 2 },
    );
    const { responses, rest } = parseResponses(text, [true, false]);
    assert.equal(responses.length, 2);
    assert.equal(rest, "");
    const [head, full] = responses;
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    assert.equal(full.body, content);
    for (const name of ["content-type", "content-length", "etag", "last-modified"]) {
      assert.equal(head.headers.get(name), full.headers.get(name), name);
    }
    assert.equal(head.headers.get("content-length"), String(content.length));
    assert.ok(head.headers.has("date"));
  });
});

Deno.test("a directory without its slash redirects (301) to the path with it, query kept", async () => {
  await withServer({}, async (server, root) => {
    await Deno.mkdir(path.join(root, "docs", "sub"), { recursive: true });
    const cases: [string, string][] = [
      ["/docs", "/docs/"],
      ["/docs/sub", "/docs/sub/"],
      ["/docs?sort=name", "/docs/?sort=name"],
      ["/docs/./sub", "/docs/sub/"],
    ];
    for (const [target, location] of cases) {
      const response = await get(server.addr.port, target);
      assert.equal(response.status, 301, target);
      assert.equal(response.headers.get("location"), location, target);
    }
  });
});

Deno.test("a hostile path never yields a Location that leaves the origin", async () => {
  await withServer({}, async (server, root) => {
    await Deno.mkdir(path.join(root, "evil.example"));
    const targets = [
      "//evil.example",
      "///evil.example",
      "//evil.example/",
      "/%2F%2Fevil.example",
      "/%2f%2fevil.example",
      "//evil.example/..%2f..",
      "//evil.example/%2e%2e%2f%2e%2e",
      "/%5Cevil.example",
      "/\\evil.example",
      "/.//evil.example",
      "//./evil.example",
      "/%2E/evil.example",
      "http://localhost//evil.example",
      "//evil.example?x=//evil.example",
    ];
    let redirects = 0;
    for (const target of targets) {
      const response = await get(server.addr.port, target);
      const location = response.headers.get("location");
      if (location === undefined) continue;
      redirects++;
      assert.equal(response.status, 301, target);
      assert.ok(location.startsWith("/"), `${target} -> ${location}`);
      assert.ok(!location.startsWith("//"), `${target} -> ${location}`);
      assert.ok(!location.startsWith("/\\"), `${target} -> ${location}`);
      assert.ok(location.startsWith("/evil.example/"), `${target} -> ${location}`);
    }
    // The directory does exist, so several of these must redirect rather than all failing.
    assert.ok(redirects >= 4, `only ${redirects} redirects`);
  });
});

Deno.test("a directory with its slash serves index.html, else a listing", async () => {
  await withServer({}, async (server, root) => {
    await Deno.mkdir(path.join(root, "site"));
    await Deno.writeTextFile(path.join(root, "site", "index.html"), "<h1>home</h1>");
    await Deno.mkdir(path.join(root, "files"));
    await Deno.writeTextFile(path.join(root, "files", "report-2024.csv"), "a,b\n");

    const index = await get(server.addr.port, "/site/");
    assert.equal(index.status, 200);
    assert.equal(index.body, "<h1>home</h1>");
    assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");

    const listing = await get(server.addr.port, "/files/");
    assert.equal(listing.status, 200);
    assert.match(listing.headers.get("content-type")!, /^text\/html/);
    assert.ok(listing.body.includes("report-2024.csv"));

    const rootListing = await get(server.addr.port, "/");
    assert.equal(rootListing.status, 200);
    assert.ok(rootListing.body.includes("files"));
  });
});

Deno.test("with listing off, a directory without index.html is 404", async () => {
  await withServer({ listing: false }, async (server, root) => {
    await Deno.mkdir(path.join(root, "files"));
    await Deno.writeTextFile(path.join(root, "files", "a.txt"), "a");
    assert.equal((await get(server.addr.port, "/files/")).status, 404);
    assert.equal((await get(server.addr.port, "/files/a.txt")).status, 200);
  });
});

Deno.test("missing paths are 404; a file with a trailing slash is 404", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "a");
    for (const target of ["/nope.txt", "/no/such/dir/", "/a.txt/", "/a.txt/child"]) {
      const response = await get(server.addr.port, target);
      assert.equal(response.status, 404, target);
      assert.ok(!response.body.includes(root), "no server path in the body");
    }
  });
});

Deno.test("traversal attempts never return a file outside ROOT", async () => {
  await withJail({}, async (server, root) => {
    await Deno.mkdir(path.join(root, "sub"));
    await Deno.writeTextFile(path.join(root, "sub", "inner.txt"), "inner");
    const targets = [
      "/../secret.txt",
      "/sub/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/%2e./secret.txt",
      "/..%2fsecret.txt",
      "/..%2Fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub/..%2f..%2fsecret.txt",
      "/%252e%252e/secret.txt",
      "/%252e%252e%252fsecret.txt",
      "/..\\secret.txt",
      "/..%5csecret.txt",
      "/%c0%ae%c0%ae/secret.txt",
      "/..;/secret.txt",
      "/.../secret.txt",
      "/sub/%00/../../secret.txt",
      "http://localhost/../secret.txt",
      "http://localhost/sub/../../secret.txt",
      "http://localhost/%2e%2e/secret.txt",
      "/root/../secret.txt",
    ];
    for (const target of targets) {
      const response = await get(server.addr.port, target);
      assert.ok(
        response.status === 400 || response.status === 404,
        `${target} -> ${response.status}`,
      );
      assert.ok(!response.body.includes("TOP-SECRET"), `${target} leaked the secret`);
    }
    // The same server does serve files inside ROOT, and ".." that stays inside ROOT works.
    assert.equal((await get(server.addr.port, "/sub/inner.txt")).body, "inner");
    assert.equal((await get(server.addr.port, "/sub/../sub/inner.txt")).body, "inner");
  });
});

Deno.test("curl --path-as-is cannot climb out of ROOT either", async () => {
  await withJail({}, async (server) => {
    for (const urlPath of ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]) {
      const { code, stdout } = await run(CURL, [
        "-sS",
        "--path-as-is",
        "-w",
        "\n%{http_code}",
        `${server.url.slice(0, -1)}${urlPath}`,
      ]);
      assert.equal(code, 0);
      assert.ok(!stdout.includes("TOP-SECRET"), `${urlPath} leaked the secret`);
      assert.match(stdout, /\n(400|404)$/, urlPath);
    }
  });
});

Deno.test("symlinks in ROOT that point outside are 404; ones inside are served", async () => {
  await withJail({}, async (server, root, parent) => {
    await Deno.writeTextFile(path.join(root, "real.txt"), "real");
    await Deno.symlink(path.join(parent, "secret.txt"), path.join(root, "link-out.txt"));
    await Deno.symlink("../secret.txt", path.join(root, "relative-out.txt"));
    await Deno.symlink(parent, path.join(root, "dir-out"));
    await Deno.symlink("real.txt", path.join(root, "link-in.txt"));
    await Deno.symlink(path.join(parent, "missing"), path.join(root, "dangling"));

    for (
      const target of [
        "/link-out.txt",
        "/relative-out.txt",
        "/dir-out/secret.txt",
        "/dir-out/",
        "/dir-out",
        "/dangling",
      ]
    ) {
      const response = await get(server.addr.port, target);
      assert.equal(response.status, 404, target);
      assert.ok(!response.body.includes("TOP-SECRET"), `${target} leaked the secret`);
    }
    const inside = await get(server.addr.port, "/link-in.txt");
    assert.equal(inside.status, 200);
    assert.equal(inside.body, "real");
    const listing = await get(server.addr.port, "/");
    assert.ok(!listing.body.includes("TOP-SECRET"));
  });
});

Deno.test("--follow-symlinks reads through outside links, and never writes through them", async () => {
  await withJail({ followSymlinks: true }, async (server, root, parent) => {
    await Deno.symlink(path.join(parent, "secret.txt"), path.join(root, "link-out.txt"));
    await Deno.symlink(parent, path.join(root, "dir-out"));
    const read = await get(server.addr.port, "/link-out.txt");
    assert.equal(read.status, 200);
    assert.ok(read.body.includes("TOP-SECRET"));
    const put = await send(server.addr.port, "PUT /dir-out/planted.txt HTTP/1.1", [
      "Content-Length: 1",
    ], "x");
    assert.equal(put.status, 403);
    await assert.rejects(Deno.stat(path.join(parent, "planted.txt")), Deno.errors.NotFound);
  });
});

Deno.test("dotfiles are 404 unless the dotfiles option is on", async () => {
  const setUp = async (root: string) => {
    await Deno.writeTextFile(path.join(root, ".env"), "PASSWORD=hunter2");
    await Deno.mkdir(path.join(root, ".git"));
    await Deno.writeTextFile(path.join(root, ".git", "config"), "[core]");
    await Deno.mkdir(path.join(root, "app"));
    await Deno.writeTextFile(path.join(root, "app", ".htpasswd"), "admin:x");
  };
  const targets = ["/.env", "/.git/config", "/.git/", "/app/.htpasswd", "/%2eenv"];
  await withServer({}, async (server, root) => {
    await setUp(root);
    for (const target of targets) {
      const response = await get(server.addr.port, target);
      assert.equal(response.status, 404, target);
    }
    // Writes are hidden from the same rule.
    const put = await send(server.addr.port, "PUT /.env HTTP/1.1", ["Content-Length: 1"]);
    assert.equal(put.status, 404);
    assert.equal(await Deno.readTextFile(path.join(root, ".env")), "PASSWORD=hunter2");
  });
  await withServer({ dotfiles: true }, async (server, root) => {
    await setUp(root);
    const response = await get(server.addr.port, "/.env");
    assert.equal(response.status, 200);
    assert.equal(response.body, "PASSWORD=hunter2");
    assert.equal((await get(server.addr.port, "/app/.htpasswd")).body, "admin:x");
  });
});

Deno.test("a query string is ignored when serving a file", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "a.txt"), "plain a");
    for (const target of ["/a.txt?download=1", "/a.txt?", "/a.txt?x=../../etc/passwd&y=%2e%2e"]) {
      const response = await get(server.addr.port, target);
      assert.equal(response.status, 200, target);
      assert.equal(response.body, "plain a", target);
    }
  });
});

/** The methods of a response's `Allow` header. */
function methods(response: RawResponse): string[] {
  return (response.headers.get("allow") ?? "").split(",").map((method) => method.trim());
}

Deno.test("OPTIONS lists the methods; unknown methods are 501, others 405", async () => {
  await withServer({}, async (server) => {
    const options = await send(server.addr.port, "OPTIONS * HTTP/1.1");
    assert.equal(options.status, 204);
    const allowed = methods(options);
    for (const method of ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]) {
      assert.ok(allowed.includes(method), method);
    }
    assert.equal((await send(server.addr.port, "BREW / HTTP/1.1")).status, 501);
    const post = await send(server.addr.port, "PATCH / HTTP/1.1", ["Content-Length: 0"]);
    assert.equal(post.status, 405);
    assert.deepEqual(methods(post), allowed);
  });
  await withServer({ readOnly: true }, async (server) => {
    const allowed = methods(await send(server.addr.port, "OPTIONS / HTTP/1.1"));
    assert.ok(allowed.includes("GET") && allowed.includes("HEAD"));
    assert.ok(!allowed.includes("PUT") && !allowed.includes("DELETE"), allowed.join());
  });
});

Deno.test("the README examples work with curl", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "index.html"), "<p>Welcome</p>\n");
    const base = server.url;

    const page = await run(CURL, ["-sS", `${base}index.html`]);
    assert.equal(page.code, 0, page.stderr);
    assert.equal(page.stdout, "<p>Welcome</p>\n");

    const head = await run(CURL, ["-sS", "-I", `${base}index.html`]);
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head.stdout, /\r\nContent-Length: 15\r\n/i);
    assert.match(head.stdout, /\r\nContent-Type: text\/html; charset=utf-8\r\n/i);
    assert.match(head.stdout, /\r\nETag: "[^"]+"\r\n/i);

    const put = await run(CURL, [
      "-sS",
      "-w",
      "%{http_code}",
      "-X",
      "PUT",
      "-d",
      "Hello, World!",
      `${base}newfile.txt`,
    ]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /201$/);
    assert.equal(await Deno.readTextFile(path.join(root, "newfile.txt")), "Hello, World!");

    const back = await run(CURL, ["-sS", `${base}newfile.txt`]);
    assert.equal(back.stdout, "Hello, World!");
  });
});

/** Makes a named pipe with mkfifo(1) and binds a Unix socket at `socketPath`; returns the listener. */
async function makeSpecialFiles(fifoPath: string, socketPath: string): Promise<Deno.Listener> {
  const made = await run("mkfifo", [fifoPath]);
  assert.equal(made.code, 0, made.stderr);
  return Deno.listen({ transport: "unix", path: socketPath });
}

Deno.test({
  name: "named pipes, sockets and devices are never opened: 404 to reads, 403 to writes",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withServer({ followSymlinks: true }, async (server, root) => {
      const port = server.addr.port;
      const fifo = path.join(root, "fifo");
      const unix = await makeSpecialFiles(fifo, path.join(root, "sock"));
      try {
        await Deno.writeTextFile(path.join(root, "a.txt"), "a");
        await Deno.symlink(fifo, path.join(root, "link-to-fifo"));
        await Deno.symlink("/dev/zero", path.join(root, "zero")); // Read through --follow-symlinks.
        const quick = async (line: string, headers: string[] = [], body = "") => {
          const started = performance.now();
          const response = await send(port, line, headers, body);
          const ms = performance.now() - started;
          assert.ok(ms < 1000, `${line} took ${ms.toFixed(0)} ms`);
          return response.status;
        };
        for (const target of ["/fifo", "/sock", "/link-to-fifo", "/zero"]) {
          assert.equal(await quick(`GET ${target} HTTP/1.1`), 404, `GET ${target}`);
          assert.equal(await quick(`HEAD ${target} HTTP/1.1`), 404, `HEAD ${target}`);
        }
        const listing = await send(port, "GET /?format=json HTTP/1.1");
        const names = (JSON.parse(listing.body) as { entries: { name: string }[] }).entries
          .map((entry) => entry.name);
        assert.deepEqual(names.sort(), ["a.txt"], "special files are not listed");

        assert.equal(await quick("PUT /fifo HTTP/1.1", ["Content-Length: 1"], "x"), 403);
        assert.equal(await quick("PUT /sock HTTP/1.1", ["Content-Length: 1"], "x"), 403);
        assert.equal(await quick("DELETE /fifo HTTP/1.1"), 403);
        assert.equal(await quick("MOVE /fifo HTTP/1.1", ["Destination: /moved"]), 403);
        assert.equal(await quick("MOVE /a.txt HTTP/1.1", ["Destination: /sock"]), 403);
        assert.ok((await Deno.lstat(fifo)).isFifo, "the pipe is untouched");
        assert.ok((await Deno.lstat(path.join(root, "sock"))).isSocket, "the socket is untouched");
        assert.equal(await Deno.readTextFile(path.join(root, "a.txt")), "a");
      } finally {
        unix.close();
      }
    });
  },
});

Deno.test({
  name: "a named pipe as index.html or 404.html is passed over, never opened",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withServer({}, async (server, root) => {
      const port = server.addr.port;
      await Deno.mkdir(path.join(root, "dir"));
      await Deno.writeTextFile(path.join(root, "dir", "b.txt"), "b");
      for (const fifo of ["dir/index.html", "404.html"]) {
        const made = await run("mkfifo", [path.join(root, fifo)]);
        assert.equal(made.code, 0, made.stderr);
      }
      const listing = await send(port, "GET /dir/ HTTP/1.1");
      assert.equal(listing.status, 200);
      assert.match(listing.body, /b\.txt/, "the directory is listed instead");
      const missing = await send(port, "GET /nothing HTTP/1.1");
      assert.equal(missing.status, 404);
    });
  },
});

Deno.test("PUT with Content-Range is 400 and leaves the file as it was (RFC 9110 §14.5)", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "data.bin");
    await Deno.writeTextFile(file, "0123456789");
    for (const range of ["bytes 0-2/10", "bytes 7-9/10", "bytes 0-2/*", "garbage"]) {
      const response = await send(port, "PUT /data.bin HTTP/1.1", [
        `Content-Range: ${range}`,
        "Content-Length: 3",
      ], "abc");
      assert.equal(response.status, 400, range);
      assert.match(response.body, /Content-Range/);
      assert.equal(await Deno.readTextFile(file), "0123456789", `unchanged after ${range}`);
    }
    const created = await send(port, "PUT /new.bin HTTP/1.1", [
      "Content-Range: bytes 0-2/3",
      "Content-Length: 3",
    ], "abc");
    assert.equal(created.status, 400);
    await assert.rejects(Deno.stat(path.join(root, "new.bin")), Deno.errors.NotFound);
  });
});

Deno.test("DELETE and MOVE of a symlink judge If-Match by the ETag GET gave", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "target.txt"), "content");
    for (const name of ["a-link", "b-link"]) {
      await Deno.symlink(path.join(root, "target.txt"), path.join(root, name));
    }
    const etagOf = async (target: string) => {
      const response = await get(port, target);
      assert.equal(response.status, 200);
      return response.headers.get("etag")!;
    };
    const stale = '"not-the-etag"';
    assert.equal((await send(port, "DELETE /a-link HTTP/1.1", [`If-Match: ${stale}`])).status, 412);
    const deleted = await send(port, "DELETE /a-link HTTP/1.1", [
      `If-Match: ${await etagOf("/a-link")}`,
    ]);
    assert.equal(deleted.status, 204);
    assert.equal(await Deno.readTextFile(path.join(root, "target.txt")), "content");

    const etag = await etagOf("/b-link");
    const stalemove = await send(port, "MOVE /b-link HTTP/1.1", [
      "Destination: /c-link",
      `If-Match: ${stale}`,
    ]);
    assert.equal(stalemove.status, 412);
    const moved = await send(port, "MOVE /b-link HTTP/1.1", [
      "Destination: /c-link",
      `If-Match: ${etag}`,
    ]);
    assert.equal(moved.status, 201);
    assert.ok((await Deno.lstat(path.join(root, "c-link"))).isSymlink, "the link itself moved");
  });
});
