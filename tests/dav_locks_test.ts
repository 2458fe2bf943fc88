/**
 * The WebDAV lock system over the fs store's lock table: conflict rules,
 * timeouts, refresh, release, and two stores on one ROOT (as two workers or
 * instances have) seeing each other's locks and never both winning, on the
 * fs store and (with a gateway, see tests/_s3.ts) over S3.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import {
  conflictingLocks,
  DavLocks,
  LockConflictError,
  MAX_LOCK_SECONDS,
  parseTimeout,
} from "../lib/dav/locks.ts";
import type { LockRequest } from "../lib/dav/locks.ts";
import { FsLockTable } from "../lib/storage/lock_table.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { STATE_DIR } from "../lib/storage/temp_files.ts";
import { S3LockTable } from "../lib/storage/s3_lock_table.ts";
import { removePrefix, s3Ignored, testClient, testPrefix } from "./_s3.ts";

/** Two lock systems (separate tables, queues and clocks' views) on one fresh ROOT. */
async function withTwoStores(
  fn: (a: DavLocks, b: DavLocks, root: string, clock: { now: number }) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-davlocks-" });
  const clock = { now: 1_000_000 };
  const tables = [0, 1].map(() => new FsLockTable(root, new KeyedLock(), false));
  try {
    await fn(
      new DavLocks(tables[0], () => clock.now),
      new DavLocks(tables[1], () => clock.now),
      root,
      clock,
    );
  } finally {
    for (const table of tables) table.close();
    await Deno.remove(root, { recursive: true });
  }
}

function request(p: string[], options: Partial<LockRequest> = {}): LockRequest {
  return { path: p, depth: "0", scope: "exclusive", owner: "", timeoutSeconds: 60, ...options };
}

async function refused(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LockConflictError) return error.conflicts.map((lock) => lock.token);
    throw error;
  }
  assert.fail("the lock was granted");
}

