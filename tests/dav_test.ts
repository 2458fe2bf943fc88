/**
 * WebDAV (lib/dav/, and DELETE/MOVE of lib/handlers/) against a real server
 * on 127.0.0.1 over real temp directories, with raw requests: every status
 * of OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE and DELETE, hostile
 * XML bodies, and the policies (read-only, auth, guards, dotfiles) applied
 * to each method. Multi-Status bodies are read with saxes, a parser
 * independent of the writer under test.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { SaxesParser } from "saxes";
import { serve } from "../lib/mod.ts";
import { STATE_DIR } from "../lib/storage/temp_files.ts";
import { exchange, parseResponses, sendOne, withServer, writeAll } from "./_helpers.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testServeOptions } from "./_s3.ts";
import type { RawResponse } from "./_helpers.ts";

const NS = "http://example.com/ns/";

/**
 * Sends one request (`Host: localhost`, `Connection: close`, the body as
 * UTF-8 with its Content-Length) and returns its response, whose body is
 * decoded as UTF-8 (the shared helpers read windows-1252, which would mangle
 * the high code points these tests send and expect).
 */
async function dav(
  port: number,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const body = new TextEncoder().encode(options.body ?? "");
  const lines = [`${method} ${target} HTTP/1.1`, "Host: localhost", "Connection: close"];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    lines.push(`${name}: ${value}`);
  }
  if (body.length > 0) lines.push(`Content-Length: ${body.length}`);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const received: number[] = [];
  try {
    await writeAll(conn, new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
    await writeAll(conn, body);
    const buffer = new Uint8Array(64 * 1024);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      for (const byte of buffer.subarray(0, n)) received.push(byte);
    }
  } finally {
    conn.close();
  }
  // One char per byte, so that framing is counted in bytes; then the body back to UTF-8.
  const text = received.map((byte) => String.fromCharCode(byte)).join("");
  const [response] = parseResponses(text, [method === "HEAD"]).responses;
  assert.ok(response !== undefined, `a response to ${method} ${target}`);
  const bodyBytes = Uint8Array.from(response.body, (char) => char.charCodeAt(0));
  return { ...response, body: new TextDecoder().decode(bodyBytes) };
}

/** One property of a Multi-Status response: its status and its text (or inner XML as text). */
interface PropResult {
  status: number;
  text: string;
  /** Child element names in Clark notation (`{DAV:}collection`). */
  children: string[];
}

/** A Multi-Status body: per href, per property (Clark name), its result; plus response-level statuses. */
interface Multistatus {
  props: Map<string, Map<string, PropResult>>;
  statuses: Map<string, number>;
  hrefs: string[];
}

/** Reads a 207 body with saxes (namespace-aware), independent of the server's writer. */
function parseMultistatus(body: string): Multistatus {
  const parser = new SaxesParser({ xmlns: true });
  const props = new Map<string, Map<string, PropResult>>();
  const statuses = new Map<string, number>();
  const hrefs: string[] = [];
  const stack: string[] = [];
  let href = "";
  let text = "";
  let pending: { name: string; text: string; children: string[] }[] = [];
  let current: { name: string; text: string; children: string[] } | null = null;
  let depthInProp = -1;
  parser.on("opentag", (tag) => {
    const name = `{${tag.uri}}${tag.local}`;
    stack.push(name);
    text = "";
    if (depthInProp >= 0 && stack.length === depthInProp + 1) {
      current = { name, text: "", children: [] };
    } else if (current !== null && stack.length === depthInProp + 2) {
      current.children.push(name);
    }
    if (name === "{DAV:}prop") depthInProp = stack.length;
    if (name === "{DAV:}propstat") pending = [];
  });
  parser.on("text", (value) => {
    text += value;
    if (current !== null) current.text += value;
  });
  parser.on("closetag", () => {
    const name = stack.pop()!;
    if (current !== null && stack.length === depthInProp) {
      pending.push(current);
      current = null;
    }
    if (name === "{DAV:}prop") depthInProp = -1;
    if (name === "{DAV:}href") {
      href = text;
      hrefs.push(href);
    }
    if (name === "{DAV:}status") {
      const status = Number(text.split(" ")[1]);
      if (stack.at(-1) === "{DAV:}propstat") {
        const forHref = props.get(href) ?? new Map<string, PropResult>();
        for (const prop of pending) forHref.set(prop.name, { status, ...prop });
        props.set(href, forHref);
      } else {
        statuses.set(href, status);
      }
    }
  });
  parser.write(body).close();
  return { props, statuses, hrefs };
}

function propfindBody(inner: string): string {
  return `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">${inner}</D:propfind>`;
}

function proppatchBody(inner: string): string {
  return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:">${inner}</D:propertyupdate>`;
}

