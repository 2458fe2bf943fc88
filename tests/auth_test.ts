import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import {
  type AuthOptions,
  type Credential,
  decodeBasicCredentials,
  HASH_ITERATIONS,
  HASH_PREFIX,
  hashPassword,
  isAuthorized,
  needsAuth,
  parseCredential,
  type PasswordVerifier,
  VERIFIED_CACHE_SIZE,
  withAuth,
} from "../lib/auth.ts";
import { errorResponse } from "../lib/connection.ts";
import { HttpError } from "../lib/http/errors.ts";
import type { Request, Response } from "../lib/http/message.ts";
import { DEFAULT_LIMITS } from "../lib/options.ts";
import { runServer } from "../lib/server.ts";
import { exchange, parseResponses } from "./_helpers.ts";

// --- Helpers -------------------------------------------------------------------

/** Base64 of the UTF-8 bytes of `text`. */
function b64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function basic(user: string, password: string): string {
  return `Basic ${b64(`${user}:${password}`)}`;
}

/** A request whose body counts reads, so tests can see it was never touched. */
function makeRequest(
  method: string,
  headers: Record<string, string> = {},
): { request: Request; bodyReads: () => number } {
  let reads = 0;
  const request: Request = {
    method,
    target: "/file.txt",
    targetForm: "origin",
    path: "/file.txt",
    query: "",
    minorVersion: 1,
    headers: new Map(Object.entries(headers)),
    body: {
      length: 0,
      read: () => {
        reads++;
        return Promise.resolve(null);
      },
    },
    informational: () => Promise.resolve(),
  };
  return { request, bodyReads: () => reads };
}

/** An inner handler that records the requests it was called with. */
function recordingHandler(): {
  handler: (request: Request) => Promise<Response>;
  calls: Request[];
} {
  const calls: Request[] = [];
  return {
    calls,
    handler: (request) => {
      calls.push(request);
      return Promise.resolve({ status: 200, headers: [] });
    },
  };
}

/** Runs a wrapped handler as the connection would: an HttpError becomes its response. */
async function respond(
  handler: (request: Request) => Promise<Response>,
  request: Request,
): Promise<Response> {
  try {
    return await handler(request);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    throw error;
  }
}

