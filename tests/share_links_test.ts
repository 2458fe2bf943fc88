/**
 * Share and drop links over real HTTP: every scope against every method,
 * expired, forged, revoked and escaping requests, the byte limit across
 * instances, name clashes, the state they keep, and the link-making request.
 */

import assert from "node:assert/strict";
import { KNOWN_METHODS } from "../lib/handlers/router.ts";
import * as path from "node:path";
import { openShareLinks, serve } from "../lib/mod.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";
import type { NewLink } from "../lib/policy/share_links.ts";
import { importShareKey, newShareId, signShareToken } from "../lib/policy/share_token.ts";
import { STATE_DIR } from "../lib/storage/temp_files.ts";
import { firstLine, run, withServer } from "./_helpers.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testServeOptions } from "./_s3.ts";

/** Makes a link on `root` the way `filedrop share` does; resolves with its absolute URL. */
async function makeLink(
  server: FileServer,
  options: Pick<ServeOptions, "root" | "s3" | "shareSecret">,
  link: Partial<NewLink> & { path: string[] },
  kind: "file" | "directory" = "directory",
): Promise<{ url: string; id: string; token: string }> {
  const opened = await openShareLinks(options);
  try {
    const created = await opened.links.create({
      scope: "read",
      lifetimeMs: 3_600_000,
      maxBytes: null,
      ...link,
    }, kind);
    const token = created.urlPath.split("/")[3];
    return { url: new URL(created.urlPath, server.url).href, id: created.grant.id, token };
  } finally {
    await opened.close();
  }
}

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.body?.cancel();
  return response.status;
}

/** A ROOT with dir/a.txt, dir/sub/b.txt and secret.txt beside dir. */
async function fixture(root: string): Promise<void> {
  await Deno.mkdir(path.join(root, "dir", "sub"), { recursive: true });
  await Deno.writeTextFile(path.join(root, "dir", "a.txt"), "aaa");
  await Deno.writeTextFile(path.join(root, "dir", "sub", "b.txt"), "bbb");
  await Deno.writeTextFile(path.join(root, "secret.txt"), "top secret");
}

/** Every file under `dir` with its content, for "nothing changed" checks. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of Deno.readDirSync(at)) {
      const full = path.join(at, entry.name);
      if (entry.name === STATE_DIR) continue;
      if (entry.isDirectory) walk(full);
      else files[path.relative(dir, full)] = Deno.readTextFileSync(full);
    }
  };
  walk(dir);
  return files;
}

// Every method the server knows but CONNECT and TRACE, which fetch cannot send.
const METHODS = [...KNOWN_METHODS].filter((method) => method !== "CONNECT" && method !== "TRACE");

/** The request each method sends at `url`: headers and a body a real client would send. */
function requestFor(method: string, url: string): RequestInit {
  const destination = new URL("moved.txt", url).pathname;
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (method === "MOVE" || method === "COPY") headers.Destination = destination;
  if (method === "PROPFIND") headers.Depth = "1";
  if (method === "PUT" || method === "PATCH") body = "new bytes";
  if (method === "PATCH") headers["Content-Type"] = "application/partial-upload";
  if (method === "POST") {
    headers["Content-Type"] = "multipart/form-data; boundary=b";
    body = '--b\r\nContent-Disposition: form-data; name="file"; filename="posted.txt"\r\n\r\n' +
      "posted\r\n--b--\r\n";
  }
  if (method === "PROPPATCH") {
    body = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>' +
      '<x xmlns="urn:t">1</x></D:prop></D:set></D:propertyupdate>';
  }
  if (method === "LOCK") {
    body = '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>' +
      "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>";
  }
  if (method === "UNLOCK") {
    headers["Lock-Token"] = "<urn:uuid:00000000-0000-0000-0000-000000000000>";
  }
  return { method, headers, body };
}