async function exists(filePath: string): Promise<boolean> {
  return (await Deno.lstat(filePath).then(() => true, () => false));
}

// --- OPTIONS ------------------------------------------------------------------------

Deno.test("OPTIONS: DAV and MS-Author-Via on every path, Allow by what is there", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    await Deno.mkdir(path.join(root, "d"));
    const allowOf = (response: RawResponse) =>
      new Set((response.headers.get("allow") ?? "").split(",").map((m) => m.trim()));
    for (const target of ["/", "/f.txt", "/d/", "/missing"]) {
      const response = await dav(port, "OPTIONS", target);
      assert.equal(response.status, 200, target);
      assert.equal(response.headers.get("dav"), "1, 2", target);
      assert.equal(response.headers.get("ms-author-via"), "DAV", target);
    }
    const file = allowOf(await dav(port, "OPTIONS", "/f.txt"));
    for (
      const method of ["GET", "PUT", "DELETE", "MOVE", "COPY", "PROPFIND", "PROPPATCH", "LOCK"]
    ) {
      assert.ok(file.has(method), method);
    }
    assert.ok(!file.has("MKCOL"));
    const missing = allowOf(await dav(port, "OPTIONS", "/missing"));
    assert.deepEqual([...missing].sort(), ["LOCK", "MKCOL", "OPTIONS", "PUT"]);
    const star = await sendOne(port, "OPTIONS * HTTP/1.1");
    assert.equal(star.headers.get("dav"), "1, 2");
  });
  await withServer({ readOnly: true }, async (server, root) => {
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    const response = await dav(server.addr.port, "OPTIONS", "/f.txt");
    assert.equal(response.headers.get("allow"), "GET, HEAD, OPTIONS, PROPFIND");
  });
});

// --- PROPFIND -----------------------------------------------------------------------

Deno.test("PROPFIND Depth 0 of a file: every live property agrees with GET", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "page.html"), "<p>hi</p>");
    const get = await dav(port, "GET", "/page.html");
    const response = await dav(port, "PROPFIND", "/page.html", { headers: { Depth: "0" } });
    assert.equal(response.status, 207);
    assert.equal(response.headers.get("content-type"), "application/xml; charset=utf-8");
    assert.equal(response.headers.get("transfer-encoding"), "chunked", "streamed");
    const props = parseMultistatus(response.body).props.get("/page.html")!;
    const value = (name: string) => {
      const prop = props.get(`{DAV:}${name}`);
      assert.equal(prop?.status, 200, name);
      return prop!.text;
    };
    assert.equal(value("getetag"), get.headers.get("etag"));
    assert.equal(value("getcontenttype"), get.headers.get("content-type"));
    assert.equal(value("getcontentlength"), "9");
    assert.equal(value("getlastmodified"), get.headers.get("last-modified"));
    assert.equal(value("displayname"), "page.html");
    assert.match(value("creationdate"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(props.get("{DAV:}resourcetype")?.children, []);
    assert.deepEqual(props.get("{DAV:}supportedlock")?.children, [
      "{DAV:}lockentry",
      "{DAV:}lockentry",
    ]);
    assert.equal(props.get("{DAV:}lockdiscovery")?.status, 200);
    assert.ok(!props.has("{DAV:}quota-used-bytes"), "quota is not in allprop (RFC 4331)");
  });
});

Deno.test("PROPFIND Depth 1: members with hrefs encoded as the listing's, dotfiles and state hidden", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "dir"));
    await Deno.writeTextFile(path.join(root, "dir", "a b#ü.txt"), "x");
    await Deno.mkdir(path.join(root, "dir", "sub"));
    await Deno.writeTextFile(path.join(root, "dir", ".secret"), "s");
    await dav(port, "PUT", "/x.txt", { body: "x" }); // Makes the state directory.
    const response = await dav(port, "PROPFIND", "/dir", { headers: { Depth: "1" } });
    assert.equal(response.status, 207);
    const result = parseMultistatus(response.body);
    assert.deepEqual(result.hrefs.sort(), ["/dir/", "/dir/a%20b%23%C3%BC.txt", "/dir/sub/"]);
    assert.deepEqual(result.props.get("/dir/sub/")!.get("{DAV:}resourcetype")!.children, [
      "{DAV:}collection",
    ]);
    assert.equal(
      result.props.get("/dir/a%20b%23%C3%BC.txt")!.get("{DAV:}displayname")!.text,
      "a b#ü.txt",
    );
    const top = parseMultistatus(
      (await dav(port, "PROPFIND", "/", { headers: { Depth: "1" } })).body,
    );
    assert.ok(!top.hrefs.some((href) => href.includes("filedrop-tmp")), top.hrefs.join());
    assert.ok(await exists(path.join(root, STATE_DIR)));
  });
  await withServer({ dotfiles: true }, async (server, root) => {
    await Deno.writeTextFile(path.join(root, ".secret"), "s");
    const response = await dav(server.addr.port, "PROPFIND", "/", { headers: { Depth: "1" } });
    assert.ok(parseMultistatus(response.body).hrefs.includes("/.secret"));
  });
});

