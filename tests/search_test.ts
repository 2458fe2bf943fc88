/**
 * Search below a folder (`GET <dir>/?q=term`) from a real server over a temp
 * ROOT and over the S3 test store: what is found (at depth, folded case and
 * Unicode forms), what never is (dotfiles, temp and state files, anything
 * through a symlink out of ROOT, a loop twice), the bounds, the HTML page's
 * escaping, streaming on a raw socket, HEAD, conditional requests and
 * conflicts with `archive=`.
 *
 * The oracle is the tree each test makes itself: which names it put where.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { run, sendOne, withServer } from "./_helpers.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testServeOptions } from "./_s3.ts";
import { serve } from "../lib/mod.ts";
import type { SearchLimits, ServeOptions } from "../lib/mod.ts";
import { STATE_DIR, TEMP_PREFIX } from "../lib/storage/temp_files.ts";

/** A match line of the NDJSON answer. */
interface MatchLine {
  type: "match";
  path: string[];
  kind: "file" | "directory";
  size: number | null;
  mtime: string | null;
  match: [number, number];
}

/** The last line of the NDJSON answer. */
interface EndLine {
  type: "end";
  matches: number;
  visited: number;
  cut: "time" | "entries" | "results" | null;
  limits: SearchLimits;
}

/** Searches `dirUrl` for `term` as NDJSON: the matches (as "a/b/c" paths, "/" after a directory) and the end line. */
async function search(
  dirUrl: string,
  term: string,
): Promise<{ found: string[]; lines: MatchLine[]; end: EndLine; response: Response }> {
  const response = await fetch(`${dirUrl}?q=${encodeURIComponent(term)}&format=ndjson`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
  const parsed = text.trimEnd().split("\n").map((line) => JSON.parse(line));
  const end = parsed.pop() as EndLine;
  assert.equal(end.type, "end", text);
  const lines = parsed as MatchLine[];
  assert.ok(lines.every((line) => line.type === "match"), text);
  assert.equal(end.matches, lines.length);
  const found = lines.map((line) => line.path.join("/") + (line.kind === "directory" ? "/" : ""));
  return { found, lines, end, response };
}

/** Writes each file (creating its folders) with its own path as content. */
async function makeFiles(root: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await Deno.mkdir(path.join(root, path.dirname(name)), { recursive: true });
    await Deno.writeTextFile(path.join(root, name), name);
  }
}

const sorted = (list: string[]) => [...list].sort();