Deno.test("every scope against every method, at the link's folder and below it", async () => {
  await withServer({}, async (server, root) => {
    await fixture(root);
    const links = {
      read: await makeLink(server, { root }, { path: ["dir"], scope: "read" }),
      upload: await makeLink(server, { root }, { path: ["dir"], scope: "upload" }),
    };
    // [at the folder, at a.txt, at sub/b.txt]: what each scope may do, by method.
    const allowed: Record<string, Record<string, [number, number, number]>> = {
      read: { GET: [200, 200, 200], HEAD: [200, 200, 200], OPTIONS: [204, 204, 204] },
      upload: {
        GET: [200, 405, 405],
        HEAD: [200, 405, 405],
        OPTIONS: [204, 204, 204],
        PUT: [405, 201, 405],
      },
    };
    for (const scope of ["read", "upload"] as const) {
      for (const method of METHODS) {
        const want = allowed[scope][method] ?? [405, 405, 405];
        const targets = ["", "a.txt", "sub/b.txt"].map((rest) =>
          new URL(rest, links[scope].url).href
        );
        for (let i = 0; i < targets.length; i++) {
          const before = snapshot(root);
          const got = await status(targets[i], requestFor(method, targets[i]));
          assert.equal(
            got,
            want[i],
            `${scope} link, ${method} ${["folder", "a.txt", "sub/b.txt"][i]}`,
          );
          if (got === 405 || method !== "PUT") {
            assert.deepEqual(snapshot(root), before, `${scope} ${method} changed nothing`);
          }
        }
      }
    }
    // The upload link's PUT of a.txt made a new file beside it; the old one is intact.
    assert.equal(await Deno.readTextFile(path.join(root, "dir", "a.txt")), "aaa");
    assert.equal(await Deno.readTextFile(path.join(root, "dir", "a (2).txt")), "new bytes");
  });
});

Deno.test("a read link serves files and listings below its path only, with no referrer and no write controls", async () => {
  await withServer({}, async (server, root) => {
    await fixture(root);
    const { url } = await makeLink(server, { root }, { path: ["dir"], scope: "read" });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const html = await page.text();
    assert.match(html, /a\.txt/);
    assert.match(html, /data-writable="false"/);
    assert.doesNotMatch(html, /secret\.txt/);
    // The page shows the link's folder as its root: no way up.
    assert.match(
      html,
      /<h1><span class="index-of">Index of <\/span><span aria-current="page">\/<\/span><\/h1>/,
    );
    assert.equal(await (await fetch(new URL("sub/b.txt", url))).text(), "bbb");
    // A folder without its slash is redirected within the link.
    const redirect = await fetch(url.slice(0, -1), { redirect: "manual" });
    await redirect.body?.cancel();
    assert.equal(redirect.status, 301);
    assert.equal(new URL(redirect.headers.get("location")!, url).href, url);
    const sub = await fetch(new URL("sub", url), { redirect: "manual" });
    await sub.body?.cancel();
    assert.equal(new URL(sub.headers.get("location")!, url).href, new URL("sub/", url).href);
    // The folder as an archive.
    const zip = await fetch(new URL("?archive=zip", url));
    assert.equal(zip.status, 200);
    const bytes = new Uint8Array(await zip.arrayBuffer());
    const text = new TextDecoder("latin1").decode(bytes);
    assert.match(text, /a\.txt/);
    assert.match(text, /sub\/b\.txt/);
    assert.doesNotMatch(text, /top secret/);
    // A link to one file serves it, named after it.
    const file = await makeLink(server, { root }, { path: ["dir", "a.txt"] }, "file");
    const response = await fetch(file.url);
    assert.equal(await response.text(), "aaa");
    assert.equal(response.headers.get("content-disposition"), "inline; filename*=UTF-8''a.txt");
  });
});

