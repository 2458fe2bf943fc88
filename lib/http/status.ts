/**
 * Reason phrases for the status codes this server sends (RFC 9110 §15, RFC 4918 §11).
 *
 * @module
 */

const REASONS: Record<number, string> = {
  100: "Continue",
  104: "Upload Resumption Supported",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  207: "Multi-Status",
  301: "Moved Permanently",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  423: "Locked",
  424: "Failed Dependency",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
};

/** The reason phrase for `status`, or "" for a code without one here (the phrase is optional). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}
