/**
 * Tests of POST multipart/form-data uploads, calling postForm directly with a
 * request whose body is fed from bytes built here, by hand and by FormData.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { postForm, safeBaseName } from "../lib/handlers/form.ts";
import type { FormUploadContext } from "../lib/handlers/form.ts";
import { HttpError } from "../lib/http/errors.ts";
import { ClientGoneError } from "../lib/http/message.ts";
import type { Request, Response } from "../lib/http/message.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { FsStorage } from "../lib/storage/fs.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { storedNames } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BOUNDARY = "----filedropTestBoundary7MA4YWxkTrZu0gW";

// --- Request building ------------------------------------------------------------

/** A body source: chunks to hand out, or an error to throw in their place. */
type BodySource = Iterable<Uint8Array | Error> | AsyncIterable<Uint8Array | Error>;

/** Options of {@linkcode fakeRequest}. */
interface FakeRequestOptions {
  contentType?: string;
  query?: string;
  accept?: string;
  /** The announced Content-Length; null for chunked. */
  length?: number | null;
}

/**
 * A request whose body hands out each source chunk as a view into one buffer
 * that the next read overwrites (with junk first), as the real connection's
 * receive buffer may: any byte the code under test keeps without copying
 * gets corrupted.
 */
function fakeRequest(source: BodySource, options: FakeRequestOptions = {}): Request {
  const headers = new Map<string, string>();
  if (options.contentType !== undefined) headers.set("content-type", options.contentType);
  if (options.accept !== undefined) headers.set("accept", options.accept);
  const iterator = Symbol.asyncIterator in source
    ? source[Symbol.asyncIterator]()
    : source[Symbol.iterator]();
  let buffer = new Uint8Array(64 * 1024);
  let lastLength = 0;
  return {
    method: "POST",
    target: `/up/${options.query ? `?${options.query}` : ""}`,
    targetForm: "origin",
    path: "/up/",
    query: options.query ?? "",
    minorVersion: 1,
    headers,
    informational: () => Promise.resolve(), // postForm sends no interim response.
    body: {
      length: options.length ?? null,
      async read() {
        buffer.fill(0xEE, 0, lastLength);
        const next = await iterator.next();
        if (next.done) return null;
        if (next.value instanceof Error) throw next.value;
        if (next.value.length > buffer.length) buffer = new Uint8Array(next.value.length);
        buffer.set(next.value);
        lastLength = next.value.length;
        return buffer.subarray(0, lastLength);
      },
    },
  };
}

/** `bytes` cut into pieces of `size` (the last one shorter). */
function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    yield bytes.subarray(offset, offset + size);
  }
}

