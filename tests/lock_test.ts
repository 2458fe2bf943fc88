/**
 * LOCK, UNLOCK and lock enforcement over real sockets: every status of the
 * two methods, 423 for each write method from a client without the token
 * (and success with it), `If` header edge cases, and two real server
 * processes on one ROOT sharing their locks; the basics over S3 too.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { startServerProcess } from "../scripts/crash_test.ts";
import { sendOne, withServer } from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";
import { removePrefix, s3Config, s3Ignored, testClient, testPrefix, testRoot } from "./_s3.ts";

const PROPPATCH_BODY = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">' +
  "<D:set><D:prop><Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>";

function lockInfo(scope: "exclusive" | "shared", owner = "litmus test suite"): string {
  return '<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:">' +
    `<D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype>` +
    `<D:owner>${owner}</D:owner></D:lockinfo>`;
}

/** Sends a request with an optional body (Content-Length set when there is one). */
function send(
  port: number,
  method: string,
  target: string,
  headers: string[] = [],
  body = "",
): Promise<RawResponse> {
  const length = body === "" && method !== "PUT" && method !== "POST"
    ? []
    : [`Content-Length: ${new TextEncoder().encode(body).length}`];
  return sendOne(port, `${method} ${target} HTTP/1.1`, [...length, ...headers], body);
}

/** Takes a lock; its token (the request must succeed). */
async function lock(
  port: number,
  target: string,
  options: { scope?: "exclusive" | "shared"; depth?: string; headers?: string[] } = {},
): Promise<string> {
  const response = await send(port, "LOCK", target, [
    ...(options.depth === undefined ? [] : [`Depth: ${options.depth}`]),
    "Timeout: Second-600",
    ...(options.headers ?? []),
  ], lockInfo(options.scope ?? "exclusive"));
  assert.ok(response.status === 200 || response.status === 201, response.body);
  const token = /^<(urn:uuid:[0-9a-f-]{36})>$/.exec(response.headers.get("lock-token") ?? "")?.[1];
  assert.ok(token, `Lock-Token: ${response.headers.get("lock-token")}`);
  return token;
}

Deno.test("LOCK: a new lock answers with Lock-Token and its discovery, the owner verbatim", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "hello");
    const response = await send(port, "LOCK", "/f.txt", [
      "Depth: 0",
      "Timeout: Infinite, Second-4100000000",
    ], lockInfo("exclusive", "<D:href>mailto:me@example.com</D:href>"));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^application\/xml/);
    const token = response.headers.get("lock-token")!.slice(1, -1);
    assert.match(response.body, /<D:lockscope><D:exclusive\/><\/D:lockscope>/);
    assert.match(response.body, /<D:depth>0<\/D:depth>/);
    assert.match(response.body, /<D:timeout>Second-3600<\/D:timeout>/, "Infinite is capped");
    assert.ok(response.body.includes(`<D:locktoken><D:href>${token}</D:href></D:locktoken>`));
    assert.ok(response.body.includes("<D:lockroot><D:href>/f.txt</D:href></D:lockroot>"));
    assert.match(response.body, /<owner xmlns="DAV:"><href>mailto:me@example.com<\/href><\/owner>/);
  });
});

Deno.test("LOCK: an unmapped URL becomes an empty file (201); a missing parent is 409", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const response = await send(port, "LOCK", "/new.txt", [], lockInfo("exclusive"));
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("location"), "/new.txt");
    assert.equal(await Deno.readTextFile(path.join(root, "new.txt")), "");
    assert.equal(
      (await send(port, "LOCK", "/no/such/dir.txt", [], lockInfo("shared"))).status,
      409,
    );
    assert.equal((await send(port, "LOCK", "/newdir/", [], lockInfo("shared"))).status, 409);
    await assert.rejects(Deno.stat(path.join(root, "no")), Deno.errors.NotFound);
    // The lock holds the new file for its owner.
    const token = response.headers.get("lock-token")!;
    assert.equal((await send(port, "PUT", "/new.txt", [], "x")).status, 423);
    assert.equal((await send(port, "PUT", "/new.txt", [`If: (${token})`], "x")).status, 204);
  });
});

