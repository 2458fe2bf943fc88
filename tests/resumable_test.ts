/**
 * Tests of resumable uploads (lib/handlers/resumable.ts): header parsing as tables,
 * and the protocol end to end through the real server (serve() of
 * lib/mod.ts, so lib/handlers/router.ts does the routing) over real sockets and real
 * temp directories (and, when a gateway is configured, an S3 bucket: the
 * protocol tests run over both stores), with raw sockets for interrupted clients and curl for
 * the documented command-line flow. The sweep and the restoring walk are
 * also tested on ResumableUploads itself, over uploads the server made.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { FsStorage } from "../lib/storage/fs.ts";
import { FsUploadStore } from "../lib/storage/fs_uploads.ts";
import { serve } from "../lib/mod.ts";
import type { ServeOptions } from "../lib/mod.ts";
import {
  INTEROP_VERSION,
  parseStructuredBoolean,
  parseStructuredInteger,
  ResumableUploads,
  UPLOAD_PATH_PREFIX,
} from "../lib/handlers/resumable.ts";
import { directoriesUnder, STATE_DIR, UPLOAD_TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import {
  removePrefix,
  s3Config,
  s3Ignored,
  testClient,
  testPrefix,
  testRoot,
  testStoreOption,
} from "./_s3.ts";
import { exchange, parseResponses, readUntil, run, writeAll } from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";

const CURL = "/usr/bin/curl";
const MiB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
const INTEROP = `Upload-Draft-Interop-Version: ${INTEROP_VERSION}`;
const PARTIAL = "Content-Type: application/partial-upload";
const LOCATION = /^\/\.well-known\/filedrop-uploads\/[A-Za-z0-9_-]{22}$/;

// --- Helpers -------------------------------------------------------------------

function fsStorage(rootReal: string): FsStorage {
  return new FsStorage({
    rootReal,
    fsync: false,
    followSymlinks: false,
    cache: null,
    locks: new KeyedLock(),
  });
}

function fsUploads(rootReal: string): FsUploadStore {
  return new FsUploadStore({ storage: fsStorage(rootReal), fsync: false, locks: new KeyedLock() });
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
  }
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64");
}

/** What a test sees of the store under its server, through HTTP where it can. */
interface StoreView {
  /** The stored file at `name` (200 expected). */
  read(name: string): Promise<Uint8Array>;
  readText(name: string): Promise<string>;
  /** Whether a file is served at `name`. */
  exists(name: string): Promise<boolean>;
  /** Writes a file as another client would (a plain PUT). */
  write(name: string, text: string): Promise<void>;
  /** Uploads the store still holds anything of (partial data, records, multipart uploads). */
  pending(): Promise<number>;
}

interface Harness {
  port: number;
  /** ROOT's real path (fs only). */
  root: string;
  store: StoreView;
}

/** The backends the protocol tests run over: S3 when a gateway is configured (tests/_s3.ts). */
type Backend = "fs" | "s3";

/** Distinct uploads with files under `root` (any depth), by the key in their names. */
async function fsPending(root: string): Promise<number> {
  const keys = new Set<string>();
  for await (const { entries } of directoriesUnder(root)) {
    for (const entry of entries) {
      if (entry.name.startsWith(UPLOAD_TEMP_PREFIX)) {
        keys.add(entry.name.slice(UPLOAD_TEMP_PREFIX.length, UPLOAD_TEMP_PREFIX.length + 64));
      }
    }
  }
  return keys.size;
}

/** Distinct uploads with state objects under `prefix`, or multipart uploads if there are more. */
async function s3Pending(prefix: string): Promise<number> {
  const client = testClient();
  const state = `${prefix}${STATE_DIR}/uploads/`;
  const { objects } = await client.listObjects({ prefix: state });
  const keys = new Set(objects.map((o) => o.key.slice(state.length).split("/")[0]));
  const multipart = await client.listMultipartUploads(prefix);
  return Math.max(keys.size, multipart.length);
}

function storeView(port: number, pending: () => Promise<number>): StoreView {
  const url = (name: string) => `http://127.0.0.1:${port}/${name}`;
  const view: StoreView = {
    async read(name) {
      const response = await fetch(url(name));
      const body = new Uint8Array(await response.arrayBuffer());
      assert.equal(response.status, 200, `GET /${name}`);
      return body;
    },
    async readText(name) {
      return new TextDecoder().decode(await view.read(name));
    },
    async exists(name) {
      const response = await fetch(url(name), { method: "HEAD" });
      await response.body?.cancel();
      return response.status === 200;
    },
    async write(name, text) {
      const response = await fetch(url(name), { method: "PUT", body: text });
      await response.body?.cancel();
      assert.ok(response.ok, `PUT /${name}: ${response.status}`);
    },
    pending,
  };
  return view;
}