function concat(pieces: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = pieces.map((piece) => typeof piece === "string" ? encoder.encode(piece) : piece);
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One part of a hand-built body: the whole Content-Disposition value, and the content. */
interface RawPart {
  disposition: string;
  content: string | Uint8Array;
  type?: string;
}

/** A file part with a quoted filename. */
function filePart(filename: string, content: string | Uint8Array, field = "file"): RawPart {
  return { disposition: `form-data; name="${field}"; filename="${filename}"`, content };
}

/** A multipart/form-data body built by hand, as curl -F sends it. */
function multipart(parts: readonly RawPart[], boundary = BOUNDARY): Uint8Array {
  const pieces: (string | Uint8Array)[] = [];
  for (const part of parts) {
    pieces.push(`--${boundary}\r\nContent-Disposition: ${part.disposition}\r\n`);
    if (part.type !== undefined) pieces.push(`Content-Type: ${part.type}\r\n`);
    pieces.push("\r\n", part.content, "\r\n");
  }
  pieces.push(`--${boundary}--\r\n`);
  return concat(pieces);
}

const FORM_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** The bytes and Content-Type a browser-like client makes of `form`. */
async function encodeFormData(form: FormData): Promise<{ body: Uint8Array; contentType: string }> {
  const response = new globalThis.Response(form);
  const contentType = response.headers.get("content-type");
  assert.ok(contentType !== null);
  return { body: new Uint8Array(await response.arrayBuffer()), contentType };
}

// --- Fixture -----------------------------------------------------------------------

/** A temp ROOT with an "up" directory, the context to post into it, and cleanup. */
async function withRoot(
  fn: (fixture: { context: FormUploadContext; dir: string; root: string }) => Promise<void>,
  options: Partial<FormUploadContext> = {},
): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-form-test-" }));
  const dir = path.join(root, "up");
  await Deno.mkdir(dir);
  const context: FormUploadContext = {
    storage: storageAt(root, false),
    maxBodyBytes: Infinity,
    ...options,
  };
  try {
    await fn({ context, dir, root });
  } finally {
    // Stores give up their claim (an open, locked owner file) when closed.
    for (const storage of stores.splice(0)) await storage.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** The stores made for the running test, closed when it ends. */
const stores: FsStorage[] = [];

/** The file-system store over `root`. */
function storageAt(root: string, fsync: boolean): FsStorage {
  const storage = new FsStorage({
    rootReal: root,
    fsync,
    followSymlinks: false,
    cache: null,
    locks: new KeyedLock(),
  });
  stores.push(storage);
  return storage;
}

function postUp(context: FormUploadContext, _dir: string, request: Request): Promise<Response> {
  return postForm(context, request, ["up"]);
}

function names(dir: string): Promise<string[]> {
  return Promise.resolve(storedNames(dir));
}

function bodyText(response: Response): string {
  assert.ok(response.body instanceof Uint8Array);
  return decoder.decode(response.body);
}

function header(response: Response, name: string): string | undefined {
  return response.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/** Asserts that `promise` rejects with an HttpError of `status`. */
async function rejectsWith(promise: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
    assert.equal(error.status, status, error.message);
    return true;
  });
}

// --- safeBaseName ----------------------------------------------------------------

Deno.test("safeBaseName keeps the last path component, without control characters", () => {
  const cases: [string, string][] = [
    ["a.txt", "a.txt"],
    ["../../x", "x"],
    ["C:\\evil\\a.txt", "a.txt"],
    ["/etc/passwd", "passwd"],
    ["dir/sub\\mixed/name.tar.gz", "name.tar.gz"],
    ["café ☕.txt", "café ☕.txt"],
    ["a\u0000b\r\n.txt", "ab.txt"],
    ["tab\there\u007F\u0085.txt", "tabhere.txt"],
    ["50% off & <b>.txt", "50% off & <b>.txt"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(safeBaseName(input), expected, JSON.stringify(input));
  }
});

Deno.test("safeBaseName refuses names a URL could not reach, and dotfiles", () => {
  const refused = [
    "",
    ".",
    "..",
    "a/..",
    "C:\\",
    "dir/",
    "\u0001\u0002",
    "a:b.txt",
    "C:evil.txt",
    "x::$DATA",
    "trailing.",
    "trailing ",
    "CON",
    "nul.txt",
    "com1",
    "LPT9.log",
    ".hidden",
    ".htaccess",
    `${TEMP_PREFIX}abc`,
    "\u0000.hidden",
    "x".repeat(256),
    "é".repeat(128),
    "\uD800.txt",
  ];
  for (const input of refused) {
    assert.throws(
      () => safeBaseName(input),
      (error) => error instanceof HttpError && error.status === 400,
      JSON.stringify(input),
    );
  }
  assert.equal(safeBaseName("x".repeat(255)), "x".repeat(255));
});

// --- Storing -----------------------------------------------------------------------

Deno.test("postForm stores one file from a hand-built body, answering with an HTML page", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("hello.txt", "Hello, world!\n")]);
    const response = await postUp(
      context,
      dir,
      fakeRequest(chunked(body, 7), { contentType: FORM_TYPE }),
    );
    assert.equal(response.status, 201);
    assert.equal(header(response, "content-type"), "text/html; charset=utf-8");
    assert.equal(header(response, "location"), "/up/hello.txt");
    const html = bodyText(response);
    assert.match(html, /<a href="\/up\/hello\.txt">hello\.txt<\/a> \(14 B\)/);
    assert.deepEqual(await names(dir), ["hello.txt"]);
    assert.equal(await Deno.readTextFile(path.join(dir, "hello.txt")), "Hello, world!\n");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path.join(dir, "hello.txt"))).mode! & 0o777, 0o644);
    }
  });
});

