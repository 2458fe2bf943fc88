/**
 * Access log lines, one per answered request, in Common Log Format, Combined
 * Log Format or JSON lines, and a logger that writes them in batches without
 * blocking the request path.
 *
 * The two text formats are exactly the ones log analysers (GoAccess
 * `--log-format=COMMON`/`COMBINED`, AWStats, Webalizer) parse by position:
 * `common` is Apache's Common Log Format, `combined` is nginx's predefined
 * `combined` format (see {@linkcode LogFormat}). Nothing is appended to them;
 * the response time and the total bytes are only in `json`.
 *
 * Every line is printable ASCII (0x20-0x7E) followed by "\n", so it is valid
 * UTF-8 and no request can forge a line or send escape sequences to a
 * terminal. Request strings reach us decoded as latin1 (one character per
 * byte received), so non-ASCII characters are escaped as the bytes the client
 * sent (`\xHH`) rather than re-decoded: an escaped byte is exact, while a
 * decoded one could hide bidi overrides or look-alike characters.
 *
 * Credentials are never logged: no format includes the Authorization header
 * (the user field holds only the user name the auth layer accepted), and
 * targets and referers have their userinfo and the values of sensitive query
 * parameters replaced by `REDACTED` (see {@linkcode redactUrl}).
 *
 * @module
 */

import type { ExchangeRecord } from "./connection.ts";
import { SHARE_PATH_PREFIX } from "../policy/share_token.ts";

/**
 * The access log formats:
 * - `common`: Apache's Common Log Format, `LogFormat "%h %l %u %t \"%r\" %>s %b"`
 *   (mod_log_config): `host - user [date] "request line" status bytes`, where
 *   `bytes` is the response body bytes sent and `-` when none were (`%b`).
 *   nginx predefines only `combined`, no `common`, so Apache's definition is
 *   the one to follow.
 * - `combined`: nginx's predefined `combined` format (ngx_http_log_module, the
 *   format of its default access log): `$remote_addr - $remote_user
 *   [$time_local] "$request" $status $body_bytes_sent "$http_referer"
 *   "$http_user_agent"`. It differs from Apache's `combined` (`%b`) in one
 *   field: no body bytes is `0`, never `-` (`$body_bytes_sent`, like Apache's
 *   `%B`). Quoted values are escaped as Apache escapes them (`\"`, `\\`,
 *   `\xHH`) where nginx would write `\x22` and `\x5C` for the first two;
 *   GoAccess reads them (see the tests).
 *
 * In both text formats the body bytes are what followed the response head on
 * the wire ({@linkcode ExchangeRecord.bodyBytesSent}): for a chunked response
 * that includes the chunk framing, as nginx counts it, where Apache's `%b`
 * counts the content before chunking (a few bytes per chunk fewer).
 * - `json`: one object per line with the keys `time`, `remote`, `user`,
 *   `method`, `target`, `version`, `status`, `body_bytes_sent`, `bytes_sent`
 *   (head and body), `duration_ms`, `referer`, `user_agent`
 */
export type LogFormat = "common" | "combined" | "json";

/** What replaces a credential in a logged URL. */
export const REDACTED = "REDACTED";

const encoder = new TextEncoder();

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Printable ASCII other than `"` and `\`: left as is by {@linkcode escapeLogValue}. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * Query parameter names whose values are credentials, matched anywhere in the
 * lowercased, percent-decoded name (`access_token`, `apiKey`, `X-Amz-Signature`,
 * `passwd`). Matching substrings over-redacts a few harmless names
 * (`keyword`), which is the safe way to be wrong.
 */
const SENSITIVE_PARAMETER = /token|pass|pwd|secret|key|auth|session|signature|credential/;

/** `scheme://` at the start of an absolute URL. */
const SCHEME_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, "0");
}

