import assert from "node:assert/strict";
import type { Handler } from "../lib/server/connection.ts";
import {
  isLoopbackAuthority,
  isLoopbackHost,
  isPublicBind,
  isSameOrigin,
  withGuard,
} from "../lib/policy/guard.ts";
import type { GuardOptions } from "../lib/policy/guard.ts";
import { HttpError } from "../lib/http/errors.ts";
import type { TargetForm } from "../lib/http/head_parser.ts";
import type { Request } from "../lib/http/message.ts";
import { DEFAULT_LIMITS } from "../lib/server/limits.ts";
import { runServer } from "../lib/server/accept_loop.ts";
import { exchange, parseResponses } from "./_helpers.ts";

// --- Host classification ---------------------------------------------------------

Deno.test("isLoopbackHost: canonical loopback names and addresses only", () => {
  const cases: [string, boolean][] = [
    ["localhost", true],
    ["LOCALHOST", true],
    ["LocalHost", true],
    ["app.localhost", true],
    ["a.b-c.localhost", true],
    ["APP.LOCALHOST", true],
    ["127.0.0.1", true],
    ["127.0.0.0", true],
    ["127.255.255.255", true],
    ["127.10.200.3", true],
    ["[::1]", true],
    ["::1", true],
    // Not loopback.
    ["", false],
    ["localhost.", false],
    ["app.localhost.", false],
    [".localhost", false],
    ["a..localhost", false],
    ["localhost.evil.com", false],
    ["evillocalhost", false],
    ["localhost%2eevil.com", false],
    ["xn--localhost", false],
    ["127.1", false],
    ["127.0.1", false],
    ["0x7f.0.0.1", false],
    ["0177.0.0.1", false],
    ["127.000.0.1", false],
    ["127.0.0.01", false],
    ["2130706433", false],
    ["127.0.0.256", false],
    ["127.0.0.1.", false],
    ["127.0.0.1.evil.com", false],
    ["128.0.0.1", false],
    ["0.0.0.0", false],
    ["10.0.0.1", false],
    ["[::ffff:127.0.0.1]", false],
    ["[::ffff:7f00:1]", false],
    ["[0:0:0:0:0:0:0:1]", false],
    ["[::1%25lo]", false],
    ["[::]", false],
    ["::", false],
    ["example.com", false],
  ];
  for (const [host, expected] of cases) {
    assert.equal(isLoopbackHost(host), expected, host);
  }
});

Deno.test("isLoopbackAuthority: Host values with and without ports", () => {
  const cases: [string, boolean][] = [
    ["localhost", true],
    ["localhost:8080", true],
    ["localhost:", true],
    ["LOCALHOST:80", true],
    ["app.localhost:3000", true],
    ["127.0.0.1:8080", true],
    ["127.0.0.1", true],
    ["[::1]", true],
    ["[::1]:8080", true],
    ["[::1]:", true],
    // Not loopback, or malformed.
    ["", false],
    [":8080", false],
    ["::1", false],
    ["::1:8080", false],
    ["[::1", false],
    ["[::1]8080", false],
    ["[::1]:80a", false],
    ["localhost:80:80", false],
    ["localhost:http", false],
    ["localhost :80", false],
    ["user@localhost:80", false],
    ["localhost.:8080", false],
    ["localhost.evil.com:8080", false],
    ["127.1:8080", false],
    ["0x7f.0.0.1:8080", false],
    ["[::ffff:127.0.0.1]:8080", false],
    ["evil.com:8080", false],
    ["evil.com", false],
  ];
  for (const [authority, expected] of cases) {
    assert.equal(isLoopbackAuthority(authority), expected, authority);
  }
});