Deno.test("PROPFIND refuses Depth infinity and a missing Depth with 403 propfind-finite-depth", async () => {
  await withServer({}, async (server) => {
    for (const headers of [{ Depth: "infinity" }, {} as Record<string, string>]) {
      const response = await dav(server.addr.port, "PROPFIND", "/", { headers });
      assert.equal(response.status, 403);
      assert.match(response.body, /<D:propfind-finite-depth\/>/);
    }
    const bad = await dav(server.addr.port, "PROPFIND", "/", { headers: { Depth: "2" } });
    assert.equal(bad.status, 400);
  });
});

Deno.test("PROPFIND prop, propname, allprop with include; unknown properties 404", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "hello");
    const named = await dav(port, "PROPFIND", "/f.txt", {
      headers: { Depth: "0" },
      body: propfindBody(
        `<D:prop><D:getcontentlength/><x:nothing xmlns:x="${NS}"/><D:quota-used-bytes/></D:prop>`,
      ),
    });
    const props = parseMultistatus(named.body).props.get("/f.txt")!;
    assert.equal(props.get("{DAV:}getcontentlength")!.text, "5");
    assert.equal(props.get(`{${NS}}nothing`)!.status, 404);
    assert.equal(props.get("{DAV:}quota-used-bytes")!.status, 404, "a file has no quota");
    assert.equal(props.size, 3);

    const names = await dav(port, "PROPFIND", "/f.txt", {
      headers: { Depth: "0" },
      body: propfindBody("<D:propname/>"),
    });
    const nameProps = parseMultistatus(names.body).props.get("/f.txt")!;
    assert.ok(nameProps.has("{DAV:}getetag"));
    assert.equal(nameProps.get("{DAV:}getetag")!.text, "", "propname gives names only");

    const quota = await dav(port, "PROPFIND", "/", {
      headers: { Depth: "0" },
      body: propfindBody("<D:allprop/><D:include><D:quota-available-bytes/></D:include>"),
    });
    const rootProps = parseMultistatus(quota.body).props.get("/")!;
    assert.ok(Number(rootProps.get("{DAV:}quota-available-bytes")!.text) > 0);
    assert.equal(rootProps.get("{DAV:}resourcetype")!.children[0], "{DAV:}collection");

    const missing = await dav(port, "PROPFIND", "/nope", { headers: { Depth: "0" } });
    assert.equal(missing.status, 404);
    const slash = await dav(port, "PROPFIND", "/f.txt/", { headers: { Depth: "0" } });
    assert.equal(slash.status, 404);
  });
});

Deno.test("PROPFIND of a directory of 10,000 files streams every member", async () => {
  await withServer({}, async (server, root) => {
    const dir = path.join(root, "big");
    await Deno.mkdir(dir);
    for (let i = 0; i < 10_000; i++) Deno.writeFileSync(path.join(dir, `f${i}`), new Uint8Array());
    const { text } = await exchange(
      server.addr.port,
      "PROPFIND /big/ HTTP/1.1\r\nHost: localhost\r\nDepth: 1\r\nConnection: close\r\n\r\n",
      { timeoutMs: 30_000 },
    );
    const [response] = parseResponses(text).responses;
    assert.equal(response.status, 207);
    assert.equal(response.headers.get("transfer-encoding"), "chunked");
    assert.equal(parseMultistatus(response.body).hrefs.length, 10_001);
  });
});

Deno.test("PROPFIND with --no-listing: Depth 1 of a directory is 403", async () => {
  await withServer({ listing: false }, async (server) => {
    const response = await dav(server.addr.port, "PROPFIND", "/", { headers: { Depth: "1" } });
    assert.equal(response.status, 403);
    const self = await dav(server.addr.port, "PROPFIND", "/", { headers: { Depth: "0" } });
    assert.equal(self.status, 207);
  });
});

// --- Hostile and malformed XML ------------------------------------------------------

