/**
 * Every limit and timeout of the server, in one options object with defaults.
 *
 * @module
 */

/** Protocol limits and timeouts. Sizes are bytes, times milliseconds. */
export interface Limits {
  /** Longest request line (414 beyond). */
  maxRequestLineBytes: number;
  /** Largest request head (431 beyond). */
  maxHeadBytes: number;
  /** Most header fields in a head (431 beyond). */
  maxHeaderCount: number;
  /** Longest chunk-size line, extensions included (400 beyond). */
  maxChunkLineBytes: number;
  /** Largest chunked trailer section (400 beyond). */
  maxTrailerBytes: number;
  /** Most trailer fields (431 beyond). */
  maxTrailerCount: number;
  /** Largest request body (413 beyond); Infinity for no limit. */
  maxBodyBytes: number;
  /** Unread body bytes the server reads and discards to keep a connection open after a response. */
  maxDrainBytes: number;
  /** Time from the first byte of a request head to its end (408 and close beyond). */
  headerTimeoutMs: number;
  /** Time an open connection may sit with no request before it is closed. */
  idleTimeoutMs: number;
  /** Time a request body may stall between two reads before the connection is closed. */
  bodyTimeoutMs: number;
  /** Time a response write may stall (a client not reading) before the connection is closed. */
  writeTimeoutMs: number;
  /** Time given to requests in flight at shutdown before their connections are closed. */
  shutdownGraceMs: number;
  /** Most simultaneous connections; beyond it new ones get 503 and are closed. */
  maxConnections: number;
}

/** The defaults: conservative for a server that may face hostile clients. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRequestLineBytes: 8 * 1024,
  maxHeadBytes: 64 * 1024,
  maxHeaderCount: 100,
  maxChunkLineBytes: 4 * 1024,
  maxTrailerBytes: 16 * 1024,
  maxTrailerCount: 100,
  maxBodyBytes: Infinity,
  maxDrainBytes: 64 * 1024,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  writeTimeoutMs: 30_000,
  shutdownGraceMs: 10_000,
  maxConnections: 1024,
});
