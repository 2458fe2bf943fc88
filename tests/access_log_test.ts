import assert from "node:assert/strict";
import { AccessLogger, escapeLogValue, formatAccessLog, redactUrl } from "../lib/access_log.ts";
import type { LogFormat } from "../lib/access_log.ts";
import type { ExchangeRecord } from "../lib/connection.ts";
import type { Request } from "../lib/http/message.ts";

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

function withRemote(record: ExchangeRecord, remoteAddr: string): ExchangeRecord {
  return { ...record, remoteAddr };
}

function exchange(
  req: Request | null,
  status = 200,
  bytesSent = 2326,
  durationMs = 123,
): ExchangeRecord {
  return { request: req, status, bytesSent, durationMs, remoteAddr: "127.0.0.1" };
}

const BROWSER = {
  referer: "http://example.com/start.html",
  "user-agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
};

// deno-fmt-ignore
const formatRows: {
  name: string;
  format: LogFormat;
  record: ExchangeRecord;
  remote: string;
  user?: string;
  expected: string;
}[] = [
  {
    name: "common GET",
    format: "common", record: exchange(request("/apache_pb.gif", BROWSER)), remote: "127.0.0.1",
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.1" 200 2326 0.123',
  },
  {
    name: "common HTTP/1.0 with a user and a slow response",
    format: "common", record: exchange(request("/a", {}, "HEAD", 0), 304, 150, 61_234),
    remote: "::1", user: "frank",
    expected: '::1 - frank [10/Oct/2000:13:55:36 +0000] "HEAD /a HTTP/1.0" 304 150 61.234',
  },
  {
    name: "common rejected head",
    format: "common", record: exchange(null, 400, 97, 0), remote: "10.0.0.7",
    expected: '10.0.0.7 - - [10/Oct/2000:13:55:36 +0000] "-" 400 97 0.000',
  },
  {
    name: "common unknown remote, nothing sent, negative clock step clamped",
    format: "common", record: exchange(request("/"), 200, 0, -5), remote: "-",
    expected: '- - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 0 0.000',
  },
  {
    name: "common user name with a space and a quote stays one field",
    format: "common", record: exchange(request("/")), remote: "127.0.0.1", user: 'a b"c',
    expected: '127.0.0.1 - a\\x20b\\"c [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 0.123',
  },
  {
    name: "combined GET",
    format: "combined", record: exchange(request("/apache_pb.gif", BROWSER)), remote: "127.0.0.1",
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /apache_pb.gif HTTP/1.1" 200 2326 ' +
      '"http://example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)" 0.123',
  },
  {
    name: "combined without referer and user agent",
    format: "combined", record: exchange(request("/x", {}, "PUT"), 201, 80, 5), remote: "127.0.0.1",
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "PUT /x HTTP/1.1" 201 80 "-" "-" 0.005',
  },
  {
    name: "combined rejected head",
    format: "combined", record: exchange(null, 431, 120, 1), remote: "127.0.0.1",
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "-" 431 120 "-" "-" 0.001',
  },
  {
    name: "combined empty user agent stays distinct from a missing one",
    format: "combined", record: exchange(request("/", { "user-agent": "" })), remote: "127.0.0.1",
    expected: '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "-" "" 0.123',
  },
  {
    name: "json GET",
    format: "json", record: exchange(request("/apache_pb.gif", BROWSER)), remote: "127.0.0.1",
    expected: '{"time":"2000-10-10T13:55:36.000Z","remote":"127.0.0.1","method":"GET",' +
      '"target":"/apache_pb.gif","version":"HTTP/1.1","status":200,"bytes":2326,"duration_ms":123,' +
      '"referer":"http://example.com/start.html","user_agent":"Mozilla/4.08 [en] (Win98; I ;Nav)","user":null}',
  },
  {
    name: "json rejected head, unknown remote, with user",
    format: "json", record: exchange(null, 400, 97, 2), remote: "-", user: "frank",
    expected: '{"time":"2000-10-10T13:55:36.000Z","remote":null,"method":null,"target":null,' +
      '"version":null,"status":400,"bytes":97,"duration_ms":2,"referer":null,"user_agent":null,' +
      '"user":"frank"}',
  },
];