/**
 * Runs `fn` against the real server (serve()) over a fresh root of `backend`
 * (on fs, `root` if given, removed only when created here), on 127.0.0.1 and
 * a port the OS picks. Fails when the server reported an unexpected error.
 */
async function withUploads(
  backend: Backend,
  { root: givenRoot, ...options }: Partial<ServeOptions>,
  fn: (harness: Harness) => Promise<void>,
): Promise<void> {
  const prefix = backend === "s3" ? testPrefix("resumable") : "";
  const config = s3Config;
  const root = backend === "s3"
    ? testRoot(prefix)
    : givenRoot ?? await Deno.makeTempDir({ prefix: "filedrop-resumable-" });
  const errors: unknown[] = [];
  const server = await serve({
    root,
    hostname: "127.0.0.1",
    port: 0,
    ...(backend === "s3" && config !== null ? { s3: testStoreOption() } : {}),
    ...options,
    limits: { bodyTimeoutMs: 2_000, ...options.limits },
    onError: (error) => errors.push(error),
  });
  const port = server.addr.port;
  try {
    const pending = backend === "s3" ? () => s3Pending(prefix) : () => fsPending(server.root);
    await fn({ port, root: server.root, store: storeView(port, pending) });
  } finally {
    await server.shutdown();
    if (backend === "s3") await removePrefix(testClient(), prefix);
    else if (givenRoot === undefined) await Deno.remove(root, { recursive: true });
  }
  assert.deepEqual(errors, []);
}

/** One test per backend (the S3 one ignored without a gateway). */
function bothBackends(name: string, fn: (backend: Backend) => Promise<void>): void {
  Deno.test(`fs: ${name}`, () => fn("fs"));
  Deno.test({ name: `s3: ${name}`, ignore: s3Ignored, fn: () => fn("s3") });
}

/** Sends one request on a fresh connection; returns every response, interim ones included. */
async function send(
  port: number,
  requestLine: string,
  headers: string[] = [],
  body: Uint8Array | string = "",
): Promise<RawResponse[]> {
  const head = [requestLine, "Host: localhost", "Connection: close", ...headers].join("\r\n");
  const { text } = await exchange(port, [`${head}\r\n\r\n`, body]);
  const { responses, rest } = parseResponses(text, [requestLine.startsWith("HEAD ")]);
  assert.equal(rest, "", `unparsed bytes after ${requestLine}: ${JSON.stringify(text)}`);
  assert.ok(responses.length > 0, `no response to ${requestLine}`);
  return responses;
}

/** The final response of an exchange, checking there was no interim one. */
async function sendOne(
  port: number,
  requestLine: string,
  headers: string[] = [],
  body: Uint8Array | string = "",
): Promise<RawResponse> {
  const responses = await send(port, requestLine, headers, body);
  assert.deepEqual(responses.map((r) => r.status).filter((s) => s < 200), []);
  return responses[responses.length - 1];
}

function head(port: number, location: string): Promise<RawResponse> {
  return sendOne(port, `HEAD ${location} HTTP/1.1`);
}

function patch(
  port: number,
  location: string,
  offset: number,
  complete: boolean,
  body: Uint8Array | string,
  headers: string[] = [],
): Promise<RawResponse> {
  return sendOne(port, `PATCH ${location} HTTP/1.1`, [
    PARTIAL,
    `Upload-Offset: ${offset}`,
    `Upload-Complete: ${complete ? "?1" : "?0"}`,
    `Content-Length: ${body.length}`,
    ...headers,
  ], body);
}

/** Creates an incomplete upload of `target` holding `body`; returns its location. */
async function createPartial(
  port: number,
  target: string,
  body: Uint8Array | string,
  headers: string[] = [],
): Promise<string> {
  const response = await sendOne(port, `PUT ${target} HTTP/1.1`, [
    "Upload-Complete: ?0",
    `Content-Length: ${body.length}`,
    ...headers,
  ], body);
  assert.equal(response.status, 201, response.body);
  assert.equal(response.headers.get("upload-complete"), "?0");
  assert.equal(response.headers.get("upload-offset"), String(body.length));
  const location = response.headers.get("location")!;
  assert.match(location, LOCATION);
  return location;
}

/** Names of upload files (partial data, sidecars) in `dir`. */
async function uploadFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(UPLOAD_TEMP_PREFIX)) names.push(entry.name);
  }
  return names.sort();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition never held");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function problemOf(response: RawResponse): Record<string, unknown> {
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  return JSON.parse(response.body);
}

// --- Header parsing --------------------------------------------------------------

