/**
 * The soak test's client side of HTTP/1.1: a raw TCP connection with
 * deadlines on every operation, and a small response reader written apart
 * from lib/http, so the server's own parser is never the oracle that judges
 * the server.
 *
 * @module
 */

/** No progress within the deadline; the connection has been closed. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** The server sent bytes that are not a valid HTTP/1.1 response. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** The server closed the connection before a complete response. */
export class EarlyCloseError extends Error {
  /** Response bytes received before the close. */
  readonly received: number;

  constructor(message: string, received: number) {
    super(message);
    this.name = "EarlyCloseError";
    this.received = received;
  }
}

/** One response. Header names are lowercase; repeated fields are joined with ", ". */
export interface RawResponse {
  /** Status code. */
  status: number;
  /** Header fields. */
  headers: Map<string, string>;
  /** The decoded body (chunked framing removed). */
  body: Uint8Array;
  /** The server will close the connection after it (Connection: close, or a close-delimited body). */
  closes: boolean;
}

const latin1 = new TextDecoder("latin1");
const MAX_HEAD_BYTES = 64 * 1024;
const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);
const CRLF = new Uint8Array([13, 10]);

/** The first index of `needle` in `haystack` at or after `from`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (
    let i = haystack.indexOf(first, from);
    i !== -1 && i <= last;
    i = haystack.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/**
 * A client TCP connection. Every read and write has a deadline; when it
 * passes the connection is closed and {@linkcode TimeoutError} thrown, so no
 * soak client can hang. Reads keep leftover bytes, so pipelined responses
 * can be read one after another.
 */
