/**
 * Tests of the S3 store (lib/storage/s3.ts) against a real gateway (see
 * tests/_s3.ts for how to point them at one; ignored without one): stat,
 * open and ranged reads, paginated listings, conditional and racing
 * writes (with RGW's unquoted If-Match), multipart staging in bounded
 * memory, remove, move and mkdir with their conditions, and store errors
 * mapped to statuses without secrets. Plus the error mapping itself, which
 * needs no gateway.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HttpError } from "../lib/http/errors.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { MIN_PART_BYTES, S3Storage } from "../lib/storage/s3.ts";
import {
  conditionalWriteLost,
  md5,
  multipartETag,
  putConditionHeaders,
  S3Client,
  S3Error,
} from "../lib/storage/s3_client.ts";
import { s3ErrorToHttp } from "../lib/storage/s3_errors.ts";
import type { ContentReader, StoredEntry, WriteCondition } from "../lib/storage/storage.ts";
import {
  patternBytes,
  removePrefix,
  s3Config,
  s3Ignored,
  sha256Hex,
  testClient,
  testPrefix,
} from "./_s3.ts";

const text = new TextEncoder();
const ANYTHING: WriteCondition = { check: () => {} };
const ONLY_NEW: WriteCondition = {
  check(current: StoredEntry | null) {
    if (current !== null) throw new HttpError(412, "exists");
  },
};
function ifMatch(etag: string): WriteCondition {
  return {
    check(current: StoredEntry | null) {
      if (current?.etag !== etag) throw new HttpError(412, "changed");
    },
  };
}

interface Fixture {
  storage: S3Storage;
  client: S3Client;
  prefix: string;
}

/** Runs `fn` with a store over a fresh prefix, removing everything under it afterwards. */
function s3Test(
  name: string,
  fn: (fixture: Fixture) => Promise<void>,
  options: { partBytes?: number; listPageKeys?: number; heldBytes?: number } = {},
): void {
  Deno.test({
    name: `s3 store: ${name}`,
    ignore: s3Ignored,
    async fn() {
      const client = testClient();
      const prefix = testPrefix(name);
      const storage = new S3Storage({ client, prefix, locks: new KeyedLock(), ...options });
      try {
        await fn({ storage, client, prefix });
      } finally {
        await removePrefix(client, prefix);
        await storage.close();
      }
    },
  });
}

async function put(storage: S3Storage, path: string[], body: Uint8Array | string) {
  const staged = await storage.stage(path);
  await staged.write(typeof body === "string" ? text.encode(body) : body);
  const [committed] = await storage.commit([{ staged, condition: ANYTHING }]);
  return committed;
}

async function readRange(reader: ContentReader, start: number, length: number) {
  await reader.seek(start, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await reader.read(out.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return out.subarray(0, filled);
}

async function rejectsWith(promise: Promise<unknown>, status: number): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HttpError, `an HttpError expected, got ${error}`);
    assert.equal(error.status, status, error.message);
    return error;
  }
  assert.fail(`expected a ${status}`);
}

// --- Without a gateway -----------------------------------------------------------

Deno.test("s3 errors: each store failure becomes its status, with a safe message", () => {
  const cases: [S3Error, number][] = [
    [new S3Error(503, "SlowDown", "PutObject: 503 SlowDown", "7"), 503],
    [new S3Error(0, "Unreachable", "HeadObject: connection refused"), 502],
    [new S3Error(0, "Timeout", "HeadObject: no answer"), 504],
    [new S3Error(403, "QuotaExceeded", "PutObject: 403 QuotaExceeded"), 507],
    [new S3Error(403, "AccessDenied", "GetObject: 403 AccessDenied"), 403],
    [new S3Error(404, "NoSuchBucket", "ListObjectsV2: 404 NoSuchBucket"), 502],
    [new S3Error(403, "SignatureDoesNotMatch", "HeadObject: 403"), 502],
    [new S3Error(500, "InternalError", "PutObject: 500"), 502],
    [new S3Error(400, "EntityTooLarge", "PutObject: 400"), 413],
  ];
  for (const [error, status] of cases) {
    const mapped = s3ErrorToHttp(error)!;
    assert.equal(mapped.status, status, error.code);
    assert.ok(
      !/Object|List|connection/.test(mapped.message.replace("object store", "")),
      `no operation details leak: ${mapped.message}`,
    );
  }
  assert.equal(s3ErrorToHttp(new S3Error(503, "SlowDown", "x", "7"))!.headers["Retry-After"], "7");
  assert.equal(s3ErrorToHttp(new S3Error(503, "SlowDown", "x"))!.headers["Retry-After"], "1");
  assert.equal(
    s3ErrorToHttp(new S3Error(400, "Bad\r\nCode", "x"))!.message,
    "The object store failed (error)",
  );
  assert.equal(s3ErrorToHttp(new TypeError("a bug")), null, "not a store error: a 500");
});

