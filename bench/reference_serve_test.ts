import assert from "node:assert/strict";
import { join } from "node:path";
import {
  contentTypeFor,
  createHandler,
  ifNoneMatchMatches,
  resolveRequestPath,
} from "./reference_serve.ts";

Deno.test("resolveRequestPath: maps inside the root, refuses escapes", () => {
  const table: [string, string | null][] = [
    ["/a.txt", "/srv/a.txt"],
    ["/dir/b%20c.txt", "/srv/dir/b c.txt"],
    ["/", "/srv/"],
    ["/..%2fetc/passwd", null],
    ["/a/%2e%2e/%2e%2e/etc", null],
    ["/%E0%A4%A", null],
    ["/a%00b", null],
  ];
  for (const [pathname, expected] of table) {
    assert.equal(resolveRequestPath("/srv", pathname), expected, pathname);
  }
});

Deno.test("ifNoneMatchMatches: lists, weak tags and *", () => {
  const table: [string, boolean][] = [
    ['"x"', true],
    ['W/"x"', true],
    ['"a", "x"', true],
    ["*", true],
    ['"y"', false],
    ["", false],
  ];
  for (const [header, expected] of table) assert.equal(ifNoneMatchMatches(header, '"x"'), expected);
});

Deno.test("contentTypeFor: known and unknown extensions", () => {
  assert.equal(contentTypeFor("/x/INDEX.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeFor("a.bin"), "application/octet-stream");
});

Deno.test("createHandler: GET, HEAD, 304, 404, index.html, PUT and 405 on a real directory", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(root, "a.txt"), "hello");
    await Deno.writeTextFile(join(root, "index.html"), "<p>hi</p>");
    const handle = createHandler(root);
    const call = (path: string, init?: RequestInit) =>
      handle(new Request(`http://localhost${path}`, init));

    const get = await call("/a.txt");
    assert.equal(get.status, 200);
    assert.equal(await get.text(), "hello");
    assert.equal(get.headers.get("content-length"), "5");
    assert.equal(get.headers.get("content-type"), "text/plain; charset=utf-8");
    const etag = get.headers.get("etag");
    assert.ok(etag !== null && get.headers.get("last-modified") !== null);

    const head = await call("/a.txt", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "5");
    assert.equal(head.body, null);

    const notModified = await call("/a.txt", { headers: { "if-none-match": etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, null);

    const index = await call("/");
    assert.equal(await index.text(), "<p>hi</p>");

    const missing = await call("/nope.txt");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const created = await call("/new.bin", { method: "PUT", body: "12345678" });
    assert.equal(created.status, 201);
    assert.equal(await Deno.readTextFile(join(root, "new.bin")), "12345678");
    const replaced = await call("/new.bin", { method: "PUT", body: "abc" });
    assert.equal(replaced.status, 204);
    assert.equal(await Deno.readTextFile(join(root, "new.bin")), "abc");

    const noParent = await call("/missing-dir/x.bin", { method: "PUT", body: "x" });
    assert.equal(noParent.status, 409);
    await noParent.body?.cancel();

    const deleted = await call("/a.txt", { method: "DELETE" });
    assert.equal(deleted.status, 405);
    assert.equal(deleted.headers.get("allow"), "GET, HEAD, PUT");
    await deleted.body?.cancel();

    const names = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
    assert.deepEqual(names, ["a.txt", "index.html", "new.bin"], "no temp files left");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
