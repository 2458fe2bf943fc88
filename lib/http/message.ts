/**
 * The request and response types shared by the connection and the handlers.
 *
 * @module
 */

import type { TargetForm } from "./head_parser.ts";
import type { HeaderList } from "./serialize.ts";

/** A request body, read incrementally. */
export interface RequestBody {
  /** The announced length: a number for Content-Length (0 when there is no body), null for chunked. */
  readonly length: number | null;
  /**
   * The next piece of the body, or null at its end. The returned view is only
   * valid until the next call. The first call sends `100 Continue` when the
   * client asked for it. Throws {@linkcode HttpError} (400, 413) on a bad or
   * oversized body and {@linkcode ClientGoneError} when the client disconnects.
   */
  read(): Promise<Uint8Array | null>;
}

/** A parsed request, as handlers see it. Header names are lowercase. */
export interface Request {
  /** The method token. */
  readonly method: string;
  /** The request-target as sent. */
  readonly target: string;
  /** Which form the target has. */
  readonly targetForm: TargetForm;
  /** The path, still percent-encoded. */
  readonly path: string;
  /** The query without "?". */
  readonly query: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /**
   * Header fields by lowercase name; repeated fields joined with ", ".
   * Readable until the exchange ends (the response sent and logged): the
   * server decodes them from the receive buffer when asked, and reading them
   * after the connection moved on to its next request throws.
   */
  readonly headers: ReadonlyMap<string, string>;
  /** The body. */
  readonly body: RequestBody;
  /**
   * The user name whose Basic credentials the auth layer accepted for this
   * request, set by `withAuth` before the handler runs; absent when auth did
   * not run or there is none. Only the name: it is what the access log's user
   * field shows.
   */
  user?: string;
  /**
   * The client's IP address, without the port (an IPv4 client of a
   * dual-stack socket appears as `::ffff:a.b.c.d`); absent when unknown, as
   * on a Unix socket.
   */
  readonly remoteAddr?: string;
  /**
   * Sends an interim 1xx response (not 101) ahead of the final one, such as
   * `104 Upload Resumption Supported`; a no-op for HTTP/1.0 clients.
   */
  informational(status: number, headers: HeaderList): Promise<void>;
}

/** Where a streamed response body goes; buffers small writes into one send. */
export interface BodySink {
  /** Queues `bytes` for sending, flushing to the socket when the buffer fills. */
  write(bytes: Uint8Array): Promise<void>;
  /** A free region of the send buffer to fill in place (at least `minBytes` long when it can be). */
  region(minBytes: number): Promise<Uint8Array>;
  /** Marks `n` bytes of the last {@linkcode BodySink.region} as filled. */
  commit(n: number): void;
  /**
   * Sends what is queued now rather than when the buffer fills: for a body
   * made slowly (search results), so the client sees each part as it is found.
   */
  flush(): Promise<void>;
}

/** A response body produced on demand (a file, a multipart body, a compressed stream). */
export interface BodyStream {
  /** The exact byte length, or null when unknown (sent chunked to HTTP/1.1 clients). */
  readonly length: number | null;
  /** Writes the whole body to `sink`. */
  writeTo(sink: BodySink): Promise<void>;
  /** Releases resources (open files); called exactly once, whether or not the body was written. */
  close(): void;
}

/**
 * A response as handlers return it. The connection adds Date, Content-Length
 * or Transfer-Encoding, and Connection; a handler answers HEAD exactly as GET
 * and the connection leaves the body out.
 */
export interface Response {
  /** The status code. */
  status: number;
  /** Header fields other than framing ones. */
  headers: HeaderList;
  /** The body; absent for none. */
  body?: Uint8Array | BodyStream;
}

/** Thrown by {@linkcode RequestBody.read} when the client closes or resets the connection mid-body. */
export class ClientGoneError extends Error {
  constructor() {
    super("Client disconnected");
    this.name = "ClientGoneError";
  }
}