Deno.test("parseStructuredBoolean: ?0 and ?1 with parameters; anything else is ignored", () => {
  const cases: [string | undefined, boolean | null][] = [
    ["?1", true],
    ["?0", false],
    [" ?1 ", true],
    ["?1;a=1", true],
    ["?0;a;b=?1", false],
    [undefined, null],
    ["", null],
    ["1", null],
    ["true", null],
    ["?2", null],
    ["?1, ?1", null],
    ["?10", null],
    ["\t?1", null],
  ];
  for (const [value, expected] of cases) {
    assert.equal(parseStructuredBoolean(value), expected, JSON.stringify(value));
  }
});

Deno.test("parseStructuredInteger: non-negative, at most 15 digits", () => {
  const cases: [string | undefined, number | null][] = [
    ["0", 0],
    ["42", 42],
    [" 7 ", 7],
    ["007", 7],
    ["999999999999999", 999999999999999],
    ["5;x=1", 5],
    [undefined, null],
    ["", null],
    ["-1", null],
    ["1000000000000000", null],
    ["1.5", null],
    ["1, 2", null],
    ["0x10", null],
  ];
  for (const [value, expected] of cases) {
    assert.equal(parseStructuredInteger(value), expected, JSON.stringify(value));
  }
});

// --- Creation ----------------------------------------------------------------------

bothBackends(
  "creation with the whole body: 104 with Location first, then the file in place",
  async (backend) => {
    await withUploads(backend, {}, async ({ port, store }) => {
      const data = randomBytes(3 * MiB + 17);
      const responses = await send(port, "PUT /new/dir/a.bin HTTP/1.1", [
        "Upload-Complete: ?1",
        INTEROP,
        `Content-Length: ${data.length}`,
      ], data);
      assert.deepEqual(responses.map((r) => r.status), [104, 201]);
      const [interim, created] = responses;
      const location = interim.headers.get("location")!;
      assert.match(location, LOCATION);
      assert.equal(interim.headers.get("upload-draft-interop-version"), String(INTEROP_VERSION));
      assert.match(interim.headers.get("upload-limit")!, /^max-age=\d+$/);

      assert.equal(created.headers.get("upload-complete"), "?1");
      assert.equal(created.headers.get("location"), "/new/dir/a.bin");
      assert.ok(created.headers.has("etag"));
      assert.equal(created.headers.get("repr-digest"), `sha-256=:${sha256(data)}:`);
      const stored = await store.read("new/dir/a.bin");
      assert.equal(sha256(stored), sha256(data));
      assert.equal(await store.pending(), 0);

      const state = await head(port, location);
      assert.equal(state.status, 204);
      assert.equal(state.headers.get("upload-complete"), "?1");
      assert.equal(state.headers.get("upload-offset"), String(data.length));
      assert.equal(state.headers.get("upload-length"), String(data.length));
      assert.equal(state.headers.get("cache-control"), "no-store");
    });
  },
);

bothBackends("a long transfer reports its progress in 104s without Location", async (backend) => {
  await withUploads(backend, { fsync: false }, async ({ port, store }) => {
    const data = randomBytes(17 * MiB);
    const responses = await send(port, "PUT /long.bin HTTP/1.1", [
      "Upload-Complete: ?1",
      INTEROP,
      `Content-Length: ${data.length}`,
    ], data);
    assert.deepEqual(responses.map((r) => r.status), [104, 104, 201]);
    const progress = responses[1];
    assert.equal(progress.headers.get("location"), undefined);
    assert.equal(progress.headers.get("upload-draft-interop-version"), String(INTEROP_VERSION));
    const offset = Number(progress.headers.get("upload-offset"));
    assert.ok(offset >= 16 * MiB && offset < data.length, String(offset));
    assert.equal(sha256(await store.read("long.bin")), sha256(data));
  });
});

bothBackends("creation replacing a file answers 204 with the new ETag", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    await store.write("a.txt", "old");
    const responses = await send(port, "POST /a.txt HTTP/1.1", [
      "Upload-Complete: ?1",
      INTEROP,
      "Content-Length: 3",
    ], "new");
    assert.deepEqual(responses.map((r) => r.status), [104, 204]);
    assert.equal(responses[1].headers.get("upload-complete"), "?1");
    assert.equal(await store.readText("a.txt"), "new");
  });
});