Deno.test("no path below a link escapes it: dot segments, encoded ones, symlinks", async () => {
  // Reads need credentials, so a path that leaves the link is a plain request, and refused.
  await withServer({ auth: ["ann:pw"], authReads: true }, async (server, root) => {
    await fixture(root);
    await Deno.symlink(path.join(root, "secret.txt"), path.join(root, "dir", "link.txt"));
    await Deno.symlink(root, path.join(root, "dir", "up"));
    const { url, token } = await makeLink(server, { root }, { path: ["dir"], scope: "read" });
    const prefix = `/.well-known/filedrop-share/${token}`;
    for (
      const target of [
        `${prefix}/../../../secret.txt`,
        `${prefix}/%2e%2e/secret.txt`,
        `${prefix}/sub/%2E%2E/%2e%2e/secret.txt`,
        `${prefix}/link.txt`,
        `${prefix}/up/secret.txt`,
        `${prefix}/up/`,
        `${prefix}/..%2fsecret.txt`,
        `${prefix}/.filedrop-tmp-state/share/secret`,
      ]
    ) {
      // Raw bytes: fetch would resolve the dot segments itself.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(
        new TextEncoder().encode(
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        ),
      );
      let text = "";
      const buffer = new Uint8Array(65536);
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      conn.close();
      assert.doesNotMatch(text, /top secret/, target);
      assert.match(text, /^HTTP\/1\.1 (400|401|404)/, target);
    }
    // The listing leaves out the links that lead outside.
    const html = await (await fetch(url)).text();
    assert.doesNotMatch(html, /link\.txt|"\.\/up\/"/);
    const zip = new TextDecoder("latin1").decode(
      new Uint8Array(await (await fetch(new URL("?archive=tar", url))).arrayBuffer()),
    );
    assert.doesNotMatch(zip, /top secret/);
    // A search below the link finds what is inside only.
    const found = await (await fetch(new URL("?q=.txt&format=ndjson", url))).text();
    assert.match(found, /a\.txt/);
    assert.doesNotMatch(found, /link\.txt|secret\.txt/);
  });
});

Deno.test("expired, forged, revoked and other-secret tokens are 404, and are told apart from nothing", async () => {
  await withServer({}, async (server, root) => {
    await fixture(root);
    const good = await makeLink(server, { root }, { path: ["dir"], scope: "read" });
    assert.equal(await status(good.url), 200);
    // Signed with the store's own secret, but expired a second ago.
    const secret = Uint8Array.fromBase64(
      (await Deno.readTextFile(path.join(root, STATE_DIR, "share", "secret"))).trim(),
    );
    const key = await importShareKey(secret);
    const expired = await signShareToken(key, {
      scope: "read",
      id: newShareId(),
      path: ["dir"],
      expiresAt: Math.floor(Date.now() / 1000) * 1000 - 1000,
      maxBytes: null,
    });
    assert.equal(
      await status(new URL(`/.well-known/filedrop-share/${expired}/`, server.url).href),
      404,
    );
    // One character changed (the path's part of the token): forged.
    const chars = good.token.split("");
    const at = 35;
    chars[at] = chars[at] === "A" ? "B" : "A";
    assert.equal(
      await status(new URL(`/.well-known/filedrop-share/${chars.join("")}/`, server.url).href),
      404,
    );
    // Another secret's token.
    const other = await signShareToken(
      await importShareKey(new TextEncoder().encode("x".repeat(32))),
      {
        scope: "read",
        id: newShareId(),
        path: ["dir"],
        expiresAt: Math.floor(Date.now() / 1000) * 1000 + 60_000,
        maxBytes: null,
      },
    );
    assert.equal(
      await status(new URL(`/.well-known/filedrop-share/${other}/`, server.url).href),
      404,
    );
    // Revoked: at once, by this server.
    const opened = await openShareLinks({ root });
    assert.equal(await opened.links.revoke(good.id), true);
    assert.equal(await opened.links.revoke(good.id), false);
    await opened.close();
    assert.equal(await status(good.url), 404);
    assert.equal(await status(new URL("a.txt", good.url).href), 404);
  });
});