Deno.test("LOCK: malformed requests are 400", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    const cases: [string[], string][] = [
      [["Depth: 1"], lockInfo("exclusive")],
      [[], "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>"],
      [[], "<D:lockinfo xmlns:D='DAV:'><D:locktype><D:write/></D:locktype></D:lockinfo>"],
      [[], "<D:propfind xmlns:D='DAV:'/>"],
      [[], "<D:lockinfo xmlns:D='DAV:'><unclosed></D:lockinfo>"],
      [[], ""], // A refresh without If.
      [["If: (<urn:uuid:x>"], lockInfo("exclusive")],
    ];
    for (const [headers, body] of cases) {
      const response = await send(port, "LOCK", "/f.txt", headers, body);
      assert.equal(response.status, 400, `${headers} ${body}`);
    }
  });
});

Deno.test("LOCK: conflicts are 423 no-conflicting-lock; shared locks share; a locked member stops a tree lock with 207", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "c", "d"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "c", "d", "x.txt"), "x");
    await Deno.writeTextFile(path.join(root, "s.txt"), "s");
    const member = await lock(port, "/c/d/x.txt");
    for (const scope of ["exclusive", "shared"]) {
      const again = await send(port, "LOCK", "/c/d/x.txt", [], lockInfo(scope as "shared"));
      assert.equal(again.status, 423);
      assert.match(again.body, /<D:no-conflicting-lock><D:href>\/c\/d\/x.txt<\/D:href>/);
    }
    const tree = await send(port, "LOCK", "/c", [], lockInfo("shared"));
    assert.equal(tree.status, 207);
    assert.match(
      tree.body,
      /<D:response><D:href>\/c\/d\/x.txt<\/D:href><D:status>HTTP\/1.1 423 Locked<\/D:status>/,
    );
    assert.match(
      tree.body,
      /<D:response><D:href>\/c<\/D:href><D:status>HTTP\/1.1 424 Failed Dependency<\/D:status>/,
    );
    // A depth-0 lock on the collection does not reach the member.
    await lock(port, "/c", { depth: "0" });
    const first = await lock(port, "/s.txt", { scope: "shared" });
    const second = await lock(port, "/s.txt", { scope: "shared" });
    assert.notEqual(first, second);
    assert.equal((await send(port, "LOCK", "/s.txt", [], lockInfo("exclusive"))).status, 423);
    assert.ok(member);
  });
});

Deno.test("LOCK refresh and UNLOCK: by token, 412 and 409 for the wrong one", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "c"));
    await Deno.writeTextFile(path.join(root, "c", "f.txt"), "f");
    const token = await lock(port, "/c", { depth: "infinity" });
    const refreshed = await send(port, "LOCK", "/c/f.txt", [
      `If: (<${token}>)`,
      "Timeout: Second-100",
    ]);
    assert.equal(refreshed.status, 200, "refreshed through a member in its scope");
    assert.match(refreshed.body, /<D:timeout>Second-100<\/D:timeout>/);
    assert.equal(refreshed.headers.has("lock-token"), false);
    assert.equal(
      (await send(port, "LOCK", "/c", [`If: (<urn:uuid:00000000-0000-0000-0000-000000000000>)`]))
        .status,
      412,
    );
    assert.equal((await send(port, "UNLOCK", "/c")).status, 400);
    assert.equal((await send(port, "UNLOCK", "/c", ["Lock-Token: urn:uuid:x"])).status, 400);
    const wrong = await send(port, "UNLOCK", "/c", ["Lock-Token: <opaquelocktoken:foobar>"]);
    assert.equal(wrong.status, 409);
    assert.match(wrong.body, /<D:lock-token-matches-request-uri\/>/);
    assert.equal(
      (await send(port, "UNLOCK", "/elsewhere", [`Lock-Token: <${token}>`])).status,
      409,
    );
    assert.equal((await send(port, "UNLOCK", "/c/f.txt", [`Lock-Token: <${token}>`])).status, 204);
    assert.equal((await send(port, "UNLOCK", "/c", [`Lock-Token: <${token}>`])).status, 409);
    assert.equal((await send(port, "DELETE", "/c/f.txt")).status, 204);
  });
});