for (const row of formatRows) {
  Deno.test(`formatAccessLog: ${row.name}`, () => {
    assert.equal(
      formatAccessLog(row.format, withRemote(row.record, row.remote), NOW, row.user),
      row.expected,
    );
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
  const line = formatAccessLog(
    "combined",
    withRemote(exchange(request("/", { "user-agent": forged })), "127.0.0.1"),
    NOW,
  );
  assert.doesNotMatch(line, /[\r\n]/);
  // Unescaped quotes: two each for the request line, the referer and the user agent.
  const quotes = line.replaceAll("\\\\", "").replaceAll('\\"', "").match(/"/g) ?? [];
  assert.equal(quotes.length, 6);
  assert.ok(line.endsWith('\\"-\\" \\"y" 0.123'), line);
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
    const record = exchange(request("http://bob:pw-userinfo@h/f?token=pw-query", {
      authorization: "Basic pw-authorization",
      cookie: "session=pw-cookie",
      referer: "http://h/page?password=pw-referer",
      "user-agent": "test",
    }));
    const line = formatAccessLog(format, withRemote(record, "127.0.0.1"), NOW);
    assert.doesNotMatch(line, /pw-/);
    assert.match(line, /REDACTED@h\/f\?token=REDACTED/);
    if (format !== "common") assert.match(line, /password=REDACTED/);
  });
}

Deno.test("formatAccessLog json: hostile values parse back exactly with no raw control characters", () => {
  const hostile = 'a"b\\c\r\n\0\x1b[31m\x7f\u009b\u00e9\u00c3\u00a9\u2028\u202e\ud800';
  const record = exchange(request(`/p?q=${hostile}`, { referer: hostile, "user-agent": hostile }));
  const line = formatAccessLog("json", withRemote(record, "127.0.0.1"), NOW);
  assert.match(line, /^[\x20-\x7e]*$/);
  const parsed = JSON.parse(line);
  assert.equal(parsed.user_agent, hostile);
  assert.equal(parsed.referer, hostile);
  assert.equal(parsed.target, `/p?q=${hostile}`);
  assert.equal(parsed.time, "2000-10-10T13:55:36.000Z");
  assert.deepEqual(Object.keys(parsed), [
    "time",
    "remote",
    "method",
    "target",
    "version",
    "status",
    "bytes",
    "duration_ms",
    "referer",
    "user_agent",
    "user",
  ]);
});

for (const format of ["common", "combined"] as const) {
  Deno.test(`formatAccessLog ${format}: hostile values give one printable ASCII line`, () => {
    const hostile = 'a"b\\c\r\n\0\x1b[31m\x7f\u009b\u00e9\u2028\ud800';
    const record = exchange(request(`/p?q=${hostile}`, { "user-agent": hostile }), 200, 1, 1);
    const line = formatAccessLog(format, withRemote(record, "127.0.0.1"), NOW);
    assert.match(line, /^[\x20-\x7e]*$/);
    assert.ok(line.includes('"GET /p?q=a\\"b\\\\c\\x0d\\x0a\\x00\\x1b[31m\\x7f\\x9b\\xe9'), line);
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
    '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 0.123\n',
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
  const lineBytes =
    formatAccessLog("common", withRemote(exchange(request("/f0000")), "127.0.0.1"), NOW).length + 1;
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
      (_, i) =>
        formatAccessLog(
          "combined",
          withRemote(exchange(request(`/f${i}`, BROWSER)), "127.0.0.1"),
          NOW,
        ),
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
    for (let i = 0; i < 100; i++) logger.log(exchange(request(`/f${i}`)), "bob");
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