/**
 * Escapes a string for a log line so that it is printable ASCII with no
 * unescaped double quote: `"` becomes `\"`, `\` becomes `\\`, every control
 * character (C0, DEL, C1) and every other non-ASCII character up to U+00FF
 * becomes `\xHH` (the byte the client sent: request strings are latin1), and
 * the code units above U+00FF that the parser never produces become `\uHHHH`.
 * Spaces are kept.
 *
 * @example
 * ```ts
 * escapeLogValue('a"b\n\x1b[31m'); // 'a\\"b\\x0a\\x1b[31m'
 * ```
 */
export function escapeLogValue(text: string): string {
  if (PLAIN.test(text)) return text;
  let escaped = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) escaped += '\\"';
    else if (code === 0x5c) escaped += "\\\\";
    else if (code >= 0x20 && code <= 0x7e) escaped += text[i];
    else if (code <= 0xff) escaped += "\\x" + hex(code, 2);
    else escaped += "\\u" + hex(code, 4);
  }
  return escaped;
}

/**
 * Escapes a value for an unquoted field of a text line: `-` for an empty
 * value. Parsers split these fields by position, so a space would split the
 * field and a `[` would be taken for the start of the date (GoAccess's COMMON
 * format skips to the first `[`): those become `\x20`, `\x5b` and `\x5d`.
 */
function escapeBareField(text: string): string {
  if (text === "") return "-";
  return escapeLogValue(text).replace(/[ [\]]/g, (char) => "\\x" + hex(char.charCodeAt(0), 2));
}

/** The user field: `-` for none, and a user named `-` as `\x2d`, so that `-` always means none. */
function userField(user: string | null): string {
  if (user === null || user === "") return "-";
  return user === "-" ? "\\x2d" : escapeBareField(userAsBytes(user));
}

/**
 * The user name as its UTF-8 bytes, one character per byte: names are
 * decoded from UTF-8, while {@linkcode escapeLogValue} writes a character
 * below U+0100 as the byte `\xHH` that request strings (latin1) carry, so
 * without this `é` would be logged as `\xe9`, a byte the client never sent.
 */
function userAsBytes(user: string): string {
  // deno-lint-ignore no-control-regex -- ASCII is its own UTF-8.
  if (/^[\x00-\x7f]*$/.test(user)) return user;
  return String.fromCharCode(...encoder.encode(user));
}

function isSensitiveName(rawName: string): boolean {
  let name = rawName.replaceAll("+", " ");
  try {
    name = decodeURIComponent(name);
  } catch {
    // Malformed percent-encoding: match the name as sent.
  }
  return SENSITIVE_PARAMETER.test(name.toLowerCase());
}

/** Redacts the values of sensitive parameters in a query or fragment (without its `?`/`#`). */
function redactParameters(parameters: string): string {
  // ";" separates parameters for some servers; splitting on it too only ever redacts more.
  return parameters.split(/([&;])/).map((part, index) => {
    if (index % 2 === 1) return part;
    const equals = part.indexOf("=");
    if (equals < 0 || !isSensitiveName(part.slice(0, equals))) return part;
    return part.slice(0, equals + 1) + REDACTED;
  }).join("");
}

const [SHARE_FIRST, SHARE_SECOND] = SHARE_PATH_PREFIX.split("/").filter((s) => s !== "");

