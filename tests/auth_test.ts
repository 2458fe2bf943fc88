import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import {
  type AuthOptions as BasicAuthOptions,
  BasicAuth,
  type Credential,
  decodeBasicCredentials,
  HASH_ITERATIONS,
  HASH_PREFIX,
  hashPassword,
  parseCredential,
  type PasswordVerifier,
  VERIFIED_CACHE_SIZE,
} from "../lib/policy/auth.ts";
import { Access, AccessPolicy, legacyRules, needsOf } from "../lib/policy/access.ts";
import { decodeUrlPath } from "../lib/handlers/url_path.ts";
import { AuthThrottle } from "../lib/policy/auth_throttle.ts";
import { errorResponse } from "../lib/server/connection.ts";
import { HttpError } from "../lib/http/errors.ts";
import type { Request, Response } from "../lib/http/message.ts";
import { DEFAULT_LIMITS } from "../lib/server/limits.ts";
import { runServer } from "../lib/server/accept_loop.ts";
import { bytes, exchange, parseResponses, readUntil, sendOne, writeAll } from "./_helpers.ts";

// --- Helpers -------------------------------------------------------------------

/** `--auth` as the server has it: the users, and whether reads need them too. */
type AuthOptions = BasicAuthOptions & { protectReads: boolean };

/**
 * `handler` behind `--auth` (and `--auth-reads` with `protectReads`), checked
 * as the router checks every request: the users of {@linkcode BasicAuth}, the
 * rules `--auth` stands for, the needs of the method on the request's path.
 */
