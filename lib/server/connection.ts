/**
 * Drives one client connection: reads request heads and bodies through the
 * sans-IO parser, calls the handler, writes responses, and enforces the
 * per-connection timeouts.
 *
 * @module
 */

import { ChunkedDecoder, END, LengthDecoder, NEED_MORE } from "../http/body_decoders.ts";
import type { BodyDecoder } from "../http/body_decoders.ts";
import { currentHttpDate } from "../http/date.ts";
import { HttpError } from "../http/errors.ts";
import { interpretHead } from "../http/framing.ts";
import type { RequestFraming } from "../http/framing.ts";
import { HeadParser } from "../http/head_parser.ts";
import type { RequestHead } from "../http/head_parser.ts";
import { ClientGoneError } from "../http/message.ts";
import type { BodySink, BodyStream, Request, RequestBody, Response } from "../http/message.ts";
import { ReceiveBuffer } from "../http/receive_buffer.ts";
import { LAST_CHUNK, serializeHead } from "../http/serialize.ts";
import type { HeaderList } from "../http/serialize.ts";
import type { Limits } from "./limits.ts";
import { acquireBuffer, recycleBuffer, SMALL_BUFFER_BYTES } from "./buffer_pool.ts";
import { OutputBuffer } from "./output_buffer.ts";

/** Handles one request; may throw {@linkcode HttpError} for an error response. */
export type Handler = (request: Request) => Promise<Response>;

/** What is logged once per answered request. */
export interface ExchangeRecord {
  /** The request (null when the head itself was rejected). */
  request: Request | null;
  /** The status sent. */
  status: number;
  /** Bytes of the response sent, head included. */
  bytesSent: number;
  /**
   * Bytes of the response's message body sent: everything after the head,
   * chunked framing included (what nginx's `$body_bytes_sent` counts); 0 for
   * a response without a body (HEAD, 304, 204).
   */
  bodyBytesSent: number;
  /** The user name the auth layer accepted ({@linkcode Request.user}), or null. */
  user: string | null;
  /** Milliseconds from the end of the head to the end of the response. */
  durationMs: number;
  /** The client's IP address, or "-" when unknown. */
  remoteAddr: string;
}

/** Everything a connection needs from its server. */
export interface ConnectionContext {
  /** Protocol limits and timeouts. */
  limits: Limits;
  /** The request handler. */
  handler: Handler;
  /** Called after each response (access log). */
  onExchange?: (record: ExchangeRecord) => void;
  /** Called with unexpected errors (the client only sees a bare 500). */
  onError: (error: unknown, request: Request | null) => void;
}

/** What a connection is waiting for; decides which timeout applies. */
export type Phase = "idle" | "head" | "body" | "handler" | "write" | "closing" | "closed";

/** Free space asked for while reading a head, and while reading a body (big reads: fewer ops). */
const HEAD_READ_BYTES = 4 * 1024;
const BODY_READ_BYTES = 256 * 1024;
const LINGER_MS = 2_000;
/**
 * Lingering is bounded by LINGER_MS; this cap only stops a fast client from
 * keeping us reading at full speed. It must exceed what a client may have in
 * flight (socket buffers hold megabytes), or closing with unread bytes resets
 * the connection and the client may never see the response.
 */