function decodeLeniently(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Whether `url` percent-decodes to something holding `text`; true when it
 * does not decode as a whole (one bad escape), since its segments may still.
 */
function mayDecodeToInclude(url: string, text: string): boolean {
  try {
    return decodeURIComponent(url).includes(text);
  } catch {
    return true;
  }
}

/**
 * Redacts share-link tokens in a URL path: every segment that lands right
 * below `/.well-known/filedrop-share/` once the path is decoded and its dot
 * segments resolved as the server resolves them (so `%2e`, `./` and `x/../`
 * spellings are caught too), even one a later `..` takes away again.
 */
function redactShareTokens(url: string): string {
  // Every request is logged: most paths are let through by a substring test (what a segment
  // decodes to is in what the whole decodes to), and only a likely link path is walked.
  if (!url.includes(SHARE_SECOND)) {
    if (!url.includes("%") || !mayDecodeToInclude(url, SHARE_SECOND)) return url;
  }
  // An absolute URL (a referer, an absolute-form target): only its path counts.
  const scheme = SCHEME_PREFIX.exec(url);
  const pathStart = scheme === null ? 0 : url.indexOf("/", scheme[0].length);
  if (pathStart < 0) return url;
  const path = url.slice(pathStart);
  const raw = path.split("/");
  const resolved: string[] = [];
  let changed = false;
  for (let i = 0; i < raw.length; i++) {
    const name = decodeLeniently(raw[i]);
    if (name === "" || name === ".") continue;
    if (name === "..") {
      resolved.pop();
      continue;
    }
    if (resolved.length === 2 && resolved[0] === SHARE_FIRST && resolved[1] === SHARE_SECOND) {
      raw[i] = REDACTED;
      changed = true;
    }
    resolved.push(name);
  }
  return changed ? url.slice(0, pathStart) + raw.join("/") : url;
}

/** Redacts the userinfo of an absolute URL or authority (`user:pass@host`). */
function redactUserinfo(url: string): string {
  const scheme = SCHEME_PREFIX.exec(url);
  if (scheme === null && (url.startsWith("/") || url === "*")) return url;
  const authorityStart = scheme === null ? 0 : scheme[0].length;
  const slash = url.indexOf("/", authorityStart);
  const authorityEnd = slash < 0 ? url.length : slash;
  const at = url.lastIndexOf("@", authorityEnd - 1);
  if (at < authorityStart) return url;
  return url.slice(0, authorityStart) + REDACTED + url.slice(at);
}

/**
 * Replaces the credentials in a request-target or URL with `REDACTED`: the
 * userinfo of an absolute URL or authority, a share link's token (see
 * {@linkcode redactShareTokens}), and the value of every query (or
 * fragment) parameter whose name looks like a credential (contains `token`,
 * `pass`, `pwd`, `secret`, `key`, `auth`, `session`, `signature` or
 * `credential`, case-insensitively, after percent-decoding). Everything else
 * is kept as sent.
 *
 * @example
 * ```ts
 * redactUrl("/f?name=a&access_token=xyz"); // "/f?name=a&access_token=REDACTED"
 * redactUrl("http://bob:pw@host/f");       // "http://REDACTED@host/f"
 * ```
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf("#");
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? "" : "#" + redactParameters(url.slice(hash + 1));
  const question = beforeHash.indexOf("?");
  if (question < 0) return redactShareTokens(redactUserinfo(beforeHash)) + fragment;
  return redactShareTokens(redactUserinfo(beforeHash.slice(0, question))) + "?" +
    redactParameters(beforeHash.slice(question + 1)) + fragment;
}

/** `10/Oct/2000:13:55:36 +0000`, always in UTC. */
function commonLogDate(ms: number): string {
  const date = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

/** A quoted text-format field: `"-"` for a missing value. */
function quoted(value: string | null | undefined): string {
  return `"${value === null || value === undefined ? "-" : escapeLogValue(value)}"`;
}

/**
 * A text line. Fields in the order of Apache's `%h %l %u %t "%r" %>s %b`,
 * plus nginx's `"$http_referer" "$http_user_agent"` for `combined`.
 */
function textLine(combined: boolean, record: ExchangeRecord, nowMs: number): string {
  const request = record.request;
  const requestLine = request === null
    ? null
    : `${request.method} ${redactUrl(request.target)} HTTP/1.${request.minorVersion}`;
  // Apache's %b writes "-" for no body bytes; nginx's $body_bytes_sent writes 0.
  const bodyBytes = record.bodyBytesSent === 0 && !combined ? "-" : String(record.bodyBytesSent);
  const line = `${escapeBareField(record.remoteAddr)} - ${userField(record.user)} ` +
    `[${commonLogDate(nowMs)}] ${quoted(requestLine)} ${record.status} ${bodyBytes}`;
  if (!combined) return line;
  const referer = request?.headers.get("referer");
  return `${line} ${quoted(referer === undefined ? null : redactUrl(referer))} ` +
    quoted(request?.headers.get("user-agent"));
}

function jsonLine(record: ExchangeRecord, nowMs: number): string {
  const request = record.request;
  const referer = request?.headers.get("referer");
  const json = JSON.stringify({
    time: new Date(nowMs).toISOString(),
    remote: record.remoteAddr === "-" || record.remoteAddr === "" ? null : record.remoteAddr,
    user: record.user,
    method: request?.method ?? null,
    target: request === null ? null : redactUrl(request.target),
    version: request === null ? null : `HTTP/1.${request.minorVersion}`,
    status: record.status,
    body_bytes_sent: record.bodyBytesSent,
    bytes_sent: record.bytesSent,
    duration_ms: Math.max(0, record.durationMs),
    referer: referer === undefined ? null : redactUrl(referer),
    user_agent: request?.headers.get("user-agent") ?? null,
  });
  // JSON.stringify escapes C0, quotes, backslashes and lone surrogates but
  // leaves DEL, C1 and other non-ASCII raw; all of those can only occur inside
  // strings, where \uHHHH keeps the value exact and the line ASCII.
  return json.replace(/[\x7f-\uffff]/g, (char) => "\\u" + hex(char.charCodeAt(0), 4));
}

/**
 * Formats one access log line, without its trailing newline.
 *
 * Text formats (see {@linkcode LogFormat} for which definition each follows)
 * write the time as `[dd/Mon/yyyy:HH:MM:SS +0000]` (UTC), the request line as
 * `"-"` when the head was rejected before it parsed, the user as `-` unless
 * the auth layer accepted the request's credentials, and the body bytes
 * ({@linkcode ExchangeRecord.bodyBytesSent}). JSON writes `duration_ms` and
 * both byte counts as numbers and `null` for every value that is missing.
 *
 * @param format which format to write
 * @param record the exchange reported by the connection
 * @param nowMs the time to log (ms since the epoch), normally when the response ended
 */
export function formatAccessLog(format: LogFormat, record: ExchangeRecord, nowMs: number): string {
  if (format === "json") return jsonLine(record, nowMs);
  return textLine(format === "combined", record, nowMs);
}

/** Options of {@linkcode AccessLogger}. */
export interface AccessLoggerOptions {
  /** Most bytes of lines waiting for the sink; further lines are dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** The clock for each line's time; default `Date.now`. */
  now?: () => number;
  /**
   * Told when lines were dropped: `lines` since the previous report, `total`
   * since the start. Called at most once per `reportIntervalMs` (the first
   * drops after a quiet interval are reported as soon as the current task
   * ends, later ones together when the interval ends), and by
   * {@linkcode AccessLogger.flush} for drops not reported yet. An exception it
   * throws is ignored. Default: no reports.
   */
  onDropped?: (lines: number, total: number) => void;
  /** Least time between two drop reports, in ms. Default 10 s. */
  reportIntervalMs?: number;
}

const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const DEFAULT_REPORT_INTERVAL_MS = 10_000;

/**
 * Writes access log lines without ever making a request wait for the sink.
 * {@linkcode AccessLogger.log} only queues the line; the queue is written in
 * one batch after the current task, and lines logged while a write is in
 * flight are written together once it completes, so a busy server makes few,
 * large writes. At most `maxBufferedBytes` of lines wait (plus the one batch
 * being written); when the sink cannot keep up, further lines are dropped, as
 * are the lines of a write that fails. Drops are counted in
 * {@linkcode AccessLogger.droppedLines} and reported through
 * {@linkcode AccessLoggerOptions.onDropped}, rate-limited, so that a log with
 * holes says so.
 *
 * @example
 * ```ts
 * const logger = new AccessLogger("combined", (bytes) => Deno.stdout.write(bytes), {
 *   onDropped: (lines) => console.error(`${lines} access log lines dropped`),
 * });
 * logger.log(record);
 * await logger.flush(); // before exiting: writes the queue, reports unreported drops
 * ```
 */
export class AccessLogger {
  readonly #format: LogFormat;
  readonly #write: (bytes: Uint8Array) => Promise<number> | number;
  readonly #maxBufferedBytes: number;
  readonly #now: () => number;
  readonly #onDropped: ((lines: number, total: number) => void) | null;
  readonly #reportIntervalMs: number;
  #queue: string[] = [];
  #queuedBytes = 0;
  #dropped = 0;
  /** Drops not reported yet. */
  #unreported = 0;
  /** When the last report was made (ms, by Date.now: the interval is real time, not the log clock). */
  #lastReportMs = -Infinity;
  /** The timer of a report held back by the interval. */
  #reportTimer: ReturnType<typeof setTimeout> | null = null;
  /** The running write loop, or null when the queue is idle. */
  #draining: Promise<void> | null = null;

  /**
   * @param format the line format
   * @param write writes some bytes and returns how many it wrote (such as
   *   `Deno.stdout.write`); may write fewer, and is never called again before
   *   its previous call settles
   * @param options buffer bound, clock and drop reports
   */
  constructor(
    format: LogFormat,
    write: (bytes: Uint8Array) => Promise<number> | number,
    options: AccessLoggerOptions = {},
  ) {
    this.#format = format;
    this.#write = write;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#now = options.now ?? Date.now;
    this.#onDropped = options.onDropped ?? null;
    this.#reportIntervalMs = options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
  }

  /** Lines dropped so far because the buffer was full or a write failed. */
  get droppedLines(): number {
    return this.#dropped;
  }

  /**
   * Queues the line for one exchange; returns at once and never throws for a
   * slow or failing sink.
   *
   * @param record the exchange reported by the connection
   */
  log(record: ExchangeRecord): void {
    this.logLine(formatAccessLog(this.#format, record, this.#now()));
  }

  /**
   * Queues a line already formatted (by a worker, with
   * {@linkcode formatAccessLog}); the same promises as {@linkcode AccessLogger.log}.
   *
   * @param text the line, without its newline
   */
  logLine(text: string): void {
    const line = text + "\n";
    // Lines are ASCII, so their length is their size in bytes.
    if (this.#queuedBytes + line.length > this.#maxBufferedBytes) {
      this.#drop(1);
      return;
    }
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    this.#draining ??= Promise.resolve().then(() => this.#drain());
  }

  /**
   * Resolves once every line queued so far has been written (or dropped), and
   * reports the drops not reported yet (whatever the interval): call it
   * before exiting.
   */
  async flush(): Promise<void> {
    while (this.#draining !== null) await this.#draining;
    this.#report();
  }

  #drop(lines: number): void {
    this.#dropped += lines;
    if (this.#onDropped === null) return;
    this.#unreported += lines;
    if (this.#reportTimer !== null) return;
    // Even with the interval over, wait for the end of the task: a burst of drops is one report.
    const wait = Math.max(0, this.#lastReportMs + this.#reportIntervalMs - Date.now());
    const timer = setTimeout(() => this.#report(), wait);
    // A pending report must not keep a finished process alive; flush() reports it anyway.
    Deno.unrefTimer(timer);
    this.#reportTimer = timer;
  }

  #report(): void {
    if (this.#reportTimer !== null) clearTimeout(this.#reportTimer);
    this.#reportTimer = null;
    if (this.#unreported === 0 || this.#onDropped === null) return;
    const lines = this.#unreported;
    this.#unreported = 0;
    this.#lastReportMs = Date.now();
    try {
      this.#onDropped(lines, this.#dropped);
    } catch {
      // Reporting goes to stderr, which may be as broken as the log's sink.
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const lines = this.#queue;
        this.#queue = [];
        this.#queuedBytes = 0;
        try {
          await this.#writeAll(encoder.encode(lines.join("")));
        } catch {
          // A closed stdout or broken pipe must not take the server down.
          this.#drop(lines.length);
        }
      }
    } finally {
      this.#draining = null;
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const written = await this.#write(bytes.subarray(offset));
      if (!(written > 0)) throw new Error("Access log sink wrote nothing");
      offset += written;
    }
  }
}