Deno.test("s3 quirk: a conditional PutObject sends If-Match without quotes, If-None-Match: * to create", () => {
  assert.deepEqual(putConditionHeaders(null), { "If-None-Match": "*" });
  assert.deepEqual(putConditionHeaders('"abc"'), { "If-Match": "abc" });
  assert.deepEqual(putConditionHeaders('"abc-2"'), { "If-Match": "abc-2" });
});

Deno.test("s3 quirk: a 500 on a conditional PutObject counts as a possibly lost race, like 412", () => {
  assert.equal(conditionalWriteLost(new S3Error(412, "PreconditionFailed", "x")), true);
  assert.equal(
    conditionalWriteLost(new S3Error(500, "UnknownError", "x")),
    true,
    "RGW 16.2's loser",
  );
  assert.equal(conditionalWriteLost(new S3Error(404, "NoSuchKey", "x")), true, "AWS, key deleted");
  assert.equal(conditionalWriteLost(new S3Error(409, "ConditionalRequestConflict", "x")), true);
  assert.equal(conditionalWriteLost(new S3Error(404, "NoSuchBucket", "x")), false);
  assert.equal(conditionalWriteLost(new S3Error(503, "SlowDown", "x")), false);
  assert.equal(conditionalWriteLost(new S3Error(0, "Unreachable", "x")), false);
});