Deno.test("postForm stores every file of a FormData body and ignores other fields", async () => {
  await withRoot(async ({ context, dir }) => {
    const binary = new Uint8Array(200_000).map((_, i) => (i * 7919) % 251);
    const form = new FormData();
    form.append("note", "a plain field, not stored");
    form.append("file", new Blob([binary]), "data.bin");
    form.append("file", new Blob(["naïve\n"]), "café ☕.txt");
    form.append("other", new Blob([""]), "empty.txt");
    const { body, contentType } = await encodeFormData(form);
    const response = await postUp(
      context,
      dir,
      fakeRequest(chunked(body, 4096), { contentType, accept: "application/json" }),
    );
    assert.equal(response.status, 201);
    assert.equal(header(response, "content-type"), "application/json; charset=utf-8");
    assert.equal(header(response, "location"), undefined);
    assert.deepEqual(JSON.parse(bodyText(response)), {
      files: [
        { name: "data.bin", size: 200_000, location: "/up/data.bin" },
        { name: "café ☕.txt", size: 7, location: "/up/caf%C3%A9%20%E2%98%95.txt" },
        { name: "empty.txt", size: 0, location: "/up/empty.txt" },
      ],
    });
    assert.deepEqual(await names(dir), ["café ☕.txt", "data.bin", "empty.txt"]);
    assert.deepEqual(await Deno.readFile(path.join(dir, "data.bin")), binary);
    assert.equal(await Deno.readTextFile(path.join(dir, "café ☕.txt")), "naïve\n");
    assert.equal((await Deno.stat(path.join(dir, "empty.txt"))).size, 0);
  });
});

Deno.test("postForm takes raw UTF-8 filenames, and filename* when it stands alone", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([
      filePart("Ünïcödé.txt", "raw"),
      {
        disposition: `form-data; name="a"; filename*=UTF-8''na%C3%AFve%20%E2%82%AC.txt`,
        content: "star",
      },
      // RFC 7578 §4.2 forbids filename* in forms; with both, the parser takes filename.
      {
        disposition: `form-data; name="b"; filename="fallback.txt"; filename*=UTF-8''ignored.txt`,
        content: "both",
      },
    ]);
    const response = await postUp(context, dir, fakeRequest([body], { contentType: FORM_TYPE }));
    assert.equal(response.status, 201);
    assert.deepEqual(await names(dir), ["fallback.txt", "naïve €.txt", "Ünïcödé.txt"]);
    assert.equal(await Deno.readTextFile(path.join(dir, "naïve €.txt")), "star");
  });
});

Deno.test("postForm answers JSON only when Accept prefers it or ?format=json", async () => {
  const cases: [string | undefined, string, boolean][] = [
    [undefined, "", false],
    ["text/html,application/xhtml+xml,*/*;q=0.8", "", false],
    ["*/*", "", false],
    ["application/json", "", true],
    ["application/json, */*", "", true],
    ["text/html;q=0.5, application/json", "", true],
    ["application/json;q=0.1, text/html", "", false],
    [undefined, "format=json", true],
    ["application/json", "format=html", false],
  ];
  for (const [accept, query, json] of cases) {
    await withRoot(async ({ context, dir }) => {
      const body = multipart([filePart("a.txt", "x")]);
      const request = fakeRequest([body], { contentType: FORM_TYPE, accept, query });
      const response = await postUp(context, dir, request);
      assert.equal(
        header(response, "content-type"),
        json ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
        `${accept} ${query}`,
      );
    });
  }
});

