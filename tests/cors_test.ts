import assert from "node:assert/strict";
import { withServer } from "./_helpers.ts";

Deno.test("--cors allows any origin, exposes validators, answers preflights", async () => {
  await withServer({ cors: true }, async (server, root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "a");
    const response = await fetch(`${server.url}a.txt`, { headers: { Origin: "http://elsewhere" } });
    await response.body?.cancel();
    assert.equal(response.headers.get("access-control-allow-origin"), "*");
    assert.match(response.headers.get("access-control-expose-headers")!, /ETag/);
    // A WebDAV client in a page reads the token of the lock it took.
    assert.match(response.headers.get("access-control-expose-headers")!, /Lock-Token/);
    assert.equal(response.headers.get("access-control-allow-credentials"), null);

    const missing = await fetch(`${server.url}missing`, {
      headers: { Origin: "http://elsewhere" },
    });
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("access-control-allow-origin"), "*");

    const preflight = await fetch(`${server.url}a.txt`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://elsewhere",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type, if-match",
      },
    });
    await preflight.body?.cancel();
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-methods")!, /PUT/);
    assert.equal(preflight.headers.get("access-control-allow-headers"), "content-type, if-match");
    assert.equal(preflight.headers.get("access-control-allow-credentials"), null);
  });
});

Deno.test("without --cors no CORS headers are sent", async () => {
  await withServer({}, async (server, root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "a");
    const response = await fetch(`${server.url}a.txt`, { headers: { Origin: "http://elsewhere" } });
    await response.body?.cancel();
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  });
});