Deno.test("s3 multipart ETag: MD5 of the parts' MD5s, a dash and the count", () => {
  const parts = [text.encode("a"), text.encode("b")];
  const joined = new Uint8Array(32);
  joined.set(md5(parts[0]), 0);
  joined.set(md5(parts[1]), 16);
  const hex = Array.from(md5(joined), (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(multipartETag(parts.map(md5)), `"${hex}-2"`);
});

// --- Against the gateway -----------------------------------------------------------

Deno.test({
  name:
    "s3 quirk on the gateway: quoted If-Match is refused by RGW, the store's unquoted form works",
  ignore: s3Ignored,
  async fn() {
    const client = testClient();
    const prefix = testPrefix("quirk");
    try {
      const key = `${prefix}q.txt`;
      const { etag } = await client.putObject(key, text.encode("one"));
      assert.match(etag, /^"[0-9a-f]{32}"$/, "the store's ETag, quoted");
      const head = await client.send("HeadObject", "HEAD", client.url(key));
      const isRgw = head.headers.has("x-rgw-object-type");
      const quoted = await client.putObject(key, text.encode("two"), { "If-Match": etag }).then(
        () => 200,
        (error: S3Error) => error.status,
      );
      // RGW 16.2 compares with the unquoted ETag; AWS documents the quoted form.
      if (isRgw) assert.equal(quoted, 412, "RGW 16.2's quirk: the quoted ETag never matches");
      const current = (await client.headObject(key))!.etag;
      const unquoted = await client.putObject(
        key,
        text.encode("three"),
        putConditionHeaders(current),
      );
      assert.notEqual(unquoted.etag, current, "replaced");
      await assert.rejects(
        client.putObject(key, text.encode("four"), putConditionHeaders(current)),
        (error: S3Error) => error.status === 412,
        "a stale ETag, unquoted, is still refused",
      );
      await assert.rejects(
        client.putObject(key, text.encode("five"), putConditionHeaders(null)),
        (error: S3Error) => error.status === 412,
        "If-None-Match: * on an existing key",
      );
    } finally {
      await removePrefix(client, prefix);
      client.close();
    }
  },
});

s3Test(
  "stat and open: files, marker and implicit directories, missing paths",
  async ({ storage }) => {
    const committed = await put(storage, ["dir", "a.txt"], "hello world");
    assert.equal(committed.created, true);
    assert.match(committed.entry.etag, /^"[0-9a-f]{32}"$/);
    const file = await storage.stat(["dir", "a.txt"]);
    assert.equal(file?.kind, "file");
    assert.equal(file?.size, 11);
    assert.equal(file?.etag, committed.entry.etag, "the committed ETag is what a read sees");
    assert.ok(Math.abs(file!.lastModified - Date.now()) < 60_000);
    assert.equal(
      (await storage.stat(["dir"]))?.kind,
      "directory",
      "a prefix with something under it",
    );
    assert.equal((await storage.stat([]))?.kind, "directory");
    assert.equal(await storage.stat(["nope"]), null);
    assert.equal(await storage.stat(["di"]), null, "a key prefix is not a directory");
    assert.equal(await storage.open(["dir", "a.txt", "x"]), null);
    assert.equal(await storage.mkdir(["empty"]), true);
    const empty = await storage.stat(["empty"]);
    assert.equal(empty?.kind, "directory", "a marker alone makes a directory");
    assert.ok(empty!.lastModified > 0, "a marker gives the directory a time");
    assert.deepEqual(await storage.list(["empty"]), []);

    const opened = await storage.open(["dir", "a.txt"]);
    assert.ok(opened !== null && "content" in opened);
    assert.ok(!(opened.content instanceof Uint8Array));
    const reader = opened.content;
    try {
      assert.equal(new TextDecoder().decode(await readRange(reader, 6, 5)), "world");
      assert.equal(new TextDecoder().decode(await readRange(reader, 0, 5)), "hello", "backwards");
      assert.equal(new TextDecoder().decode(await readRange(reader, 2, 3)), "llo", "a short skip");
      await reader.seek(11, Deno.SeekMode.Start);
      assert.equal(await reader.read(new Uint8Array(4)), null, "at the end");
      assert.equal(await reader.seek(-5, Deno.SeekMode.End), 6);
    } finally {
      reader.close();
    }
    assert.equal((await storage.open(["dir"]) as StoredEntry).kind, "directory");
  },
);

s3Test(
  "ranged reads of a large object start where asked, and a changed object fails the read",
  async ({ storage, client, prefix }) => {
    const body = patternBytes(3 * 1024 * 1024 + 17, 7);
    await put(storage, ["big.bin"], body);
    const opened = await storage.open(["big.bin"]);
    assert.ok(opened !== null && "content" in opened && !(opened.content instanceof Uint8Array));
    const reader = opened.content;
    try {
      for (const [start, length] of [[0, 10], [2_000_000, 100_000], [5, 5], [body.length - 3, 3]]) {
        assert.deepEqual(
          await readRange(reader, start, length),
          body.subarray(start, start + length),
        );
      }
      // Another writer replaces the object: the pinned reader must not mix versions.
      await client.putObject(`${prefix}big.bin`, text.encode("replaced"));
      await assert.rejects(readRange(reader, 1_000_000, 10), /changed/);
    } finally {
      reader.close();
    }
  },
);

s3Test(
  "list: files and directories by name, every page followed, the marker left out",
  async ({ storage }) => {
    await storage.mkdir(["d"]);
    const names: string[] = [];
    for (let i = 0; i < 11; i++) names.push(`f${String(i).padStart(2, "0")}.txt`);
    await Promise.all(names.map((name, i) => put(storage, ["d", name], "x".repeat(i))));
    await put(storage, ["d", "sub", "deep.txt"], "deep");
    await storage.mkdir(["d", "empty"]);
    await put(storage, ["d", "e&<f> +%20.txt"], "odd");
    const listed = await storage.list(["d"]);
    const byName = new Map(listed.map((entry) => [entry.name, entry]));
    assert.deepEqual(
      [...byName.keys()].sort(),
      [...names, "e&<f> +%20.txt", "empty", "sub"].sort(),
      "pages of 3 keys, all of them, no marker",
    );
    assert.equal(listed.length, byName.size, "no name twice");
    assert.equal(byName.get("f05.txt")?.size, 5);
    assert.equal(byName.get("f05.txt")?.etag, (await storage.stat(["d", "f05.txt"]))?.etag);
    assert.equal(byName.get("sub")?.kind, "directory");
    assert.equal(byName.get("empty")?.kind, "directory");
    assert.ok(listed.some((entry) => entry.name === "d") === false);
    await rejectsWith(storage.list(["nothing"]), 404);
    await rejectsWith(storage.list(["d", "f01.txt"]), 404);
    assert.deepEqual((await storage.list([])).map((entry) => entry.name), ["d"]);
  },
  { listPageKeys: 3 },
);

s3Test(
  "listTree pages through every key below a directory, each directory once and before its contents, as list sees them",
  async ({ storage, client, prefix }) => {
    const keys = [
      "t/a.txt",
      "t/b-c/x.txt",
      "t/b.txt",
      "t/b/deep/er/y.txt",
      "t/b/z.txt",
      "t/empty/", // a marker alone: an empty directory
      "t/m/",
      "t/m/n.txt",
      "t/bad//unreachable.txt",
      "u/outside.txt",
    ];
    for (const key of keys) await client.putObject(prefix + key, new Uint8Array(key.length));
    const pages: string[][] = [];
    const seen: string[] = [];
    for await (const page of storage.listTree!(["t"])) {
      pages.push(page.map(({ path }) => path.join("/")));
      for (const { path, entry } of page) {
        seen.push(path.join("/") + (entry.kind === "directory" ? "/" : ""));
        if (entry.kind === "file") assert.equal(entry.size, `t/${path.join("/")}`.length);
      }
    }
    assert.equal(pages.length, 3, "9 keys in pages of 3");
    // The oracle: a walk of the same directory with list, one level at a time.
    const walked: string[] = [];
    const walk = async (path: string[]) => {
      for (const entry of await storage.list(["t", ...path])) {
        const names = [...path, entry.name];
        walked.push(names.join("/") + (entry.kind === "directory" ? "/" : ""));
        if (entry.kind === "directory") await walk(names);
      }
    };
    await walk([]);
    // "bad//unreachable.txt" lists "bad" as a folder with nothing reachable in it; listTree skips it.
    assert.deepEqual([...seen].sort(), walked.filter((name) => name !== "bad/").sort());
    assert.equal(new Set(seen).size, seen.length, "each entry once");
    for (const [index, name] of seen.entries()) {
      const parent = name.replace(/[^/]+\/?$/, "");
      if (parent !== "") assert.ok(seen.indexOf(parent) < index, `${parent} before ${name}`);
    }
    await rejectsWith(storage.listTree!(["nothing"]).next(), 404);
    // A directory passed to next() is skipped: the next page starts after its keys.
    for (let i = 1; i <= 9; i++) await client.putObject(`${prefix}v/.hid/${i}`, new Uint8Array(1));
    await client.putObject(`${prefix}v/.hid0`, new Uint8Array(1));
    await client.putObject(`${prefix}v/after.txt`, new Uint8Array(1));
    const tree = storage.listTree!(["v"]);
    const first = await tree.next();
    assert.deepEqual(
      first.value!.map(({ path, entry }) => `${path.join("/")} ${entry.kind}`),
      [".hid directory", ".hid/1 file", ".hid/2 file", ".hid/3 file"],
    );
    const rest = [];
    for (let page = await tree.next([".hid"]); !page.done; page = await tree.next()) {
      rest.push(...page.value.map(({ path }) => path.join("/")));
    }
    assert.deepEqual(rest, [".hid0", "after.txt"]);
    assert.deepEqual(
      (await Array.fromAsync(storage.listTree!(["u"]))).flat().map(({ path }) => path),
      [["outside.txt"]],
    );
  },
  { listPageKeys: 3 },
);

/**
 * A client whose next PutObject of `key` is preceded by another writer's
 * (through a second client): another instance winning the race between the
 * store's check and its conditional PUT, deterministically.
 */
class RacedClient extends S3Client {
  #race: { key: string; body: string } | null = null;
  readonly #other = testClient();

  raceNextPut(key: string, body: string): void {
    this.#race = { key, body };
  }

  override close(): void {
    this.#other.close();
    super.close();
  }

  override async putObject(key: string, body: Uint8Array, headers: Record<string, string> = {}) {
    const race = this.#race;
    if (race !== null && race.key === key) {
      this.#race = null;
      await this.#other.putObject(key, text.encode(race.body));
    }
    return await super.putObject(key, body, headers);
  }
}

function racedTest(
  name: string,
  fn: (fixture: Fixture & { client: RacedClient }) => Promise<void>,
) {
  Deno.test({
    name: `s3 store: ${name}`,
    ignore: s3Ignored,
    async fn() {
      const client = new RacedClient(s3Config!);
      const prefix = testPrefix(name);
      const storage = new S3Storage({ client, prefix, locks: new KeyedLock() });
      try {
        await fn({ storage, client, prefix });
      } finally {
        await removePrefix(client, prefix);
        await storage.close();
      }
    },
  });
}

s3Test(
  "PutObject signs its body: the store verifies the SHA-256 (a body changed on the way is 400) and its ETag is the body's MD5",
  async ({ client, prefix }) => {
    const body = patternBytes(100_000, 9);
    const { etag } = await client.putObject(`${prefix}signed.bin`, body);
    assert.equal(etag, `"${createHash("md5").update(body).digest("hex")}"`);
    const altered = body.slice();
    altered[500] ^= 1;
    // What a body altered after signing looks like to the store: the signed hash of `body`.
    const signedFor = createHash("sha256").update(body).digest("hex");
    await assert.rejects(
      client.sendBody("PutObject", "PUT", client.url(`${prefix}signed.bin`), altered, {
        headers: { "x-amz-content-sha256": signedFor },
      }),
      (error: unknown) => error instanceof S3Error && error.status === 400,
    );
    assert.deepEqual((await client.getObjectBytes(`${prefix}signed.bin`))?.bytes, body);
  },
);

s3Test("conditional commits: create-only and if-match", async ({ storage }) => {
  const first = await put(storage, ["c.txt"], "v1");
  const staged = await storage.stage(["c.txt"]);
  await staged.write(text.encode("v2"));
  await rejectsWith(storage.commit([{ staged, condition: ONLY_NEW }]), 412);
  assert.equal((await storage.stat(["c.txt"]))?.etag, first.entry.etag, "nothing changed");

  const second = await storage.stage(["c.txt"]);
  await second.write(text.encode("v2"));
  const [replaced] = await storage.commit([{
    staged: second,
    condition: ifMatch(first.entry.etag),
  }]);
  assert.equal(replaced.created, false);
  assert.equal(new TextDecoder().decode(await readAll(storage, ["c.txt"])), "v2");
  const stale = await storage.stage(["c.txt"]);
  await stale.write(text.encode("v3"));
  await rejectsWith(storage.commit([{ staged: stale, condition: ifMatch(first.entry.etag) }]), 412);
});

racedTest(
  "another instance writing between the check and the PUT: the store refuses, the condition is judged again",
  async ({ storage, client, prefix }) => {
    const first = await put(storage, ["c.txt"], "v1");
    const staged = await storage.stage(["c.txt"]);
    await staged.write(text.encode("mine"));
    let checks = 0;
    const condition: WriteCondition = {
      check(current) {
        checks++;
        ifMatch(first.entry.etag).check(current);
      },
    };
    client.raceNextPut(`${prefix}c.txt`, "other instance");
    await rejectsWith(storage.commit([{ staged, condition }]), 412);
    assert.equal(checks, 2, "checked, refused by the store, checked again against the winner");
    assert.equal(new TextDecoder().decode(await readAll(storage, ["c.txt"])), "other instance");

    // Create-only: the other instance creates the file first.
    const fresh = await storage.stage(["new.txt"]);
    await fresh.write(text.encode("mine"));
    client.raceNextPut(`${prefix}new.txt`, "theirs");
    await rejectsWith(storage.commit([{ staged: fresh, condition: ONLY_NEW }]), 412);
    assert.equal(new TextDecoder().decode(await readAll(storage, ["new.txt"])), "theirs");
  },
);

s3Test(
  "a PUT is put conditional on what its stage saw: a version written meanwhile by another instance is judged, never overwritten blindly",
  async ({ storage, client, prefix }) => {
    const first = await put(storage, ["s.txt"], "v1");
    // Staged with its condition checked early (as PUT does), then another instance writes.
    const staged = await storage.stage(["s.txt"], ifMatch(first.entry.etag));
    await staged.write(text.encode("mine"));
    await client.putObject(`${prefix}s.txt`, text.encode("other instance"));
    await rejectsWith(storage.commit([{ staged, condition: ifMatch(first.entry.etag) }]), 412);
    assert.equal(new TextDecoder().decode(await readAll(storage, ["s.txt"])), "other instance");

    // Unconditional: the write goes ahead over the other version, after checking it.
    const seen: (string | undefined)[] = [];
    const anyVersion: WriteCondition = { check: (current) => void seen.push(current?.etag) };
    const again = await storage.stage(["s.txt"], anyVersion);
    await again.write(text.encode("mine"));
    const { etag: theirs } = await client.putObject(`${prefix}s.txt`, text.encode("theirs"));
    const [replaced] = await storage.commit([{ staged: again, condition: anyVersion }]);
    assert.equal(seen.at(-1), theirs, "the last check saw the version it replaced");
    assert.equal(replaced.created, false);
    assert.equal(new TextDecoder().decode(await readAll(storage, ["s.txt"])), "mine");

    // Nothing there when staged, created meanwhile: replaced (204), not created (201).
    const fresh = await storage.stage(["n.txt"], ANYTHING);
    await fresh.write(text.encode("mine"));
    await client.putObject(`${prefix}n.txt`, text.encode("theirs"));
    const [committed] = await storage.commit([{ staged: fresh, condition: ANYTHING }]);
    assert.equal(committed.created, false);
    const createOnly = await storage.stage(["m.txt"], ONLY_NEW);
    await createOnly.write(text.encode("mine"));
    await client.putObject(`${prefix}m.txt`, text.encode("theirs"));
    await rejectsWith(storage.commit([{ staged: createOnly, condition: ONLY_NEW }]), 412);
    assert.equal(new TextDecoder().decode(await readAll(storage, ["m.txt"])), "theirs");
  },
);

racedTest(
  "an unconditional write that loses the race is retried on the winner's version",
  async ({ storage, client, prefix }) => {
    await put(storage, ["r.txt"], "v1");
    const staged = await storage.stage(["r.txt"]);
    await staged.write(text.encode("mine"));
    const seen: (string | undefined)[] = [];
    client.raceNextPut(`${prefix}r.txt`, "racer");
    const [committed] = await storage.commit([
      { staged, condition: { check: (current) => void seen.push(current?.etag) } },
    ]);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1], "the second check saw the racer's version");
    assert.equal(committed.created, false);
    assert.equal(new TextDecoder().decode(await readAll(storage, ["r.txt"])), "mine");
  },
);