Deno.test("postForm stores at the base name of a filename with path components", async () => {
  await withRoot(async ({ context, dir, root }) => {
    const body = multipart([filePart("../../x", "up two"), filePart("C:\\evil\\a.txt", "drive")]);
    const response = await postUp(
      context,
      dir,
      fakeRequest(chunked(body, 5), { contentType: FORM_TYPE, accept: "application/json" }),
    );
    assert.equal(response.status, 201);
    assert.deepEqual(
      JSON.parse(bodyText(response)).files.map((file: { name: string }) => file.name),
      ["x", "a.txt"],
    );
    assert.deepEqual(await names(dir), ["a.txt", "x"]);
    assert.deepEqual(await names(root), ["up"]);
    assert.equal(await Deno.readTextFile(path.join(dir, "x")), "up two");
  });
});

Deno.test("postForm escapes names in the HTML page and percent-encodes its links", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("<img src=x onerror=alert(1)>&'.txt", "x")]);
    const response = await postUp(context, dir, fakeRequest([body], { contentType: FORM_TYPE }));
    const html = bodyText(response);
    assert.ok(!html.includes("<img"), html);
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;&amp;&#39;.txt"), html);
    assert.ok(
      html.includes('href="/up/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E%26%27.txt"'),
      html,
    );
  });
});

Deno.test("postForm refuses hostile names with 400 and stores nothing", async () => {
  const hostile = ["..", ".htaccess", "CON", "a:b", `${TEMP_PREFIX}x`, "dir/", "trailing."];
  for (const filename of hostile) {
    await withRoot(async ({ context, dir, root }) => {
      const body = multipart([filePart("fine.txt", "ok"), filePart(filename, "evil")]);
      await rejectsWith(
        postUp(context, dir, fakeRequest(chunked(body, 3), { contentType: FORM_TYPE })),
        400,
      );
      assert.deepEqual(await names(dir), [], filename);
      assert.deepEqual(await names(root), ["up"], filename);
    });
  }
});

Deno.test("postForm refuses two parts with the same name", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("a.txt", "1"), filePart("sub/a.txt", "2")]);
    await rejectsWith(postUp(context, dir, fakeRequest([body], { contentType: FORM_TYPE })), 400);
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("postForm ignores an empty file input, but not a form without any file", async () => {
  await withRoot(async ({ context, dir }) => {
    const withEmpty = multipart([
      { disposition: 'form-data; name="text"', content: "just a field" },
      {
        disposition: 'form-data; name="file"; filename=""',
        content: "",
        type: "application/octet-stream",
      },
      filePart("real.txt", "data"),
    ]);
    const response = await postUp(
      context,
      dir,
      fakeRequest([withEmpty], { contentType: FORM_TYPE }),
    );
    assert.equal(response.status, 201);
    assert.deepEqual(await names(dir), ["real.txt"]);

    const onlyFields = multipart([
      { disposition: 'form-data; name="text"', content: "just a field" },
      { disposition: 'form-data; name="file"; filename=""', content: "" },
    ]);
    await rejectsWith(
      postUp(context, dir, fakeRequest([onlyFields], { contentType: FORM_TYPE })),
      400,
    );

    const namelessData = multipart([{
      disposition: 'form-data; name="f"; filename=""',
      content: "x",
    }]);
    await rejectsWith(
      postUp(context, dir, fakeRequest([namelessData], { contentType: FORM_TYPE })),
      400,
    );
    assert.deepEqual(await names(dir), ["real.txt"]);
  });
});

// --- Conflicts ----------------------------------------------------------------------

Deno.test("postForm answers 409 for a taken name and writes none of the files", async () => {
  await withRoot(async ({ context, dir }) => {
    await Deno.writeTextFile(path.join(dir, "b.txt"), "original");
    const body = multipart([filePart("a.txt", "new a"), filePart("b.txt", "new b")]);
    await rejectsWith(
      postUp(context, dir, fakeRequest(chunked(body, 9), { contentType: FORM_TYPE })),
      409,
    );
    assert.deepEqual(await names(dir), ["b.txt"]);
    assert.equal(await Deno.readTextFile(path.join(dir, "b.txt")), "original");
  });
});