Deno.test("search finds names at every depth, ignoring case and Unicode forms, with links that work", async () => {
  await withServer({}, async (server, root) => {
    await makeFiles(root, [
      "Needle.txt",
      "a/b/c/d/e/deep-NEEDLE.bin",
      "a/haystack.txt",
      "x/needles/inside.txt",
      "Café\u0301/straße.md", // NFD "é" in a folder name
      "other/STRASSE-2.md",
    ]);
    let result = await search(server.url, "needle");
    assert.deepEqual(sorted(result.found), [
      "Needle.txt",
      "a/b/c/d/e/deep-NEEDLE.bin",
      "x/needles/",
    ]);
    // Breadth first: the shallow name comes before the deep one.
    assert.ok(
      result.found.indexOf("Needle.txt") < result.found.indexOf("a/b/c/d/e/deep-NEEDLE.bin"),
    );
    assert.equal(result.end.cut, null);
    const deep = result.lines.find((line) => line.path.length === 6)!;
    assert.deepEqual(deep.match, [5, 11]);
    assert.equal(deep.size, "a/b/c/d/e/deep-NEEDLE.bin".length);
    // Every match's path, encoded as the page encodes it, serves that very file.
    for (const line of result.lines.filter((line) => line.kind === "file")) {
      const url = server.url + line.path.map(encodeURIComponent).join("/");
      assert.equal(await (await fetch(url)).text(), line.path.join("/"));
    }
    // An NFC term finds an NFD name; "ß" and "SS" fold to one another.
    result = await search(server.url, "CAFÉ");
    assert.deepEqual(result.found, ["Café\u0301/"]);
    assert.deepEqual(result.lines[0].match, [0, 5]); // the whole cluster "e" + U+0301
    result = await search(server.url, "strasse");
    assert.deepEqual(sorted(result.found), ["Café\u0301/straße.md", "other/STRASSE-2.md"]);
    // Below a subfolder, paths are relative to it.
    result = await search(`${server.url}a/b/`, "needle");
    assert.deepEqual(result.found, ["c/d/e/deep-NEEDLE.bin"]);
    // Accept asks for NDJSON as well as format= does.
    const byAccept = await fetch(`${server.url}?q=needle`, {
      headers: { Accept: "application/x-ndjson" },
    });
    assert.equal(byAccept.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
    assert.equal((await byAccept.text()).trimEnd().split("\n").length, 4);
  });
});

Deno.test("search hides dotfiles unless enabled, and never shows temp files or the state directory", async () => {
  const names = [
    "visible-key.txt",
    ".hidden-key.txt",
    ".git/objects/key-in-dotdir.txt",
    "sub/.env-key",
    `${TEMP_PREFIX}upload-key`,
    `${STATE_DIR}/props/key-state.json`,
  ];
  for (const dotfiles of [false, true]) {
    await withServer({ dotfiles }, async (server, root) => {
      await makeFiles(root, names);
      const { found } = await search(server.url, "key");
      const expected = dotfiles
        ? [".git/objects/key-in-dotdir.txt", ".hidden-key.txt", "sub/.env-key", "visible-key.txt"]
        : ["visible-key.txt"];
      assert.deepEqual(sorted(found), expected, `dotfiles: ${dotfiles}`);
    });
  }
});

Deno.test("search never follows a symlink out of ROOT and ends in a symlink loop", async () => {
  const outside = await Deno.makeTempDir({ prefix: "filedrop-outside-" });
  try {
    await withServer({}, async (server, root) => {
      await makeFiles(outside, ["pin-secret.txt", "nested/pin-secret-2.txt"]);
      await makeFiles(root, ["pin-inside.txt", "sub/pin-deeper.txt"]);
      await Deno.symlink(outside, path.join(root, "out-dir"));
      await Deno.symlink("..", path.join(root, "sub", "loop"));
      await Deno.symlink(path.join(root, "sub"), path.join(root, "sub", "loop2"));
      const { found, end } = await search(server.url, "pin");
      assert.deepEqual(sorted(found), ["pin-inside.txt", "sub/pin-deeper.txt"]);
      assert.equal(end.cut, null);
      // 4 entries at ROOT... and in sub: looked at once each, the loops not entered.
      assert.equal(end.visited, 6);
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("search, like the listing and an archive, shows only what the requester may read", async () => {
  const options: Partial<ServeOptions> = {
    auth: ["alice:secret-a", "bob:secret-b"],
    rules: ["@/:r", "@/private:-", "alice@/private:r", "@/open/closed:-", "@/open/closed/ajar:r"],
  };
  await withServer(options, async (server, root) => {
    await makeFiles(root, [
      "doc-top.txt",
      "private/doc-secret.txt",
      "private/deeper/doc-plans.txt",
      "open/doc-open.txt",
      "open/closed/doc-closed.txt",
      "open/closed/ajar/doc-ajar.txt",
    ]);
    const asUser = (user: string | null) =>
      user === null
        ? {}
        : { headers: { Authorization: `Basic ${btoa(`${user}:secret-${user[0]}`)}` } };
    const found = async (user: string | null, dir = "") => {
      const response = await fetch(`${server.url}${dir}?q=doc&format=ndjson`, asUser(user));
      const text = await response.text();
      assert.equal(response.status, 200, text);
      return sorted(
        text.trimEnd().split("\n").map((line) => JSON.parse(line))
          .filter((line) => line.type === "match").map((line) => line.path.join("/")),
      );
    };
    // Anonymous and bob: nothing under /private, nothing under /open/closed (not even the
    // readable /open/closed/ajar: its name is a member of a folder they may not list).
    const everyone = ["doc-top.txt", "open/doc-open.txt"];
    assert.deepEqual(await found(null), everyone);
    assert.deepEqual(await found("bob"), everyone);
    assert.deepEqual(await found("alice"), [
      "doc-top.txt",
      "open/doc-open.txt",
      "private/deeper/doc-plans.txt",
      "private/doc-secret.txt",
    ]);
    // The listing and an archive of ROOT show the same: no unreadable member, nothing below one.
    const listed = async (user: string | null) => {
      const response = await fetch(`${server.url}?format=json`, asUser(user));
      const names = (await response.json()).entries.map((entry: { name: string }) => entry.name);
      return sorted(names);
    };
    assert.deepEqual(await listed(null), ["doc-top.txt", "open"]);
    assert.deepEqual(await listed("alice"), ["doc-top.txt", "open", "private"]);
    const archived = async (user: string | null) => {
      const response = await fetch(`${server.url}?archive=tar`, asUser(user));
      const file = path.join(root, "..", `${path.basename(root)}-${user}.tar`);
      await Deno.writeFile(file, new Uint8Array(await response.arrayBuffer()));
      try {
        const members = await run("tar", ["-tf", file]);
        assert.equal(members.code, 0, members.stderr);
        return sorted(members.stdout.trim().split("\n"));
      } finally {
        await Deno.remove(file);
      }
    };
    assert.deepEqual(await archived(null), ["doc-top.txt", "open/", "open/doc-open.txt"]);
    assert.deepEqual(await archived("alice"), [
      "doc-top.txt",
      "open/",
      "open/doc-open.txt",
      "private/",
      "private/deeper/",
      "private/deeper/doc-plans.txt",
      "private/doc-secret.txt",
    ]);
    // A folder the requester may not read is refused as its listing is.
    const refused = await fetch(`${server.url}private/?q=doc`);
    await refused.body?.cancel();
    assert.equal(refused.status, 401);
    assert.deepEqual(await found(null, "open/closed/ajar/"), ["doc-ajar.txt"]);
  });
});

Deno.test("search stops at its bounds on entries and matches, and says so", async () => {
  const names = Array.from({ length: 40 }, (_, i) => `d${i % 4}/match-${i}.txt`);
  await withServer({ search: { entries: 10 } }, async (server, root) => {
    await makeFiles(root, names);
    const { found, end } = await search(server.url, "match");
    assert.equal(end.cut, "entries");
    assert.equal(end.visited, 10);
    assert.equal(end.limits.entries, 10);
    // 4 folders, then 6 of the first folder's 10 files.
    assert.equal(found.length, 6);
    const html = await (await fetch(`${server.url}?q=match`)).text();
    assert.match(html, /The search was cut short: it looked at 10 entries/);
  });
  await withServer({ search: { results: 3 } }, async (server, root) => {
    await makeFiles(root, names);
    const { found, end } = await search(server.url, "match");
    assert.equal(end.cut, "results");
    assert.equal(found.length, 3);
    const html = await (await fetch(`${server.url}?q=match`)).text();
    assert.equal(html.match(/<li>/g)?.length, 3);
    assert.match(html, /cut short: it found 3 matches/);
  });
  await withServer({}, async (server, root) => {
    await makeFiles(root, names);
    const { found, end } = await search(server.url, "match");
    assert.equal(end.cut, null);
    assert.equal(found.length, 40);
    assert.deepEqual(end.limits, { timeMs: 5000, entries: 100_000, results: 1000 });
  });
});

/** Makes `count` folders of one file each under `root/big`, named with `word` (fast: no fsync). */
async function makeWideTree(root: string, count: number, word: string): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
        const dir = path.join(root, "big", `dir-${i + j}`);
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeTextFile(path.join(dir, `${word}-${i + j}.txt`), "x");
      }),
    );
  }
}

Deno.test("search stops at its deadline in a tree too large to walk in time", async () => {
  await withServer({ search: { timeMs: 150 } }, async (server, root) => {
    await makeWideTree(root, 3000, "item");
    const started = Date.now();
    const { found, end } = await search(server.url, "item");
    const elapsed = Date.now() - started;
    assert.equal(end.cut, "time");
    // 3000 folders and 3000 files are there: the walk stopped part-way.
    assert.ok(end.visited < 6001, `visited ${end.visited}`);
    assert.ok(found.length < 3000);
    // Stopped soon after the deadline (the slack is for a loaded machine), not at the end.
    assert.ok(elapsed < 150 + 5000, `took ${elapsed} ms`);
  });
});

Deno.test("search results stream: the first match arrives before the walk ends", async () => {
  // A deadline far enough for a loaded machine to walk the whole tree: the last match must come.
  await withServer({ search: { timeMs: 60_000 } }, async (server, root) => {
    await makeFiles(root, ["aaa-first-hit.txt"]);
    await makeWideTree(root, 3000, "quiet");
    await makeFiles(root, ["big/dir-2999/zzz-hit-last.txt"]);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await conn.write(new TextEncoder().encode(
        "GET /?q=hit&format=ndjson HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ));
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(64 * 1024);
      let text = "";
      let firstHitAt = -1;
      let endAt = -1;
      let textAtFirstHit = "";
      const started = Date.now();
      // Bounded: at most 60 s, then the assertions below fail.
      while (Date.now() - started < 60_000) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        if (firstHitAt < 0 && text.includes("aaa-first-hit.txt")) {
          firstHitAt = Date.now();
          textAtFirstHit = text;
        }
        if (endAt < 0 && text.includes('"type":"end"')) endAt = Date.now();
      }
      assert.ok(firstHitAt >= 0 && endAt >= 0, text);
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/i);
      // When the first match was read, neither the last match nor the end had been sent.
      assert.doesNotMatch(textAtFirstHit, /zzz-hit-last|"type":"end"/);
      assert.ok(text.includes("zzz-hit-last.txt"));
      assert.ok(endAt > firstHitAt);
    } finally {
      conn.close();
    }
  });
});