bothBackends(
  "an interrupted creation keeps the bytes received; PATCH resumes byte-exact",
  async (backend) => {
    await withUploads(backend, {}, async ({ port, store }) => {
      const data = randomBytes(2 * MiB + 5);
      const half = MiB + 3;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      let location: string;
      try {
        await writeAll(
          conn,
          new TextEncoder().encode(
            `PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nUpload-Complete: ?1\r\n${INTEROP}\r\n` +
              `Content-Length: ${data.length}\r\n\r\n`,
          ),
        );
        await writeAll(conn, data.subarray(0, half));
        const { text } = await readUntil(conn, { responses: 1 });
        const [interim] = parseResponses(text).responses;
        assert.equal(interim.status, 104);
        location = interim.headers.get("location")!;
      } finally {
        conn.close();
      }

      // The server acknowledges the bytes once it has seen the client go.
      await waitFor(async () =>
        (await head(port, location)).headers.get("upload-offset") === String(half)
      );
      const state = await head(port, location);
      assert.equal(state.headers.get("upload-complete"), "?0");
      assert.equal(state.headers.get("upload-length"), String(data.length));
      assert.equal(await store.exists("big.bin"), false, "not visible while partial");
      assert.equal(await store.pending(), 1, "partial data and sidecar");

      const wrong = await patch(port, location, half - 1, true, data.subarray(half - 1));
      assert.equal(wrong.status, 409);
      assert.equal(wrong.headers.get("upload-offset"), String(half));
      const problem = problemOf(wrong);
      assert.equal(
        problem.type,
        "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
      );
      assert.equal(problem["expected-offset"], half);
      assert.equal(problem["provided-offset"], half - 1);

      const done = await patch(port, location, half, true, data.subarray(half));
      assert.equal(done.status, 201, done.body);
      assert.equal(done.headers.get("upload-complete"), "?1");
      assert.equal(done.headers.get("location"), "/big.bin");
      assert.equal(done.headers.get("repr-digest"), `sha-256=:${sha256(data)}:`);
      assert.equal(sha256(await store.read("big.bin")), sha256(data));
      assert.equal(await store.pending(), 0);
    });
  },
);

bothBackends("an upload in parts: nothing at the target until the last part", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    // No interop version: no 104, but the final 201 carries the Location.
    const location = await createPartial(port, "/parts.txt", "one,");
    const second = await patch(port, location, 4, false, "two,");
    assert.equal(second.status, 204);
    assert.equal(second.headers.get("upload-complete"), "?0");
    assert.equal(second.headers.get("upload-offset"), "8");
    assert.equal(await store.exists("parts.txt"), false);

    const last = await patch(port, location, 8, false, "three");
    assert.equal(last.status, 204);
    const empty = await patch(port, location, 13, true, "");
    assert.equal(empty.status, 201);
    assert.equal(await store.readText("parts.txt"), "one,two,three");

    const again = await patch(port, location, 13, true, "more");
    assert.equal(again.status, 400);
    assert.match(String(problemOf(again).type), /#inconsistent-upload-length$/);
    const finished = await patch(port, location, 13, true, "");
    assert.equal(finished.status, 410);
    assert.match(String(problemOf(finished).type), /#completed-upload$/);
  });
});

bothBackends("a chunked creation and a chunked append", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const responses = await send(port, "PUT /c.txt HTTP/1.1", [
      "Upload-Complete: ?0",
      INTEROP,
      "Transfer-Encoding: chunked",
    ], "3\r\nabc\r\n0\r\n\r\n");
    assert.deepEqual(responses.map((r) => r.status), [104, 201]);
    const location = responses[1].headers.get("location")!;
    assert.equal(location, responses[0].headers.get("location"), "the same Location in both");
    const done = await sendOne(port, `PATCH ${location} HTTP/1.1`, [
      PARTIAL,
      "Upload-Offset: 3",
      "Upload-Complete: ?1",
      "Transfer-Encoding: chunked",
    ], "2\r\nde\r\n0\r\n\r\n");
    assert.equal(done.status, 201);
    assert.equal(await store.readText("c.txt"), "abcde");
  });
});

// --- Cancellation, lookup, expiry --------------------------------------------------

bothBackends("DELETE cancels: 204, then 404, and no partial data left", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const location = await createPartial(port, "/gone.txt", "some bytes");
    assert.equal(await store.pending(), 1);
    const deleted = await sendOne(port, `DELETE ${location} HTTP/1.1`);
    assert.equal(deleted.status, 204);
    assert.equal((await head(port, location)).status, 404);
    assert.equal((await patch(port, location, 10, true, "")).status, 404);
    assert.equal(await store.pending(), 0);
    assert.equal(await store.exists("gone.txt"), false);
  });
});

bothBackends("an upload resource answers OPTIONS, and 405 to other methods", async (backend) => {
  await withUploads(backend, {}, async ({ port }) => {
    const location = await createPartial(port, "/opt.txt", "a");
    const options = await sendOne(port, `OPTIONS ${location} HTTP/1.1`);
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), "HEAD, PATCH, DELETE, OPTIONS");
    const get = await sendOne(port, `GET ${location} HTTP/1.1`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "HEAD, PATCH, DELETE, OPTIONS");
  });
});

