/**
 * Access log tests: the formatter against hand-written lines, escaping and
 * redaction, the batching logger and its drop reports, then a real server over
 * real sockets whose lines are read back by parsers written from Apache's and
 * nginx's definitions of the formats (not from our formatter), compared with
 * the bytes that crossed the wire, and finally read by GoAccess.
 *
 * @module
 */

import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  AccessLogger,
  escapeLogValue,
  formatAccessLog,
  redactUrl,
} from "../lib/server/access_log.ts";
import type { LogFormat } from "../lib/server/access_log.ts";
import type { ExchangeRecord } from "../lib/server/connection.ts";
import type { Request } from "../lib/http/message.ts";
import { exchange as rawExchange, withServer } from "./_helpers.ts";

/** 2000-10-10T13:55:36.000Z, the Apache documentation's example day, in UTC. */
const NOW = Date.UTC(2000, 9, 10, 13, 55, 36);

function request(
  target: string,
  headers: Record<string, string> = {},
  method = "GET",
  minorVersion: 0 | 1 = 1,
): Request {
  const question = target.indexOf("?");
  return {
    method,
    target,
    targetForm: target.startsWith("/") ? "origin" : "absolute",
    path: question < 0 ? target : target.slice(0, question),
    query: question < 0 ? "" : target.slice(question + 1),
    minorVersion,
    headers: new Map(Object.entries(headers)),
    body: { length: 0, read: () => Promise.resolve(null) },
    informational: () => Promise.resolve(),
  };
}

/** An exchange record; unset fields are those of the Apache documentation's example line. */
function exchange(req: Request | null, fields: Partial<ExchangeRecord> = {}): ExchangeRecord {
  return {
    request: req,
    status: 200,
    bytesSent: 2326 + 200,
    bodyBytesSent: 2326,
    user: null,
    durationMs: 123,
    remoteAddr: "127.0.0.1",
    ...fields,
  };
}

const BROWSER = {
  referer: "http://example.com/start.html",
  "user-agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
};

// deno-fmt-ignore
const formatRows: { name: string; format: LogFormat; record: ExchangeRecord; expected: string }[] = [
  {
    name: "common GET (the Apache documentation's example line)",
    format: "common", record: exchange(request("/apache_pb.gif", BROWSER), { user: "frank" }),
    expected: '127.0.0.1 - frank [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.1" 200 2326',
  },
  {
    name: "common HEAD over HTTP/1.0: no body bytes is -",
    format: "common",
    record: exchange(request("/a", {}, "HEAD", 0), { bytesSent: 150, bodyBytesSent: 0, durationMs: 61_234 }),
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "HEAD /a HTTP/1.0" 200 -',
  },
  {
    name: "common 304: no body bytes is -",
    format: "common", record: exchange(request("/a"), { status: 304, bytesSent: 150, bodyBytesSent: 0 }),
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 304 -',
  },
  {
    name: "common rejected head",
    format: "common",
    record: exchange(null, { status: 400, bytesSent: 97, bodyBytesSent: 13, remoteAddr: "10.0.0.7" }),
    expected: '10.0.0.7 - - [10/Oct/2000:13:55:36 +0000] "-" 400 13',
  },
  {
    name: "common unknown remote",
    format: "common", record: exchange(request("/"), { remoteAddr: "-" }),
    expected: '- - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326',
  },
  {
    name: "common IPv6 remote",
    format: "common", record: exchange(request("/"), { remoteAddr: "::1" }),
    expected: '::1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326',
  },
  {
    name: "common user name with a space, a quote and brackets stays one field",
    format: "common", record: exchange(request("/"), { user: 'a b"c[d]' }),
    expected: '127.0.0.1 - a\\x20b\\"c\\x5bd\\x5d [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326',
  },
  {
    name: "common non-ASCII user name is logged as its UTF-8 bytes",
    format: "common", record: exchange(request("/"), { user: "Jos\u00e9 \u2603" }),
    expected: '127.0.0.1 - Jos\\xc3\\xa9\\x20\\xe2\\x98\\x83 [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326',
  },
  {
    name: "common user named - is not read as no user",
    format: "common", record: exchange(request("/"), { user: "-" }),
    expected: '127.0.0.1 - \\x2d [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326',
  },
  {
    name: "combined GET (nginx's combined)",
    format: "combined", record: exchange(request("/apache_pb.gif", BROWSER)),
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.1" 200 2326 ' +
      '"http://example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
  },
  {
    name: "combined HEAD: no body bytes is 0, as nginx's $body_bytes_sent",
    format: "combined", record: exchange(request("/x", {}, "HEAD"), { user: "frank", bodyBytesSent: 0 }),
    expected: '127.0.0.1 - frank [10/Oct/2000:13:55:36 +0000] "HEAD /x HTTP/1.1" 200 0 "-" "-"',
  },
  {
    name: "combined rejected head",
    format: "combined", record: exchange(null, { status: 431, bodyBytesSent: 30 }),
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "-" 431 30 "-" "-"',
  },
  {
    name: "combined empty user agent stays distinct from a missing one",
    format: "combined", record: exchange(request("/", { "user-agent": "" })),
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "-" ""',
  },
  {
    name: "json GET",
    format: "json", record: exchange(request("/apache_pb.gif", BROWSER)),
    expected: '{"time":"2000-10-10T13:55:36.000Z","remote":"127.0.0.1","user":null,"method":"GET",' +
      '"target":"/apache_pb.gif","version":"HTTP/1.1","status":200,"body_bytes_sent":2326,' +
      '"bytes_sent":2526,"duration_ms":123,"referer":"http://example.com/start.html",' +
      '"user_agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"}',
  },
  {
    name: "json rejected head, unknown remote, negative clock step clamped",
    format: "json",
    record: exchange(null, { status: 400, bytesSent: 97, bodyBytesSent: 13, durationMs: -5, remoteAddr: "-" }),
    expected: '{"time":"2000-10-10T13:55:36.000Z","remote":null,"user":null,"method":null,"target":null,' +
      '"version":null,"status":400,"body_bytes_sent":13,"bytes_sent":97,"duration_ms":0,' +
      '"referer":null,"user_agent":null}',
  },
  {
    name: "json user is the name itself",
    format: "json", record: exchange(request("/", {}, "PUT"), { status: 201, user: "Jos\u00e9", bodyBytesSent: 0 }),
    expected: '{"time":"2000-10-10T13:55:36.000Z","remote":"127.0.0.1","user":"Jos\\u00e9","method":"PUT",' +
      '"target":"/","version":"HTTP/1.1","status":201,"body_bytes_sent":0,"bytes_sent":2526,' +
      '"duration_ms":123,"referer":null,"user_agent":null}',
  },
];