Deno.test("enforcement: each write method is 423 without the token and goes ahead with it", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    const reset = async () => {
      await Deno.remove(path.join(root, "c"), { recursive: true }).catch(() => {});
      await Deno.mkdir(path.join(root, "c", "sub"), { recursive: true });
      await Deno.writeTextFile(path.join(root, "c", "f.txt"), "f");
      await Deno.writeTextFile(path.join(root, "free.txt"), "free");
    };
    const form = (name: string) => {
      const boundary = "XyZ";
      return {
        headers: [`Content-Type: multipart/form-data; boundary=${boundary}`],
        body:
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
          `Content-Type: text/plain\r\n\r\nform\r\n--${boundary}--\r\n`,
      };
    };
    // Each write, with what it needs besides the token; all touch the locked tree /c.
    const writes: [string, string, string[], string][] = [
      ["PUT", "/c/f.txt", [], "new"],
      ["PUT", "/c/new.txt", [], "new"],
      ["PUT", "/c/newdir/", [], ""],
      ["POST", "/c/", form("up.txt").headers, form("up.txt").body],
      ["DELETE", "/c/f.txt", [], ""],
      ["DELETE", "/c", [], ""],
      ["MOVE", "/c/f.txt", ["Destination: /moved.txt"], ""],
      ["MOVE", "/free.txt", ["Destination: /c/f.txt"], ""],
      ["MOVE", "/free.txt", ["Destination: /c/sub/new.txt"], ""],
      ["COPY", "/free.txt", ["Destination: /c/f.txt"], ""],
      ["COPY", "/free.txt", ["Destination: /c/sub/copy.txt"], ""],
      ["MKCOL", "/c/newcol", [], ""],
      ["PROPPATCH", "/c/f.txt", ["Content-Type: application/xml"], PROPPATCH_BODY],
    ];
    for (const [method, target, headers, body] of writes) {
      await reset();
      const token = await lock(port, "/c", { depth: "infinity" });
      const refused = await send(port, method, target, headers, body);
      assert.equal(refused.status, 423, `${method} ${target} without the token`);
      assert.match(refused.body, /<D:lock-token-submitted><D:href>\/c<\/D:href>/);
      const allowed = await send(port, method, target, [
        ...headers,
        `If: </c> (<${token}>)`,
      ], body);
      assert.ok(
        allowed.status >= 200 && allowed.status < 300,
        `${method} ${target} with the token: ${allowed.status} ${allowed.body}`,
      );
      await send(port, "UNLOCK", "/c", [`Lock-Token: <${token}>`]);
    }
  });
});

Deno.test("enforcement: a resumable upload's append is 423 while its target is locked by another", async () => {
  await withServer({}, async (server) => {
    const port = server.addr.port;
    const created = await send(port, "PUT", "/up.txt", [
      "Upload-Complete: ?0",
    ], "abc");
    assert.equal(created.status, 201, created.body);
    const location = created.headers.get("location")!;
    const token = await lock(port, "/up.txt");
    const append = (headers: string[]) =>
      send(port, "PATCH", location, [
        "Content-Type: application/partial-upload",
        "Upload-Offset: 3",
        "Upload-Complete: ?1",
        ...headers,
      ], "de");
    assert.equal((await append([])).status, 423);
    // The lock made an empty file there, which the completed upload replaces.
    assert.equal((await append([`If: (<${token}>)`])).status, 204);
  });
});

Deno.test("enforcement: a depth-0 lock on a collection guards its membership, not its members' content", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "c"));
    await Deno.writeTextFile(path.join(root, "c", "f.txt"), "f");
    const token = await lock(port, "/c/", { depth: "0" });
    assert.equal((await send(port, "PUT", "/c/f.txt", [], "replaced")).status, 204);
    assert.equal((await send(port, "PUT", "/c/new.txt", [], "new")).status, 423);
    assert.equal((await send(port, "DELETE", "/c/f.txt")).status, 423);
    // The untagged list is judged on the request URI, which the lock does not cover: 412.
    assert.equal((await send(port, "PUT", "/c/new.txt", [`If: (<${token}>)`], "new")).status, 412);
    assert.equal(
      (await send(port, "PUT", "/c/new.txt", [`If: </c/> (<${token}>)`], "n")).status,
      201,
    );
  });
});