const LINGER_BYTES = 64 * 1024 * 1024;
const ENCODER = new TextEncoder();
const CONTINUE = ENCODER.encode("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * One accepted connection. {@linkcode Connection.run} serves requests until
 * the client or the server ends the connection; the server's sweeper calls
 * {@linkcode Connection.expire} when {@linkcode Connection.deadline} passes.
 */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #context: ConnectionContext;
  readonly #limits: Limits;
  readonly #receive: ReceiveBuffer;
  readonly #output: OutputBuffer;
  readonly #parser: HeadParser;
  #phase: Phase = "idle";
  #draining = false;
  /** When the current phase times out (ms since epoch); Infinity for never. */
  deadline = Infinity;
  /** Its index in the {@linkcode ConnectionPool}'s list; -1 while in none. */
  poolSlot = -1;
  readonly #remoteAddr: string;
  /** Bytes of the last response head, for {@linkcode ExchangeRecord.bodyBytesSent}. */
  #headBytes = 0;
  /** The HTTP minor version of the request being served. */
  #minorVersion = 1;
  /** {@linkcode Request.informational} of every request here: one function, not one per request. */
  readonly #informational = async (status: number, headers: HeaderList): Promise<void> => {
    if (status < 100 || status > 199 || status === 101) throw new Error(`not interim: ${status}`);
    if (this.#minorVersion === 0) return;
    await this.sendInformational(ENCODER.encode(serializeHead(status, headers)));
  };

  /**
   * @param conn the accepted connection
   * @param context limits, handler and callbacks
   */
  constructor(conn: Deno.Conn, context: ConnectionContext) {
    this.#conn = conn;
    this.#context = context;
    this.#limits = context.limits;
    const receiveMax = this.#limits.maxHeadBytes + BODY_READ_BYTES;
    // Enough for typical heads; from the pool, and back to it when the connection ends.
    this.#receive = new ReceiveBuffer(acquireBuffer(SMALL_BUFFER_BYTES), receiveMax);
    this.#output = new OutputBuffer((bytes) => this.#conn.write(bytes));
    this.#parser = new HeadParser(this.#limits);
    const remote = conn.remoteAddr;
    this.#remoteAddr = "hostname" in remote ? remote.hostname : "-";
  }

  /** The current phase. */
  get phase(): Phase {
    return this.#phase;
  }

  /** Serves requests until the connection ends; never throws. */
  async run(): Promise<void> {
    try {
      while (await this.#serveOne());
    } catch (error) {
      if (!isDisconnect(error)) this.#context.onError(error, null);
    } finally {
      this.close();
      // Every exchange is over (#serveOne awaits its handler), so no one reads these bytes again.
      recycleBuffer(this.#receive.retire());
    }
  }

  /**
   * Ends the connection at the next safe point: at once when idle, after the
   * current response otherwise.
   */
  drain(): void {
    this.#draining = true;
    if (this.#phase === "idle") this.close();
  }

  /** Called when `deadline` has passed: answers 408 to a slow head, then closes. */
  expire(): void {
    if (this.#phase === "head") {
      this.#phase = "closing";
      const timeout = serializeHead(408, [
        ["Date", currentHttpDate()],
        ["Content-Length", "0"],
        ["Connection", "close"],
      ]);
      this.#conn.write(new TextEncoder().encode(timeout)).catch(() => {}).finally(() =>
        this.close()
      );
      return;
    }
    this.close();
  }

  /** Closes the socket now; pending reads and writes fail. */
  close(): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.deadline = Infinity;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or by a failed write.
    }
  }

  #enter(phase: Phase, timeoutMs: number): void {
    if (this.#phase === "closed" || this.#phase === "closing") throw new ClientGoneError();
    this.#phase = phase;
    this.deadline = timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs;
  }

  /** Reads more bytes into the receive buffer; false at end of stream or on a reset. */
  async #fill(minFree = HEAD_READ_BYTES): Promise<boolean> {
    const region = this.#receive.writable(minFree);
    // Only a decoder that needs a longer line than the buffer holds gets here; never spin on it.
    if (region.length === 0) throw new HttpError(431, "Request line or field too large");
    let n: number | null;
    try {
      n = await this.#conn.read(region);
    } catch (error) {
      // A TLS client that speaks something else (plain HTTP, a scanner's probe) fails
      // the handshake: its failure, not ours, and no log line for each one.
      if (isDisconnect(error) || error instanceof Deno.errors.InvalidData) return false;
      throw error;
    }
    if (n === null) return false;
    this.#receive.commit(n);
    return true;
  }

  /** Serves one request; returns whether the connection stays open for another. */
  async #serveOne(): Promise<boolean> {
    const head = await this.#readHead();
    if (head === null) return false;
    const started = Date.now();

    let framing: RequestFraming;
    try {
      framing = interpretHead(head);
      const declared = framing.body.kind === "length" ? framing.body.length : 0;
      if (declared > this.#limits.maxBodyBytes) throw new HttpError(413, "Request body too large");
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      await this.#sendRejection(error, started, head);
      return false;
    }

    const body = new IncomingBody(this, framing);
    const request: Request = {
      method: head.method,
      target: head.target,
      targetForm: head.targetForm,
      path: head.path,
      query: head.query,
      minorVersion: head.minorVersion,
      headers: head.headers,
      body,
      remoteAddr: this.#remoteAddr === "-" ? undefined : this.#remoteAddr,
      informational: this.#informational,
    };
    this.#minorVersion = head.minorVersion;

    this.#enter("handler", Infinity);
    let response: Response;
    try {
      response = await this.#context.handler(request);
    } catch (error) {
      if (this.#phase === "closed" || this.#phase === "closing") return false;
      if (isDisconnect(error) && !(error instanceof ClientGoneError)) return false;
      if (error instanceof ClientGoneError) {
        // The body ended early: a client that only half-closed still learns why (if it listens).
        response = errorResponse(new HttpError(400, "Request body ended before its announced end"));
      } else if (error instanceof HttpError) response = errorResponse(error);
      else {
        this.#context.onError(error, request);
        response = errorResponse(new HttpError(500, "Internal server error"));
      }
    }

    let keepAlive = framing.keepAlive && !this.#draining;
    const unread = body.unreadBytes();
    if (unread !== 0 && (unread === null || unread > this.#limits.maxDrainBytes)) keepAlive = false;

    keepAlive = await this.#sendResponse(request, response, keepAlive);
    this.#context.onExchange?.({
      request,
      status: response.status,
      bytesSent: this.#output.bytesSent,
      bodyBytesSent: Math.max(0, this.#output.bytesSent - this.#headBytes),
      user: request.user ?? null,
      durationMs: Date.now() - started,
      remoteAddr: this.#remoteAddr,
    });
    // The exchange is over: the head's fields need not be copied before the
    // buffer takes the next request's bytes (reading them now throws).
    this.#receive.release();
    if (keepAlive && unread !== 0) keepAlive = await body.discard();
    if (!keepAlive) {
      // The client asked to close and sent nothing beyond its request: its FIN follows our
      // response, so close now (nginx skips lingering alike). Else half-close and read on.
      if (!framing.keepAlive && unread === 0 && this.#receive.length === 0) this.close();
      else await this.#linger();
    }
    return keepAlive;
  }

  /** Reads one request head; null when the client is gone or the head was rejected. */
  async #readHead(): Promise<RequestHead | null> {
    this.#enter("idle", this.#limits.idleTimeoutMs);
    if (this.#draining) return null;
    try {
      for (;;) {
        const head = this.#parser.parse(this.#receive);
        if (head !== null) return head;
        // Bytes of a head are waiting (not just the empty lines parse() skips): its timeout runs.
        if (this.#phase === "idle" && this.#receive.length > 0) {
          this.#enter("head", this.#limits.headerTimeoutMs);
        }
        if (!await this.#fill()) {
          // Part of a head, then the end: say so to a client that only half-closed.
          if (this.#receive.length > 0 && this.#phase === "head") {
            throw new HttpError(400, "Request head ended before its blank line");
          }
          return null;
        }
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      await this.#sendRejection(error, Date.now());
      return null;
    }
  }

  /**
   * Answers a request that cannot be processed, then closes. `head` is the
   * parsed head when there is one, so that a rejected HEAD gets no body.
   */
  async #sendRejection(
    error: HttpError,
    started: number,
    head: RequestHead | null = null,
  ): Promise<void> {
    const response = errorResponse(error);
    await this.#sendResponse(head, response, false);
    this.#context.onExchange?.({
      request: null,
      status: response.status,
      bytesSent: this.#output.bytesSent,
      bodyBytesSent: Math.max(0, this.#output.bytesSent - this.#headBytes),
      user: null,
      durationMs: Date.now() - started,
      remoteAddr: this.#remoteAddr,
    });
    await this.#linger();
  }

  /**
   * Writes a response to `request` (null when no head was parsed); returns
   * whether the connection may stay open.
   */
  async #sendResponse(
    request: Pick<RequestHead, "method" | "minorVersion"> | null,
    response: Response,
    keepAlive: boolean,
  ): Promise<boolean> {
    const { status, body } = response;
    const bodyless = status === 204 || status === 304 || status < 200;
    const headOnly = request?.method === "HEAD";
    const length = body === undefined ? 0 : body instanceof Uint8Array ? body.length : body.length;
    let chunked = false;
    if (!bodyless && length === null) {
      if (request !== null && request.minorVersion === 1) chunked = true;
      else if (!headOnly) keepAlive = false;
    }

    const output = this.#output;
    output.bytesSent = 0;
    try {
      this.#enter("write", this.#limits.writeTimeoutMs);
      // Written into the send buffer field by field: no head string, no copy of the list.
      const headStart = output.buffered;
      output.writeStatusLine(status);
      for (const [name, value] of response.headers) output.writeField(name, value);
      output.writeField("Date", currentHttpDate());
      if (!bodyless && length !== null) output.writeField("Content-Length", String(length));
      if (chunked) output.writeField("Transfer-Encoding", "chunked");
      if (!keepAlive) output.writeField("Connection", "close");
      else if (request?.minorVersion === 0) output.writeField("Connection", "keep-alive");
      output.endHead();
      this.#headBytes = output.buffered - headStart;
      if (!bodyless && !headOnly && body !== undefined) {
        if (body instanceof Uint8Array) {
          if (!output.append(body)) await output.write(body);
        } else {
          const sink = chunked ? new ChunkedSink(output, this) : new TimedSink(output, this);
          await body.writeTo(sink);
          if (chunked) await output.write(LAST_CHUNK);
        }
      }
      await output.flush();
    } finally {
      if (body !== undefined && !(body instanceof Uint8Array)) body.close();
      output.release();
    }
    return keepAlive;
  }

  /**
   * Half-closes and reads what the client still sends (bounded), so that a
   * client still writing a body receives our response instead of a reset.
   */
  async #linger(): Promise<void> {
    if (this.#phase === "closed") return;
    this.#enter("closing", LINGER_MS);
    try {
      await this.#conn.closeWrite();
      let discarded = this.#receive.length;
      this.#receive.consume(this.#receive.length);
      while (discarded < LINGER_BYTES && await this.#fill()) {
        discarded += this.#receive.length;
        this.#receive.consume(this.#receive.length);
      }
    } catch {
      // The peer is gone already: nothing to linger for.
    }
  }

  /** Used by {@linkcode IncomingBody}: enters the body phase and reads more bytes. */
  async fillForBody(): Promise<boolean> {
    this.#enter("body", this.#limits.bodyTimeoutMs);
    const more = await this.#fill(BODY_READ_BYTES);
    this.#enter("handler", Infinity);
    return more;
  }

  /** Used by {@linkcode IncomingBody}: sends `100 Continue`. */
  async sendContinue(): Promise<void> {
    await this.sendInformational(CONTINUE);
  }

  /**
   * Sends an interim (1xx) response head before the final one. HTTP/1.0
   * clients never get one (RFC 9110 §15.2).
   */
  async sendInformational(head: Uint8Array): Promise<void> {
    this.#enter("write", this.#limits.writeTimeoutMs);
    await this.#output.write(head);
    await this.#output.flush();
    this.#enter("handler", Infinity);
  }

  /** Used by sinks: restarts the write timeout after progress. */
  touchWrite(): void {
    if (this.#phase === "write") this.deadline = Date.now() + this.#limits.writeTimeoutMs;
  }

  /** The receive buffer, for the body decoder. */
  get receiveBuffer(): ReceiveBuffer {
    return this.#receive;
  }

  /** The limits in force. */
  get limits(): Limits {
    return this.#limits;
  }
}

/** A request body read through the connection's receive buffer. */
class IncomingBody implements RequestBody {
  readonly length: number | null;
  readonly #connection: Connection;
  readonly #decoder: BodyDecoder | null;
  readonly #expectContinue: boolean;
  #continueSent = false;
  #received = 0;
  #done: boolean;
  #failed = false;

  constructor(connection: Connection, framing: RequestFraming) {
    this.#connection = connection;
    this.#expectContinue = framing.expectContinue;
    const limits = connection.limits;
    if (framing.body.kind === "length") {
      this.length = framing.body.length;
      this.#decoder = new LengthDecoder(framing.body.length);
    } else if (framing.body.kind === "chunked") {
      this.length = null;
      this.#decoder = new ChunkedDecoder({
        maxLineBytes: limits.maxChunkLineBytes,
        maxTrailerBytes: limits.maxTrailerBytes,
        maxTrailerCount: limits.maxTrailerCount,
      });
    } else {
      this.length = 0;
      this.#decoder = null;
    }
    this.#done = this.#decoder === null;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    if (this.#failed) throw new HttpError(400, "Request body already failed");
    if (this.#expectContinue && !this.#continueSent) {
      this.#continueSent = true;
      await this.#connection.sendContinue();
    }
    const rb = this.#connection.receiveBuffer;
    try {
      for (;;) {
        const step = this.#decoder!.next(rb);
        if (step === END) {
          this.#done = true;
          return null;
        }
        if (step === NEED_MORE) {
          if (!await this.#connection.fillForBody()) throw new ClientGoneError();
          continue;
        }
        this.#received += step.length;
        if (this.#received > this.#connection.limits.maxBodyBytes) {
          throw new HttpError(413, "Request body too large");
        }
        return step;
      }
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  /**
   * Bytes the handler left unread: 0 when the body was fully read, a count
   * for a known length, null when unknown or when the body cannot be read on
   * (a framing error, or a client still waiting for `100 Continue`).
   */
  unreadBytes(): number | null {
    if (this.#done) return 0;
    if (this.#failed || (this.#expectContinue && !this.#continueSent)) return null;
    if (this.#decoder instanceof LengthDecoder) return this.#decoder.remaining;
    return null;
  }

  /** Reads and drops the rest of the body; false if that failed. */
  async discard(): Promise<boolean> {
    try {
      while (await this.read() !== null);
      return true;
    } catch {
      return false;
    }
  }
}

/** Passes writes through to the output buffer, restarting the write timeout on progress. */
class TimedSink implements BodySink {
  readonly #output: OutputBuffer;
  readonly #connection: Connection;

  constructor(output: OutputBuffer, connection: Connection) {
    this.#output = output;
    this.#connection = connection;
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.#output.write(bytes);
    this.#connection.touchWrite();
  }

  async region(minBytes: number): Promise<Uint8Array> {
    const region = await this.#output.region(minBytes);
    this.#connection.touchWrite();
    return region;
  }

  commit(n: number): void {
    this.#output.commit(n);
  }

  async flush(): Promise<void> {
    await this.#output.flush();
    this.#connection.touchWrite();
  }
}

const SIZE_DIGITS = 8;
const SIZE_PREFIX = SIZE_DIGITS + 2;

/**
 * Frames a body of unknown length as chunks. Regions reserve room for a
 * fixed-width size line (leading zeros are valid in chunk-size), so a body
 * filled in place needs no copy. Like {@linkcode TimedSink}, it restarts the
 * write timeout on progress: a long body (a folder's archive) is not a stall.
 */
class ChunkedSink implements BodySink {
  readonly #output: OutputBuffer;
  readonly #connection: Connection;
  #region: Uint8Array | null = null;

  constructor(output: OutputBuffer, connection: Connection) {
    this.#output = output;
    this.#connection = connection;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    this.#output.writeString(`${bytes.length.toString(16)}\r\n`);
    await this.#output.write(bytes);
    this.#output.writeString("\r\n");
    this.#connection.touchWrite();
  }

  async region(minBytes: number): Promise<Uint8Array> {
    const region = await this.#output.region(minBytes + SIZE_PREFIX + 2);
    this.#connection.touchWrite();
    this.#region = region;
    return region.subarray(SIZE_PREFIX, region.length - 2);
  }

  commit(n: number): void {
    const region = this.#region!;
    if (n === 0) return;
    const size = n.toString(16).padStart(SIZE_DIGITS, "0");
    for (let i = 0; i < SIZE_DIGITS; i++) region[i] = size.charCodeAt(i);
    region[SIZE_DIGITS] = 0x0d;
    region[SIZE_DIGITS + 1] = 0x0a;
    region[SIZE_PREFIX + n] = 0x0d;
    region[SIZE_PREFIX + n + 1] = 0x0a;
    this.#output.commit(SIZE_PREFIX + n + 2);
  }

  async flush(): Promise<void> {
    await this.#output.flush();
    this.#connection.touchWrite();
  }
}

/** A plain-text error response. */
export function errorResponse(error: HttpError): Response {
  const headers: HeaderList = [PLAIN_TEXT, NO_SNIFF];
  for (const name in error.headers) headers.push([name, error.headers[name]]);
  return { status: error.status, headers, body: errorBody(error) };
}

const PLAIN_TEXT: [string, string] = ["Content-Type", "text/plain; charset=utf-8"];
const NO_SNIFF: [string, string] = ["X-Content-Type-Options", "nosniff"];
/** Error bodies already encoded: most are a few constant messages sent again and again. */
const errorBodies = new Map<string, Uint8Array>();
const ERROR_BODIES_KEPT = 256;
const ERROR_BODY_KEPT_CHARS = 256;

function errorBody(error: HttpError): Uint8Array {
  const text = `${error.status} ${error.message}\n`;
  let body = errorBodies.get(text);
  if (body === undefined) {
    body = ENCODER.encode(text);
    // Messages that name a request's data would fill it: keep the first few short ones only.
    if (errorBodies.size < ERROR_BODIES_KEPT && text.length <= ERROR_BODY_KEPT_CHARS) {
      errorBodies.set(text, body);
    }
  }
  return body;
}

function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof ClientGoneError;
}

/** Re-exported for handlers that need to recognise a vanished client. */
export { ClientGoneError };
/** The sink type handed to body streams. */
export type { BodySink, BodyStream };