Deno.test("hostile XML: billion laughs, external entities, bad namespaces, depth, size, UTF-8", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`,
      ).join("") +
      ']><D:propfind xmlns:D="DAV:"><D:prop><x>&lol9;</x></D:prop></D:propfind>';
    const external =
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
      '<D:propfind xmlns:D="DAV:"><D:prop><x>&xxe;</x></D:prop></D:propfind>';
    const cases: [string, string][] = [
      ["billion laughs", laughs],
      ["external entity", external],
      ["not well-formed", "<D:propfind xmlns:D='DAV:'>"],
      [
        "empty prefix binding",
        '<D:propfind xmlns:D="DAV:"><D:prop><b:x xmlns:b=""/></D:prop></D:propfind>',
      ],
      ["undeclared prefix", "<D:propfind><D:allprop/></D:propfind>"],
      ["deep nesting", "<a>".repeat(100) + "</a>".repeat(100)],
      ["wrong root", '<D:other xmlns:D="DAV:"/>'],
    ];
    for (const [label, body] of cases) {
      for (const method of ["PROPFIND", "PROPPATCH"]) {
        const response = await dav(port, method, "/", { headers: { Depth: "0" }, body });
        assert.equal(response.status, 400, `${label} (${method})`);
      }
    }
    const badUtf8 = await exchange(port, [
      "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\nConnection: close\r\nContent-Length: 6\r\n\r\n",
      new Uint8Array([0x3c, 0x61, 0xff, 0xfe, 0x2f, 0x3e]),
    ], { responses: 1 });
    assert.equal(parseResponses(badUtf8.text).responses[0].status, 400);
  });
});

Deno.test("an oversized XML body is 413 by its length or as its bytes pass the bound", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    // Announced: refused before a byte of the body is read.
    const announced = await exchange(
      port,
      "PROPPATCH / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1073741824\r\n\r\n<a>",
      { responses: 1 },
    );
    assert.equal(parseResponses(announced.text).responses[0].status, 413);
    // Chunked: counted as it arrives.
    const chunk = "x".repeat(64 * 1024);
    const pieces = [
      "PROPFIND / HTTP/1.1\r\nHost: localhost\r\nDepth: 0\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n",
      `3\r\n<a>\r\n`,
    ];
    for (let i = 0; i < 20; i++) pieces.push(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    pieces.push("0\r\n\r\n");
    const chunked = await exchange(port, pieces, { responses: 1 });
    assert.equal(parseResponses(chunked.text).responses[0].status, 413);
  });
});

// --- MKCOL --------------------------------------------------------------------------

Deno.test("MKCOL: 201 with or without slash, 405 when something is there, 409 without parent, 415 with a body", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const created = await dav(port, "MKCOL", "/new");
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/new/");
    assert.ok((await Deno.stat(path.join(root, "new"))).isDirectory);
    assert.equal((await dav(port, "MKCOL", "/new/inner/")).status, 201);
    const again = await dav(port, "MKCOL", "/new/");
    assert.equal(again.status, 405);
    assert.ok(again.headers.get("allow")?.includes("PROPFIND"));
    await Deno.writeTextFile(path.join(root, "file"), "f");
    assert.equal((await dav(port, "MKCOL", "/file")).status, 405);
    assert.equal((await dav(port, "MKCOL", "/no/parent/")).status, 409);
    assert.equal(await exists(path.join(root, "no")), false);
    assert.equal((await dav(port, "MKCOL", "/file/under")).status, 409);
    const body = await dav(port, "MKCOL", "/withbody", { body: "afafafaf" });
    assert.equal(body.status, 415);
    assert.equal(await exists(path.join(root, "withbody")), false);
    assert.equal((await dav(port, "MKCOL", "/")).status, 405);
  });
});

// --- COPY ---------------------------------------------------------------------------

Deno.test("COPY of a file: 201 then 204, Overwrite F 412, missing parent 409, preconditions, foreign 403", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "src.txt"), "source");
    const to = (destination: string, headers: Record<string, string> = {}) =>
      dav(port, "COPY", "/src.txt", { headers: { Destination: destination, ...headers } });
    const first = await to("http://localhost/dst.txt");
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("location"), "/dst.txt");
    assert.equal(await Deno.readTextFile(path.join(root, "dst.txt")), "source");
    assert.equal((await to("/dst.txt")).status, 204);
    assert.equal((await to("/dst.txt", { Overwrite: "F" })).status, 412);
    assert.equal((await to("/none/dst.txt")).status, 409);
    assert.equal((await to("/other.txt", { "If-Match": '"stale"' })).status, 412);
    assert.equal(await exists(path.join(root, "other.txt")), false);
    assert.equal((await to("http://elsewhere.example/x.txt")).status, 403);
    assert.equal((await to("/src.txt")).status, 403, "onto itself");
    assert.equal((await to("/.hidden")).status, 403, "dotfile destination");
    assert.equal((await to("/x", { Depth: "1" })).status, 400);
    assert.equal((await to("/x", { Overwrite: "maybe" })).status, 400);
    assert.equal((await dav(port, "COPY", "/src.txt")).status, 400, "no Destination");
    assert.equal(
      (await dav(port, "COPY", "/gone", { headers: { Destination: "/g" } })).status,
      404,
    );
    // Replacing a collection with a file (RFC 4918 §9.8.4: the destination is deleted first).
    await Deno.mkdir(path.join(root, "coll"));
    await Deno.writeTextFile(path.join(root, "coll", "in.txt"), "in");
    assert.equal((await to("/coll")).status, 204);
    assert.equal(await Deno.readTextFile(path.join(root, "coll")), "source");
  });
});

Deno.test("COPY of a collection: Depth infinity copies the tree, Depth 0 the collection alone", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "tree", "sub"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "tree", "a.txt"), "a");
    await Deno.writeTextFile(path.join(root, "tree", "sub", "b.txt"), "b");
    const deep = await dav(port, "COPY", "/tree/", { headers: { Destination: "/deep/" } });
    assert.equal(deep.status, 201);
    assert.equal(deep.headers.get("location"), "/deep/");
    assert.equal(await Deno.readTextFile(path.join(root, "deep", "sub", "b.txt")), "b");
    assert.equal(await Deno.readTextFile(path.join(root, "tree", "a.txt")), "a", "source kept");
    const shallow = await dav(port, "COPY", "/tree", {
      headers: { Destination: "/shallow", Depth: "0" },
    });
    assert.equal(shallow.status, 201);
    assert.deepEqual([...Deno.readDirSync(path.join(root, "shallow"))], []);
    const into = await dav(port, "COPY", "/tree/", { headers: { Destination: "/tree/sub/x/" } });
    assert.equal(into.status, 409);
    // Over an existing tree: replaced whole, nothing of the old one left.
    await Deno.writeTextFile(path.join(root, "deep", "old.txt"), "old");
    const over = await dav(port, "COPY", "/tree/", { headers: { Destination: "/deep/" } });
    assert.equal(over.status, 204);
    assert.equal(await exists(path.join(root, "deep", "old.txt")), false);
    assert.equal(
      [...Deno.readDirSync(root)].filter((entry) => entry.name.startsWith(".filedrop-tmp-w"))
        .length,
      0,
      "no staging or trash left behind",
    );
  });
});

// --- MOVE and DELETE of collections -------------------------------------------------

Deno.test("MOVE of collections: renamed with their tree, over a file or a collection with Overwrite", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "m", "in"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "m", "in", "f.txt"), "f");
    assert.equal((await dav(port, "MOVE", "/m", { headers: { Destination: "/n" } })).status, 201);
    assert.equal(await Deno.readTextFile(path.join(root, "n", "in", "f.txt")), "f");
    await Deno.writeTextFile(path.join(root, "plain"), "p");
    const refused = await dav(port, "MOVE", "/n/", {
      headers: { Destination: "/plain", Overwrite: "F" },
    });
    assert.equal(refused.status, 412);
    assert.equal(
      (await dav(port, "MOVE", "/n/", { headers: { Destination: "/plain" } })).status,
      204,
    );
    assert.equal(await Deno.readTextFile(path.join(root, "plain", "in", "f.txt")), "f");
    await Deno.mkdir(path.join(root, "target", "old"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "file.txt"), "new");
    assert.equal(
      (await dav(port, "MOVE", "/file.txt", { headers: { Destination: "/target" } })).status,
      204,
    );
    assert.equal(await Deno.readTextFile(path.join(root, "target")), "new");
    assert.equal(
      (await dav(port, "MOVE", "/plain/", { headers: { Destination: "/plain/in/x" } })).status,
      409,
    );
  });
});

Deno.test("DELETE with Depth: 0 (the browser page's) removes only an empty directory", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "full"));
    await Deno.writeTextFile(path.join(root, "full", "kept.txt"), "kept");
    await Deno.mkdir(path.join(root, "empty"));
    const zero = { headers: { Depth: "0" } };
    assert.equal((await dav(port, "DELETE", "/full/", zero)).status, 409);
    assert.equal(await Deno.readTextFile(path.join(root, "full", "kept.txt")), "kept");
    assert.equal((await dav(port, "DELETE", "/empty", zero)).status, 204);
    assert.equal(await exists(path.join(root, "empty")), false);
    assert.equal((await dav(port, "DELETE", "/full/kept.txt", zero)).status, 204);
    assert.equal((await dav(port, "DELETE", "/full", { headers: { Depth: "1" } })).status, 400);
  });
});

// --- PROPPATCH and dead properties --------------------------------------------------

Deno.test("PROPPATCH: set, replace, remove in document order; properties survive a restart", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-dav-" });
  try {
    await Deno.writeTextFile(path.join(root, "doc.txt"), "doc");
    const start = () =>
      serve({ root, port: 0, hostname: "127.0.0.1", fsync: false, onError: () => {} });
    let server = await start();
    const port = () => server.addr.port;
    const set = await dav(port(), "PROPPATCH", "/doc.txt", {
      body: proppatchBody(
        `<D:set><D:prop><p:color xmlns:p="${NS}">blue</p:color>` +
          `<p:tree xmlns:p="${NS}"><p:leaf a="1">&amp;&lt;</p:leaf><q xmlns="urn:q">z</q></p:tree>` +
          `<p:high xmlns:p="${NS}">&#65536;</p:high><plain xmlns="">v</plain></D:prop></D:set>` +
          `<D:remove><D:prop><p:color xmlns:p="${NS}"/></D:prop></D:remove>` +
          `<D:set><D:prop><p:color xmlns:p="${NS}">red</p:color></D:prop></D:set>`,
      ),
    });
    assert.equal(set.status, 207);
    const setProps = parseMultistatus(set.body).props.get("/doc.txt")!;
    assert.equal(setProps.size, 4);
    assert.ok([...setProps.values()].every((prop) => prop.status === 200));
    await server.shutdown();
    server = await start();
    const get = await dav(port(), "PROPFIND", "/doc.txt", {
      headers: { Depth: "0" },
      body: propfindBody(
        `<D:prop><p:color xmlns:p="${NS}"/><p:tree xmlns:p="${NS}"/><p:high xmlns:p="${NS}"/>` +
          `<plain xmlns=""/><p:gone xmlns:p="${NS}"/></D:prop>`,
      ),
    });
    const props = parseMultistatus(get.body).props.get("/doc.txt")!;
    assert.equal(props.get(`{${NS}}color`)!.text, "red", "the last instruction wins");
    assert.equal(props.get(`{${NS}}tree`)!.text, "&<z");
    assert.deepEqual(props.get(`{${NS}}tree`)!.children, [`{${NS}}leaf`, "{urn:q}q"]);
    assert.equal(props.get(`{${NS}}high`)!.text, "\u{10000}");
    assert.equal(props.get("{}plain")!.text, "v");
    assert.equal(props.get(`{${NS}}gone`)!.status, 404);
    // allprop shows the dead properties too; the listing never shows where they are kept.
    const all = parseMultistatus(
      (await dav(port(), "PROPFIND", "/doc.txt", { headers: { Depth: "0" } })).body,
    );
    assert.equal(all.props.get("/doc.txt")!.get(`{${NS}}color`)!.text, "red");
    const listing = await dav(port(), "GET", "/", { headers: { Accept: "application/json" } });
    assert.ok(!listing.body.includes("filedrop-tmp"), listing.body);
    const hidden = await dav(port(), "GET", `/${STATE_DIR}/props/doc.txt/.filedrop-tmp-props`);
    assert.equal(hidden.status, 404);
    const removed = await dav(port(), "PROPPATCH", "/doc.txt", {
      body: proppatchBody(
        `<D:remove><D:prop><p:color xmlns:p="${NS}"/><p:never xmlns:p="${NS}"/></D:prop></D:remove>`,
      ),
    });
    assert.equal(removed.status, 207);
    const after = parseMultistatus(
      (await dav(port(), "PROPFIND", "/doc.txt", { headers: { Depth: "0" } })).body,
    );
    assert.ok(!after.props.get("/doc.txt")!.has(`{${NS}}color`));
    await server.shutdown();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("PROPPATCH of a protected property fails it with 403 and the rest with 424, all or none", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    const response = await dav(port, "PROPPATCH", "/f.txt", {
      body: proppatchBody(
        `<D:set><D:prop><p:a xmlns:p="${NS}">1</p:a><D:getetag>"x"</D:getetag></D:prop></D:set>`,
      ),
    });
    assert.equal(response.status, 207);
    const props = parseMultistatus(response.body).props.get("/f.txt")!;
    assert.equal(props.get("{DAV:}getetag")!.status, 403);
    assert.equal(props.get(`{${NS}}a`)!.status, 424);
    const check = await dav(port, "PROPFIND", "/f.txt", {
      headers: { Depth: "0" },
      body: propfindBody(`<D:prop><p:a xmlns:p="${NS}"/></D:prop>`),
    });
    assert.equal(parseMultistatus(check.body).props.get("/f.txt")!.get(`{${NS}}a`)!.status, 404);
    assert.equal(
      (await dav(port, "PROPPATCH", "/nope", {
        body: proppatchBody(`<D:set><D:prop><p:a xmlns:p="${NS}">1</p:a></D:prop></D:set>`),
      })).status,
      404,
    );
    assert.equal((await dav(port, "PROPPATCH", "/f.txt")).status, 400, "no body");
  });
});