Deno.test("the HTML results escape names, link them, mark the term, and work without script", async () => {
  await withServer({}, async (server, root) => {
    const hostile = ['<img src=x onerror="alert(1)">.txt', 'say "hi" & <b>bye.txt'];
    await makeFiles(root, hostile.map((name) => `sub dir/${name}`));
    const response = await fetch(`${server.url}?q=${encodeURIComponent("<B>")}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = response.headers.get("content-security-policy") ?? "";
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce);
    const html = await response.text();
    // Every script and style carries the nonce; the only markup is the page's own.
    for (const tag of html.match(/<(script|style)\b[^>]*>/g) ?? []) {
      assert.ok(tag.includes(`nonce="${nonce}"`), tag);
    }
    const results = html.slice(html.indexOf('<ol id="search-results"'), html.indexOf("</ol>"));
    assert.doesNotMatch(results, /<img|<b>|onerror="/);
    assert.ok(results.includes("say &quot;hi&quot; &amp; <mark>&lt;b&gt;</mark>bye.txt"));
    // The links lead back to the files.
    const hrefs = [...results.matchAll(/<a href="([^"]*)"/g)].map((m) =>
      m[1].replaceAll("&amp;", "&")
    );
    assert.equal(hrefs.length, 1);
    const served = await fetch(new URL(hrefs[0], server.url));
    assert.equal(await served.text(), `sub dir/${hostile[1]}`);
    // The form searches again without a script; the summary counts.
    assert.match(
      html,
      /<form class="filter" id="search-form" role="search" method="get" action=".\/">/,
    );
    assert.match(html, /value="&lt;B&gt;"/);
    assert.match(html, /<p id="search-summary" class="summary" role="status">1 match<\/p>/);
    // No match at all says so.
    const none = await (await fetch(`${server.url}?q=nothing-like-this`)).text();
    assert.match(none, /No names below this folder contain “nothing-like-this”/);
  });
});

Deno.test("search: HEAD, conditional requests, bad queries and conflicts", async () => {
  await withServer({}, async (server, root) => {
    await makeFiles(root, ["sub/found.txt", "file.txt"]);
    const port = server.addr.port;
    // HEAD: the head of the answer, no body.
    const head = await sendOne(port, "HEAD /?q=found HTTP/1.1");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(head.body, "");
    // The listing's validators never turn a search into a 304; a search has none of its own.
    const listing = await fetch(server.url);
    await listing.body?.cancel();
    const etag = listing.headers.get("etag")!;
    const lastModified = listing.headers.get("last-modified")!;
    for (
      const condition of [
        `If-None-Match: ${etag}`,
        "If-None-Match: *",
        `If-Modified-Since: ${lastModified}`,
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
      ]
    ) {
      const answer = await sendOne(port, "GET /?q=found&format=ndjson HTTP/1.1", [condition]);
      assert.equal(answer.status, 200, condition);
      assert.match(answer.body, /"path":\["sub","found\.txt"\]/);
      assert.equal(answer.headers.get("cache-control"), "no-store");
      assert.equal(answer.headers.has("etag"), false);
      assert.equal(answer.headers.has("last-modified"), false);
    }
    // A search and an archive at once is a conflict; an empty term is the plain listing.
    for (const query of ["q=found&archive=zip", "archive=tar&q=x"]) {
      const answer = await fetch(`${server.url}?${query}`);
      assert.equal(answer.status, 400, query);
      assert.match(await answer.text(), /cannot be asked for at once/);
    }
    const empty = await fetch(`${server.url}?q=%20%20`);
    assert.equal(empty.status, 200);
    assert.match(await empty.text(), /<table id="listing">/);
    const zipWithEmptyTerm = await fetch(`${server.url}?q=&archive=zip`);
    assert.equal(zipWithEmptyTerm.headers.get("content-type"), "application/zip");
    await zipWithEmptyTerm.body?.cancel();
    // Too long a term, an unknown format, no folder there, a file's path.
    const cases: [string, number][] = [
      [`?q=${"x".repeat(201)}`, 400],
      [`?q=${"é".repeat(200)}`, 200],
      ["?q=found&format=json", 400],
      ["missing/?q=found", 404],
      ["file.txt/?q=found", 404],
    ];
    for (const [query, status] of cases) {
      const answer = await fetch(server.url + query);
      await answer.body?.cancel();
      assert.equal(answer.status, status, query);
    }
  });
  // Without listings, no search either.
  await withServer({ listing: false }, async (server, root) => {
    await makeFiles(root, ["sub/found.txt"]);
    const answer = await fetch(`${server.url}?q=found`);
    await answer.body?.cancel();
    assert.equal(answer.status, 404);
  });
});

Deno.test({
  name: "search over S3: a filtered prefix listing, at depth, without hidden keys, within bounds",
  ignore: s3Ignored,
  fn: async () => {
    const prefix = testPrefix("search");
    const client = testClient();
    const put = (key: string) => client.putObject(prefix + key, new TextEncoder().encode(key));
    const keys = [
      "top-find.txt",
      "a/b/c/deep-FIND.txt",
      "a/b-c/find-sibling.txt",
      "a/b.find",
      "finder/", // an empty folder's marker
      "x/.hidden/find-under-dot.txt",
      ".find-dotfile",
      `${STATE_DIR}/props/find-state`,
      "bad//find-empty-segment.txt",
      ...Array.from({ length: 30 }, (_, i) => `many/find-${String(i).padStart(2, "0")}.txt`),
    ];
    try {
      for (const key of keys) await put(key);
      const start = async (options: Partial<ServeOptions>) =>
        await serve({ ...testServeOptions(prefix), ...options });
      let server = await start({});
      try {
        const { found, end } = await search(server.url, "FIND");
        const many = Array.from(
          { length: 30 },
          (_, i) => `many/find-${String(i).padStart(2, "0")}.txt`,
        );
        assert.deepEqual(found, [
          // Key order: a directory before what is in it.
          "a/b-c/find-sibling.txt",
          "a/b.find",
          "a/b/c/deep-FIND.txt",
          "finder/",
          ...many,
          "top-find.txt",
        ]);
        assert.equal(end.cut, null);
        const { found: below } = await search(`${server.url}a/`, "find");
        assert.deepEqual(below, ["b-c/find-sibling.txt", "b.find", "b/c/deep-FIND.txt"]);
        const file = await fetch(`${server.url}a/b/c/deep-FIND.txt`);
        assert.equal(await file.text(), "a/b/c/deep-FIND.txt");
      } finally {
        await server.shutdown();
      }
      server = await start({ dotfiles: true, search: { results: 5 } });
      try {
        const { found, end } = await search(server.url, "find");
        assert.deepEqual(found, [
          ".find-dotfile",
          "a/b-c/find-sibling.txt",
          "a/b.find",
          "a/b/c/deep-FIND.txt",
          "finder/",
        ]);
        assert.equal(end.cut, "results");
        const { found: dotted } = await search(`${server.url}x/`, "find");
        assert.deepEqual(dotted, [".hidden/find-under-dot.txt"]);
      } finally {
        await server.shutdown();
      }
      server = await start({ search: { entries: 8 } });
      try {
        const { end } = await search(server.url, "find");
        assert.equal(end.cut, "entries");
        assert.equal(end.visited, 8);
        const missing = await fetch(`${server.url}nowhere/?q=find`);
        await missing.body?.cancel();
        assert.equal(missing.status, 404);
      } finally {
        await server.shutdown();
      }
    } finally {
      await removePrefix(client, prefix);
      client.close();
    }
  },
});