Deno.test("isPublicBind: wildcard and interface addresses are public", () => {
  const cases: [string, boolean][] = [
    ["127.0.0.1", false],
    ["127.0.0.2", false],
    ["localhost", false],
    ["::1", false],
    ["[::1]", false],
    ["::ffff:127.0.0.1", false],
    ["0.0.0.0", true],
    ["::", true],
    ["[::]", true],
    ["", true],
    ["192.168.1.10", true],
    ["10.0.0.1", true],
    ["fe80::1", true],
    ["::ffff:192.168.1.10", true],
    ["example.com", true],
    // Non-canonical: pass listener.addr.hostname instead (Deno canonicalizes it).
    ["127.1", true],
  ];
  for (const [hostname, expected] of cases) {
    assert.equal(isPublicBind(hostname), expected, hostname);
  }
});

Deno.test("isSameOrigin: the scheme may be either, the authority must match", () => {
  const cases: [string, string, boolean][] = [
    ["http://localhost:8080", "localhost:8080", true],
    ["https://localhost:8080", "localhost:8080", true],
    ["HTTP://LOCALHOST:8080", "localhost:8080", true],
    ["http://files.example", "FILES.example", true],
    ["http://[::1]:8080", "[::1]:8080", true],
    ["http://example.com", "example.com", true],
    // Foreign.
    ["null", "localhost:8080", false],
    ["", "localhost:8080", false],
    ["http://localhost:8081", "localhost:8080", false],
    ["http://localhost", "localhost:8080", false],
    ["http://localhost:8080", "localhost", false],
    ["http://localhost:8080/", "localhost:8080", false],
    ["http://evil.com", "localhost:8080", false],
    ["http://localhost:8080.evil.com", "localhost:8080", false],
    ["ftp://localhost:8080", "localhost:8080", false],
    ["http://localhost:8080", "", false],
    ["http://", "", false],
    ["http://example.com", "example.com:80", false],
    ["http://a.example, http://b.example", "a.example", false],
  ];
  for (const [origin, authority, expected] of cases) {
    assert.equal(isSameOrigin(origin, authority), expected, `${origin} vs ${authority}`);
  }
});

// --- withGuard -------------------------------------------------------------------------

interface RequestSpec {
  method?: string;
  headers?: Record<string, string>;
  target?: string;
  targetForm?: TargetForm;
}

function makeRequest(spec: RequestSpec): Request {
  const target = spec.target ?? "/file.txt";
  return {
    method: spec.method ?? "GET",
    target,
    targetForm: spec.targetForm ?? "origin",
    path: "/file.txt",
    query: "",
    minorVersion: 1,
    headers: new Map(Object.entries(spec.headers ?? {})),
    body: { length: 0, read: () => Promise.reject(new Error("the guard must not read bodies")) },
    informational: () => Promise.resolve(),
  };
}

/** The status a guarded stub answers with (200 when the stub was reached). */
async function statusOf(options: GuardOptions, spec: RequestSpec): Promise<number> {
  const calls: Request[] = [];
  const stub: Handler = (request) => {
    calls.push(request);
    return Promise.resolve({ status: 200, headers: [] });
  };
  try {
    const response = await withGuard(stub, options)(makeRequest(spec));
    assert.equal(calls.length, 1);
    return response.status;
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(calls.length, 0, "a refused request never reaches the handler");
    return error.status;
  }
}

const LOOPBACK: GuardOptions = { loopbackOnly: true, cors: false };
const PUBLIC: GuardOptions = { loopbackOnly: false, cors: false };
const LOOPBACK_CORS: GuardOptions = { loopbackOnly: true, cors: true };
const PUBLIC_CORS: GuardOptions = { loopbackOnly: false, cors: true };