Deno.test("the lifetime must be positive and finite", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-resumable-" });
  try {
    for (const uploadExpiryMs of [0, -1, Infinity, NaN]) {
      await assert.rejects(
        serve({ root, hostname: "127.0.0.1", port: 0, uploadExpiryMs }),
        RangeError,
        String(uploadExpiryMs),
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  for (const expiryMs of [0, -1, Infinity, NaN]) {
    assert.throws(
      () =>
        new ResumableUploads({
          uploads: fsUploads("/nonexistent"),
          storage: fsStorage("/nonexistent"),
          maxBodyBytes: Infinity,
          expiryMs,
        }),
      RangeError,
    );
  }
});

bothBackends("unknown and malformed upload tokens are 404 for every method", async (backend) => {
  await withUploads(backend, {}, async ({ port }) => {
    const location = await createPartial(port, "/real.txt", "a");
    const token = location.slice(UPLOAD_PATH_PREFIX.length);
    const targets = [
      "AAAAAAAAAAAAAAAAAAAAAA",
      "short",
      "AAAAAAAAAAAAAAAAAAAAAAA",
      "%41AAAAAAAAAAAAAAAAAAAAA",
      `${token}/`,
      `${token}/more`,
      `x/${token}`,
    ].map((rest) => UPLOAD_PATH_PREFIX + rest);
    for (const target of targets) {
      assert.equal((await head(port, target)).status, 404, target);
      assert.equal((await patch(port, target, 1, true, "x")).status, 404, target);
      assert.equal((await sendOne(port, `DELETE ${target} HTTP/1.1`)).status, 404, target);
    }
    assert.equal((await head(port, location)).headers.get("upload-offset"), "1", "untouched");
  });
});

bothBackends(
  "a dot-segment leaves the uploads namespace: .../%2e%2e is the path /.well-known/",
  async (backend) => {
    await withUploads(backend, {}, async ({ port }) => {
      // Routing decodes and resolves the path first, so no token is "%2e%2e"
      // or "..": the target is the directory /.well-known/, absent from ROOT.
      for (const dots of ["%2e%2e", ".."]) {
        const target = UPLOAD_PATH_PREFIX + dots;
        assert.equal((await head(port, target)).status, 404, target);
        assert.equal((await sendOne(port, `DELETE ${target} HTTP/1.1`)).status, 404, target);
        // PATCH means nothing outside the namespace: 405, as on any other path.
        const patched = await patch(port, target, 0, true, "x");
        assert.equal(patched.status, 405, target);
        assert.doesNotMatch(
          patched.headers.get("allow") ?? "",
          /(^|, )PATCH(,|$)/,
          "PATCH itself (PROPPATCH is WebDAV)",
        );
      }
    });
  },
);

bothBackends(
  "an expired upload is refused at once and its files are swept by the timer",
  async (backend) => {
    // With a one-second lifetime the server sweeps every second.
    await withUploads(backend, { uploadExpiryMs: 1000 }, async ({ port, store }) => {
      const location = await createPartial(port, "/old.txt", "data");
      assert.equal((await head(port, location)).status, 204);
      assert.equal(await store.pending(), 1);
      await waitFor(async () => (await store.pending()) === 0, 5000);
      assert.equal((await head(port, location)).status, 404);
    });
  },
);

Deno.test("an expired upload is refused before the timer has swept its files", async () => {
  // The server's sweeper ticks every two seconds from its start, which is
  // before `begun`. Created half a tick later, the upload expires half a
  // tick before the second sweep: in between, it must be refused while its
  // files are still on disk.
  await withUploads("fs", { uploadExpiryMs: 2000, fsync: false }, async ({ port, root }) => {
    const begun = Date.now();
    await sleep(begun + 1000 - Date.now());
    const location = await createPartial(port, "/soon.txt", "data");
    const created = Date.now();
    assert.equal((await head(port, location)).status, 204);
    await sleep(created + 2050 - Date.now());
    assert.equal((await head(port, location)).status, 404);
    assert.equal((await uploadFiles(root)).length, 2, "still on disk before the sweep");
    assert.ok(Date.now() < begun + 4000, "checked before the second sweep could run");
  });
});

Deno.test("ResumableUploads: `restored` counts the uploads read back; sweep(now) removes those expired by then", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-resumable-" }));
  try {
    await withUploads("fs", { root, fsync: false }, async ({ port }) => {
      await createPartial(port, "/a.txt", "data");
      await createPartial(port, "/b.txt", "data", ["Upload-Length: 10"]);
    });
    const uploads = new ResumableUploads({
      uploads: fsUploads(root),
      storage: fsStorage(root),
      maxBodyBytes: Infinity,
      sweepIntervalMs: DAY_MS,
    });
    try {
      assert.equal(await uploads.restored, 2);
      const now = Date.now();
      assert.equal(await uploads.sweep(now), 0);
      assert.equal((await uploadFiles(root)).length, 4);
      // The server's default lifetime is a day.
      assert.equal(await uploads.sweep(now + 2 * DAY_MS), 2);
      assert.deepEqual(await uploadFiles(root), []);
      assert.equal(await uploads.sweep(now + 2 * DAY_MS), 0, "nothing left to sweep");
    } finally {
      await uploads.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// --- Protocol details -------------------------------------------------------------------

bothBackends("an HTTP/1.0 client gets no 104", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    // Upload-Complete: ?0 still creates an upload; its Location comes in the 201.
    const partial = await send(port, "PUT /ten.txt HTTP/1.0", [
      "Upload-Complete: ?0",
      INTEROP,
      "Content-Length: 2",
    ], "ab");
    assert.deepEqual(partial.map((r) => r.status), [201]);
    assert.match(partial[0].headers.get("location")!, LOCATION);

    // A complete body it could never resume is a plain PUT.
    const whole = await send(port, "PUT /whole.txt HTTP/1.0", [
      "Upload-Complete: ?1",
      INTEROP,
      "Content-Length: 5",
    ], "whole");
    assert.deepEqual(whole.map((r) => r.status), [201]);
    assert.equal(whole[0].headers.get("upload-complete"), undefined);
    assert.equal(await store.readText("whole.txt"), "whole");
  });
});

bothBackends(
  "without a matching interop version a complete upload is a plain PUT",
  async (backend) => {
    await withUploads(backend, {}, async ({ port, store }) => {
      for (const version of [undefined, "6", "7", "x"]) {
        const headers = ["Upload-Complete: ?1", "Content-Length: 2"];
        if (version !== undefined) headers.push(`Upload-Draft-Interop-Version: ${version}`);
        const responses = await send(port, "PUT /plain.txt HTTP/1.1", headers, "ok");
        assert.deepEqual(responses.map((r) => r.status).filter((s) => s < 200), [], version);
      }
      assert.equal(await store.readText("plain.txt"), "ok");
    });
  },
);

bothBackends(
  "an HTTP/1.0 client that is cut off loses the partial upload it cannot resume",
  async (backend) => {
    await withUploads(backend, {}, async ({ port, store }) => {
      await exchange(port, [
        "PUT /cut.txt HTTP/1.0\r\nUpload-Complete: ?0\r\nContent-Length: 100\r\n\r\n",
        "only ten..",
      ], { closeWrite: true });
      await waitFor(async () => (await store.pending()) === 0);
      assert.equal(await store.exists("cut.txt"), false);
    });
  },
);

bothBackends("a second PATCH while one is transferring gets 409", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const location = await createPartial(port, "/busy.txt", "");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(
        conn,
        new TextEncoder().encode(
          `PATCH ${location} HTTP/1.1\r\nHost: localhost\r\n${PARTIAL}\r\nUpload-Offset: 0\r\n` +
            "Upload-Complete: ?0\r\nContent-Length: 20\r\n\r\nfirst half",
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const second = await patch(port, location, 0, false, "intruder");
      assert.equal(second.status, 409);
      assert.equal(second.headers.get("retry-after"), "1");
      assert.equal(second.headers.get("upload-offset"), "0");

      await writeAll(conn, new TextEncoder().encode("other half"));
      const { text } = await readUntil(conn, { responses: 1 });
      const [first] = parseResponses(text).responses;
      assert.equal(first.status, 204);
      assert.equal(first.headers.get("upload-offset"), "20");
    } finally {
      conn.close();
    }
    const done = await patch(port, location, 20, true, "");
    assert.equal(done.status, 201);
    assert.equal(await store.readText("busy.txt"), "first halfother half");
  });
});