export class RawClient {
  readonly #conn: Deno.TcpConn;
  #buffer = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #eof = false;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to 127.0.0.1:`port`, failing with {@linkcode TimeoutError} after `timeoutMs`. */
  static async connect(port: number, timeoutMs: number): Promise<RawClient> {
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const conn = await withDeadline(connecting, timeoutMs, "connect", () => {
      // Deno.connect cannot be cancelled: close the connection if it ever completes.
      connecting.then((late) => late.close(), () => {});
    });
    // Small requests are written whole; Nagle would only add delayed-ACK stalls.
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Whether this side has closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Writes all of `data` within `timeoutMs`. */
  async write(data: Uint8Array, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let offset = 0;
    while (offset < data.length) {
      const writing = this.#conn.write(data.subarray(offset));
      offset += await withDeadline(writing, deadline - Date.now(), "write", () => this.close());
    }
  }

  /** Half-closes: sends FIN, keeps reading. */
  async closeWrite(): Promise<void> {
    await this.#conn.closeWrite();
  }

  /**
   * Closes the connection. With received bytes still unread in the kernel
   * (see {@linkcode readSome} with a small `max`), Linux answers the close
   * with a RST instead of a FIN: a real reset, no SO_LINGER needed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Reads at most `max` bytes (buffered ones first, then one socket read into
   * a `max`-byte view, so the kernel keeps the rest); null at end of stream.
   */
  async readSome(max: number, timeoutMs: number): Promise<Uint8Array | null> {
    if (this.buffered > 0) {
      const n = Math.min(max, this.buffered);
      const out = this.#buffer.slice(this.#start, this.#start + n);
      this.#start += n;
      return out;
    }
    if (this.#eof) return null;
    const view = new Uint8Array(max);
    const n = await withDeadline(this.#conn.read(view), timeoutMs, "read", () => this.close());
    if (n === null) {
      this.#eof = true;
      return null;
    }
    return view.subarray(0, n);
  }

  /** Reads until end of stream within `timeoutMs`; returns how many bytes arrived before it. */
  async readToEnd(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let total = this.buffered;
    this.#start = this.#end;
    while (!this.#eof) {
      total += await this.#fill(deadline);
      this.#start = this.#end;
    }
    return total;
  }

  /**
   * Reads one response to a request with `method`, within `timeoutMs`.
   *
   * @throws {TimeoutError} no complete response in time (the connection is closed)
   * @throws {EarlyCloseError} the server closed first
   * @throws {ProtocolError} malformed response
   * @throws Deno.errors.ConnectionReset and friends, from the socket
   */
  async readResponse(method: string, timeoutMs: number): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await this.#readOne(method, deadline);
      // 1xx interim responses precede the final one (RFC 9110 §15.2); 101 would switch protocols.
      if (response.status >= 200) return response;
      if (response.status === 101) throw new ProtocolError("101 Switching Protocols unasked");
    }
  }

  async #readOne(method: string, deadline: number): Promise<RawResponse> {
    let headEnd: number;
    for (;;) {
      headEnd = indexOfBytes(this.#view(), CRLFCRLF);
      if (headEnd !== -1) break;
      if (this.buffered > MAX_HEAD_BYTES) throw new ProtocolError("response head over 64 KiB");
      await this.#fillOrThrow(deadline);
    }
    const head = latin1.decode(this.#view().subarray(0, headEnd));
    this.#start += headEnd + 4;
    const lines = head.split("\r\n");
    const statusLine = /^HTTP\/1\.1 (\d{3}) [\t !-~\x80-\xff]*$/.exec(lines[0]);
    if (statusLine === null) throw new ProtocolError(`bad status line ${JSON.stringify(lines[0])}`);
    const status = Number(statusLine[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const field = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
      if (field === null) throw new ProtocolError(`bad header line ${JSON.stringify(line)}`);
      const name = field[1].toLowerCase();
      const previous = headers.get(name);
      headers.set(name, previous === undefined ? field[2] : `${previous}, ${field[2]}`);
    }
    let closes = /(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? "");
    let body: Uint8Array;
    const transferEncoding = headers.get("transfer-encoding");
    const contentLength = headers.get("content-length");
    if (method === "HEAD" || status < 200 || status === 204 || status === 304) {
      body = new Uint8Array(0);
    } else if (transferEncoding !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(transferEncoding)) {
        throw new ProtocolError(`Transfer-Encoding ${transferEncoding} without chunked last`);
      }
      if (contentLength !== undefined) {
        throw new ProtocolError("both Transfer-Encoding and Content-Length");
      }
      body = await this.#readChunked(deadline);
    } else if (contentLength !== undefined) {
      const values = contentLength.split(",").map((v) => v.trim());
      if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) {
        throw new ProtocolError(`bad Content-Length ${contentLength}`);
      }
      body = await this.#readExactly(Number(values[0]), deadline);
    } else {
      while (!this.#eof) await this.#fill(deadline);
      body = this.#view().slice();
      this.#start = this.#end;
      closes = true;
    }
    return { status, headers, body, closes };
  }

  async #readExactly(length: number, deadline: number): Promise<Uint8Array> {
    while (this.buffered < length) await this.#fillOrThrow(deadline, length - this.buffered);
    const out = this.#buffer.slice(this.#start, this.#start + length);
    this.#start += length;
    return out;
  }

  async #readLine(deadline: number): Promise<string> {
    for (;;) {
      const end = indexOfBytes(this.#view(), CRLF);
      if (end !== -1) {
        const line = latin1.decode(this.#view().subarray(0, end));
        this.#start += end + 2;
        return line;
      }
      if (this.buffered > 16 * 1024) throw new ProtocolError("chunk line over 16 KiB");
      await this.#fillOrThrow(deadline);
    }
  }

  async #readChunked(deadline: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const sizeLine = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(await this.#readLine(deadline));
      if (sizeLine === null) throw new ProtocolError("bad chunk size line");
      const size = parseInt(sizeLine[1], 16);
      if (size === 0) break;
      parts.push(await this.#readExactly(size, deadline));
      total += size;
      if ((await this.#readLine(deadline)) !== "") throw new ProtocolError("chunk without CRLF");
    }
    while ((await this.#readLine(deadline)) !== "");
    const body = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.length;
    }
    return body;
  }

  #view(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  async #fillOrThrow(deadline: number, want = 0): Promise<void> {
    if ((await this.#fill(deadline, want)) === 0) {
      throw new EarlyCloseError("server closed before a complete response", this.buffered);
    }
  }

  /** One socket read into the buffer (growing it); 0 at end of stream. */
  async #fill(deadline: number, want = 0): Promise<number> {
    if (this.#eof) return 0;
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    const needed = Math.max(want, 16 * 1024);
    if (this.#buffer.length - this.#end < needed) {
      const live = this.#end - this.#start;
      if (this.#buffer.length - live >= needed) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(Math.max(this.#buffer.length * 2, live + needed));
        next.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    const n = await withDeadline(
      this.#conn.read(this.#buffer.subarray(this.#end)),
      deadline - Date.now(),
      "read",
      () => this.close(),
    );
    if (n === null) {
      this.#eof = true;
      return 0;
    }
    this.#end += n;
    return n;
  }
}

/**
 * `promise`, or {@linkcode TimeoutError} after `ms` (then `onTimeout` runs,
 * which must make the abandoned operation settle, e.g. by closing the socket).
 */
async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => void,
): Promise<T> {
  // The abandoned operation rejects once the socket is closed; nobody awaits it any more.
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new TimeoutError(`no ${what} progress in ${Math.round(ms)} ms`));
    }, Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One part of a `multipart/byteranges` body. */
export interface BytePart {
  /** First byte, inclusive. */
  first: number;
  /** Last byte, inclusive. */
  last: number;
  /** The representation's size from Content-Range. */
  size: number;
  /** The part's bytes. */
  bytes: Uint8Array;
}

/**
 * Parses `bytes first-last/size` of a Content-Range header; null when it is
 * not in that form.
 */
export function parseContentRange(
  value: string,
): { first: number; last: number; size: number } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value.trim());
  if (match === null) return null;
  const [first, last, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return first <= last && last < size ? { first, last, size } : null;
}

/**
 * Splits a `multipart/byteranges` body (RFC 9110 §14.6): each part's length
 * comes from its Content-Range, so its bytes are taken exactly, never found
 * by searching for the boundary.
 *
 * @throws {ProtocolError} when the body does not follow the format
 */
export function parseByteRanges(body: Uint8Array, contentType: string): BytePart[] {
  const boundaryMatch = /^multipart\/byteranges\s*;\s*boundary=("?)([^";]+)\1\s*$/i.exec(
    contentType,
  );
  if (boundaryMatch === null) throw new ProtocolError(`not multipart/byteranges: ${contentType}`);
  const delimiter = new TextEncoder().encode(`--${boundaryMatch[2]}`);
  let at = indexOfBytes(body, delimiter);
  if (at === -1) throw new ProtocolError("no first boundary");
  const parts: BytePart[] = [];
  for (;;) {
    at += delimiter.length;
    if (body[at] === 45 && body[at + 1] === 45) break; // "--": the close delimiter
    if (body[at] !== 13 || body[at + 1] !== 10) throw new ProtocolError("boundary without CRLF");
    const headEnd = indexOfBytes(body, CRLFCRLF, at);
    if (headEnd === -1) throw new ProtocolError("part head without end");
    const headLines = latin1.decode(body.subarray(at + 2, headEnd)).split("\r\n");
    const rangeLine = headLines.find((line) => /^content-range:/i.test(line));
    const range = rangeLine === undefined ? null : parseContentRange(rangeLine.slice(14));
    if (range === null) throw new ProtocolError(`part without a valid Content-Range: ${headLines}`);
    const start = headEnd + 4;
    const end = start + range.last - range.first + 1;
    if (end > body.length) throw new ProtocolError("part runs past the body");
    parts.push({ ...range, bytes: body.subarray(start, end) });
    if (body[end] !== 13 || body[end + 1] !== 10) {
      throw new ProtocolError("part without CRLF before boundary");
    }
    if (indexOfBytes(body.subarray(end + 2, end + 2 + delimiter.length), delimiter) !== 0) {
      throw new ProtocolError("part not followed by a boundary");
    }
    at = end + 2;
  }
  return parts;
}