Deno.test("withGuard: a loopback server answers 421 to a Host that is not its own (DNS rebinding)", async () => {
  const cases: { options: GuardOptions; spec: RequestSpec; status: number }[] = [
    { options: LOOPBACK, spec: { headers: { host: "127.0.0.1:8080" } }, status: 200 },
    { options: LOOPBACK, spec: { headers: { host: "localhost:8080" } }, status: 200 },
    { options: LOOPBACK, spec: { headers: { host: "[::1]:8080" } }, status: 200 },
    { options: LOOPBACK, spec: { headers: { host: "app.localhost" } }, status: 200 },
    { options: LOOPBACK, spec: { headers: {} }, status: 200 },
    { options: LOOPBACK, spec: { headers: { host: "evil.com:8080" } }, status: 421 },
    { options: LOOPBACK, spec: { headers: { host: "localhost.evil.com" } }, status: 421 },
    // An empty Host (a target without an authority) names this server: no browser sends it.
    { options: LOOPBACK, spec: { headers: { host: "" } }, status: 200 },
    { options: LOOPBACK, spec: { headers: { host: ":8080" } }, status: 421 },
    { options: LOOPBACK, spec: { headers: { host: "192.168.1.5:8080" } }, status: 421 },
    { options: LOOPBACK, spec: { method: "OPTIONS", headers: { host: "evil.com" } }, status: 421 },
    { options: LOOPBACK_CORS, spec: { headers: { host: "evil.com" } }, status: 421 },
    // Absolute-form: the target's authority is what counts; Host is ignored (RFC 9112 §3.2.2).
    {
      options: LOOPBACK,
      spec: {
        target: "http://evil.com/file.txt",
        targetForm: "absolute",
        headers: { host: "localhost" },
      },
      status: 421,
    },
    {
      options: LOOPBACK,
      spec: {
        target: "http://localhost:8080/file.txt",
        targetForm: "absolute",
        headers: { host: "evil.com" },
      },
      status: 200,
    },
    {
      options: LOOPBACK,
      spec: {
        target: "HTTP://127.0.0.1:8080/file.txt",
        targetForm: "absolute",
        headers: { host: "127.0.0.1:8080" },
      },
      status: 200,
    },
    {
      options: LOOPBACK,
      spec: { target: "http://evil.com?x", targetForm: "absolute", headers: {} },
      status: 421,
    },
    {
      options: LOOPBACK,
      spec: { method: "CONNECT", target: "evil.com:443", targetForm: "authority", headers: {} },
      status: 421,
    },
    // A public server answers any Host.
    { options: PUBLIC, spec: { headers: { host: "files.example.com" } }, status: 200 },
    { options: PUBLIC_CORS, spec: { headers: { host: "files.example.com" } }, status: 200 },
  ];
  for (const { options, spec, status } of cases) {
    assert.equal(await statusOf(options, spec), status, JSON.stringify({ options, spec }));
  }
});

Deno.test("withGuard: cross-origin writes are refused unless --cors", async () => {
  const host = "localhost:8080";
  const cases: { method: string; headers: Record<string, string>; status: number }[] = [
    // Same origin, or no browser involved.
    { method: "PUT", headers: { host }, status: 200 },
    { method: "PUT", headers: { host, origin: "http://localhost:8080" }, status: 200 },
    { method: "PUT", headers: { host, origin: "https://localhost:8080" }, status: 200 },
    { method: "DELETE", headers: { host, origin: "http://localhost:8080" }, status: 200 },
    { method: "PUT", headers: { host, "sec-fetch-site": "same-origin" }, status: 200 },
    { method: "PUT", headers: { host, "sec-fetch-site": "none" }, status: 200 },
    // Reads and preflights are never refused for their origin.
    { method: "GET", headers: { host, origin: "http://evil.com" }, status: 200 },
    { method: "HEAD", headers: { host, origin: "null" }, status: 200 },
    { method: "OPTIONS", headers: { host, origin: "http://evil.com" }, status: 200 },
    { method: "GET", headers: { host, "sec-fetch-site": "cross-site" }, status: 200 },
    // Foreign writes.
    { method: "PUT", headers: { host, origin: "http://evil.com" }, status: 403 },
    { method: "POST", headers: { host, origin: "http://evil.com" }, status: 403 },
    { method: "DELETE", headers: { host, origin: "http://evil.com" }, status: 403 },
    { method: "PATCH", headers: { host, origin: "http://localhost:3000" }, status: 403 },
    { method: "PUT", headers: { host, origin: "null" }, status: 403 },
    { method: "PUT", headers: { host, origin: "" }, status: 403 },
    { method: "PUT", headers: { host, origin: "http://localhost" }, status: 403 },
    { method: "MOVE", headers: { host, origin: "http://evil.com" }, status: 403 },
    { method: "PUT", headers: { origin: "http://localhost:8080" }, status: 403 },
    { method: "PUT", headers: { host, "sec-fetch-site": "cross-site" }, status: 403 },
    { method: "PUT", headers: { host, "sec-fetch-site": "same-site" }, status: 403 },
    // Origin, when present, decides over Sec-Fetch-Site.
    {
      method: "PUT",
      headers: { host, origin: "http://localhost:8080", "sec-fetch-site": "same-origin" },
      status: 200,
    },
  ];
  for (const { method, headers, status } of cases) {
    const spec = { method, headers };
    assert.equal(await statusOf(PUBLIC, spec), status, `public ${JSON.stringify(spec)}`);
    assert.equal(await statusOf(LOOPBACK, spec), status, `loopback ${JSON.stringify(spec)}`);
    assert.equal(await statusOf(PUBLIC_CORS, spec), 200, `cors ${JSON.stringify(spec)}`);
  }
});