Deno.test("enforcement: DELETE and MOVE end the locks rooted at what they removed", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    const token = await lock(port, "/f.txt");
    assert.equal((await send(port, "DELETE", "/f.txt", [`If: (<${token}>)`])).status, 204);
    assert.equal((await send(port, "PUT", "/f.txt", [], "anyone")).status, 201);
    const second = await lock(port, "/f.txt");
    assert.equal(
      (await send(port, "MOVE", "/f.txt", ["Destination: /g.txt", `If: (<${second}>)`])).status,
      201,
    );
    assert.equal((await send(port, "PUT", "/f.txt", [], "anyone")).status, 201);
    assert.equal(
      (await send(port, "PUT", "/g.txt", [], "anyone")).status,
      204,
      "locks do not move",
    );
  });
});

Deno.test("If header: evaluated for every method; 400 malformed, 412 false", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "f.txt"), "f");
    const etag = (await send(port, "GET", "/f.txt")).headers.get("etag")!;
    assert.equal((await send(port, "GET", "/f.txt", ["If: garbage"])).status, 400);
    assert.equal((await send(port, "GET", "/f.txt", [`If: ([${etag}])`])).status, 200);
    assert.equal((await send(port, "GET", "/f.txt", [`If: (Not [${etag}])`])).status, 412);
    assert.equal((await send(port, "PUT", "/f.txt", [`If: (["nope"])`], "x")).status, 412);
    assert.equal((await send(port, "PUT", "/f.txt", ["If: (<DAV:no-lock>)"], "x")).status, 412);
    assert.equal((await send(port, "PUT", "/f.txt", ["If: (Not <DAV:no-lock>)"], "x")).status, 204);
    assert.equal(await Deno.readTextFile(path.join(root, "f.txt")), "x");
    // A tag on another server is unmapped: only a Not list holds there.
    assert.equal(
      (await send(port, "GET", "/f.txt", ['If: <http://elsewhere/f.txt> (Not ["a"])'])).status,
      200,
    );
    assert.equal(
      (await send(port, "GET", "/f.txt", [`If: <http://elsewhere/f.txt> ([${etag}])`])).status,
      412,
    );
    // litmus's conditional PUTs on a locked file.
    const token = await lock(port, "/f.txt");
    const now = (await send(port, "GET", "/f.txt")).headers.get("etag")!;
    const cases: [string, number][] = [
      [`(<${token}> [${now}])`, 204],
      [`(<DAV:no-lock> [${now}])`, 412],
      [`(<${token}>) (Not <DAV:no-lock>)`, 204],
      [`(<${token}x>) (Not <DAV:no-lock>)`, 423],
      [`(<${token}> ["wrong"]) (Not <DAV:no-lock> ["wrong"])`, 412],
    ];
    for (const [value, status] of cases) {
      const etagNow = (await send(port, "GET", "/f.txt")).headers.get("etag")!;
      const header = value.replaceAll(now, etagNow);
      assert.equal(
        (await send(port, "PUT", "/f.txt", [`If: ${header}`], "y")).status,
        status,
        value,
      );
    }
  });
});

Deno.test("LOCK and UNLOCK are writes: 403 when read-only, 401 without credentials; a lock is its creator's", async () => {
  await withServer({ readOnly: true }, async (server) => {
    assert.equal((await send(server.addr.port, "LOCK", "/f", [], lockInfo("shared"))).status, 403);
    assert.equal((await send(server.addr.port, "UNLOCK", "/f", ["Lock-Token: <a:b>"])).status, 403);
  });
  await withServer({ auth: ["u:p", "other:q"] }, async (server) => {
    const port = server.addr.port;
    assert.equal((await send(port, "LOCK", "/f", [], lockInfo("shared"))).status, 401);
    assert.equal((await send(port, "UNLOCK", "/f", ["Lock-Token: <a:b>"])).status, 401);
    const u = `Authorization: Basic ${btoa("u:p")}`;
    const other = `Authorization: Basic ${btoa("other:q")}`;
    const token = await lock(port, "/f", { headers: [u] });
    // The token alone is not enough: only the user who took the lock may use it.
    assert.equal((await send(port, "PUT", "/f", [other, `If: (<${token}>)`], "x")).status, 423);
    assert.equal((await send(port, "LOCK", "/f", [other, `If: (<${token}>)`])).status, 412);
    assert.equal((await send(port, "UNLOCK", "/f", [other, `Lock-Token: <${token}>`])).status, 403);
    assert.equal((await send(port, "PUT", "/f", [u, `If: (<${token}>)`], "x")).status, 204);
    assert.equal((await send(port, "UNLOCK", "/f", [u, `Lock-Token: <${token}>`])).status, 204);
  });
});

