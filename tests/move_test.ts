import assert from "node:assert/strict";
import { withServer } from "./_helpers.ts";

async function move(url: string, destination: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "MOVE",
    headers: { Destination: destination, ...headers },
  });
  await response.body?.cancel();
  return response;
}

Deno.test("MOVE renames a file to a new name (201) and replaces an existing one (204)", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "A");
    await Deno.writeTextFile(`${root}/b.txt`, "B");
    const created = await move(`${server.url}a.txt`, "/sub%20dir/../c.txt");
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/c.txt");
    assert.equal(await Deno.readTextFile(`${root}/c.txt`), "A");
    await assert.rejects(Deno.stat(`${root}/a.txt`), Deno.errors.NotFound);

    const replaced = await move(`${server.url}c.txt`, `${server.url}b.txt`);
    assert.equal(replaced.status, 204);
    assert.equal(await Deno.readTextFile(`${root}/b.txt`), "A");
  });
});

Deno.test("MOVE refuses what it must", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "A");
    await Deno.writeTextFile(`${root}/b.txt`, "B");
    await Deno.mkdir(`${root}/dir/inner`, { recursive: true });
    const cases: [string, string, Record<string, string>, number][] = [
      ["missing.txt", "/x.txt", {}, 404],
      ["a.txt", "/b.txt", { Overwrite: "F" }, 412],
      ["a.txt", "/no/such/parent/a.txt", {}, 409],
      ["dir", "/dir/inner/dir", {}, 409],
      ["a.txt", "http://evil.example/a.txt", {}, 403],
      ["a.txt", "/../../etc/passwd", {}, 400],
      ["a.txt", "/.hidden", {}, 403],
      ["a.txt", "relative.txt", {}, 400],
      // With Overwrite: T a file replaces a directory (RFC 4918 §9.9.3; tests/dav_test.ts).
      ["a.txt", "/dir", { Overwrite: "F" }, 412],
      ["a.txt", "/a.txt", {}, 403],
      ["a.txt", "/c.txt", { "If-Match": '"stale"' }, 412],
    ];
    for (const [source, destination, headers, status] of cases) {
      const response = await move(`${server.url}${source}`, destination, headers);
      assert.equal(response.status, status, `${source} -> ${destination}`);
    }
    const noHeader = await fetch(`${server.url}a.txt`, { method: "MOVE" });
    await noHeader.body?.cancel();
    assert.equal(noHeader.status, 400);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "A");
    assert.equal(await Deno.readTextFile(`${root}/b.txt`), "B");
  });
});

Deno.test("MOVE renames a directory and is refused on a read-only server", async () => {
  await withServer({}, async (server, root) => {
    await Deno.mkdir(`${root}/old`);
    await Deno.writeTextFile(`${root}/old/f.txt`, "F");
    const response = await move(`${server.url}old`, "/new");
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("location"), "/new/");
    assert.equal(await Deno.readTextFile(`${root}/new/f.txt`), "F");
  });
  await withServer({ readOnly: true }, async (server, root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "A");
    assert.equal((await move(`${server.url}a.txt`, "/b.txt")).status, 403);
  });
});