Deno.test("withGuard: an absolute-form target's authority is the request's own origin", async () => {
  const spec = (origin: string): RequestSpec => ({
    method: "PUT",
    target: "http://files.example:8080/file.txt",
    targetForm: "absolute",
    headers: { host: "other.example", origin },
  });
  assert.equal(await statusOf(PUBLIC, spec("http://files.example:8080")), 200);
  assert.equal(await statusOf(PUBLIC, spec("http://other.example")), 403);
});

Deno.test("withGuard: the inner handler's errors pass through", async () => {
  const failing: Handler = () => Promise.reject(new HttpError(404, "Not found"));
  await assert.rejects(
    () => withGuard(failing, LOOPBACK)(makeRequest({ headers: { host: "localhost" } })),
    (error: HttpError) => error.status === 404,
  );
});

// --- Through a real server -------------------------------------------------------------

Deno.test("withGuard over a socket: rebinding gets 421, cross-origin writes 403, an empty Host is served", async () => {
  const methods: string[] = [];
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = runServer(listener, {
    limits: { ...DEFAULT_LIMITS },
    handler: withGuard((request) => {
      methods.push(request.method);
      return Promise.resolve({ status: 204, headers: [] });
    }, { loopbackOnly: !isPublicBind(listener.addr.hostname), cors: false }),
    onError: (error) => {
      throw error;
    },
  });
  try {
    const port = server.addr.port;
    const text = (await exchange(
      port,
      `GET / HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n` +
        `GET / HTTP/1.1\r\nHost: rebound.evil.com:${port}\r\n\r\n` +
        `PUT /a HTTP/1.1\r\nHost: localhost:${port}\r\nOrigin: http://evil.com\r\n` +
        "Content-Length: 5\r\n\r\nhello" +
        `PUT /a HTTP/1.1\r\nHost: localhost:${port}\r\nOrigin: http://localhost:${port}\r\n` +
        "Content-Length: 0\r\n\r\n" +
        "GET / HTTP/1.1\r\nHost:\r\n\r\n",
      { responses: 5 },
    )).text;
    const responses = parseResponses(text).responses;
    assert.deepEqual(responses.map((r) => r.status), [204, 421, 403, 204, 204], text);
    assert.match(responses[1].body, /only answers to localhost names/);
    assert.match(responses[1].headers.get("content-type") ?? "", /text\/plain/);
    assert.match(responses[2].body, /Cross-origin write refused/);
    assert.deepEqual(methods, ["GET", "PUT", "GET"]);
  } finally {
    await server.shutdown();
  }
});