Deno.test("two server processes on one ROOT share their locks", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-locks-" }));
  const servers = [await startServerProcess(root), await startServerProcess(root)];
  try {
    const [a, b] = servers.map((server) => Number(new URL(server.url).port));
    const token = await lock(a, "/shared.txt");
    assert.equal((await send(b, "PUT", "/shared.txt", [], "b")).status, 423);
    assert.equal((await send(b, "LOCK", "/shared.txt", [], lockInfo("shared"))).status, 423);
    const discovered = await send(b, "LOCK", "/shared.txt", [`If: (<${token}>)`]);
    assert.equal(discovered.status, 200, "B refreshes A's lock");
    assert.equal((await send(b, "PUT", "/shared.txt", [`If: (<${token}>)`], "b")).status, 204);
    assert.equal((await send(b, "UNLOCK", "/shared.txt", [`Lock-Token: <${token}>`])).status, 204);
    assert.equal((await send(a, "PUT", "/shared.txt", [], "a")).status, 204);
  } finally {
    for (const server of servers) assert.equal(await server.stop(), 0, server.stderr());
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("PROPFIND shows the locks: lockdiscovery with token and owner, supportedlock; OPTIONS says class 2", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.mkdir(path.join(root, "c"));
    await Deno.writeTextFile(path.join(root, "c", "f.txt"), "f");
    const token = await lock(port, "/c", { depth: "infinity", scope: "shared" });
    const body = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' +
      "<D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>";
    const member = await send(port, "PROPFIND", "/c/f.txt", ["Depth: 0"], body);
    assert.equal(member.status, 207);
    assert.ok(member.body.includes(`<D:locktoken><D:href>${token}</D:href></D:locktoken>`));
    assert.match(member.body, /<owner xmlns="DAV:">litmus test suite<\/owner>/);
    assert.match(member.body, /<D:lockroot><D:href>\/c<\/D:href><\/D:lockroot>/);
    assert.match(member.body, /<D:lockentry><D:lockscope><D:shared\/><\/D:lockscope>/);
    await send(port, "UNLOCK", "/c", [`Lock-Token: <${token}>`]);
    const free = await send(port, "PROPFIND", "/c/f.txt", ["Depth: 0"], body);
    assert.match(free.body, /<D:lockdiscovery\/>|<D:lockdiscovery><\/D:lockdiscovery>/);
    assert.equal((await send(port, "OPTIONS", "/c/f.txt")).headers.get("dav"), "1, 2");
  });
});

Deno.test({
  name: "over S3: LOCK makes an empty object, writes without the token are 423, UNLOCK frees",
  ignore: s3Ignored,
  async fn() {
    const prefix = testPrefix("lock-server");
    const client = testClient();
    try {
      await withServer({ root: testRoot(prefix), s3: s3Config! }, async (server) => {
        const port = server.addr.port;
        const created = await send(port, "LOCK", "/new.txt", [], lockInfo("exclusive"));
        assert.equal(created.status, 201, created.body);
        const token = created.headers.get("lock-token")!;
        assert.equal((await send(port, "GET", "/new.txt")).body, "");
        assert.equal((await send(port, "PUT", "/new.txt", [], "x")).status, 423);
        assert.equal((await send(port, "DELETE", "/new.txt")).status, 423);
        assert.equal((await send(port, "PUT", "/new.txt", [`If: (${token})`], "x")).status, 204);
        assert.equal(
          (await send(port, "UNLOCK", "/new.txt", [`Lock-Token: ${token}`])).status,
          204,
        );
        assert.equal((await send(port, "DELETE", "/new.txt")).status, 204);
      });
    } finally {
      await removePrefix(client, prefix);
      client.close();
    }
  },
});
