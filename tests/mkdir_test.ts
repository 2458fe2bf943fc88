import assert from "node:assert/strict";
import { withServer } from "./_helpers.ts";

async function put(url: string, body = "") {
  const response = await fetch(url, { method: "PUT", body });
  await response.body?.cancel();
  return response;
}

Deno.test("PUT to a path ending in / creates the directory and its parents", async () => {
  await withServer({}, async (server, root) => {
    const created = await put(`${server.url}a/b%20c/`);
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/a/b%20c/");
    assert.ok((await Deno.stat(`${root}/a/b c`)).isDirectory);
    assert.equal((await put(`${server.url}a/b%20c/`)).status, 204);
  });
});

Deno.test("PUT of a directory refuses a body, a file in the way, and read-only servers", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/file`, "x");
    assert.equal((await put(`${server.url}newdir/`, "content")).status, 409);
    await assert.rejects(Deno.stat(`${root}/newdir`), Deno.errors.NotFound);
    assert.equal((await put(`${server.url}file/`)).status, 409);
    assert.equal((await put(`${server.url}file/sub/`)).status, 409);
  });
  await withServer({ readOnly: true }, async (server, root) => {
    assert.equal((await put(`${server.url}d/`)).status, 403);
    await assert.rejects(Deno.stat(`${root}/d`), Deno.errors.NotFound);
  });
});
