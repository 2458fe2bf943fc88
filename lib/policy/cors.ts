/**
 * `--cors`: lets scripts on any origin read and write, without credentials
 * (Fetch standard CORS protocol).
 *
 * @module
 */

import { errorResponse } from "../server/connection.ts";
import type { Handler } from "../server/connection.ts";
import { TCHAR } from "../http/abnf.ts";
import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";

const EXPOSED = "ETag, Last-Modified, Content-Range, Content-Length, Content-Encoding, " +
  "Accept-Ranges, Location, Repr-Digest, Upload-Offset, Upload-Complete, Upload-Length, Upload-Limit, " +
  "Lock-Token";
const DEFAULT_ALLOWED_HEADERS = "Content-Type, If-Match, If-None-Match, If-Modified-Since, " +
  "If-Unmodified-Since, If-Range, Range, Destination, Overwrite, Content-Digest, Repr-Digest, " +
  "Upload-Complete, Upload-Offset, Upload-Length, Upload-Draft-Interop-Version, If, Lock-Token, " +
  "Timeout, Depth";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

function isTokenList(value: string): boolean {
  return value.split(",").every((member) => {
    const name = member.trim();
    for (let i = 0; i < name.length; i++) if (TCHAR[name.charCodeAt(i)] !== 1) return false;
    return true;
  });
}

function preflight(request: Request, allowMethods: string): Response {
  const requested = request.headers.get("access-control-request-headers");
  const allowHeaders = requested !== undefined && requested.trim() !== "" && isTokenList(requested)
    ? requested
    : DEFAULT_ALLOWED_HEADERS;
  return {
    status: 204,
    headers: [
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Allow-Methods", allowMethods],
      ["Access-Control-Allow-Headers", allowHeaders],
      ["Access-Control-Max-Age", PREFLIGHT_MAX_AGE_SECONDS],
      ["Allow", allowMethods],
    ],
  };
}

/**
 * Wraps `handler` so every response (errors included) allows any origin and
 * exposes the validators and range headers, and answers preflight requests.
 * Never sends `Access-Control-Allow-Credentials`: that is not allowed with `*`.
 */
export function withCors(handler: Handler, allowMethods: string): Handler {
  return async (request: Request): Promise<Response> => {
    if (
      request.method === "OPTIONS" && request.headers.has("origin") &&
      request.headers.has("access-control-request-method")
    ) {
      return preflight(request, allowMethods);
    }
    let response: Response;
    try {
      response = await handler(request);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      response = errorResponse(error);
    }
    response.headers.push(
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Expose-Headers", EXPOSED],
    );
    return response;
  };
}