Deno.test("PROPPATCH getlastmodified and Win32LastModifiedTime set the file's mtime", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const file = path.join(root, "f.txt");
    await Deno.writeTextFile(file, "f");
    const dav1 = await dav(port, "PROPPATCH", "/f.txt", {
      body: proppatchBody(
        "<D:set><D:prop><D:getlastmodified>Tue, 01 Jun 2021 10:20:30 GMT</D:getlastmodified>" +
          "</D:prop></D:set>",
      ),
    });
    assert.equal(dav1.status, 207);
    assert.equal((await Deno.stat(file)).mtime!.toISOString(), "2021-06-01T10:20:30.000Z");
    const windows = await dav(port, "PROPPATCH", "/f.txt", {
      body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" ' +
        'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>' +
        "<Z:Win32CreationTime>Mon, 01 Feb 2010 00:00:00 GMT</Z:Win32CreationTime>" +
        "<Z:Win32LastModifiedTime>Wed, 03 Mar 2010 04:05:06 GMT</Z:Win32LastModifiedTime>" +
        "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>" +
        "</D:prop></D:set></D:propertyupdate>",
    });
    assert.equal(windows.status, 207);
    const results = parseMultistatus(windows.body).props.get("/f.txt")!;
    assert.ok([...results.values()].every((prop) => prop.status === 200));
    assert.equal((await Deno.stat(file)).mtime!.toISOString(), "2010-03-03T04:05:06.000Z");
    const get = await dav(port, "HEAD", "/f.txt");
    assert.equal(get.headers.get("last-modified"), "Wed, 03 Mar 2010 04:05:06 GMT");
    const bad = await dav(port, "PROPPATCH", "/f.txt", {
      body: proppatchBody(
        "<D:set><D:prop><D:getlastmodified>yesterday</D:getlastmodified></D:prop></D:set>",
      ),
    });
    assert.equal(
      parseMultistatus(bad.body).props.get("/f.txt")!.get("{DAV:}getlastmodified")!.status,
      409,
    );
  });
});