Deno.test("postForm answers 409 for a name taken while the body streamed, renaming nothing", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("a.txt", "new a"), filePart("late.txt", "new late")]);
    async function* arrivesLate(): AsyncGenerator<Uint8Array> {
      yield* chunked(body, 10);
      // Another client stores late.txt after its name was first checked.
      await Deno.writeTextFile(path.join(dir, "late.txt"), "theirs");
    }
    await rejectsWith(
      postUp(context, dir, fakeRequest(arrivesLate(), { contentType: FORM_TYPE })),
      409,
    );
    assert.deepEqual(await names(dir), ["late.txt"]);
    assert.equal(await Deno.readTextFile(path.join(dir, "late.txt")), "theirs");
  });
});

Deno.test("postForm answers 409 when a part's name is a directory, even with overwrite=1", async () => {
  await withRoot(async ({ context, dir }) => {
    await Deno.mkdir(path.join(dir, "sub"));
    const body = multipart([filePart("sub", "x")]);
    const request = fakeRequest([body], { contentType: FORM_TYPE, query: "overwrite=1" });
    await rejectsWith(postUp(context, dir, request), 409);
    assert.deepEqual(await names(dir), ["sub"]);
  });
});

Deno.test("postForm replaces existing files with overwrite=1, keeping their mode", async () => {
  await withRoot(async ({ context, dir, root }) => {
    const existing = path.join(dir, "b.txt");
    await Deno.writeTextFile(existing, "original");
    if (Deno.build.os !== "windows") await Deno.chmod(existing, 0o600);
    const body = multipart([filePart("a.txt", "new a"), filePart("b.txt", "new b")]);
    const request = fakeRequest([body], {
      contentType: FORM_TYPE,
      query: "overwrite=1",
      accept: "application/json",
    });
    const response = await postUp({ ...context, storage: storageAt(root, true) }, dir, request);
    assert.equal(response.status, 201);
    assert.deepEqual(await names(dir), ["a.txt", "b.txt"]);
    assert.equal(await Deno.readTextFile(existing), "new b");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(existing)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(path.join(dir, "a.txt"))).mode! & 0o777, 0o644);
    }
  });
});

Deno.test("postForm treats only overwrite=1 as permission to replace", async () => {
  await withRoot(async ({ context, dir }) => {
    await Deno.writeTextFile(path.join(dir, "a.txt"), "original");
    for (const query of ["overwrite=0", "overwrite=", "overwrite=yes", "x=1"]) {
      const body = multipart([filePart("a.txt", "new")]);
      const request = fakeRequest([body], { contentType: FORM_TYPE, query });
      await rejectsWith(postUp(context, dir, request), 409);
    }
    assert.equal(await Deno.readTextFile(path.join(dir, "a.txt")), "original");
  });
});

// --- Refused requests --------------------------------------------------------------------

Deno.test("postForm answers 415 for another Content-Type or a missing or invalid boundary", async () => {
  const refused: (string | undefined)[] = [
    undefined,
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/mixed; boundary=abc",
    "multipart/form-data",
    "multipart/form-data; charset=utf-8",
    "multipart/form-data; boundary=",
    'multipart/form-data; boundary=""',
    `multipart/form-data; boundary=${"b".repeat(71)}`,
    'multipart/form-data; boundary="trailing space "',
  ];
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("a.txt", "x")]);
    for (const contentType of refused) {
      await rejectsWith(postUp(context, dir, fakeRequest([body], { contentType })), 415);
    }
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("postForm accepts a quoted boundary and any case of the media type", async () => {
  await withRoot(async ({ context, dir }) => {
    const boundary = "quoted boundary:'(x)'";
    const body = multipart([filePart("a.txt", "x")], boundary);
    const contentType = `Multipart/Form-Data; charset=utf-8; BOUNDARY="${boundary}"`;
    const response = await postUp(context, dir, fakeRequest([body], { contentType }));
    assert.equal(response.status, 201);
    assert.deepEqual(await names(dir), ["a.txt"]);
  });
});