async function readAll(storage: S3Storage, path: string[]): Promise<Uint8Array> {
  const opened = await storage.open(path);
  assert.ok(opened !== null && "content" in opened);
  if (opened.content instanceof Uint8Array) return opened.content;
  try {
    return await readRange(opened.content, 0, opened.entry.size);
  } finally {
    opened.content.close();
  }
}

s3Test(
  "an announced length sizes the buffer once (up to a part, within a budget); an unknown one grows it",
  async ({ storage, prefix, client }) => {
    const peak = (staged: unknown) => (staged as { peakBufferedBytes: number }).peakBufferedBytes;
    const body = patternBytes(600 * 1024, 5);
    const announced = await storage.stage(["sized.bin"], ANYTHING, body.length);
    const unknown = await storage.stage(["grown.bin"], ANYTHING);
    for (let offset = 0; offset < body.length; offset += 64 * 1024) {
      await announced.write(body.subarray(offset, offset + 64 * 1024));
      await unknown.write(body.subarray(offset, offset + 64 * 1024));
    }
    assert.equal(peak(announced), body.length, "one buffer of the announced size");
    assert.equal(peak(unknown), 1024 * 1024, "doubled from 64 KiB to the next power of two");
    await storage.commit([{ staged: announced, condition: ANYTHING }]);
    await storage.discard(unknown);
    const stored = await client.getObjectBytes(`${prefix}sized.bin`);
    assert.deepEqual(stored?.bytes, body);

    // Announced but not sent: at most 64 MiB of such buffers in all (eight parts), then growth.
    const part = storage.partBytes;
    const waiting = [];
    for (let i = 0; i < (64 * 1024 * 1024) / part; i++) {
      const staged = await storage.stage([`w${i}.bin`], ANYTHING, 1024 * 1024 * 1024);
      await staged.write(new Uint8Array(1));
      assert.equal(peak(staged), part, "a large announced body gets one part");
      waiting.push(staged);
    }
    const over = await storage.stage(["over.bin"], ANYTHING, part);
    await over.write(new Uint8Array(1));
    assert.equal(peak(over), 64 * 1024, "past the budget: the small first buffer");
    await storage.discard(waiting.pop()!);
    const after = await storage.stage(["after.bin"], ANYTHING, part);
    await after.write(new Uint8Array(1));
    assert.equal(peak(after), part, "a released buffer gives its budget back");
    for (const staged of [...waiting, over, after]) await storage.discard(staged);
  },
);