Deno.test("dead properties follow MOVE and COPY (with the tree) and go with DELETE", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "d"));
    await Deno.writeTextFile(path.join(root, "d", "f.txt"), "f");
    const tag = (target: string, value: string) =>
      dav(port, "PROPPATCH", target, {
        body: proppatchBody(
          `<D:set><D:prop><p:tag xmlns:p="${NS}">${value}</p:tag></D:prop></D:set>`,
        ),
      });
    const tagOf = async (target: string) => {
      const response = await dav(port, "PROPFIND", target, {
        headers: { Depth: "0" },
        body: propfindBody(`<D:prop><p:tag xmlns:p="${NS}"/></D:prop>`),
      });
      const props = [...parseMultistatus(response.body).props.values()][0];
      const prop = props.get(`{${NS}}tag`)!;
      return prop.status === 200 ? prop.text : null;
    };
    assert.equal((await tag("/d/", "dir")).status, 207);
    assert.equal((await tag("/d/f.txt", "file")).status, 207);
    await dav(port, "COPY", "/d/", { headers: { Destination: "/c/" } });
    assert.equal(await tagOf("/c/"), "dir");
    assert.equal(await tagOf("/c/f.txt"), "file");
    await dav(port, "COPY", "/d/", { headers: { Destination: "/shallow/", Depth: "0" } });
    assert.equal(await tagOf("/shallow/"), "dir");
    await dav(port, "MOVE", "/d", { headers: { Destination: "/e" } });
    assert.equal(await tagOf("/e/f.txt"), "file");
    assert.equal(await tagOf("/e/"), "dir");
    // Replaced by a copy without properties: the old ones go.
    await Deno.writeTextFile(path.join(root, "bare.txt"), "bare");
    await dav(port, "COPY", "/bare.txt", { headers: { Destination: "/e/f.txt" } });
    assert.equal(await tagOf("/e/f.txt"), null);
    assert.equal((await tag("/e/f.txt", "again")).status, 207);
    assert.equal((await dav(port, "DELETE", "/e")).status, 204);
    await Deno.mkdir(path.join(root, "e"));
    await Deno.writeTextFile(path.join(root, "e", "f.txt"), "new");
    assert.equal(await tagOf("/e/f.txt"), null, "a new file at the path has none");
    assert.equal(await tagOf("/e/"), null);
  });
});