Deno.test("postForm answers 404 for a missing directory and 409 for a file", async () => {
  await withRoot(async ({ context, dir, root }) => {
    const body = multipart([filePart("a.txt", "x")]);
    const request = () => fakeRequest([body], { contentType: FORM_TYPE });
    await rejectsWith(postForm(context, request(), ["nope"]), 404);
    await Deno.writeTextFile(path.join(dir, "file"), "");
    await rejectsWith(postForm(context, request(), ["up", "file"]), 409);
    const outside = await Deno.makeTempDir();
    try {
      await Deno.symlink(outside, path.join(root, "link"));
      await rejectsWith(postForm(context, request(), ["link"]), 404);
      assert.deepEqual(await names(outside), []);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("postForm stores into ROOT itself", async () => {
  await withRoot(async ({ context, root }) => {
    const body = multipart([filePart("top.txt", "x")]);
    const response = await postForm(context, fakeRequest([body], { contentType: FORM_TYPE }), []);
    assert.equal(header(response, "location"), "/top.txt");
    assert.deepEqual(await names(root), ["top.txt", "up"]);
  });
});

Deno.test("postForm answers 400 for malformed bodies and leaves no temp file", async () => {
  const malformed: [string, Uint8Array][] = [
    [
      "no closing delimiter",
      concat([
        `--${BOUNDARY}\r\n`,
        'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\n',
        "data",
      ]),
    ],
    ["no delimiter at all", encoder.encode("just some bytes\r\n")],
    ["empty body", new Uint8Array()],
    ["another boundary", multipart([filePart("a.txt", "x")], "other-boundary")],
    [
      "unterminated part head",
      concat([`--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n`]),
    ],
    [
      "part without disposition",
      concat([`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--\r\n`]),
    ],
  ];
  for (const [label, body] of malformed) {
    await withRoot(async ({ context, dir }) => {
      await rejectsWith(
        postUp(context, dir, fakeRequest(chunked(body, 8), { contentType: FORM_TYPE })),
        400,
      );
      assert.deepEqual(await names(dir), [], label);
    });
  }
});

Deno.test("postForm leaves no temp file when the client disconnects mid-body", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([
      filePart("done.txt", "complete"),
      filePart("big.bin", new Uint8Array(1 << 20)),
    ]);
    async function* disconnects(): AsyncGenerator<Uint8Array | Error> {
      yield* chunked(body.subarray(0, 600_000), 64 * 1024);
      yield new ClientGoneError();
    }
    await assert.rejects(
      postUp(context, dir, fakeRequest(disconnects(), { contentType: FORM_TYPE })),
      ClientGoneError,
    );
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("postForm leaves no temp file when reading the body fails with an HTTP error", async () => {
  await withRoot(async ({ context, dir }) => {
    const body = multipart([filePart("a.bin", new Uint8Array(100_000))]);
    async function* badChunk(): AsyncGenerator<Uint8Array | Error> {
      yield body.subarray(0, 50_000);
      yield new HttpError(400, "Invalid chunk size");
    }
    await rejectsWith(
      postUp(context, dir, fakeRequest(badChunk(), { contentType: FORM_TYPE })),
      400,
    );
    assert.deepEqual(await names(dir), []);
  });
});

Deno.test("postForm answers 413 beyond maxBodyBytes, announced or not, leaving no temp file", async () => {
  await withRoot(async ({ context, dir }) => {
    const limited = { ...context, maxBodyBytes: 10_000 };
    const body = multipart([filePart("a.bin", new Uint8Array(20_000))]);
    await rejectsWith(
      postUp(limited, dir, fakeRequest(chunked(body, 1000), { contentType: FORM_TYPE })),
      413,
    );
    assert.deepEqual(await names(dir), []);
    let read = false;
    const announced = fakeRequest(
      (function* () {
        read = true;
        yield body;
      })(),
      { contentType: FORM_TYPE, length: body.length },
    );
    await rejectsWith(postUp(limited, dir, announced), 413);
    assert.equal(read, false);

    const small = multipart([filePart("a.bin", new Uint8Array(5_000))]);
    const response = await postUp(limited, dir, fakeRequest([small], { contentType: FORM_TYPE }));
    assert.equal(response.status, 201);
  });
});

Deno.test("postForm answers 413 for too many file parts", async () => {
  await withRoot(async ({ context, dir }) => {
    const parts = Array.from({ length: 1001 }, (_, i) => filePart(`f${i}.txt`, "x"));
    const body = multipart(parts);
    await rejectsWith(
      postUp(context, dir, fakeRequest(chunked(body, 16 * 1024), { contentType: FORM_TYPE })),
      413,
    );
    assert.deepEqual(await names(dir), []);
  });
});

// --- Streaming ---------------------------------------------------------------------------

/** The body of a form with one file of `size` bytes, each 64 KiB piece the same, and the piece. */
function bigForm(size: number): { body: () => AsyncGenerator<Uint8Array>; piece: Uint8Array } {
  const piece = new Uint8Array(64 * 1024).map((_, i) => i & 0xFF);
  const head = encoder.encode(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = encoder.encode(`\r\n--${BOUNDARY}--\r\n`);
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    for (let sent = 0; sent < size; sent += piece.length) yield piece;
    yield tail;
  }
  return { body, piece };
}

/** Posts a `size`-byte file while sampling RSS; returns the peak RSS in bytes. */
async function peakRssWhilePosting(
  context: FormUploadContext,
  dir: string,
  size: number,
): Promise<number> {
  const { body, piece } = bigForm(size);
  let peak = Deno.memoryUsage().rss;
  const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 5);
  let response: Response;
  try {
    response = await postUp(
      context,
      dir,
      fakeRequest(body(), { contentType: FORM_TYPE, query: "overwrite=1" }),
    );
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, Deno.memoryUsage().rss);
  assert.equal(response.status, 201);
  const stored = path.join(dir, "big.bin");
  assert.equal((await Deno.stat(stored)).size, size);
  using file = await Deno.open(stored);
  const sample = new Uint8Array(piece.length);
  await file.seek(size - piece.length, Deno.SeekMode.Start);
  assert.equal(await file.read(sample), piece.length);
  assert.deepEqual(sample, piece);
  return peak;
}

Deno.test("postForm streams a 300 MiB file without holding it in memory", async () => {
  await withRoot(async ({ context, dir }) => {
    const MB = 1e6;
    const baseline = Deno.memoryUsage().rss;
    // Each chunk is copied (the body's views do not outlive the next read) and
    // V8 frees those copies lazily, up to about 64 MB of garbage, so RSS first
    // grows by about that much whatever the size. A 128 MiB upload reaches
    // that level; the 300 MiB one must stay at it, not grow with its size.
    const warmPeak = await peakRssWhilePosting(context, dir, 128 * 1024 * 1024);
    const bigPeak = await peakRssWhilePosting(context, dir, 300 * 1024 * 1024);
    const growth = (bigPeak - baseline) / MB;
    const beyondWarm = (bigPeak - warmPeak) / MB;
    console.log(
      `RSS peak growth: ${((warmPeak - baseline) / MB).toFixed(1)} MB for 128 MiB, ` +
        `${growth.toFixed(1)} MB for 300 MiB (${beyondWarm.toFixed(1)} MB above the first)`,
    );
    assert.ok(growth < 100, `RSS grew by ${growth.toFixed(1)} MB`);
    assert.ok(beyondWarm < 32, `RSS grew by ${beyondWarm.toFixed(1)} MB beyond 128 MiB's peak`);
  });
});
