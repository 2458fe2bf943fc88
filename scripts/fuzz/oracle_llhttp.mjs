/**
 * A differential oracle: how Node's own llhttp reads a byte stream of requests.
 *
 * Reads JSON lines `{"id": N, "data": BASE64}` on stdin and writes one JSON
 * line per input on stdout, in the trace format of `scripts/fuzz/trace.ts`.
 * The first line is `{"ready": "llhttp VERSION (node VERSION)"}`.
 *
 * It drives the parser binding that `node:http` itself uses (`HTTPParser` from
 * `_http_common`), in strict mode (no lenient flags, as a default `node:http`
 * server) and with a header limit far above the server's, so that size limits
 * are compared separately. A `node:http` server on a socket would add its own
 * checks (Host, timeouts) and hide where each message ends; the binding gives
 * llhttp's verdicts alone.
 *
 * The binding reports messages but not their offsets, so offsets are found by
 * bisection: the end of message k is the shortest prefix of the input after
 * which a fresh parser has completed k messages (and the head end likewise
 * with completed heads). Counts only grow with the prefix, so bisection is exact.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const { HTTPParser, methods } = require("_http_common");

/** Far above the server's 64 KiB head limit. */
const MAX_HEADER_SIZE = 1 << 24;

const parser = new HTTPParser();

/**
 * Runs a fresh parser over `data`; calls `onHead(info)`, `onBody(bytes)` and
 * `onComplete()` as llhttp reports them. Returns llhttp's result: the bytes
 * it parsed, or an Error with `code`, `reason` and `bytesParsed`.
 */
function execute(data, onHead, onBody, onComplete) {
  // Strict (no lenient flags); Node 18 has no kLenientNone, where 0 means the same.
  parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, HTTPParser.kLenientNone ?? 0);
  let pendingHeaders = [];
  let pendingUrl = "";
  parser[HTTPParser.kOnMessageBegin] = () => {};
  // Long heads arrive in pieces: kOnHeaders first, the rest with kOnHeadersComplete.
  parser[HTTPParser.kOnHeaders] = (headers, url) => {
    pendingHeaders = pendingHeaders.concat(headers);
    pendingUrl += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    major,
    minor,
    headers,
    method,
    url,
    _status,
    _message,
    upgrade,
    keepAlive,
  ) => {
    onHead({
      major,
      minor,
      headers: pendingHeaders.concat(headers ?? []),
      method: methods[method],
      url: pendingUrl + (url ?? ""),
      upgrade,
      keepAlive,
    });
    pendingHeaders = [];
    pendingUrl = "";
    return 0;
  };
  parser[HTTPParser.kOnBody] = onBody;
  parser[HTTPParser.kOnMessageComplete] = () => {
    // Trailer fields are flushed through kOnHeaders, with the message's URL again.
    pendingHeaders = [];
    pendingUrl = "";
    onComplete();
  };
  parser[HTTPParser.kOnExecute] = () => {};
  return parser.execute(data);
}

const noop = () => {};

/** How many heads (`heads`) and messages (`messages`) llhttp completes in `data`. */
function counts(data) {
  let heads = 0;
  let messages = 0;
  execute(data, () => heads++, noop, () => messages++);
  return { heads, messages };
}

/** The shortest prefix length in [low, high] whose `key` count reaches `k`. */
function bisect(data, key, k, low, high) {
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (counts(data.subarray(0, mid))[key] >= k) high = mid;
    else low = mid + 1;
  }
  return low;
}

function sha1(chunks) {
  const hash = createHash("sha1");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
}

function trace(data) {
  const requests = [];
  let body = [];
  let bodyLength = 0;
  const result = execute(
    data,
    (head) => {
      requests.push({
        method: head.method,
        target: head.url,
        version: `${head.major}.${head.minor}`,
        headEnd: 0,
        end: null,
        body: "partial",
        bodyLength: 0,
        bodyHash: "",
        keepAlive: null,
        upgrade: head.upgrade,
        headKeepAlive: head.keepAlive,
      });
      body = [];
      bodyLength = 0;
    },
    (chunk) => {
      body.push(Buffer.from(chunk));
      bodyLength += chunk.length;
    },
    () => {
      const request = requests[requests.length - 1];
      request.body = "complete";
      request.bodyLength = bodyLength;
      request.bodyHash = sha1(body);
      request.keepAlive = request.headKeepAlive;
    },
  );
  // Offsets by bisection (see the module comment).
  let from = 0;
  for (const [i, request] of requests.entries()) {
    request.headEnd = bisect(data, "heads", i + 1, from, data.length);
    if (request.body === "complete") {
      request.end = bisect(data, "messages", i + 1, request.headEnd, data.length);
      from = request.end;
    }
  }
  const last = requests[requests.length - 1];
  const error = result instanceof Error ? result : null;
  // After an upgrade head, node ignores llhttp's errors and hands the rest of the bytes over.
  const handedOver = last?.upgrade === true && error === null && result < data.length;
  if (last !== undefined && last.body !== "complete") {
    last.bodyLength = bodyLength;
    last.bodyHash = sha1(body);
    last.body = error === null ? "partial" : "error";
    return finish(requests, handedOver ? "upgrade" : "body", error);
  }
  if (last !== undefined && last.upgrade) return finish(requests, "upgrade", error);
  if (last !== undefined && !last.keepAlive) return finish(requests, "closed", error);
  if (error !== null) return finish(requests, "error", error);
  const parsed = result;
  // llhttp skips CR and LF between messages; anything else left is an unfinished head.
  return finish(requests, parsed < data.length || pendingStart(data, last) ? "partial" : "eof");
}

/** Whether bytes after the last message (or from the start) begin a head llhttp is still reading. */
function pendingStart(data, last) {
  const from = last === undefined ? 0 : last.end;
  for (let i = from; i < data.length; i++) {
    if (data[i] !== 0x0d && data[i] !== 0x0a) return true;
  }
  return false;
}

function finish(requests, tail, error = null) {
  for (const request of requests) {
    delete request.upgrade;
    delete request.headKeepAlive;
  }
  const out = { requests, tail };
  if (error !== null) out.reason = `${error.code}: ${error.reason} at ${error.bytesParsed}`;
  return out;
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
process.stdout.write(
  `${JSON.stringify({ ready: `llhttp ${process.versions.llhttp} (node ${process.version})` })}\n`,
);
for await (const line of lines) {
  if (line.trim() === "") continue;
  const job = JSON.parse(line);
  let result;
  try {
    result = trace(Buffer.from(job.data, "base64"));
  } catch (error) {
    // An oracle crash is reported, not fatal.
    result = { requests: [], tail: "crash", reason: String(error?.stack ?? error) };
  }
  result.id = job.id;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