bothBackends(
  "PATCH needs application/partial-upload, Upload-Offset and Upload-Complete",
  async (backend) => {
    await withUploads(backend, {}, async ({ port }) => {
      const location = await createPartial(port, "/strict.txt", "a");
      const untyped = await sendOne(port, `PATCH ${location} HTTP/1.1`, [
        "Content-Type: application/octet-stream",
        "Upload-Offset: 1",
        "Upload-Complete: ?1",
        "Content-Length: 1",
      ], "b");
      assert.equal(untyped.status, 415);
      assert.equal(untyped.headers.get("accept-patch"), "application/partial-upload");
      const noOffset = await sendOne(port, `PATCH ${location} HTTP/1.1`, [
        PARTIAL,
        "Upload-Complete: ?1",
        "Content-Length: 1",
      ], "b");
      assert.equal(noOffset.status, 400);
      const noComplete = await sendOne(port, `PATCH ${location} HTTP/1.1`, [
        PARTIAL,
        "Upload-Offset: 1",
        "Content-Length: 1",
      ], "b");
      assert.equal(noComplete.status, 400);
      assert.equal((await head(port, location)).headers.get("upload-offset"), "1");
    });
  },
);

bothBackends("Upload-Length: recorded, reported, and enforced", async (backend) => {
  await withUploads(backend, {}, async ({ port }) => {
    const location = await createPartial(port, "/len.txt", "1234", ["Upload-Length: 10"]);
    assert.equal((await head(port, location)).headers.get("upload-length"), "10");

    // Completing with 3 more bytes would make 7, not 10: refused, the upload stays.
    const short = await patch(port, location, 4, true, "567");
    assert.equal(short.status, 400);
    assert.match(String(problemOf(short).type), /#inconsistent-upload-length$/);
    assert.equal((await head(port, location)).headers.get("upload-offset"), "4");

    // A chunked append past the length ends the upload.
    const over = await sendOne(port, `PATCH ${location} HTTP/1.1`, [
      PARTIAL,
      "Upload-Offset: 4",
      "Upload-Complete: ?0",
      "Transfer-Encoding: chunked",
    ], "8\r\n56789012\r\n0\r\n\r\n");
    assert.equal(over.status, 400);
    assert.equal((await head(port, location)).status, 404);
  });
});

bothBackends("max-size: a longer upload is refused with Upload-Limit", async (backend) => {
  await withUploads(backend, { limits: { maxBodyBytes: 100 } }, async ({ port, store }) => {
    const refused = await send(port, "PUT /huge.bin HTTP/1.1", [
      "Upload-Complete: ?0",
      INTEROP,
      "Upload-Length: 101",
      "Content-Length: 0",
    ]);
    assert.deepEqual(refused.map((r) => r.status), [413]);
    assert.match(refused[0].headers.get("upload-limit")!, /^max-size=100, max-age=\d+$/);

    const location = await createPartial(port, "/huge.bin", "x".repeat(60));
    const over = await patch(port, location, 60, false, "y".repeat(41));
    assert.equal(over.status, 413);
    assert.match(over.headers.get("upload-limit")!, /max-size=100/);
    assert.equal((await head(port, location)).status, 404);
    assert.equal(await store.pending(), 0);
  });
});

// --- Completion ------------------------------------------------------------------------

bothBackends("the creation's preconditions are checked again at completion", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const refusedAtOnce = await send(port, "PUT /cond.txt HTTP/1.1", [
      "Upload-Complete: ?1",
      INTEROP,
      'If-Match: "nope"',
      "Content-Length: 1",
    ], "x");
    assert.deepEqual(refusedAtOnce.map((r) => r.status), [412]);

    const location = await createPartial(port, "/cond.txt", "mine", ["If-None-Match: *"]);
    await store.write("cond.txt", "someone else's");
    const done = await patch(port, location, 4, true, "!");
    assert.equal(done.status, 412);
    assert.equal(done.headers.get("upload-complete"), "?1");
    assert.equal(await store.readText("cond.txt"), "someone else's");
    assert.equal(await store.pending(), 0);
    assert.equal((await head(port, location)).headers.get("upload-complete"), "?1");
  });
});