Deno.test("a drop link never replaces a file, never tells a name, and shows nothing of the folder", async () => {
  await withServer({}, async (server, root) => {
    await fixture(root);
    const { url } = await makeLink(server, { root }, { path: ["dir"], scope: "upload" });
    const page = await fetch(url);
    const html = await page.text();
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.doesNotMatch(html, /a\.txt|sub/);
    assert.match(html, /Send files to dir/);
    for (let i = 0; i < 3; i++) {
      const response = await fetch(new URL("a.txt", url), { method: "PUT", body: `drop ${i}` });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("location"), null);
      assert.equal(response.headers.get("etag"), null);
      await response.body?.cancel();
    }
    assert.deepEqual(
      Object.entries(snapshot(path.join(root, "dir"))).sort(),
      [["a (2).txt", "drop 0"], ["a (3).txt", "drop 1"], ["a (4).txt", "drop 2"], [
        "a.txt",
        "aaa",
      ], ["sub/b.txt", "bbb"]],
    );
    // If-Match and friends cannot turn a drop into a replacement.
    const forced = await fetch(new URL("a.txt", url), {
      method: "PUT",
      body: "forced",
      headers: { "If-Match": "*" },
    });
    await forced.body?.cancel();
    assert.equal(forced.status, 201);
    assert.equal(await Deno.readTextFile(path.join(root, "dir", "a.txt")), "aaa");
    // Hidden names and resumable uploads are refused.
    assert.equal(await status(new URL(".hidden", url).href, { method: "PUT", body: "x" }), 404);
    assert.equal(
      await status(new URL("r.bin", url).href, {
        method: "PUT",
        body: "x",
        headers: { "Upload-Complete": "?0", "Upload-Draft-Interop-Version": "8" },
      }),
      400,
    );
  });
});

Deno.test("a drop link on a read-only server takes nothing", async () => {
  await withServer({ readOnly: true }, async (server, root) => {
    await fixture(root);
    const { url } = await makeLink(server, { root }, { path: ["dir"], scope: "upload" });
    assert.match(await (await fetch(url)).text(), /takes no uploads/);
    assert.equal(await status(new URL("n.txt", url).href, { method: "PUT", body: "x" }), 403);
  });
});

Deno.test("a drop link's byte limit holds across uploads and across two servers on one ROOT", async () => {
  await withServer({}, async (first, root) => {
    await fixture(root);
    const second = await serve({
      root,
      port: 0,
      hostname: "127.0.0.1",
      fsync: false,
      onError: () => {},
    });
    try {
      const { url } = await makeLink(first, { root }, {
        path: ["dir"],
        scope: "upload",
        maxBytes: 10,
      });
      const on = (server: FileServer, name: string) =>
        new URL(new URL(url).pathname + name, server.url).href;
      assert.equal(await status(on(first, "one"), { method: "PUT", body: "123456" }), 201);
      // 6 + 6 > 10: refused before a byte is written, by the other server.
      const refused = await fetch(on(second, "two"), { method: "PUT", body: "abcdef" });
      assert.equal(refused.status, 413);
      assert.match(await refused.text(), /accepts 4 more/);
      assert.equal(await status(on(second, "three"), { method: "PUT", body: "abcd" }), 201);
      assert.equal(await status(on(first, "four"), { method: "PUT", body: "x" }), 413);
      // A chunked body cannot be measured beforehand: refused.
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("x"));
          controller.close();
        },
      });
      assert.equal(await status(on(first, "five"), { method: "PUT", body: stream }), 411);
      const stored = Object.keys(snapshot(path.join(root, "dir"))).sort();
      assert.deepEqual(stored, ["a.txt", "one", "sub/b.txt", "three"]);
      // No temp file was left behind by the refused uploads.
      assert.deepEqual(
        [...Deno.readDirSync(path.join(root, "dir"))].map((e) => e.name).sort(),
        ["a.txt", "one", "sub", "three"],
      );
      // The drop page says what is left.
      assert.match(await (await fetch(url)).text(), /accepts 0 B more/);
    } finally {
      await second.shutdown();
    }
  });
});