for (const row of formatRows) {
  Deno.test(`formatAccessLog: ${row.name}`, () => {
    assert.equal(formatAccessLog(row.format, row.record, NOW), row.expected);
  });
}

// deno-fmt-ignore
const escapeRows: { name: string; input: string; expected: string }[] = [
  { name: "plain text unchanged", input: "Mozilla/5.0 (X11; Linux)", expected: "Mozilla/5.0 (X11; Linux)" },
  { name: "empty", input: "", expected: "" },
  { name: "CR and LF", input: "a\r\nb", expected: "a\\x0d\\x0ab" },
  { name: "NUL", input: "a\0b", expected: "a\\x00b" },
  { name: "tab", input: "a\tb", expected: "a\\x09b" },
  { name: "ESC sequence", input: "\x1b[31mred", expected: "\\x1b[31mred" },
  { name: "DEL", input: "a\x7fb", expected: "a\\x7fb" },
  { name: "C1 CSI", input: "\u009b31m", expected: "\\x9b31m" },
  { name: "double quote", input: 'say "hi"', expected: 'say \\"hi\\"' },
  { name: "backslash", input: "a\\b", expected: "a\\\\b" },
  { name: "escaped-looking text cannot collide", input: "\\x0a", expected: "\\\\x0a" },
  { name: "latin1 byte", input: "caf\u00e9", expected: "caf\\xe9" },
  { name: "UTF-8 bytes decoded as latin1", input: "caf\u00c3\u00a9", expected: "caf\\xc3\\xa9" },
  { name: "no-break space", input: "a\u00a0b", expected: "a\\xa0b" },
  { name: "code unit above U+00FF", input: "a\u202eb", expected: "a\\u202eb" },
  { name: "lone surrogate", input: "a\ud800", expected: "a\\ud800" },
];

for (const row of escapeRows) {
  Deno.test(`escapeLogValue: ${row.name}`, () => {
    assert.equal(escapeLogValue(row.input), row.expected);
  });
}