s3Test(
  "a body over one part is a multipart upload holding at most two parts in memory",
  async ({ storage, client, prefix }) => {
    const body = patternBytes(12 * 1024 * 1024 + 5, 3);
    const staged = await storage.stage(["m", "big.bin"]);
    for (let offset = 0; offset < body.length; offset += 64 * 1024) {
      await staged.write(body.subarray(offset, offset + 64 * 1024));
    }
    const s3Staged = staged as unknown as { multipart: boolean; peakBufferedBytes: number };
    assert.equal(s3Staged.multipart, true);
    assert.ok(
      s3Staged.peakBufferedBytes <= 2 * MIN_PART_BYTES,
      `at most two parts in memory: ${s3Staged.peakBufferedBytes}`,
    );
    assert.equal(await storage.stat(["m", "big.bin"]), null, "invisible until committed");
    const [committed] = await storage.commit([{ staged, condition: ONLY_NEW }]);
    assert.equal(committed.created, true);
    const head = await client.headObject(`${prefix}m/big.bin`);
    assert.equal(head?.size, body.length);
    assert.equal(head?.etag, committed.entry.etag, "the computed multipart ETag is the store's");
    assert.match(committed.entry.etag, /-3"$/, "three parts of 5 MiB");
    assert.equal(await sha256Hex(await readAll(storage, ["m", "big.bin"])), await sha256Hex(body));
    assert.deepEqual(await client.listMultipartUploads(prefix), [], "no upload left behind");
  },
  { partBytes: MIN_PART_BYTES },
);

s3Test(
  "a discarded or refused multipart write leaves neither object nor upload",
  async ({ storage, client, prefix }) => {
    const body = patternBytes(6 * 1024 * 1024, 5);
    const dropped = await storage.stage(["gone.bin"]);
    await dropped.write(body);
    assert.equal((await client.listMultipartUploads(prefix)).length, 1, "one upload in progress");
    await storage.discard(dropped);
    assert.deepEqual(await client.listMultipartUploads(prefix), []);
    await assert.rejects(dropped.write(body), /spent/);

    await put(storage, ["taken.bin"], "small");
    const refused = await storage.stage(["taken.bin"]);
    await refused.write(body);
    await rejectsWith(storage.commit([{ staged: refused, condition: ONLY_NEW }]), 412);
    assert.equal((await storage.stat(["taken.bin"]))?.size, 5, "the old version stays");
    assert.deepEqual(await client.listMultipartUploads(prefix), []);
  },
  { partBytes: MIN_PART_BYTES },
);

s3Test(
  "ended small files stay in memory within the budget, past it they go up at once",
  async ({ storage, client, prefix }) => {
    const first = await storage.stage(["form", "a.txt"]);
    await first.write(patternBytes(600_000, 1));
    await first.end!();
    assert.equal(storage.heldBytes, 600_000, "within the budget: held");
    const second = await storage.stage(["form", "b.txt"]);
    await second.write(patternBytes(600_000, 2));
    await second.end!();
    assert.equal(storage.heldBytes, 600_000, "past the budget: not held");
    assert.equal(
      (second as unknown as { multipart: boolean }).multipart,
      true,
      "sent as a one-part upload",
    );
    assert.equal((await client.listMultipartUploads(prefix)).length, 1);
    const committed = await storage.commit([
      { staged: first, condition: ONLY_NEW },
      { staged: second, condition: ONLY_NEW },
    ]);
    assert.deepEqual(committed.map((c) => c.created), [true, true]);
    assert.equal(storage.heldBytes, 0, "given back");
    assert.deepEqual(await readAll(storage, ["form", "b.txt"]), patternBytes(600_000, 2));
    assert.deepEqual(await client.listMultipartUploads(prefix), []);
  },
  { heldBytes: 1_000_000 },
);

s3Test("a commit of several checks every condition before writing any", async ({ storage }) => {
  await put(storage, ["f", "b.txt"], "old");
  const a = await storage.stage(["f", "a.txt"]);
  await a.write(text.encode("a"));
  const b = await storage.stage(["f", "b.txt"]);
  await b.write(text.encode("b"));
  await rejectsWith(
    storage.commit([{ staged: a, condition: ONLY_NEW }, { staged: b, condition: ONLY_NEW }]),
    412,
  );
  assert.equal(await storage.stat(["f", "a.txt"]), null, "nothing written");
});

s3Test("writes under a file, and files over directories, are 409", async ({ storage }) => {
  await put(storage, ["file.txt"], "x");
  await rejectsWith(storage.stage(["file.txt", "inner.txt"]), 409);
  await rejectsWith(storage.mkdir(["file.txt", "d"]), 409);
  await rejectsWith(storage.mkdir(["file.txt"]), 409);
  await put(storage, ["dir", "x.txt"], "x");
  const staged = await storage.stage(["dir"]);
  await staged.write(text.encode("y"));
  await rejectsWith(storage.commit([{ staged, condition: ANYTHING }]), 409);
});

s3Test(
  "remove: conditions, empty and non-empty directories, missing paths",
  async ({ storage }) => {
    const file = await put(storage, ["x.txt"], "x");
    await rejectsWith(storage.remove(["x.txt"], ifMatch('"stale"')), 412);
    assert.notEqual(await storage.stat(["x.txt"]), null, "kept");
    await storage.remove(["x.txt"], ifMatch(file.entry.etag));
    assert.equal(await storage.stat(["x.txt"]), null);
    await rejectsWith(storage.remove(["x.txt"], ANYTHING), 404);
    await rejectsWith(storage.remove([], ANYTHING), 403);

    await storage.mkdir(["d"]);
    await put(storage, ["d", "in.txt"], "in");
    await rejectsWith(storage.remove(["d"], ANYTHING), 409);
    await storage.remove(["d", "in.txt"], ANYTHING);
    await storage.remove(["d"], ANYTHING);
    assert.equal(await storage.stat(["d"]), null, "the marker is gone");
  },
);

s3Test(
  "move: a file with its condition, Overwrite, missing parents, directories",
  async ({ storage }) => {
    const a = await put(storage, ["a.txt"], "alpha");
    await rejectsWith(
      storage.move(["a.txt"], ["b.txt"], { overwrite: true, condition: ifMatch('"x"') }),
      412,
    );
    assert.equal(
      await storage.move(["a.txt"], ["b.txt"], {
        overwrite: false,
        condition: ifMatch(a.entry.etag),
      }),
      true,
    );
    assert.equal(await storage.stat(["a.txt"]), null, "the source is gone");
    assert.equal(new TextDecoder().decode(await readAll(storage, ["b.txt"])), "alpha");

    await put(storage, ["c.txt"], "gamma");
    await rejectsWith(
      storage.move(["c.txt"], ["b.txt"], { overwrite: false, condition: ANYTHING }),
      412,
    );
    assert.equal(
      await storage.move(["c.txt"], ["b.txt"], { overwrite: true, condition: ANYTHING }),
      false,
    );
    assert.equal(new TextDecoder().decode(await readAll(storage, ["b.txt"])), "gamma");

    await rejectsWith(
      storage.move(["b.txt"], ["no", "parent.txt"], { overwrite: true, condition: ANYTHING }),
      409,
    );
    await storage.mkdir(["dir"]);
    assert.equal(
      await storage.move(["b.txt"], ["dir", "b.txt"], { overwrite: false, condition: ANYTHING }),
      true,
    );
    assert.equal(
      await storage.move(["dir"], ["dir2"], { overwrite: false, condition: ANYTHING }),
      true,
    );
    assert.equal(new TextDecoder().decode(await readAll(storage, ["dir2", "b.txt"])), "gamma");
    assert.equal(await storage.stat(["dir"]), null, "the source directory is gone");
    assert.equal(
      await storage.move(["dir2"], ["dir"], { overwrite: false, condition: ANYTHING }),
      true,
    );
    await rejectsWith(
      storage.move(["missing"], ["m2"], { overwrite: false, condition: ANYTHING }),
      404,
    );
    await put(storage, ["e.txt"], "e");
    await rejectsWith(
      storage.move(["e.txt"], ["dir"], { overwrite: false, condition: ANYTHING }),
      412,
    );
    // With overwrite, a file replaces a whole directory (RFC 4918 §9.9.3).
    assert.equal(
      await storage.move(["e.txt"], ["dir"], { overwrite: true, condition: ANYTHING }),
      false,
    );
    assert.equal(new TextDecoder().decode(await readAll(storage, ["dir"])), "e");
    assert.equal(await storage.stat(["dir", "b.txt"]), null, "the replaced tree is gone");
  },
);

s3Test(
  "stale multipart uploads (a dead instance's) are aborted at start-up, fresh ones kept",
  async ({ storage, client, prefix }) => {
    await client.createMultipartUpload(`${prefix}interrupted.bin`);
    assert.deepEqual(
      await storage.removeStaleTemps(),
      [],
      "a fresh upload may belong to a live instance",
    );
    assert.equal((await client.listMultipartUploads(prefix)).length, 1);
    // Every upload counts as stale when the cut-off is in the future.
    assert.deepEqual(await storage.removeStaleTemps(-60_000), [`${prefix}interrupted.bin`]);
    assert.deepEqual(await client.listMultipartUploads(prefix), []);
  },
);

s3Test(
  "mkdir: new, existing, and made by another instance meanwhile",
  async ({ storage, client, prefix }) => {
    assert.equal(await storage.mkdir(["n", "m"]), true);
    assert.equal(await storage.mkdir(["n", "m"]), false);
    assert.equal((await storage.stat(["n"]))?.kind, "directory", "its parent exists as a prefix");
    await client.putObject(`${prefix}other/`, new Uint8Array(0));
    assert.equal(await storage.mkdir(["other"]), false);
    assert.equal(await storage.mkdir([]), false);
  },
);

s3Test(
  "names with spaces, plus signs, ampersands, percent signs and non-ASCII round-trip",
  async ({ storage, client, prefix }) => {
    const names = ["a b.txt", "c+d.txt", "e&f.txt", "g%20h.txt", "ünï cødé ✓.txt", "q?x=1#y"];
    for (const name of names) await put(storage, ["n", name], name);
    const listed = (await storage.list(["n"])).map((entry) => entry.name).sort();
    assert.deepEqual(listed, [...names].sort());
    for (const name of names) {
      assert.equal(new TextDecoder().decode(await readAll(storage, ["n", name])), name);
    }
    assert.ok(await client.headObject(`${prefix}n/c+d.txt`), "stored under the literal key");
  },
);

Deno.test({
  name:
    "s3 store: an unreachable store, a missing bucket and wrong credentials are 502, with no secret",
  ignore: s3Ignored,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = listener.addr.port;
    listener.close();
    const secret = "wrong-secret-must-not-leak";
    const configs = [
      { ...s3Config!, endpoint: `http://127.0.0.1:${closedPort}` },
      { ...s3Config!, bucket: "filedrop-no-such-bucket" },
      {
        ...s3Config!,
        credentials: { accessKeyId: s3Config!.credentials.accessKeyId, secretAccessKey: secret },
      },
    ];
    for (const config of configs) {
      const storage = new S3Storage({
        client: new S3Client(config),
        prefix: "",
        locks: new KeyedLock(),
      });
      const error = await rejectsWith(storage.list([]), 502);
      assert.ok(!error.message.includes(secret) && !error.message.includes("127.0.0.1"));
      assert.ok(!error.message.includes(config.credentials.secretAccessKey));
    }
  },
});
