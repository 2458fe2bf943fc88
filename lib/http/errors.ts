/**
 * The one error type of the HTTP layer: a status code a client can be told.
 *
 * @module
 */

/**
 * An error that maps to an HTTP response status. Thrown by the parser, the body
 * readers and the handlers; the connection turns it into a response. The
 * message is safe to show to a client: it never holds paths or stack traces.
 *
 * @example
 * ```ts
 * throw new HttpError(400, "Invalid Content-Length");
 * ```
 */
export class HttpError extends Error {
  /** The response status code, 400-599. */
  readonly status: number;
  /** Extra response headers (for example `Allow` on a 405). */
  readonly headers: Record<string, string>;

  /**
   * @param status the response status code
   * @param message a short, client-safe reason
   * @param headers extra headers for the error response
   */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    // An HttpError is an expected answer, not a bug: skip the costly stack trace capture.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}