function withAuth(
  handler: (request: Request) => Promise<Response>,
  options: AuthOptions,
): (request: Request) => Promise<Response> {
  const access = new Access({
    policy: new AccessPolicy(legacyRules(options.protectReads)),
    basic: new BasicAuth(options),
  });
  return async (request) => {
    const path = decodeUrlPath(request.path).segments;
    for (const need of needsOf(request.method, path)) {
      await access.authorize(request, need.action, need.path, need.reach);
    }
    return await handler(request);
  };
}

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
  remoteAddr?: string,
): { request: Request; bodyReads: () => number } {
  let reads = 0;
  const request: Request = {
    remoteAddr,
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

/**
 * Whether `options` accept `authorization` on a PUT, through {@linkcode withAuth}
 * as the server uses it (true: 200, false: 401).
 */
async function accepts(options: AuthOptions, authorization?: string): Promise<boolean> {
  const wrapped = wrappers.get(options) ?? withAuth(recordingHandler().handler, options);
  wrappers.set(options, wrapped);
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const status = (await respond(wrapped, makeRequest("PUT", headers).request)).status;
  assert.ok(status === 200 || status === 401, `unexpected ${status}`);
  return status === 200;
}
const wrappers = new WeakMap<AuthOptions, (request: Request) => Promise<Response>>();

/** PBKDF2-HMAC-SHA-256 by node:crypto: an implementation independent of lib/policy/auth.ts. */
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

Deno.test("the rules of --auth: writes always need a user, reads only when protected, OPTIONS never", () => {
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
    ["PROPFIND", false, false],
    ["GET", true, true],
    ["HEAD", true, true],
    ["PROPFIND", true, true],
    ["OPTIONS", false, false],
    ["OPTIONS", true, false],
  ];
  for (const [method, protectReads, expected] of cases) {
    const policy = new AccessPolicy(legacyRules(protectReads));
    const anonymousMay = needsOf(method, ["a", "b"]).every((need) =>
      policy.allows({ kind: "anonymous" }, need.action, need.path, need.reach)
    );
    const userMay = needsOf(method, ["a", "b"]).every((need) =>
      policy.allows({ kind: "user", name: "u" }, need.action, need.path, need.reach)
    );
    assert.equal(!anonymousMay, expected, `${method} ${protectReads}`);
    assert.ok(userMay, `${method}: a user may do everything`);
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

Deno.test("withAuth: an unknown user costs one verification, like a wrong password", async () => {
  const log: string[] = [];
  const credentials: Credential[] = [
    { user: "cheap", verifier: new CountingVerifier("cheap", "pw1", log, 1) },
    { user: "dear", verifier: new CountingVerifier("dear", "pw2", log, 1000) },
  ];
  const options: AuthOptions = { credentials, protectReads: false };
  const attempt = async (authorization: string) => {
    log.length = 0;
    const result = await accepts(options, authorization);
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

Deno.test("withAuth: an unknown user is refused even when the decoy says yes", async () => {
  const permissive: PasswordVerifier = {
    cost: 1,
    verify: () => Promise.resolve(true),
    decoy: () => permissive,
  };
  const options: AuthOptions = {
    credentials: [{ user: "u", verifier: permissive }],
    protectReads: false,
  };
  assert.equal(await accepts(options, basic("nobody", "x")), false);
});

Deno.test("withAuth: successful verifications are cached per Authorization value", async () => {
  const log: string[] = [];
  const options: AuthOptions = {
    credentials: [{ user: "u", verifier: new CountingVerifier("u", "pw", log) }],
    protectReads: false,
  };

  assert.equal(await accepts(options, basic("u", "pw")), true);
  assert.equal(await accepts(options, basic("u", "pw")), true);
  assert.equal(await accepts(options, basic("u", "pw")), true);
  assert.equal(log.length, 1, "verified once, then served from the cache");

  // Failures are never cached.
  assert.equal(await accepts(options, basic("u", "no")), false);
  assert.equal(await accepts(options, basic("u", "no")), false);
  assert.equal(log.length, 3);

  // Another options object has its own cache.
  const other: AuthOptions = { ...options };
  assert.equal(await accepts(other, basic("u", "pw")), true);
  assert.equal(log.length, 4);
});

Deno.test("withAuth: the cache is bounded and evicts the least recently used", async () => {
  const log: string[] = [];
  const users = VERIFIED_CACHE_SIZE + 1;
  const credentials: Credential[] = Array.from({ length: users }, (_, i) => ({
    user: `user${i}`,
    verifier: new CountingVerifier(`user${i}`, `pw${i}`, log),
  }));
  const options: AuthOptions = { credentials, protectReads: false };
  const check = (i: number) => accepts(options, basic(`user${i}`, `pw${i}`));

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

Deno.test("withAuth: real PBKDF2 hashes, unknown users checked against a decoy", async () => {
  const options: AuthOptions = {
    credentials: [parseCredential(KNOWN_CREDENTIAL), parseCredential("bob:plain")],
    protectReads: true,
  };
  const check = (authorization?: string) => accepts(options, authorization);
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

// --- Throttling of password guessing ---------------------------------------------------

/** A clock for {@linkcode AuthThrottle} that only moves when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => time += ms };
}

Deno.test("AuthThrottle: a burst, then one check per refill interval", () => {
  const clock = fakeClock();
  const throttle = new AuthThrottle({ burst: 3, refillMs: 1_000, now: clock.now });
  assert.deepEqual([1, 2, 3].map(() => throttle.take("192.0.2.1")), [0, 0, 0]);
  assert.equal(throttle.take("192.0.2.1"), 1_000, "empty: the next check in one interval");
  assert.equal(throttle.take("192.0.2.1"), 1_000, "a refused take takes nothing");
  clock.advance(999);
  assert.equal(throttle.take("192.0.2.1"), 1);
  clock.advance(1);
  assert.equal(throttle.take("192.0.2.1"), 0, "one check came back");
  assert.equal(throttle.take("192.0.2.1"), 1_000);
  clock.advance(3_000);
  assert.deepEqual([1, 2, 3].map(() => throttle.take("192.0.2.1")), [0, 0, 0], "full again");
  assert.equal(throttle.take("192.0.2.1"), 1_000);
});

Deno.test("AuthThrottle: right passwords are refunded, so only failures count", () => {
  const clock = fakeClock();
  const throttle = new AuthThrottle({ burst: 2, refillMs: 60_000, now: clock.now });
  for (let i = 0; i < 1_000; i++) {
    assert.equal(throttle.take("192.0.2.1"), 0);
    throttle.refund("192.0.2.1");
  }
  assert.equal(throttle.size, 0, "a full bucket is forgotten");
  assert.equal(throttle.take("192.0.2.1"), 0); // One failure...
  throttle.take("192.0.2.1"); // ...and a check that will succeed.
  throttle.refund("192.0.2.1");
  assert.equal(throttle.take("192.0.2.1"), 0, "the refunded check is available again");
  assert.ok(throttle.take("192.0.2.1") > 0);
  throttle.refund("198.51.100.1"); // Never seen: nothing to refund, nothing tracked.
  assert.equal(throttle.size, 1);
});

Deno.test("AuthThrottle: one client's failures never throttle another; IPv6 by /64", () => {
  const clock = fakeClock();
  const throttle = new AuthThrottle({ burst: 2, refillMs: 60_000, now: clock.now });
  const exhaust = (address: string | undefined) => {
    throttle.take(address);
    throttle.take(address);
    assert.ok(throttle.take(address) > 0, `${address} is throttled`);
  };
  const fresh = (address: string | undefined) => throttle.take(address) === 0;

  exhaust("127.0.0.1");
  assert.ok(fresh("127.0.0.2"));
  assert.ok(!fresh("::ffff:127.0.0.1"), "an IPv4 client through a dual-stack socket is itself");
  assert.ok(fresh("::ffff:127.0.0.3"), "and not one /64 with every other IPv4 client");

  exhaust("2001:db8:1:2::1");
  assert.ok(!fresh("2001:DB8:1:2:ffff:ffff:ffff:ffff"), "the same /64");
  assert.ok(!fresh("2001:0db8:0001:0002:0:0:0:7"), "the same /64, written in full");
  assert.ok(fresh("2001:db8:1:3::1"), "the next /64");
  assert.ok(fresh("::1"));

  exhaust("fe80::1%eth0");
  assert.ok(!fresh("fe80::2%eth1"), "zones do not split a /64");

  exhaust(undefined);
  assert.ok(!fresh(undefined), "unknown addresses (a Unix socket) share one allowance");
  assert.ok(fresh("192.0.2.1"));
  assert.ok(fresh("not an address"), "an unparsable address is its own bucket");
});

Deno.test("AuthThrottle: memory is bounded under 100,000 source addresses", () => {
  const clock = fakeClock();
  const throttle = new AuthThrottle({ burst: 1, refillMs: 60_000, now: clock.now });
  // A throttled guesser keeps its entry fresh by coming back.
  assert.equal(throttle.take("192.0.2.1"), 0);
  for (let i = 0; i < 100_000; i++) {
    const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    assert.equal(throttle.take(address), 0, address);
    assert.ok(throttle.size <= 10_000);
    if (i % 1_000 === 0) assert.ok(throttle.take("192.0.2.1") > 0, "still throttled");
  }
  assert.equal(throttle.size, 10_000, "the default bound");
  assert.ok(throttle.take("192.0.2.1") > 0, "the recently used entry survived the spray");
  assert.equal(throttle.take("10.0.0.0"), 0, "the least recently used were evicted");

  const small = new AuthThrottle({ burst: 1, refillMs: 60_000, maxClients: 3, now: clock.now });
  for (const address of ["a", "b", "c"]) small.take(address);
  assert.ok(small.take("a") > 0); // "a" becomes the most recently used.
  small.take("d"); // Evicts "b".
  assert.ok(small.take("a") > 0);
  assert.ok(small.take("c") > 0);
  assert.equal(small.take("b"), 0, "evicted: forgiven");
  assert.equal(small.size, 3);
});

Deno.test("AuthThrottle: rejects unusable options", () => {
  assert.throws(() => new AuthThrottle({ burst: 0 }), RangeError);
  assert.throws(() => new AuthThrottle({ burst: 1.5 }), RangeError);
  assert.throws(() => new AuthThrottle({ refillMs: 0 }), RangeError);
  assert.throws(() => new AuthThrottle({ refillMs: Infinity }), RangeError);
  assert.throws(() => new AuthThrottle({ maxClients: 0 }), RangeError);
});

Deno.test("withAuth: a throttled client gets 429 without hashing; known users still pass", async () => {
  const log: string[] = [];
  const clock = fakeClock();
  const options: AuthOptions = {
    credentials: [
      { user: "alice", verifier: new CountingVerifier("alice", "right", log) },
      { user: "bob", verifier: new CountingVerifier("bob", "hers", log) },
    ],
    protectReads: false,
    throttle: new AuthThrottle({ burst: 3, refillMs: 10_500, now: clock.now }),
  };
  const inner = recordingHandler();
  const wrapped = withAuth(inner.handler, options);
  const put = async (authorization: string | undefined, address: string) => {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
    return await respond(wrapped, makeRequest("PUT", headers, address).request);
  };
  const guesser = "203.0.113.9";

  assert.equal((await put(basic("alice", "right"), guesser)).status, 200, "alice logs in");
  assert.equal((await put(basic("alice", "guess0"), guesser)).status, 401);
  log.length = 0;
  for (let i = 1; i <= 2; i++) {
    assert.equal((await put(basic("alice", `guess${i}`), guesser)).status, 401);
  }
  assert.deepEqual(log, ["alice", "alice"]);
  for (const authorization of [basic("alice", "guess3"), basic("nobody", "x")]) {
    const response = await put(authorization, guesser);
    assert.equal(response.status, 429);
    assert.equal(header(response, "retry-after"), "11", "seconds, rounded up");
    assert.equal(header(response, "www-authenticate"), undefined);
  }
  assert.deepEqual(log, ["alice", "alice"], "throttled attempts are not hashed");

  // Checks that cost no hashing are answered as before.
  assert.equal((await put(undefined, guesser)).status, 401);
  assert.equal((await put("Basic %%%", guesser)).status, 401);
  // A credential that succeeded before passes, from the same address, unhashed.
  assert.equal((await put(basic("alice", "right"), guesser)).status, 200);
  // One that never did cannot be told from a guess without hashing: it waits too.
  assert.equal((await put(basic("bob", "hers"), guesser)).status, 429);
  // Other addresses are unaffected.
  assert.equal((await put(basic("bob", "hers"), "198.51.100.7")).status, 200);
  assert.equal((await put(basic("bob", "wrong"), "198.51.100.7")).status, 401);
  assert.deepEqual(log, ["alice", "alice", "bob", "bob"]);

  clock.advance(10_500);
  assert.equal((await put(basic("alice", "guess4"), guesser)).status, 401, "refilled");
  assert.equal((await put(basic("alice", "guess5"), guesser)).status, 429);
  assert.equal(inner.calls.length, 3);
});

Deno.test("withAuth: concurrent requests with one new credential share one check", async () => {
  const log: string[] = [];
  const counting = new CountingVerifier("u", "pw", log);
  // As slow as a real hash, so the requests overlap the check in progress.
  const slow: PasswordVerifier = {
    cost: 1,
    verify: async (password) => {
      const result = await counting.verify(password);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return result;
    },
    decoy: () => counting.decoy(),
  };
  const options: AuthOptions = {
    credentials: [{ user: "u", verifier: slow }],
    protectReads: false,
    throttle: new AuthThrottle({ burst: 1, refillMs: 60_000 }),
  };
  const wrapped = withAuth(recordingHandler().handler, options);
  const put = (password: string) =>
    respond(wrapped, makeRequest("PUT", { authorization: basic("u", password) }, "::1").request);

  // A browser sending many uploads at once right after its login.
  const statuses = await Promise.all(Array.from({ length: 20 }, () => put("pw")));
  assert.deepEqual(new Set(statuses.map((r) => r.status)), new Set([200]));
  assert.deepEqual(log, ["u"]);
  // The same wrong value at once: one check, one unit of the allowance.
  const wrong = await Promise.all(Array.from({ length: 20 }, () => put("no")));
  assert.deepEqual(new Set(wrong.map((r) => r.status)), new Set([401]));
  assert.deepEqual(log, ["u", "u"]);
  assert.equal((await put("other")).status, 429, "that one unit was the whole allowance");
});

// --- Throttling through a real server ----------------------------------------------------

/** A verifier around `inner` that counts its calls: each one is a password hash. */
function countingHashes(
  inner: PasswordVerifier,
): { verifier: PasswordVerifier; count: () => number } {
  let calls = 0;
  const verifier: PasswordVerifier = {
    cost: inner.cost,
    verify: (password) => {
      calls++;
      return inner.verify(password);
    },
    decoy: () => inner.decoy(),
  };
  return { verifier, count: () => calls };
}

/** Starts a server on `hostname` whose handler answers 200 behind `withAuth(options)`. */
function authServer(hostname: string, options: AuthOptions) {
  const listener = Deno.listen({ hostname, port: 0 });
  return runServer(listener, {
    limits: { ...DEFAULT_LIMITS },
    handler: withAuth(recordingHandler().handler, options),
    onError: (error) => {
      throw error;
    },
  });
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

Deno.test("withAuth over a socket: a guesser gets fast 429s after its allowance; a logged-in user is never refused", async () => {
  const burst = 5;
  const guesses = 25;
  // The real hash at the shipped cost: each check is ~80 ms of PBKDF2 here.
  const hashed = countingHashes(
    parseCredential(`alice:${await hashPassword("correct horse")}`).verifier,
  );
  const clock = fakeClock();
  const server = authServer("127.0.0.1", {
    credentials: [{ user: "alice", verifier: hashed.verifier }],
    protectReads: true,
    throttle: new AuthThrottle({ burst, refillMs: 60_000, now: clock.now }),
  });
  const port = server.addr.port;
  const get = async (password: string) => {
    const started = performance.now();
    const response = await sendOne(port, "GET / HTTP/1.1", [
      `Authorization: ${basic("alice", password)}`,
    ]);
    return { ...response, ms: performance.now() - started };
  };
  try {
    assert.equal((await get("correct horse")).status, 200, "alice logs in");
    assert.equal(hashed.count(), 1);

    // The guesser and alice, at the same time and from the same address.
    let guessing = true;
    const guesser = (async () => {
      const results = [];
      for (let i = 0; i < guesses; i++) results.push(await get(`guess ${i}`));
      guessing = false;
      return results;
    })();
    const user = (async () => {
      const results = [];
      while (guessing || results.length < guesses) results.push(await get("correct horse"));
      return results;
    })();
    const [guessed, used] = await Promise.all([guesser, user]);

    assert.deepEqual(
      guessed.map((r) => r.status),
      [...Array(burst).fill(401), ...Array(guesses - burst).fill(429)],
    );
    for (const response of guessed.slice(burst)) {
      const retryAfter = Number(response.headers.get("retry-after"));
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
        String(retryAfter),
      );
    }
    assert.equal(hashed.count(), 1 + burst, "only the allowance was hashed");
    assert.deepEqual(new Set(used.map((r) => r.status)), new Set([200]), "alice never refused");

    const hashedMs = median(guessed.slice(0, burst).map((r) => r.ms));
    const throttledMs = median(guessed.slice(burst).map((r) => r.ms));
    const userMs = median(used.map((r) => r.ms));
    const numbers = `401 ${hashedMs.toFixed(1)} ms, 429 ${throttledMs.toFixed(1)} ms, ` +
      `alice ${userMs.toFixed(1)} ms (medians)`;
    assert.ok(throttledMs < hashedMs / 4, `429s must not hash: ${numbers}`);
    assert.ok(userMs < hashedMs / 4, `alice must not wait for hashing: ${numbers}`);

    // The allowance refills: one more guess is hashed, then 429 again.
    clock.advance(60_000);
    assert.equal((await get("guess again")).status, 401);
    assert.equal((await get("and again")).status, 429);
    assert.equal(hashed.count(), 2 + burst);
  } finally {
    await server.shutdown();
  }
});

/** Whether this machine has IPv6 loopback (a dual-stack listener sees IPv4 and IPv6 clients). */
const HAS_IPV6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "withAuth over a socket: another client address is not throttled by one's guesses",
  ignore: !HAS_IPV6,
  fn: async () => {
    // On a dual-stack socket, 127.0.0.1 arrives as ::ffff:127.0.0.1 and ::1 as itself.
    const server = authServer("::", {
      credentials: [parseCredential("alice:secret")],
      protectReads: false,
      throttle: new AuthThrottle({ burst: 2, refillMs: 60_000 }),
    });
    const put = async (hostname: string, password: string) => {
      const conn = await Deno.connect({ hostname, port: server.addr.port });
      try {
        await writeAll(
          conn,
          bytes(
            "PUT /f HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n" +
              `Authorization: ${basic("alice", password)}\r\n\r\n`,
          ),
        );
        const { text } = await readUntil(conn, { responses: 1 });
        return parseResponses(text).responses[0].status;
      } finally {
        conn.close();
      }
    };
    try {
      assert.deepEqual(
        [await put("127.0.0.1", "a"), await put("127.0.0.1", "b"), await put("127.0.0.1", "c")],
        [401, 401, 429],
      );
      assert.equal(await put("::1", "a"), 401, "another address has its own allowance");
      assert.equal(await put("::1", "secret"), 200);
      assert.equal(await put("127.0.0.1", "d"), 429, "the guesser is still throttled");
    } finally {
      await server.shutdown();
    }
  },
});