bothBackends("Repr-Digest of the creation request covers the whole upload", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const data = new TextEncoder().encode("hello, resumable world");
    const digest = `Repr-Digest: sha-256=:${sha256(data)}:`;
    const good = await createPartial(port, "/good.txt", data.subarray(0, 7), [digest]);
    const done = await patch(port, good, 7, true, data.subarray(7));
    assert.equal(done.status, 201);
    assert.equal(await store.readText("good.txt"), "hello, resumable world");

    const bad = await createPartial(port, "/bad.txt", "hello, ", [digest]);
    const refused = await patch(port, bad, 7, true, "other world");
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get("upload-complete"), "?1");
    assert.equal(await store.exists("bad.txt"), false);
    assert.equal(await store.pending(), 0);
  });
});

bothBackends("a Content-Digest mismatch appends nothing", async (backend) => {
  await withUploads(backend, {}, async ({ port }) => {
    const location = await createPartial(port, "/cd.txt", "abc");
    const wrong = `Content-Digest: sha-256=:${sha256(new TextEncoder().encode("nope"))}:`;
    const refused = await patch(port, location, 3, false, "def", [wrong]);
    assert.equal(refused.status, 400);
    assert.equal((await head(port, location)).headers.get("upload-offset"), "3");
    const right = `Content-Digest: sha-256=:${sha256(new TextEncoder().encode("def"))}:`;
    assert.equal((await patch(port, location, 3, false, "def", [right])).status, 204);
  });
});

// --- Restart ---------------------------------------------------------------------------