Deno.test("escapeLogValue: every code unit gives printable ASCII with no bare quote", () => {
  for (let code = 0; code <= 0xffff; code++) {
    const escaped = escapeLogValue(`"${String.fromCharCode(code)}`);
    assert.match(escaped, /^[\x20-\x7e]*$/, `U+${code.toString(16)}`);
    assert.doesNotMatch(escaped.replaceAll("\\\\", "").replaceAll('\\"', ""), /"/);
  }
});

Deno.test("formatAccessLog: a forged line in the user agent stays inside its field", () => {
  const forged =
    'x"\n6.6.6.6 - admin [10/Oct/2000:13:55:36 +0000] "GET /secret HTTP/1.1" 200 1 "-" "y';
  const line = formatAccessLog("combined", exchange(request("/", { "user-agent": forged })), NOW);
  assert.doesNotMatch(line, /[\r\n]/);
  // Unescaped quotes: two each for the request line, the referer and the user agent.
  const quotes = line.replaceAll("\\\\", "").replaceAll('\\"', "").match(/"/g) ?? [];
  assert.equal(quotes.length, 6);
  assert.ok(line.endsWith('\\"-\\" \\"y"'), line);
});

// deno-fmt-ignore
const redactRows: { name: string; input: string; expected: string }[] = [
  { name: "no query", input: "/dir/file.txt", expected: "/dir/file.txt" },
  { name: "harmless query", input: "/f?name=a&sort=asc", expected: "/f?name=a&sort=asc" },
  { name: "token", input: "/f?token=abc", expected: "/f?token=REDACTED" },
  { name: "access_token among others", input: "/f?a=1&access_token=x.y.z&b=2", expected: "/f?a=1&access_token=REDACTED&b=2" },
  { name: "password", input: "/login?user=bob&password=hunter2", expected: "/login?user=bob&password=REDACTED" },
  { name: "passwd", input: "/?passwd=x", expected: "/?passwd=REDACTED" },
  { name: "case-insensitive apiKey", input: "/?apiKey=k1&API_KEY=k2", expected: "/?apiKey=REDACTED&API_KEY=REDACTED" },
  { name: "secret", input: "/?client_secret=s", expected: "/?client_secret=REDACTED" },
  { name: "auth", input: "/?auth=s&authorization=Basic%20xyz", expected: "/?auth=REDACTED&authorization=REDACTED" },
  { name: "presigned signature", input: "/o?X-Amz-Signature=ab12&X-Amz-Date=1", expected: "/o?X-Amz-Signature=REDACTED&X-Amz-Date=1" },
  { name: "percent-encoded name", input: "/?access%5Ftoken=x", expected: "/?access%5Ftoken=REDACTED" },
  { name: "malformed percent-encoding in name", input: "/?token%zz=x&q=%zz", expected: "/?token%zz=REDACTED&q=%zz" },
  { name: "semicolon separator", input: "/?a=1;token=x", expected: "/?a=1;token=REDACTED" },
  { name: "repeated parameter", input: "/?key=a&key=b", expected: "/?key=REDACTED&key=REDACTED" },
  { name: "name without value kept", input: "/?token&x=1", expected: "/?token&x=1" },
  { name: "empty value", input: "/?token=", expected: "/?token=REDACTED" },
  { name: "value containing =", input: "/?token=a=b", expected: "/?token=REDACTED" },
  { name: "only values named like credentials", input: "/?q=password", expected: "/?q=password" },
  { name: "fragment parameters", input: "http://h/cb#access_token=x&state=1", expected: "http://h/cb#access_token=REDACTED&state=1" },
  { name: "absolute-form userinfo", input: "http://bob:hunter2@example.com/f?x=1", expected: "http://REDACTED@example.com/f?x=1" },
  { name: "userinfo without path", input: "https://bob@example.com", expected: "https://REDACTED@example.com" },
  { name: "userinfo containing @", input: "http://a@b:c@example.com/", expected: "http://REDACTED@example.com/" },
  { name: "@ in path is not userinfo", input: "http://example.com/users/@bob", expected: "http://example.com/users/@bob" },
  { name: "@ in origin-form path", input: "/~bob@host/file", expected: "/~bob@host/file" },
  { name: "@ in query is not userinfo", input: "/f?mail=a@b.c", expected: "/f?mail=a@b.c" },
  { name: "authority-form userinfo", input: "bob:pw@example.com:443", expected: "REDACTED@example.com:443" },
  { name: "authority-form", input: "example.com:443", expected: "example.com:443" },
  { name: "asterisk-form", input: "*", expected: "*" },
];

for (const row of redactRows) {
  Deno.test(`redactUrl: ${row.name}`, () => {
    assert.equal(redactUrl(row.input), row.expected);
  });
}

for (const format of ["common", "combined", "json"] as const) {
  Deno.test(`formatAccessLog ${format}: credentials never appear`, () => {
    const record = exchange(
      request("http://bob:pw-userinfo@h/f?token=pw-query", {
        authorization: "Basic pw-authorization",
        cookie: "session=pw-cookie",
        referer: "http://h/page?password=pw-referer",
        "user-agent": "test",
      }),
      { user: "bob" },
    );
    const line = formatAccessLog(format, record, NOW);
    assert.doesNotMatch(line, /pw-/);
    assert.match(line, /REDACTED@h\/f\?token=REDACTED/);
    if (format !== "common") assert.match(line, /password=REDACTED/);
  });
}

Deno.test("formatAccessLog json: hostile values parse back exactly with no raw control characters", () => {
  const hostile = 'a"b\\c\r\n\0\x1b[31m\x7f\u009b\u00e9\u00c3\u00a9\u2028\u202e\ud800';
  const record = exchange(request(`/p?q=${hostile}`, { referer: hostile, "user-agent": hostile }), {
    user: hostile,
  });
  const line = formatAccessLog("json", record, NOW);
  assert.match(line, /^[\x20-\x7e]*$/);
  const parsed = JSON.parse(line);
  assert.equal(parsed.user_agent, hostile);
  assert.equal(parsed.referer, hostile);
  assert.equal(parsed.user, hostile);
  assert.equal(parsed.target, `/p?q=${hostile}`);
  assert.equal(parsed.time, "2000-10-10T13:55:36.000Z");
  assert.deepEqual(Object.keys(parsed), [
    "time",
    "remote",
    "user",
    "method",
    "target",
    "version",
    "status",
    "body_bytes_sent",
    "bytes_sent",
    "duration_ms",
    "referer",
    "user_agent",
  ]);
});

for (const format of ["common", "combined"] as const) {
  Deno.test(`formatAccessLog ${format}: hostile values give one printable ASCII line`, () => {
    const hostile = 'a"b\\c\r\n\0\x1b[31m\x7f\u009b\u00e9\u2028\ud800';
    const record = exchange(request(`/p?q=${hostile}`, { "user-agent": hostile }), {
      user: hostile,
    });
    const line = formatAccessLog(format, record, NOW);
    assert.match(line, /^[\x20-\x7e]*$/);
    assert.ok(line.includes('"GET /p?q=a\\"b\\\\c\\x0d\\x0a\\x00\\x1b[31m\\x7f\\x9b\\xe9'), line);
    // The user field is one space-free token before the date, with no "[" a parser could take for it.
    const user = line.split(" ")[2];
    assert.ok(line.startsWith(`127.0.0.1 - ${user} [10/Oct/2000:`), line);
    assert.doesNotMatch(user, /[[\]]/);
    assert.doesNotMatch(user.replaceAll("\\\\", "").replaceAll('\\"', ""), /"/);
  });
}

/** A sink that records each write; `held`, when set, keeps writes pending until released. */
class RecordingSink {
  writes: string[] = [];
  #release: (() => void)[] = [];
  held = false;
  maxChunk = Infinity;
  failNext = 0;

  write = (bytes: Uint8Array): Promise<number> | number => {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("broken pipe");
    }
    const n = Math.min(bytes.length, this.maxChunk);
    this.writes.push(new TextDecoder().decode(bytes.subarray(0, n)));
    if (!this.held) return n;
    return new Promise((resolve) => this.#release.push(() => resolve(n)));
  };

  /** Lets held writes complete, now and later. */
  release(): void {
    this.held = false;
    for (const resolve of this.#release.splice(0)) resolve();
  }

  get text(): string {
    return this.writes.join("");
  }

  get lines(): string[] {
    return this.text.split("\n").filter((line) => line !== "");
  }
}

const fixedClock = { now: () => NOW };

Deno.test("AccessLogger: log() returns before anything is written", async () => {
  const sink = new RecordingSink();
  const logger = new AccessLogger("common", sink.write, fixedClock);
  logger.log(exchange(request("/")));
  assert.equal(sink.writes.length, 0);
  await logger.flush();
  assert.deepEqual(sink.writes, [
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326\n',
  ]);
});

Deno.test("AccessLogger: many lines in one task are one write", async () => {
  const sink = new RecordingSink();
  const logger = new AccessLogger("json", sink.write, fixedClock);
  for (let i = 0; i < 1000; i++) logger.log(exchange(request(`/f${i}`)));
  await logger.flush();
  assert.equal(sink.writes.length, 1);
  const targets = sink.lines.map((line) => JSON.parse(line).target);
  assert.deepEqual(targets, Array.from({ length: 1000 }, (_, i) => `/f${i}`));
  assert.equal(logger.droppedLines, 0);
});

Deno.test("AccessLogger: lines logged during a write go out in the next single write", async () => {
  const sink = new RecordingSink();
  sink.held = true;
  const logger = new AccessLogger("common", sink.write, fixedClock);
  logger.log(exchange(request("/first")));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(sink.writes.length, 1);
  for (let i = 0; i < 50; i++) {
    logger.log(exchange(request(`/later${i}`)));
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(sink.writes.length, 1, "nothing more is written while the first write is held");
  sink.release();
  await logger.flush();
  assert.equal(sink.writes.length, 2);
  assert.equal(sink.lines.length, 51);
  assert.equal(logger.droppedLines, 0);
});

Deno.test("AccessLogger: a slow sink drops lines past the bound instead of buffering them", async () => {
  const sink = new RecordingSink();
  sink.held = true;
  const lineBytes = formatAccessLog("common", exchange(request("/f0000")), NOW).length + 1;
  const logger = new AccessLogger("common", sink.write, {
    ...fixedClock,
    maxBufferedBytes: 10 * lineBytes,
  });
  logger.log(exchange(request("/f0000")));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(sink.writes.length, 1, "first line is in flight");
  for (let i = 1; i <= 1000; i++) {
    logger.log(exchange(request(`/f${String(i).padStart(4, "0")}`)));
  }
  assert.equal(logger.droppedLines, 990);
  sink.release();
  await logger.flush();
  assert.equal(sink.lines.length, 11);
  assert.ok(sink.lines[10].includes("/f0010 "), sink.lines[10]);
  // After the backlog drains, lines are accepted again.
  logger.log(exchange(request("/after")));
  await logger.flush();
  assert.equal(sink.lines.length, 12);
  assert.equal(logger.droppedLines, 990);
});

Deno.test("AccessLogger: partial writes are continued until the batch is out", async () => {
  const sink = new RecordingSink();
  sink.maxChunk = 7;
  const logger = new AccessLogger("combined", sink.write, fixedClock);
  for (let i = 0; i < 20; i++) logger.log(exchange(request(`/f${i}`, BROWSER)));
  await logger.flush();
  assert.ok(sink.writes.every((chunk) => chunk.length <= 7));
  assert.deepEqual(
    sink.lines,
    Array.from(
      { length: 20 },
      (_, i) => formatAccessLog("combined", exchange(request(`/f${i}`, BROWSER)), NOW),
    ),
  );
});

Deno.test("AccessLogger: a failing sink counts the lost lines and recovers", async () => {
  const sink = new RecordingSink();
  sink.failNext = 1;
  const logger = new AccessLogger("common", sink.write, fixedClock);
  for (let i = 0; i < 3; i++) logger.log(exchange(request(`/lost${i}`)));
  await logger.flush();
  assert.equal(logger.droppedLines, 3);
  logger.log(exchange(request("/kept")));
  await logger.flush();
  assert.equal(sink.lines.length, 1);
  assert.match(sink.lines[0], /GET \/kept /);
});

Deno.test("AccessLogger: a sink that writes nothing does not loop forever", async () => {
  const logger = new AccessLogger("common", () => 0, fixedClock);
  logger.log(exchange(request("/")));
  await logger.flush();
  assert.equal(logger.droppedLines, 1);
});

Deno.test("AccessLogger: flush with nothing queued resolves", async () => {
  const logger = new AccessLogger("json", () => {
    throw new Error("never called");
  });
  await logger.flush();
  assert.equal(logger.droppedLines, 0);
});

Deno.test("AccessLogger: writes to a real file through Deno.FsFile.write", async () => {
  const path = await Deno.makeTempFile({ prefix: "filedrop-access-log-" });
  try {
    const file = await Deno.open(path, { write: true });
    const logger = new AccessLogger("json", (bytes) => file.write(bytes), fixedClock);
    for (let i = 0; i < 100; i++) logger.log(exchange(request(`/f${i}`), { user: "bob" }));
    await logger.flush();
    file.close();
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 100);
    assert.deepEqual(JSON.parse(lines[99]).target, "/f99");
    assert.deepEqual(JSON.parse(lines[0]).user, "bob");
  } finally {
    await Deno.remove(path);
  }
});

/** Waits until `condition` holds, polling; fails after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("AccessLogger: drops are reported after the task, then at most once per interval, and by flush", async () => {
  const sink = new RecordingSink();
  sink.held = true;
  const reports: [number, number][] = [];
  const lineBytes = formatAccessLog("common", exchange(request("/f0")), NOW).length + 1;
  const logger = new AccessLogger("common", sink.write, {
    ...fixedClock,
    maxBufferedBytes: lineBytes,
    reportIntervalMs: 400,
    onDropped: (lines, total) => reports.push([lines, total]),
  });
  logger.log(exchange(request("/f0")));
  await new Promise((resolve) => setTimeout(resolve, 0));
  logger.log(exchange(request("/f1"))); // Queued behind the held write: the buffer is now full.
  for (let i = 0; i < 5; i++) logger.log(exchange(request("/f2")));
  assert.deepEqual(reports, [], "nothing is reported inside the task that dropped");
  await waitFor(() => reports.length === 1, "the first report");
  assert.deepEqual(reports, [[5, 5]], "a burst is one report");
  const firstReportAt = Date.now();

  for (let i = 0; i < 3; i++) logger.log(exchange(request("/f3")));
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (Date.now() - firstReportAt < 350) {
    assert.deepEqual(reports, [[5, 5]], "held back until the interval ends");
  }
  await waitFor(() => reports.length === 2, "the second report");
  assert.ok(Date.now() - firstReportAt >= 390, "not before the interval ended");
  assert.deepEqual(reports[1], [3, 8]);

  logger.log(exchange(request("/f4")));
  assert.equal(logger.droppedLines, 9);
  sink.release();
  await logger.flush(); // Reports the last drop at once, and clears its timer.
  assert.deepEqual(reports, [[5, 5], [3, 8], [1, 9]]);
  assert.equal(sink.lines.length, 2);
  await logger.flush();
  assert.equal(reports.length, 3, "nothing new, nothing reported");
});

Deno.test("AccessLogger: the lines of a failed write are reported, and a throwing reporter is ignored", async () => {
  const sink = new RecordingSink();
  sink.failNext = 1;
  let reported = 0;
  const logger = new AccessLogger("common", sink.write, {
    ...fixedClock,
    onDropped: (lines) => {
      reported += lines;
      throw new Error("stderr is closed too");
    },
  });
  for (let i = 0; i < 3; i++) logger.log(exchange(request(`/lost${i}`)));
  await logger.flush();
  assert.equal(reported, 3);
  logger.log(exchange(request("/kept")));
  await logger.flush();
  assert.equal(reported, 3);
  assert.equal(sink.lines.length, 1);
});

// --- A real server over real sockets ------------------------------------------------------

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const A_TXT = "hello world\n";
/** Compressible and over the on-the-fly gzip threshold. */
const PAGE_HTML = "<p>hello, access log</p>\n".repeat(200);
const AUTH_USERS = ["alice:s3cret", "Jos\u00e9 Q:pw"];
const HOSTILE_AGENT = 'curl/8 "quoted" \\ back\ttab';
const REFERER = "http://example.com/page?password=hunter2&x=1";

function basic(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return `Authorization: Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** One response as it crossed the wire: sizes are bytes actually received. */
interface Wire {
  status: number;
  headers: Map<string, string>;
  /** Head and body. */
  totalBytes: number;
  /** Everything after the head's blank line (the message body, transfer coding included). */
  bodyBytes: number;
}

/** What the scenario sent, and what each log line should say about it. */
interface Sent {
  name: string;
  /** The request line a log should show (credentials redacted), or null for a rejected head. */
  requestLine: string | null;
  /** The user name the log should show, or null for none. */
  user: string | null;
  referer: string | null;
  userAgent: string | null;
  wire: Wire;
}

async function sendRaw(port: number, text: string): Promise<Wire> {
  // Connection: close (or a rejected head): the server closes after its one response.
  const { text: received, closed } = await rawExchange(port, text, { timeoutMs: 15_000 });
  assert.ok(closed, `the server closed after answering ${JSON.stringify(text.slice(0, 40))}`);
  const headEnd = received.indexOf("\r\n\r\n");
  assert.ok(headEnd > 0, `a response head: ${JSON.stringify(received.slice(0, 200))}`);
  const lines = received.slice(0, headEnd).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  // latin1 text: one character per byte received.
  return {
    status: Number(lines[0].split(" ")[1]),
    headers,
    totalBytes: received.length,
    bodyBytes: received.length - headEnd - 4,
  };
}

/**
 * Sends the requests whose body bytes the formats must get right, one
 * connection each, and checks what the wire says about each; returns them in
 * order (the server logs them in that order: each ends before the next).
 */
async function runScenario(port: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  const go = async (
    name: string,
    requestLine: string,
    headers: string[] = [],
    options: { body?: string; user?: string; logged?: string } = {},
  ): Promise<Wire> => {
    const head = [requestLine, "Host: localhost", "Connection: close", ...headers];
    const wire = await sendRaw(port, `${head.join("\r\n")}\r\n\r\n${options.body ?? ""}`);
    const header = (name: string) => {
      const line = headers.find((h) => h.toLowerCase().startsWith(`${name}: `));
      return line === undefined ? null : line.slice(name.length + 2);
    };
    sent.push({
      name,
      requestLine: options.logged ?? requestLine,
      user: options.user ?? null,
      referer: header("referer"),
      userAgent: header("user-agent"),
      wire,
    });
    return wire;
  };

  const ok = await go("200 with a body", "GET /a.txt HTTP/1.1", ["User-Agent: test/1"]);
  assert.equal(ok.status, 200);
  assert.equal(ok.bodyBytes, A_TXT.length);
  const head = await go("HEAD", "HEAD /a.txt HTTP/1.1");
  assert.equal(head.status, 200);
  assert.equal(head.bodyBytes, 0);
  const etag = ok.headers.get("etag");
  assert.ok(etag !== undefined);
  const notModified = await go("304", "GET /a.txt HTTP/1.1", [`If-None-Match: ${etag}`]);
  assert.equal(notModified.status, 304);
  assert.equal(notModified.bodyBytes, 0);
  const missing = await go("404", "GET /missing.txt HTTP/1.1");
  assert.equal(missing.status, 404);
  assert.ok(missing.bodyBytes > 0);
  const ranged = await go("206", "GET /a.txt HTTP/1.1", ["Range: bytes=2-5"]);
  assert.equal(ranged.status, 206);
  assert.equal(ranged.bodyBytes, 4);
  for (const version of ["1.1", "1.0"]) {
    const gzip = await go(`gzip over HTTP/${version}`, `GET /page.html HTTP/${version}`, [
      "Accept-Encoding: gzip",
    ]);
    assert.equal(gzip.status, 200);
    assert.equal(gzip.headers.get("content-encoding"), "gzip");
    // HTTP/1.1 gets it chunked (framing included in the body bytes), HTTP/1.0 close-delimited.
    assert.equal(gzip.headers.get("transfer-encoding"), version === "1.1" ? "chunked" : undefined);
    assert.ok(gzip.bodyBytes > 0 && gzip.bodyBytes < PAGE_HTML.length / 4, `${gzip.bodyBytes}`);
  }
  const anonymous = await go("401 without credentials", "PUT /up.txt HTTP/1.1", [
    "Content-Length: 4",
  ], { body: "data" });
  assert.equal(anonymous.status, 401);
  const wrong = await go("401 with a wrong password", "PUT /up.txt HTTP/1.1", [
    basic("alice", "nope"),
    "Content-Length: 4",
  ], { body: "data" });
  assert.equal(wrong.status, 401);
  const put = await go("201 after Basic auth", "PUT /up.txt HTTP/1.1", [
    basic("alice", "s3cret"),
    "Content-Length: 4",
  ], { body: "data", user: "alice" });
  assert.equal(put.status, 201);
  const unicode = await go("a non-ASCII user name with a space", "PUT /up.txt HTTP/1.1", [
    basic("Jos\u00e9 Q", "pw"),
    "Content-Length: 5",
  ], { body: "data2", user: "Jos\u00e9 Q" });
  assert.ok(unicode.status === 204 || unicode.status === 200, `${unicode.status}`);
  // Credentials sent with an open read are checked too (they may grant more), so the user is logged.
  await go("open read with credentials", "GET /a.txt HTTP/1.1", [basic("alice", "s3cret")], {
    user: "alice",
  });
  const hostile = await go(
    "referer, hostile user agent, token",
    "GET /a.txt?token=hunter2 HTTP/1.1",
    [
      `Referer: ${REFERER}`,
      `User-Agent: ${HOSTILE_AGENT}`,
    ],
    { logged: "GET /a.txt?token=REDACTED HTTP/1.1" },
  );
  assert.equal(hostile.status, 200);

  const rejected = await sendRaw(port, "NOT A REQUEST\r\n\r\n");
  assert.ok(rejected.status >= 400 && rejected.bodyBytes > 0);
  sent.push({
    name: "rejected head",
    requestLine: null,
    user: null,
    referer: null,
    userAgent: null,
    wire: rejected,
  });
  return sent;
}

async function writeFixtures(root: string): Promise<void> {
  await Deno.writeTextFile(path.join(root, "a.txt"), A_TXT);
  await Deno.writeTextFile(path.join(root, "page.html"), PAGE_HTML);
}

/**
 * Undoes Apache's escaping of logged strings (mod_log_config: `\"` and `\\`,
 * and `\xhh` for the raw byte hh) and decodes the bytes as UTF-8 when they
 * are, latin1 otherwise. Written from the documentation, not from our code.
 */
function unescapeApache(field: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    if (
      field[i] === "\\" && field[i + 1] === "x" &&
      /^[0-9a-fA-F]{2}$/.test(field.slice(i + 2, i + 4))
    ) {
      bytes.push(parseInt(field.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (field[i] === "\\" && (field[i + 1] === '"' || field[i + 1] === "\\")) {
      bytes.push(field.charCodeAt(++i));
    } else bytes.push(field.charCodeAt(i));
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return String.fromCharCode(...bytes);
  }
}

/** A quoted field as Apache and nginx write it: backslash escapes inside, no bare quote. */
const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
/** `%t` / `$time_local`: `[day/month/year:hour:minute:second zone]`. */
const TIME = String
  .raw`\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]`;
/** Apache: `LogFormat "%h %l %u %t \"%r\" %>s %b" common`; %b is `-`, never 0, for no body bytes. */
const APACHE_COMMON = new RegExp(
  String.raw`^(\S+) (\S+) (\S+) ${TIME} ${QUOTED} (\d{3}) (-|[1-9]\d*)$`,
);
/**
 * nginx: `log_format combined '$remote_addr - $remote_user [$time_local] "$request" $status
 * $body_bytes_sent "$http_referer" "$http_user_agent"'`; $body_bytes_sent is a number, 0 for none.
 */
const NGINX_COMBINED = new RegExp(
  String.raw`^(\S+) - (\S+) ${TIME} ${QUOTED} (\d{3}) (0|[1-9]\d*) ${QUOTED} ${QUOTED}$`,
);
const MONTH_NAMES = "JanFebMarAprMayJunJulAugSepOctNovDec";

/** The instant a `%t` field names, from its captured parts. */
function timeOf(parts: string[]): number {
  const [day, month, year, hour, minute, second, sign, zoneHours, zoneMinutes] = parts;
  const monthIndex = MONTH_NAMES.indexOf(month) / 3;
  assert.ok(Number.isInteger(monthIndex), month);
  const offsetMs = (sign === "-" ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes)) *
    60_000;
  return Date.UTC(+year, monthIndex, +day, +hour, +minute, +second) - offsetMs;
}

/** Checks one text line against what was sent, using only the format's definition. */
function checkTextLine(
  format: "common" | "combined",
  line: string,
  sent: Sent,
  since: number,
): void {
  const match = (format === "common" ? APACHE_COMMON : NGINX_COMBINED).exec(line);
  assert.ok(match !== null, `${sent.name}: not a ${format} line: ${line}`);
  const fields = match.slice(1);
  const [host] = fields;
  const [ident, user] = format === "common" ? fields.slice(1, 3) : ["-", fields[1]];
  const rest = fields.slice(format === "common" ? 3 : 2);
  const time = timeOf(rest.slice(0, 9));
  const [request, status, bytes, referer, userAgent] = rest.slice(9);
  assert.equal(host, "127.0.0.1", sent.name);
  assert.equal(ident, "-", sent.name);
  assert.equal(user === "-" ? null : unescapeApache(user), sent.user, `${sent.name}: user`);
  assert.ok(
    time >= Math.floor(since / 1000) * 1000 && time <= Date.now() + 1000,
    `${sent.name}: time`,
  );
  assert.equal(request === "-" ? null : unescapeApache(request), sent.requestLine, sent.name);
  assert.equal(Number(status), sent.wire.status, sent.name);
  const expectedBytes = sent.wire.bodyBytes === 0 && format === "common"
    ? "-"
    : String(sent.wire.bodyBytes);
  assert.equal(bytes, expectedBytes, `${sent.name}: body bytes`);
  if (format === "combined") {
    const expectedReferer = sent.referer === null
      ? null
      : sent.referer.replace("hunter2", "REDACTED");
    assert.equal(referer === "-" ? null : unescapeApache(referer), expectedReferer, sent.name);
    assert.equal(userAgent === "-" ? null : unescapeApache(userAgent), sent.userAgent, sent.name);
  }
}

Deno.test("real server: common, combined and json lines, read by parsers written from Apache's and nginx's definitions, match the wire", async () => {
  const formats = ["common", "combined", "json"] as const;
  const sinks = formats.map(() => new RecordingSink());
  const loggers = formats.map((format, i) => new AccessLogger(format, sinks[i].write));
  const since = Date.now();
  let sent: Sent[] = [];
  await withServer({
    auth: AUTH_USERS,
    onExchange: (record) => loggers.forEach((logger) => logger.log(record)),
  }, async (server, root) => {
    await writeFixtures(root);
    sent = await runScenario(server.addr.port);
  });
  for (const logger of loggers) await logger.flush();
  const [common, combined, json] = sinks.map((sink) => sink.lines);
  for (const lines of [common, combined, json]) assert.equal(lines.length, sent.length);

  sent.forEach((exchange, i) => {
    checkTextLine("common", common[i], exchange, since);
    checkTextLine("combined", combined[i], exchange, since);
    const record = JSON.parse(json[i]);
    assert.equal(record.status, exchange.wire.status, exchange.name);
    assert.equal(record.user, exchange.user, exchange.name);
    assert.equal(record.body_bytes_sent, exchange.wire.bodyBytes, `${exchange.name}: body bytes`);
    assert.equal(record.bytes_sent, exchange.wire.totalBytes, `${exchange.name}: head and body`);
    assert.ok(typeof record.duration_ms === "number" && record.duration_ms >= 0, exchange.name);
    const requestLine = record.method === null
      ? null
      : `${record.method} ${record.target} ${record.version}`;
    assert.equal(requestLine, exchange.requestLine, exchange.name);
  });
  // The ones the issue names, spelled out.
  const line = (name: string) => common[sent.findIndex((s) => s.name === name)];
  assert.match(line("HEAD"), /" 200 -$/);
  assert.match(line("304"), /" 304 -$/);
  assert.match(line("206"), /" 206 4$/);
  assert.match(line("200 with a body"), /" 200 12$/);
  assert.match(line("201 after Basic auth"), /^127\.0\.0\.1 - alice \[/);
  assert.match(
    line("a non-ASCII user name with a space"),
    /^127\.0\.0\.1 - Jos\\xc3\\xa9\\x20Q \[/,
  );
  assert.match(line("401 with a wrong password"), /^127\.0\.0\.1 - - \[/);
  assert.match(combined[sent.findIndex((s) => s.name === "HEAD")], /" 200 0 "-" "-"$/);
  for (const text of [...common, ...combined, ...json]) {
    assert.doesNotMatch(text, /hunter2|s3cret|nope/, "no password or token in any line");
  }
});

// --- GoAccess reads the lines the program writes ------------------------------------------

const goaccess = await (async () => {
  try {
    const { code } = await new Deno.Command("goaccess", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return code === 0;
  } catch {
    return false;
  }
})();

/** Runs main.ts with `--log format`, sends the scenario, stops it with SIGTERM, returns its access log lines. */
async function logOfProgram(
  format: LogFormat,
  root: string,
): Promise<{ lines: string[]; sent: Sent[] }> {
  const args = [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    path.join(PROJECT, "main.ts"),
  ];
  for (const user of AUTH_USERS) args.push("--auth", user);
  args.push("--port", "0", "--no-fsync", "--log", format, root);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: PROJECT,
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  let stdout = "";
  const reading = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stdout += chunk) }),
  );
  const stderr = new Response(child.stderr).text();
  try {
    const deadline = Date.now() + 30_000;
    while (!/http:\/\/127\.0\.0\.1:\d+\//.test(stdout)) {
      if (Date.now() > deadline) throw new Error(`the server did not start: ${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)![1]);
    const sent = await runScenario(port);
    // SIGTERM: the program stops, flushes its log, exits 0.
    child.kill("SIGTERM");
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0, await stderr);
    assert.equal(await stderr, "", "no drops or errors reported");
    const lines = stdout.split("\n").filter((line) => line.startsWith("127.0.0.1 "));
    return { lines, sent };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await reading.catch(() => {});
    await stderr;
    throw error;
  }
}

interface GoAccessTotals {
  requests: number;
  failed: number;
  bandwidth: number;
  /** Hits and bytes by status code. */
  statuses: Map<number, { hits: number; bytes: number }>;
}

/** Runs GoAccess headless on a log file and returns its report's totals. */
async function goaccessTotals(
  logFile: string,
  format: "COMMON" | "COMBINED",
): Promise<GoAccessTotals> {
  const report = path.join(path.dirname(logFile), "report.json");
  const { code, stderr } = await new Deno.Command("goaccess", {
    // A file argument and -o: no terminal UI; no global config or progress output to vary by machine.
    args: [logFile, `--log-format=${format}`, "--no-global-config", "--no-progress", "-o", report],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const json = JSON.parse(await Deno.readTextFile(report));
  const statuses = new Map<number, { hits: number; bytes: number }>();
  for (const group of json.status_codes.data) {
    for (const item of group.items) {
      statuses.set(Number(String(item.data).slice(0, 3)), {
        hits: item.hits.count,
        bytes: item.bytes.count,
      });
    }
  }
  return {
    requests: json.general.total_requests,
    failed: json.general.failed_requests,
    bandwidth: json.general.bandwidth,
    statuses,
  };
}

for (const format of ["common", "combined"] as const) {
  const name = `goaccess --log-format=${format.toUpperCase()} reads the program's ${format} log: ` +
    "requests, bytes and status codes match the wire";
  Deno.test({
    name: goaccess ? name : `${name} (skipped: goaccess is not installed)`,
    ignore: !goaccess,
    fn: async () => {
      const root = await Deno.makeTempDir({ prefix: "filedrop-goaccess-" });
      const work = await Deno.makeTempDir({ prefix: "filedrop-goaccess-report-" });
      try {
        await writeFixtures(root);
        const since = Date.now();
        const { lines, sent } = await logOfProgram(format, root);
        assert.equal(lines.length, sent.length, lines.join("\n"));
        lines.forEach((line, i) => checkTextLine(format, line, sent[i], since));
        const logFile = path.join(work, "access.log");
        await Deno.writeTextFile(logFile, lines.join("\n") + "\n");

        const totals = await goaccessTotals(logFile, format === "common" ? "COMMON" : "COMBINED");
        assert.equal(totals.failed, 0, "every line parsed");
        assert.equal(totals.requests, sent.length);
        assert.equal(totals.bandwidth, sent.reduce((sum, s) => sum + s.wire.bodyBytes, 0));
        const expected = new Map<number, { hits: number; bytes: number }>();
        for (const { wire } of sent) {
          const entry = expected.get(wire.status) ?? { hits: 0, bytes: 0 };
          entry.hits++;
          entry.bytes += wire.bodyBytes;
          expected.set(wire.status, entry);
        }
        assert.deepEqual(totals.statuses, expected);
      } finally {
        await Deno.remove(root, { recursive: true });
        await Deno.remove(work, { recursive: true });
      }
    },
  });
}

Deno.test("the program reports access log lines it could not write on stderr, and at shutdown", async () => {
  const root = await Deno.makeTempDir({ prefix: "filedrop-dropped-" });
  try {
    await writeFixtures(root);
    const args = [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "main.ts",
      "--port",
      "0",
      root,
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: PROJECT,
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let stdout = "";
    while (!/http:\/\/127\.0\.0\.1:\d+\//.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the server did not start: ${await stderr}`);
      stdout += value;
    }
    const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)![1]);
    // Closing the read end of stdout makes every later write fail (a broken pipe).
    await reader.cancel();
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await sendRaw(port, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
          .status,
        200,
      );
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    const reports = (await stderr).split("\n").filter((line) => line.includes("dropped"));
    assert.ok(reports.length >= 1, await stderr);
    assert.match(
      reports.at(-1)!,
      /^filedrop: \d+ access log line\(s\) dropped: .*\(3 since start\)$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