Deno.test("an upload cut off mid-body gives its reserved bytes back and leaves nothing", async () => {
  await withServer({}, async (server, root) => {
    await fixture(root);
    const { token } = await makeLink(server, { root }, {
      path: ["dir"],
      scope: "upload",
      maxBytes: 100,
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(new TextEncoder().encode(
      `PUT /.well-known/filedrop-share/${token}/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        "Content-Length: 90\r\n\r\n" + "x".repeat(40),
    ));
    await new Promise((resolve) => setTimeout(resolve, 200));
    conn.close();
    // The whole limit is there again once the server has noticed.
    const deadline = Date.now() + 5000;
    let answer = 0;
    while (Date.now() < deadline) {
      answer = await status(
        new URL(`/.well-known/filedrop-share/${token}/whole.bin`, server.url).href,
        { method: "PUT", body: "y".repeat(100) },
      );
      if (answer === 201) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(answer, 201);
    assert.deepEqual(
      [...Deno.readDirSync(path.join(root, "dir"))].map((e) => e.name).sort(),
      ["a.txt", "sub", "whole.bin"],
    );
  });
});

Deno.test("the secret lives in the hidden state (0600), is never served or listed, and --share-secret replaces it", async () => {
  await withServer({ dotfiles: true }, async (server, root) => {
    await fixture(root);
    const { url } = await makeLink(server, { root }, { path: ["dir"] });
    const file = path.join(root, STATE_DIR, "share", "secret");
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal(await status(new URL(`/${STATE_DIR}/share/secret`, server.url).href), 404);
    assert.doesNotMatch(await (await fetch(server.url)).text(), /filedrop-tmp/);
    // Rotating the secret (a new file) revokes every link at once.
    await Deno.remove(file);
    assert.equal(await status(url), 404);
  });
  const shareSecret = "a configured secret, long enough";
  await withServer({ shareSecret }, async (server, root) => {
    await fixture(root);
    const { url } = await makeLink(server, { root, shareSecret }, { path: ["dir"] });
    assert.equal(await status(url), 200);
    await assert.rejects(Deno.stat(path.join(root, STATE_DIR, "share", "secret")));
    const unsigned = await makeLink(server, { root }, { path: ["dir"] });
    assert.equal(await status(unsigned.url), 404);
  });
});

Deno.test("the page's link-making request: JSON in, a working link out, for writers only", async () => {
  await withServer({ auth: ["ann:pw"] }, async (server, root) => {
    await fixture(root);
    const endpoint = new URL("/.well-known/filedrop-share/", server.url).href;
    const body = JSON.stringify({
      path: "/dir/",
      scope: "upload",
      lifetimeSeconds: 600,
      maxBytes: 5,
    });
    const init = { method: "POST", body, headers: { "Content-Type": "application/json" } };
    assert.equal(await status(endpoint, init), 401);
    const response = await fetch(endpoint, {
      ...init,
      headers: { ...init.headers, Authorization: `Basic ${btoa("ann:pw")}` },
    });
    assert.equal(response.status, 201);
    const made = await response.json();
    assert.match(made.id, /^[0-9a-f]{16}$/);
    const expires = Date.parse(made.expiresAt) - Date.now();
    assert.ok(expires > 590_000 && expires <= 601_000, String(expires));
    const url = new URL(made.urlPath, server.url).href;
    assert.equal(await status(new URL("x", url).href, { method: "PUT", body: "12345" }), 201);
    assert.equal(await status(new URL("y", url).href, { method: "PUT", body: "1" }), 413);
    // From another site: refused by the cross-site guard before anything else.
    assert.equal(
      await status(endpoint, {
        ...init,
        headers: {
          ...init.headers,
          Authorization: `Basic ${btoa("ann:pw")}`,
          Origin: "http://evil.example",
        },
      }),
      403,
    );
    for (
      const bad of [
        { path: "/nothing/", scope: "read", lifetimeSeconds: 60 },
        { path: "/dir/a.txt", scope: "upload", lifetimeSeconds: 60 },
        { path: "/dir/", scope: "write", lifetimeSeconds: 60 },
        { path: "/dir/", scope: "read", lifetimeSeconds: 0 },
        { path: "/dir/", scope: "read", lifetimeSeconds: 60, maxBytes: 5 },
        "not json",
      ]
    ) {
      assert.equal(
        await status(endpoint, {
          method: "POST",
          body: typeof bad === "string" ? bad : JSON.stringify(bad),
          headers: { Authorization: `Basic ${btoa("ann:pw")}` },
        }),
        400,
        JSON.stringify(bad),
      );
    }
  });
});

Deno.test({
  name: "S3: read and drop links, the byte limit across two servers, revocation",
  ignore: s3Ignored,
  fn: async () => {
    const prefix = testPrefix("share-links");
    const client = testClient();
    const options = testServeOptions(prefix);
    const first = await serve(options);
    const second = await serve(options);
    try {
      await fetch(new URL("dir/a.txt", first.url), { method: "PUT", body: "aaa" }).then((r) =>
        r.body?.cancel()
      );
      await fetch(new URL("secret.txt", first.url), { method: "PUT", body: "top secret" }).then((
        r,
      ) => r.body?.cancel());
      const read = await makeLink(first, options, { path: ["dir"], scope: "read" });
      assert.equal(await (await fetch(new URL("a.txt", read.url))).text(), "aaa");
      assert.doesNotMatch(await (await fetch(read.url)).text(), /secret\.txt/);
      const drop = await makeLink(first, options, { path: ["dir"], scope: "upload", maxBytes: 10 });
      const on = (server: FileServer, name: string) =>
        new URL(new URL(drop.url).pathname + name, server.url).href;
      assert.equal(await status(on(first, "a.txt"), { method: "PUT", body: "123456" }), 201);
      assert.equal(await status(on(second, "b.txt"), { method: "PUT", body: "123456" }), 413);
      assert.equal(await (await fetch(new URL("dir/a.txt", first.url))).text(), "aaa");
      assert.equal(await (await fetch(new URL("dir/a (2).txt", first.url))).text(), "123456");
      assert.equal(await status(new URL("dir/b.txt", first.url).href), 404);
      const opened = await openShareLinks(options);
      await opened.links.revoke(read.id);
      await opened.close();
      assert.equal(await status(read.url), 404);
      assert.equal(await status(new URL(`/${STATE_DIR}/share/secret`, first.url).href), 404);
    } finally {
      await first.shutdown();
      await second.shutdown();
      await removePrefix(client, prefix);
      client.close();
    }
  },
});

const MAIN = path.join(import.meta.dirname ?? ".", "..", "main.ts");
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];

/** `filedrop share ...` run as a user runs it. */
function share(args: string[], env?: Record<string, string>) {
  const permissions = env === undefined ? PERMISSIONS : [...PERMISSIONS, "--allow-env"];
  return run(Deno.execPath(), ["run", ...permissions, MAIN, "share", ...args], { env });
}

Deno.test("filedrop share and --revoke, and no token in any line of the access or error log", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-share-cli-" });
  await fixture(root);
  for (const format of ["combined", "json"]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, MAIN, "--port", "0", "--log", format, root],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (stderr += text) }),
    );
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let stdout = "";
    let exited = false;
    try {
      const banner = await firstLine(lines, () => stderr);
      const drained = (async () => {
        for (let read = await lines.read(); !read.done; read = await lines.read()) {
          stdout += read.value;
        }
      })();
      const base = /http:\/\/127\.0\.0\.1:\d+\//.exec(banner)![0];
      const made = await share([
        "/dir/",
        root,
        "--upload-only",
        "--expires",
        "1h",
        "--base-url",
        base,
      ]);
      assert.equal(made.code, 0, made.stderr);
      const url = made.stdout.trim();
      assert.ok(url.startsWith(`${base}.well-known/filedrop-share/`), url);
      const id = /id ([0-9a-f]{16})/.exec(made.stderr)![1];
      const token = url.split("/")[5];
      const read = await share(["/dir/a.txt", root, "--base-url", base]);
      const readUrl = read.stdout.trim();
      const readToken = readUrl.split("/")[5];
      assert.ok(!readUrl.endsWith("/"), "a file's link has no slash");
      // Requests that carry tokens in their target and their Referer, good and bad ones.
      assert.equal(await status(url, { headers: { Referer: url } }), 200);
      assert.equal(
        await status(new URL("dropped.txt", url).href, {
          method: "PUT",
          body: "hi",
          headers: { Referer: url },
        }),
        201,
      );
      assert.equal(await status(readUrl, { headers: { Referer: `${readUrl}?x=1` } }), 200);
      assert.equal(await status(new URL("a.txt", url).href), 405);
      assert.equal(await status(url.replace(token, token.slice(0, -2) + "AA")), 404);
      assert.equal(await status(`${base}.well-known/./filedrop-share/${token}/`), 200);
      assert.equal(await status(`${base}.well-known/%66iledrop-share/${token}/`), 200);
      // Refused (a bad escape), but logged all the same: the token must not be, however spelled.
      assert.equal(await status(`${base}.well-known/%66iledrop-share/${token}/x%zz`), 400);
      // Revoked from the command line: refused at once by the running server.
      const revoked = await share(["--revoke", id, root]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stdout.trim(), `revoked link ${id}`);
      assert.equal(await status(url), 404);
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      exited = true;
      await drained;
      await stderrDone;
      assert.match(stdout, /link:[0-9a-f]{16}/);
      assert.equal(
        stdout.split("\n").filter((line) => line.includes("REDACTED")).length >= 8,
        true,
        stdout,
      );
      for (const secret of [token, readToken]) {
        // Not in full, and not even a third of it.
        for (let i = 0; i + 24 <= secret.length; i += 8) {
          const piece = secret.slice(i, i + 24);
          assert.ok(!stdout.includes(piece), `${format} access log holds ${piece}:\n${stdout}`);
          assert.ok(!stderr.includes(piece), `error log holds ${piece}:\n${stderr}`);
        }
      }
    } finally {
      if (!exited) {
        child.kill("SIGKILL");
        await child.status;
        await stderrDone.catch(() => {});
      }
    }
  }
  // Usage errors say what is wrong.
  for (
    const [args, message] of [
      [["/dir/", root, "--read", "--upload-only"], /not both/],
      [["/dir/", root, "--max-bytes", "5"], /--upload-only/],
      [["/dir/", root, "--expires", "soon"], /--expires/],
      [["dir", root], /URL path/],
      [["/nothing/", root], /nothing is at \/nothing/],
      [["/dir/a.txt", root, "--upload-only"], /needs a folder/],
      [["--revoke", "xyz", root], /link id/],
    ] as const
  ) {
    const result = await share([...args]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  // The secret from the environment: no state written.
  const shareSecret = "an environment secret of length";
  const envRoot = await Deno.makeTempDir({ prefix: "filedrop-share-env-" });
  await fixture(envRoot);
  const viaEnv = await share(["/dir/", envRoot], { FILEDROP_SHARE_SECRET: shareSecret });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  await assert.rejects(Deno.stat(path.join(envRoot, STATE_DIR, "share", "secret")));
  const server = await serve({ root: envRoot, port: 0, shareSecret, onError: () => {} });
  try {
    const pathname = new URL(viaEnv.stdout.trim()).pathname;
    assert.equal(await status(new URL(pathname, server.url).href), 200);
  } finally {
    await server.shutdown();
  }
  await Deno.remove(root, { recursive: true });
  await Deno.remove(envRoot, { recursive: true });
});