Deno.test("uploads survive a restart; unacknowledged bytes and debris are removed", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-resumable-" }));
  try {
    const data = randomBytes(5000);
    let location = "";
    await withUploads("fs", { root }, async ({ port }) => {
      location = await createPartial(port, "/sub/keep.bin", data.subarray(0, 3000));
    });
    const directory = path.join(root, "sub");
    const [dataName, sidecarName] = await uploadFiles(directory);
    assert.equal(sidecarName, `${dataName}.json`);
    // Bytes written after the last checkpoint were never acknowledged.
    await Deno.writeFile(path.join(directory, dataName), new Uint8Array(7), { append: true });
    // A crash between creating the data and its sidecar, and a stale staging file.
    const orphan = path.join(directory, UPLOAD_TEMP_PREFIX + "0".repeat(64));
    await Deno.writeTextFile(orphan, "orphan");
    await Deno.writeTextFile(`${orphan}.json.new`, "{");
    // An upload that expired while the server was down.
    const expired = path.join(root, UPLOAD_TEMP_PREFIX + "1".repeat(64));
    await Deno.writeTextFile(expired, "old");
    const sidecar = JSON.parse(await Deno.readTextFile(path.join(directory, sidecarName)));
    await Deno.writeTextFile(
      `${expired}.json`,
      JSON.stringify({ ...sidecar, segments: ["x.txt"], offset: 3, expiresAt: Date.now() - 1 }),
    );

    await withUploads("fs", { root }, async ({ port }) => {
      // The upload is found from its files; the restoring walk cuts what was never acknowledged.
      const state = await head(port, location);
      assert.equal(state.status, 204);
      assert.equal(state.headers.get("upload-offset"), "3000");
      await waitFor(async () => (await Deno.stat(path.join(directory, dataName))).size === 3000);
      // The walk may still be busy with the other files of the directory.
      await waitFor(async () => (await uploadFiles(directory)).length === 2);
      assert.deepEqual(await uploadFiles(directory), [dataName, sidecarName]);
      assert.deepEqual(await uploadFiles(root), []);
      const done = await patch(port, location, 3000, true, data.subarray(3000));
      assert.equal(done.status, 201);
      assert.equal(done.headers.get("repr-digest"), `sha-256=:${sha256(data)}:`);
      assert.equal(sha256(await Deno.readFile(path.join(directory, "keep.bin"))), sha256(data));
      assert.deepEqual(await uploadFiles(directory), []);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// --- curl ------------------------------------------------------------------------------

bothBackends("curl: the documented command-line flow", async (backend) => {
  await withUploads(backend, {}, async ({ port, store }) => {
    const base = `http://127.0.0.1:${port}`;
    const work = await Deno.makeTempDir({ prefix: "filedrop-curl-" });
    try {
      const data = randomBytes(2 * MiB);
      const file = path.join(work, "file.bin");
      await Deno.writeFile(file, data);

      // One request, resumable if cut off: curl shows the 104 and its Location.
      const whole = await run(CURL, [
        "-sS",
        "-v",
        "-T",
        file,
        "-H",
        "Upload-Complete: ?1",
        "-H",
        INTEROP,
        `${base}/whole.bin`,
      ]);
      assert.equal(whole.code, 0, whole.stderr);
      assert.match(whole.stderr, /< HTTP\/1\.1 104/);
      assert.match(whole.stderr, /< Location: \/\.well-known\/filedrop-uploads\//);
      assert.match(whole.stderr, /< HTTP\/1\.1 201 Created/);
      assert.equal(sha256(await store.read("whole.bin")), sha256(data));

      // In parts: create with the first part, ask the offset, send the rest.
      const first = path.join(work, "first");
      await Deno.writeFile(first, data.subarray(0, MiB));
      const created = await run(CURL, [
        "-sS",
        "-i",
        "-T",
        first,
        "-H",
        "Upload-Complete: ?0",
        `${base}/parts.bin`,
      ]);
      assert.equal(created.code, 0, created.stderr);
      const location = /^Location: (\S+)\r$/m.exec(created.stdout)![1];
      const offset = await run(CURL, ["-sS", "-I", `${base}${location}`]);
      assert.match(offset.stdout, new RegExp(`^Upload-Offset: ${MiB}\r$`, "m"));
      // As `tail -c +$((OFFSET + 1)) file | curl -T - ...` streams it.
      const resumed = await run(CURL, [
        "-sS",
        "-i",
        "-X",
        "PATCH",
        "-T",
        "-",
        "-H",
        "Content-Type: application/partial-upload",
        "-H",
        `Upload-Offset: ${MiB}`,
        "-H",
        "Upload-Complete: ?1",
        `${base}${location}`,
      ], { stdin: data.subarray(MiB) });
      assert.match(resumed.stdout, /^HTTP\/1\.1 201 Created\r$/m);
      assert.equal(sha256(await store.read("parts.bin")), sha256(data));

      const cancelled = await run(CURL, [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "DELETE",
        `${base}${location}`,
      ]);
      assert.equal(cancelled.stdout, "204");
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
});