// --- Policies -----------------------------------------------------------------------

Deno.test("read-only, auth, guards and dotfiles apply to every DAV method", async () => {
  await withServer({ readOnly: true }, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    for (const method of ["MKCOL", "COPY", "PROPPATCH", "MOVE", "DELETE"]) {
      const response = await dav(port, method, "/f.txt", { headers: { Destination: "/g.txt" } });
      assert.equal(response.status, 403, method);
    }
    assert.equal((await dav(port, "PROPFIND", "/", { headers: { Depth: "1" } })).status, 207);
    assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), ["f.txt"]);
  });
  await withServer({ auth: ["ann:secret"] }, async (server) => {
    const port = server.addr.port;
    for (const method of ["MKCOL", "COPY", "PROPPATCH"]) {
      assert.equal((await dav(port, method, "/x", { headers: { Destination: "/y" } })).status, 401);
    }
    assert.equal((await dav(port, "PROPFIND", "/", { headers: { Depth: "0" } })).status, 207);
    const authorized = { Authorization: `Basic ${btoa("ann:secret")}` };
    assert.equal((await dav(port, "MKCOL", "/x", { headers: authorized })).status, 201);
  });
  await withServer({ auth: ["ann:secret"], authReads: true }, async (server) => {
    const response = await dav(server.addr.port, "PROPFIND", "/", { headers: { Depth: "0" } });
    assert.equal(response.status, 401);
  });
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const foreign = await dav(port, "MKCOL", "/x", { headers: { Origin: "http://evil.example" } });
    assert.equal(foreign.status, 403);
    const rebound = await sendOne(port, "PROPFIND / HTTP/1.1", ["Depth: 0"]).then(() =>
      exchange(port, "PROPFIND / HTTP/1.1\r\nHost: evil.example\r\nDepth: 0\r\n\r\n", {
        responses: 1,
      })
    );
    assert.equal(parseResponses(rebound.text).responses[0].status, 421);
    await Deno.writeTextFile(path.join(root, ".hidden"), "h");
    assert.equal(
      (await dav(port, "PROPFIND", "/.hidden", { headers: { Depth: "0" } })).status,
      404,
    );
    assert.equal((await dav(port, "PROPPATCH", "/.hidden", { body: "<x/>" })).status, 404);
    assert.equal((await dav(port, "MKCOL", "/.dir")).status, 404);
    assert.equal(
      (await dav(port, "COPY", "/.hidden", { headers: { Destination: "/visible" } })).status,
      404,
    );
    assert.equal(await exists(path.join(root, ".dir")), false);
  });
});