Deno.test("lock system: a lock granted by one store is seen and enforced by another", async () => {
  await withTwoStores(async (a, b, root) => {
    const owner = '<D:owner xmlns:D="DAV:"><D:href>mailto:me@example.com</D:href></D:owner>';
    const granted = await a.lock(request(["f.txt"], { owner }));
    assert.match(granted.token, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.deepEqual(await b.live(), [granted]);
    assert.equal((await b.live())[0].owner, owner, "owner XML kept verbatim");
    assert.deepEqual(await refused(b.lock(request(["f.txt"]))), [granted.token]);
    assert.deepEqual(await refused(b.lock(request(["f.txt"], { scope: "shared" }))), [
      granted.token,
    ]);
    // Other paths are free.
    await b.lock(request(["g.txt"]));
    const table = path.join(root, STATE_DIR, "dav", "locks.json");
    assert.equal((await Deno.stat(table)).isFile, true);
    assert.equal(await b.unlock(granted.token, ["f.txt"]), "unlocked");
    assert.equal((await a.live()).length, 1);
  });
});

Deno.test("lock system: shared locks admit each other, not an exclusive one", async () => {
  await withTwoStores(async (a, b) => {
    const first = await a.lock(request(["f"], { scope: "shared" }));
    const second = await b.lock(request(["f"], { scope: "shared" }));
    assert.notEqual(first.token, second.token);
    assert.deepEqual(
      (await refused(a.lock(request(["f"])))).sort(),
      [first.token, second.token].sort(),
    );
  });
});

Deno.test("lock system: depth infinity covers members, depth 0 does not", async () => {
  await withTwoStores(async (a, b) => {
    const tree = await a.lock(request(["c"], { depth: "infinity" }));
    assert.deepEqual(await refused(b.lock(request(["c", "d", "x"]))), [tree.token]);
    await b.lock(request(["other"]));
    await a.unlock(tree.token, ["c"]);
    // A member locked first keeps a depth-infinity lock off its collection...
    const member = await b.lock(request(["c", "d", "x"]));
    assert.deepEqual(await refused(a.lock(request(["c"], { depth: "infinity" }))), [member.token]);
    // ...but not a depth-0 one, which does not reach it.
    const shallow = await a.lock(request(["c"]));
    assert.deepEqual(await refused(b.lock(request(["c"], { scope: "shared" }))), [shallow.token]);
    // A lock on ROOT with depth infinity meets everything.
    assert.equal((await refused(b.lock(request([], { depth: "infinity" })))).length, 3);
  });
});

Deno.test("lock system: conflict rules, table-driven", () => {
  const held = (p: string[], depth: "0" | "infinity", scope: "exclusive" | "shared") => ({
    token: `t:${p.join("/")}:${depth}:${scope}`,
    path: p,
    depth,
    scope,
    owner: "",
    timeoutSeconds: 60,
    expiresAt: Infinity,
  });
  const cases: [ReturnType<typeof held>, Pick<LockRequest, "path" | "depth" | "scope">, boolean][] =
    [
      [held(["a"], "0", "exclusive"), { path: ["a"], depth: "0", scope: "shared" }, true],
      [held(["a"], "0", "shared"), { path: ["a"], depth: "0", scope: "shared" }, false],
      [held(["a"], "0", "shared"), { path: ["a"], depth: "infinity", scope: "exclusive" }, true],
      [held(["a"], "0", "exclusive"), { path: ["a", "b"], depth: "0", scope: "exclusive" }, false],
      [
        held(["a"], "infinity", "exclusive"),
        { path: ["a", "b"], depth: "0", scope: "shared" },
        true,
      ],
      [held(["a"], "infinity", "shared"), { path: ["a", "b"], depth: "0", scope: "shared" }, false],
      [held(["a", "b"], "0", "exclusive"), { path: ["a"], depth: "0", scope: "exclusive" }, false],
      [
        held(["a", "b"], "0", "shared"),
        { path: ["a"], depth: "infinity", scope: "exclusive" },
        true,
      ],
      [
        held(["ab"], "0", "exclusive"),
        { path: ["a"], depth: "infinity", scope: "exclusive" },
        false,
      ],
      [
        held(["a"], "infinity", "exclusive"),
        { path: ["ab"], depth: "0", scope: "exclusive" },
        false,
      ],
    ];
  for (const [lock, wanted, conflict] of cases) {
    assert.equal(
      conflictingLocks([lock], wanted).length > 0,
      conflict,
      `${lock.token} vs ${JSON.stringify(wanted)}`,
    );
  }
});

Deno.test("lock system: locks expire, refresh restarts the timeout", async () => {
  await withTwoStores(async (a, b, root, clock) => {
    const lock = await a.lock(request(["f"], { timeoutSeconds: 10 }));
    clock.now += 9_000;
    const refreshed = await b.refresh(new Set([lock.token]), ["f"], 10);
    assert.equal(refreshed?.expiresAt, clock.now + 10_000);
    clock.now += 9_000;
    assert.equal((await a.live()).length, 1, "refreshed: still alive 18 s after it was granted");
    // A refresh needs a token of a lock that covers the path.
    assert.equal(await b.refresh(new Set([lock.token]), ["g"], 10), null);
    assert.equal(await b.refresh(new Set(["urn:uuid:other"]), ["f"], 10), null);
    clock.now += 1_001;
    assert.deepEqual(await a.live(), []);
    // An expired lock is in no one's way, and the next change drops it from the table.
    await b.lock(request(["f"]));
    const stored = JSON.parse(
      await Deno.readTextFile(path.join(root, STATE_DIR, "dav", "locks.json")),
    );
    assert.equal(stored.length, 1);
    assert.equal(await a.refresh(new Set([lock.token]), ["f"], 10), null);
  });
});

Deno.test("lock system: unlock needs the token and a path the lock covers; removeTree drops rooted locks", async () => {
  await withTwoStores(async (a, b, root) => {
    const tree = await a.lock(request(["c"], { depth: "infinity" }));
    const inner = await a.lock(request(["d", "e"]));
    assert.equal(await b.unlock(tree.token, ["elsewhere"]), "not-found");
    assert.equal(await b.unlock("urn:uuid:nothing", ["c"]), "not-found");
    // Any path in its scope names it (RFC 4918 §9.11).
    assert.equal(await b.unlock(tree.token, ["c", "member"]), "unlocked");
    await b.removeTree(["d"]);
    assert.deepEqual(await a.live(), []);
    assert.equal(inner.path.length, 2);
    // An empty table is no file: a write to a ROOT without locks costs one failed open.
    await assert.rejects(
      Deno.stat(path.join(root, STATE_DIR, "dav", "locks.json")),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("lock system: two stores racing for one exclusive lock, 30 rounds: exactly one wins each", async () => {
  await withTwoStores(async (a, b) => {
    for (let round = 0; round < 30; round++) {
      const results = await Promise.allSettled([
        a.lock(request([`f${round}`])),
        b.lock(request([`f${round}`])),
        a.lock(request([`f${round}`])),
      ]);
      assert.equal(results.filter((result) => result.status === "fulfilled").length, 1);
      for (const result of results) {
        if (result.status === "rejected") assert.ok(result.reason instanceof LockConflictError);
      }
    }
    assert.equal((await a.live()).length, 30);
  });
});

Deno.test("lock system: with a principal, only the lock's creator refreshes or releases it", async () => {
  await withTwoStores(async (a, b) => {
    const lock = await a.lock(request(["f"], { principal: "alice" }));
    assert.equal(lock.principal, "alice");
    assert.equal(await b.refresh(new Set([lock.token]), ["f"], 10, "bob"), null);
    assert.equal(await b.refresh(new Set([lock.token]), ["f"], 10), null);
    assert.equal((await b.refresh(new Set([lock.token]), ["f"], 10, "alice"))?.timeoutSeconds, 10);
    assert.equal(await b.unlock(lock.token, ["f"], "bob"), "forbidden");
    assert.equal(await b.unlock(lock.token, ["f"], "alice"), "unlocked");
    // Without auth, locks have no principal and anyone holding the token may use them.
    const open = await a.lock(request(["g"]));
    assert.equal(open.principal, undefined);
    assert.equal(await b.unlock(open.token, ["g"], "anyone"), "unlocked");
  });
});

Deno.test("lock system: Timeout header values", () => {
  const cases: [string | undefined, number][] = [
    [undefined, MAX_LOCK_SECONDS],
    ["Second-60", 60],
    ["second-0", 1],
    ["Second-4100000000", MAX_LOCK_SECONDS],
    ["Infinite", MAX_LOCK_SECONDS],
    ["Infinite, Second-4100000000", MAX_LOCK_SECONDS],
    ["Bogus, Second-120", 120],
    ["Second-", MAX_LOCK_SECONDS],
    ["Second-99999999999999999999", MAX_LOCK_SECONDS],
  ];
  for (const [value, seconds] of cases) assert.equal(parseTimeout(value), seconds, value);
});

Deno.test("lock system: a corrupt table is an error, not an empty one", async () => {
  await withTwoStores(async (a, _b, root) => {
    await Deno.mkdir(path.join(root, STATE_DIR, "dav"), { recursive: true });
    await Deno.writeTextFile(path.join(root, STATE_DIR, "dav", "locks.json"), '[{"token":1}]');
    await assert.rejects(a.live(), /corrupt/);
  });
});

Deno.test({
  name:
    "lock system over S3: two stores on one prefix see each other's locks; races have one winner",
  ignore: s3Ignored,
  async fn() {
    const prefix = testPrefix("dav-locks");
    const clients = [testClient(), testClient()];
    const [a, b] = clients.map((client) =>
      new DavLocks(new S3LockTable(client, prefix, new KeyedLock()))
    );
    try {
      // A change that finds no locks and leaves none writes nothing.
      assert.equal(await a.unlock("opaquelocktoken:none", ["f.txt"]), "not-found");
      assert.deepEqual((await clients[0].listObjects({ prefix })).objects, []);
      const lock = await a.lock(request(["f.txt"], { owner: '<owner xmlns="DAV:">me</owner>' }));
      assert.deepEqual(await b.live(), [lock]);
      assert.deepEqual(await refused(b.lock(request(["f.txt"], { scope: "shared" }))), [
        lock.token,
      ]);
      for (let round = 0; round < 10; round++) {
        const results = await Promise.allSettled([
          a.lock(request([`r${round}`])),
          b.lock(request([`r${round}`])),
        ]);
        assert.equal(results.filter((result) => result.status === "fulfilled").length, 1);
        for (const result of results) {
          if (result.status === "rejected") assert.ok(result.reason instanceof LockConflictError);
        }
      }
      assert.equal((await b.live()).length, 11);
      assert.equal(await b.unlock(lock.token, ["f.txt"]), "unlocked");
      await a.removeTree([]);
      assert.deepEqual(await b.live(), []);
      // The table is hidden under the store's state prefix.
      const { objects } = await clients[0].listObjects({ prefix });
      assert.deepEqual(objects.map((object) => object.key), [
        `${prefix}${STATE_DIR}/dav-locks.json`,
      ]);
    } finally {
      await removePrefix(clients[0], prefix);
      for (const client of clients) client.close();
    }
  },
});