function header(response: Response, name: string): string | undefined {
  return response.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

/**
 * A verifier that counts its calls (and those of its decoys) in `log`, so the
 * work done for an unknown user can be compared with a wrong password's.
 */
class CountingVerifier implements PasswordVerifier {
  readonly cost: number;
  readonly #password: string | null;
  readonly #log: string[];
  readonly #name: string;

  constructor(name: string, password: string | null, log: string[], cost = 1) {
    this.#name = name;
    this.#password = password;
    this.#log = log;
    this.cost = cost;
  }

  verify(password: string): Promise<boolean> {
    this.#log.push(this.#name);
    return Promise.resolve(this.#password !== null && password === this.#password);
  }

  decoy(): PasswordVerifier {
    return new CountingVerifier(`decoy of ${this.#name}`, null, this.#log, this.cost);
  }
}

/** PBKDF2-HMAC-SHA-256 by node:crypto: an implementation independent of lib/auth.ts. */
function referencePbkdf2(password: string, salt: Uint8Array, iterations: number): string {
  return pbkdf2Sync(password, salt, iterations, 32, "sha256").toString("base64");
}

// The reference itself reproduces RFC 7914 §11 (P="Password", S="NaCl", c=80000).
assert.equal(
  pbkdf2Sync("Password", "NaCl", 80000, 32, "sha256").toString("hex"),
  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56",
);
const KNOWN_SALT = new TextEncoder().encode("sixteen byte slt");
const KNOWN_SALT_B64 = b64("sixteen byte slt");
const KNOWN_HASH = referencePbkdf2("Password", KNOWN_SALT, 80000);
const KNOWN_CREDENTIAL = `alice:${HASH_PREFIX}80000$${KNOWN_SALT_B64}$${KNOWN_HASH}`;

// --- parseCredential -------------------------------------------------------------

Deno.test("parseCredential: accepts plain passwords and hashes", async () => {
  const cases: { value: string; user: string; good: string; bad: string }[] = [
    { value: "alice:secret", user: "alice", good: "secret", bad: "Secret" },
    { value: "bob:pa:ss:word", user: "bob", good: "pa:ss:word", bad: "pa" },
    { value: "carol: spaced ", user: "carol", good: " spaced ", bad: "spaced" },
    { value: "zoë:ünïcode", user: "zoë", good: "ünïcode", bad: "unicode" },
    // A decomposed "ë" (e + U+0308) is stored NFC-normalized.
    { value: "zoe\u0308:pw", user: "zoë", good: "pw", bad: "pW" },
    { value: KNOWN_CREDENTIAL, user: "alice", good: "Password", bad: "password" },
  ];
  for (const { value, user, good, bad } of cases) {
    const credential = parseCredential(value);
    assert.equal(credential.user, user, value);
    assert.equal(await credential.verifier.verify(good), true, `${value} accepts ${good}`);
    assert.equal(await credential.verifier.verify(bad), false, `${value} refuses ${bad}`);
    assert.equal(await credential.verifier.verify(""), false, `${value} refuses ""`);
  }
});

Deno.test("parseCredential: rejects bad values without quoting them", () => {
  const secret = "hunter2";
  const cases: { value: string; message: RegExp }[] = [
    { value: "", message: /user:password/ },
    { value: `alice${secret}`, message: /user:password/ },
    { value: `:${secret}`, message: /user name is empty/ },
    { value: "alice:", message: /password is empty/ },
    { value: `al\x01ice:${secret}`, message: /control character/ },
    { value: `alice:${HASH_PREFIX}`, message: /malformed password hash/ },
    { value: `alice:${HASH_PREFIX}80000$${KNOWN_SALT_B64}`, message: /malformed/ },
    { value: `alice:${HASH_PREFIX}x$${KNOWN_SALT_B64}$${KNOWN_HASH}`, message: /malformed/ },
    { value: `alice:${HASH_PREFIX}080000$${KNOWN_SALT_B64}$${KNOWN_HASH}`, message: /malformed/ },
    { value: `alice:${HASH_PREFIX}999$${KNOWN_SALT_B64}$${KNOWN_HASH}`, message: /iterations/ },
    { value: `alice:${HASH_PREFIX}80000$!!$${KNOWN_HASH}`, message: /malformed/ },
    { value: `alice:${HASH_PREFIX}80000$${b64("short")}$${KNOWN_HASH}`, message: /salt/ },
    {
      value: `alice:${HASH_PREFIX}80000$${KNOWN_SALT_B64}$${b64("too short")}`,
      message: /malformed/,
    },
    { value: `alice:${HASH_PREFIX}80000$${KNOWN_SALT_B64}$${KNOWN_HASH}$x`, message: /malformed/ },
  ];
  for (const { value, message } of cases) {
    assert.throws(() => parseCredential(value), (error: Error) => {
      assert.match(error.message, message, JSON.stringify(value));
      assert.ok(!error.message.includes(secret), `message quotes the secret: ${error.message}`);
      assert.ok(!error.message.includes("alice"), `message quotes the user: ${error.message}`);
      return true;
    });
  }
});

// --- hashPassword ------------------------------------------------------------------

Deno.test("hashPassword: salted PBKDF2 strings that parseCredential verifies", async () => {
  const first = await hashPassword("correct horse");
  const second = await hashPassword("correct horse");
  const pattern = new RegExp(
    `^\\$pbkdf2-sha256\\$${HASH_ITERATIONS}\\$([A-Za-z0-9+/]{22}==)\\$([A-Za-z0-9+/]{43}=)$`,
  );
  assert.match(first, pattern);
  assert.ok(HASH_ITERATIONS >= 210_000);
  assert.notEqual(first, second, "each hash has its own random salt");
  assert.notEqual(pattern.exec(first)![1], pattern.exec(second)![1]);

  const verifier = parseCredential(`me:${first}`).verifier;
  assert.equal(verifier.cost, HASH_ITERATIONS);
  assert.equal(await verifier.verify("correct horse"), true);
  assert.equal(await verifier.verify("correct horse "), false);
  await assert.rejects(() => hashPassword(""), /empty/);
});

Deno.test("hashPassword: NFC-normalizes, as the header decoder does", async () => {
  const verifier = parseCredential(`me:${await hashPassword("e\u0301")}`).verifier;
  assert.equal(await verifier.verify("\u00e9"), true);
});

Deno.test("decoy verifiers do the same kind of work and accept nothing", async () => {
  const hashed = parseCredential(KNOWN_CREDENTIAL).verifier;
  const decoy = hashed.decoy();
  assert.equal(decoy.cost, hashed.cost);
  assert.equal(await decoy.verify("Password"), false);
  const plain = parseCredential("bob:pw").verifier;
  assert.equal(plain.decoy().cost, plain.cost);
  assert.equal(await plain.decoy().verify("pw"), false);
});

// --- Header decoding -----------------------------------------------------------------

Deno.test("decodeBasicCredentials: well-formed and malformed Authorization values", () => {
  const cases: { header: string; expected: { user: string; password: string } | null }[] = [
    { header: basic("alice", "secret"), expected: { user: "alice", password: "secret" } },
    { header: `basic ${b64("alice:secret")}`, expected: { user: "alice", password: "secret" } },
    { header: `BASIC  ${b64("a:b")}`, expected: { user: "a", password: "b" } },
    { header: `Basic ${b64("a:b:c")}`, expected: { user: "a", password: "b:c" } },
    { header: `Basic ${b64(":pw")}`, expected: { user: "", password: "pw" } },
    { header: `Basic ${b64("a:")}`, expected: { user: "a", password: "" } },
    { header: `Basic ${b64("zoë:pässword")}`, expected: { user: "zoë", password: "pässword" } },
    {
      header: `Basic ${b64("abcd:ef").replace(/=+$/, "")}`,
      expected: { user: "abcd", password: "ef" },
    },
    { header: `Basic ${b64("nocolon")}`, expected: null },
    { header: "Basic", expected: null },
    { header: "Basic ", expected: null },
    { header: `Bearer ${b64("a:b")}`, expected: null },
    { header: `Digest username="a"`, expected: null },
    { header: `Basic ${b64("a:b")} extra`, expected: null },
    { header: `Basic ${b64("a:b")}, Basic ${b64("c:d")}`, expected: null },
    { header: "Basic !!!!", expected: null },
    { header: "Basic YQ=", expected: null },
    { header: "Basic Y", expected: null },
    { header: `Basic ${b64("a:b").replace(/\+/g, "-")}-_`, expected: null },
    // Latin-1 "é" (0xE9) is not UTF-8.
    { header: `Basic ${btoa("a:\xe9")}`, expected: null },
    { header: `Basic ${btoa("\xff\xfe:pw")}`, expected: null },
  ];
  for (const { header, expected } of cases) {
    assert.deepEqual(decodeBasicCredentials(header), expected, header);
  }
});

Deno.test("needsAuth: writes always, reads only when protected, OPTIONS never", () => {
  const cases: [string, boolean, boolean][] = [
    ["PUT", false, true],
    ["POST", false, true],
    ["DELETE", false, true],
    ["PATCH", false, true],
    ["MOVE", false, true],
    ["TRACE", false, true],
    ["get", false, true],
    ["GET", false, false],
    ["HEAD", false, false],
    ["GET", true, true],
    ["HEAD", true, true],
    ["OPTIONS", false, false],
    ["OPTIONS", true, false],
  ];
  for (const [method, protectReads, expected] of cases) {
    assert.equal(needsAuth(method, protectReads), expected, `${method} ${protectReads}`);
  }
});

// --- withAuth ------------------------------------------------------------------------

Deno.test("withAuth: answers 401 before the handler and the body for every bad credential", async () => {
  const options: AuthOptions = {
    credentials: [parseCredential("alice:secret"), parseCredential("zoë:pässword")],
    protectReads: false,
  };
  const inner = recordingHandler();
  const wrapped = withAuth(inner.handler, options);
  const refused: (string | undefined)[] = [
    undefined,
    "",
    basic("alice", "wrong"),
    basic("alice", ""),
    basic("ALICE", "secret"),
    basic("mallory", "secret"),
    basic("", "secret"),
    basic("alice", "secret").replace("Basic", "Bearer"),
    `Basic ${b64("alice")}`,
    "Basic %%%",
    `Basic ${btoa("alice:secr\xe9t")}`,
    `${basic("alice", "secret")}, ${basic("alice", "secret")}`,
  ];
  const bodies = new Set<string>();
  for (const authorization of refused) {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
    const { request, bodyReads } = makeRequest("PUT", headers);
    const response = await respond(wrapped, request);
    assert.equal(response.status, 401, String(authorization));
    assert.equal(header(response, "www-authenticate"), 'Basic realm="filedrop", charset="UTF-8"');
    assert.equal(bodyReads(), 0, "the body is never read");
    const body = new TextDecoder().decode(response.body as Uint8Array);
    assert.ok(!body.includes("secret") && !body.includes("alice"), body);
    bodies.add(body);
  }
  assert.deepEqual([...bodies], ["401 Authentication required\n"], "one message for every failure");
  assert.equal(inner.calls.length, 0);

  for (const authorization of [basic("alice", "secret"), basic("zoe\u0308", "pa\u0308ssword")]) {
    const { request } = makeRequest("PUT", { authorization });
    assert.equal((await respond(wrapped, request)).status, 200, authorization);
  }
  assert.equal(inner.calls.length, 2);
});

Deno.test("withAuth: which methods need credentials", async () => {
  const cases: { method: string; protectReads: boolean; status: number }[] = [
    { method: "GET", protectReads: false, status: 200 },
    { method: "HEAD", protectReads: false, status: 200 },
    { method: "OPTIONS", protectReads: false, status: 200 },
    { method: "PUT", protectReads: false, status: 401 },
    { method: "DELETE", protectReads: false, status: 401 },
    { method: "POST", protectReads: false, status: 401 },
    { method: "PATCH", protectReads: false, status: 401 },
    { method: "MOVE", protectReads: false, status: 401 },
    { method: "GET", protectReads: true, status: 401 },
    { method: "HEAD", protectReads: true, status: 401 },
    { method: "OPTIONS", protectReads: true, status: 200 },
  ];
  for (const { method, protectReads, status } of cases) {
    const inner = recordingHandler();
    const wrapped = withAuth(inner.handler, {
      credentials: [parseCredential("a:b")],
      protectReads,
    });
    const response = await respond(wrapped, makeRequest(method).request);
    assert.equal(response.status, status, `${method} protectReads=${protectReads}`);
    assert.equal(inner.calls.length, status === 200 ? 1 : 0);
  }
});

Deno.test("withAuth: the inner handler's errors pass through", async () => {
  const wrapped = withAuth(
    () => Promise.reject(new HttpError(404, "Not found")),
    { credentials: [parseCredential("a:b")], protectReads: false },
  );
  const { request } = makeRequest("PUT", { authorization: basic("a", "b") });
  await assert.rejects(() => wrapped(request), (error: HttpError) => error.status === 404);
});

Deno.test("withAuth: a custom realm is quoted", async () => {
  const wrapped = withAuth(recordingHandler().handler, {
    credentials: [parseCredential("a:b")],
    protectReads: false,
    realm: 'my "files" \\ here',
  });
  const response = await respond(wrapped, makeRequest("PUT").request);
  assert.equal(
    header(response, "www-authenticate"),
    'Basic realm="my \\"files\\" \\\\ here", charset="UTF-8"',
  );
});

Deno.test("withAuth: rejects unusable options at once", () => {
  const handler = recordingHandler().handler;
  assert.throws(() => withAuth(handler, { credentials: [], protectReads: false }), /no users/);
  assert.throws(
    () =>
      withAuth(handler, {
        credentials: [parseCredential("a:1"), parseCredential("a:2")],
        protectReads: false,
      }),
    /listed twice/,
  );
  assert.throws(
    () =>
      withAuth(handler, {
        credentials: [parseCredential("a:1")],
        protectReads: false,
        realm: "bad\r\nrealm",
      }),
    /control character/,
  );
});

// --- Timing: the same work for unknown users and wrong passwords --------------------

Deno.test("isAuthorized: an unknown user costs one verification, like a wrong password", async () => {
  const log: string[] = [];
  const credentials: Credential[] = [
    { user: "cheap", verifier: new CountingVerifier("cheap", "pw1", log, 1) },
    { user: "dear", verifier: new CountingVerifier("dear", "pw2", log, 1000) },
  ];
  const options: AuthOptions = { credentials, protectReads: false };
  const attempt = async (authorization: string) => {
    log.length = 0;
    const result = await isAuthorized(makeRequest("PUT", { authorization }).request, options);
    return { result, calls: log.slice() };
  };

  assert.deepEqual(await attempt(basic("cheap", "wrong")), { result: false, calls: ["cheap"] });
  assert.deepEqual(await attempt(basic("dear", "wrong")), { result: false, calls: ["dear"] });
  // The unknown user is checked against the decoy of the costliest verifier.
  assert.deepEqual(await attempt(basic("nobody", "wrong")), {
    result: false,
    calls: ["decoy of dear"],
  });
  assert.deepEqual(await attempt(basic("nobody", "pw2")), {
    result: false,
    calls: ["decoy of dear"],
  });
  // A correct password of one user under another name does not pass.
  assert.deepEqual(await attempt(basic("cheap", "pw2")), { result: false, calls: ["cheap"] });
  assert.deepEqual(await attempt(basic("dear", "pw2")), { result: true, calls: ["dear"] });
});

Deno.test("isAuthorized: an unknown user is refused even when the decoy says yes", async () => {
  const permissive: PasswordVerifier = {
    cost: 1,
    verify: () => Promise.resolve(true),
    decoy: () => permissive,
  };
  const options: AuthOptions = {
    credentials: [{ user: "u", verifier: permissive }],
    protectReads: false,
  };
  const request = makeRequest("PUT", { authorization: basic("nobody", "x") }).request;
  assert.equal(await isAuthorized(request, options), false);
});

Deno.test("isAuthorized: successful verifications are cached per Authorization value", async () => {
  const log: string[] = [];
  const options: AuthOptions = {
    credentials: [{ user: "u", verifier: new CountingVerifier("u", "pw", log) }],
    protectReads: false,
  };
  const request = (authorization: string) => makeRequest("PUT", { authorization }).request;

  assert.equal(await isAuthorized(request(basic("u", "pw")), options), true);
  assert.equal(await isAuthorized(request(basic("u", "pw")), options), true);
  assert.equal(await isAuthorized(request(basic("u", "pw")), options), true);
  assert.equal(log.length, 1, "verified once, then served from the cache");

  // Failures are never cached.
  assert.equal(await isAuthorized(request(basic("u", "no")), options), false);
  assert.equal(await isAuthorized(request(basic("u", "no")), options), false);
  assert.equal(log.length, 3);

  // Another options object has its own cache.
  const other: AuthOptions = { ...options };
  assert.equal(await isAuthorized(request(basic("u", "pw")), other), true);
  assert.equal(log.length, 4);
});

Deno.test("isAuthorized: the cache is bounded and evicts the least recently used", async () => {
  const log: string[] = [];
  const users = VERIFIED_CACHE_SIZE + 1;
  const credentials: Credential[] = Array.from({ length: users }, (_, i) => ({
    user: `user${i}`,
    verifier: new CountingVerifier(`user${i}`, `pw${i}`, log),
  }));
  const options: AuthOptions = { credentials, protectReads: false };
  const check = (i: number) =>
    isAuthorized(
      makeRequest("PUT", { authorization: basic(`user${i}`, `pw${i}`) }).request,
      options,
    );

  for (let i = 0; i < VERIFIED_CACHE_SIZE; i++) assert.equal(await check(i), true);
  assert.equal(log.length, VERIFIED_CACHE_SIZE);
  assert.equal(await check(0), true); // user0 becomes the most recently used.
  assert.equal(log.length, VERIFIED_CACHE_SIZE, "user0 came from the cache");
  assert.equal(await check(VERIFIED_CACHE_SIZE), true); // Evicts user1, the oldest.
  log.length = 0;
  assert.equal(await check(0), true);
  assert.equal(await check(VERIFIED_CACHE_SIZE), true);
  assert.deepEqual(log, [], "recent entries stayed");
  assert.equal(await check(1), true);
  assert.deepEqual(log, ["user1"], "the least recently used entry was evicted");
});

Deno.test("isAuthorized: real PBKDF2 hashes, unknown users checked against a decoy", async () => {
  const options: AuthOptions = {
    credentials: [parseCredential(KNOWN_CREDENTIAL), parseCredential("bob:plain")],
    protectReads: true,
  };
  const check = (authorization?: string) =>
    isAuthorized(
      makeRequest("GET", authorization === undefined ? {} : { authorization }).request,
      options,
    );
  assert.equal(await check(basic("alice", "Password")), true);
  assert.equal(await check(basic("alice", "password")), false);
  assert.equal(await check(basic("bob", "plain")), true);
  assert.equal(await check(basic("bob", "Password")), false);
  assert.equal(await check(basic("mallory", "Password")), false);
  assert.equal(await check(), false);
  assert.equal(await check("Basic ###"), false);
});

// --- Through a real server -------------------------------------------------------------

Deno.test("withAuth over a socket: 401 instead of 100 Continue, so nothing is uploaded", async () => {
  const inner = recordingHandler();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = runServer(listener, {
    limits: { ...DEFAULT_LIMITS },
    handler: withAuth(inner.handler, {
      credentials: [parseCredential("alice:secret")],
      protectReads: false,
    }),
    onError: (error) => {
      throw error;
    },
  });
  try {
    const put = (authorization: string) =>
      "PUT /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n" +
      `Expect: 100-continue\r\n${authorization}\r\n`;

    const refused = await exchange(server.addr.port, put(""), { responses: 1 });
    const [response] = parseResponses(refused.text).responses;
    assert.equal(response.status, 401, refused.text);
    assert.equal(
      response.headers.get("www-authenticate"),
      'Basic realm="filedrop", charset="UTF-8"',
    );
    assert.ok(!refused.text.includes("100 Continue"), refused.text);
    assert.equal(inner.calls.length, 0);

    const wrong = await exchange(
      server.addr.port,
      put(`Authorization: ${basic("alice", "nope")}\r\n`),
      { responses: 1 },
    );
    assert.equal(parseResponses(wrong.text).responses[0].status, 401, wrong.text);

    const allowed = await exchange(
      server.addr.port,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic("alice", "secret")}\r\n\r\n` +
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
        `DELETE /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${
          basic("alice", "secret")
        }\r\n\r\n`,
      { responses: 3 },
    );
    assert.deepEqual(
      parseResponses(allowed.text).responses.map((r) => r.status),
      [200, 200, 200],
      allowed.text,
    );
    assert.deepEqual(inner.calls.map((r) => r.method), ["GET", "GET", "DELETE"]);
  } finally {
    await server.shutdown();
  }
});