// --- Over S3 (tests/_s3.ts: only when the environment names a store) ----------------

Deno.test({
  name: "over S3: a client-set getlastmodified is 409 (S3 cannot set times), Win32 times are kept",
  ignore: s3Ignored,
  fn: async () => {
    const prefix = testPrefix("dav-times");
    const server = await serve(testServeOptions(prefix));
    try {
      const port = server.addr.port;
      assert.equal((await dav(port, "PUT", "/f.txt", { body: "f" })).status, 201);
      const before = (await dav(port, "HEAD", "/f.txt")).headers.get("last-modified");
      const dated = await dav(port, "PROPPATCH", "/f.txt", {
        body: proppatchBody(
          "<D:set><D:prop><D:getlastmodified>Tue, 01 Jun 2021 10:20:30 GMT</D:getlastmodified>" +
            `<p:a xmlns:p="${NS}">1</p:a></D:prop></D:set>`,
        ),
      });
      const props = parseMultistatus(dated.body).props.get("/f.txt")!;
      assert.equal(props.get("{DAV:}getlastmodified")!.status, 409);
      assert.equal(props.get(`{${NS}}a`)!.status, 424, "nothing applied");
      assert.equal((await dav(port, "HEAD", "/f.txt")).headers.get("last-modified"), before);
      const windows = await dav(port, "PROPPATCH", "/f.txt", {
        body: '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" ' +
          'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>' +
          "<Z:Win32LastModifiedTime>Wed, 03 Mar 2010 04:05:06 GMT</Z:Win32LastModifiedTime>" +
          "</D:prop></D:set></D:propertyupdate>",
      });
      const kept = parseMultistatus(windows.body).props.get("/f.txt")!;
      assert.equal(kept.get("{urn:schemas-microsoft-com:}Win32LastModifiedTime")!.status, 200);
      const read = await dav(port, "PROPFIND", "/f.txt", {
        headers: { Depth: "0" },
        body: propfindBody(
          '<D:prop><Z:Win32LastModifiedTime xmlns:Z="urn:schemas-microsoft-com:"/></D:prop>',
        ),
      });
      const value = parseMultistatus(read.body).props.get("/f.txt")!;
      assert.equal(
        value.get("{urn:schemas-microsoft-com:}Win32LastModifiedTime")!.text,
        "Wed, 03 Mar 2010 04:05:06 GMT",
      );
      // The sidecar objects are never listed.
      const listing = await dav(port, "PROPFIND", "/", { headers: { Depth: "1" } });
      assert.deepEqual(parseMultistatus(listing.body).hrefs.sort(), ["/", "/f.txt"]);
    } finally {
      await server.shutdown();
      await removePrefix(testClient(), prefix);
    }
  },
});
