/**
 * Object-store errors in one place: which HTTP status each S3 failure
 * becomes for the client, with a message that names neither keys nor
 * credentials and never carries a stack trace.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import { S3Error } from "./s3_client.ts";

/** Codes meaning the store does not accept this server's credentials: the operator's problem. */
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "RequestTimeTooSkewed",
  "AuthorizationHeaderMalformed",
]);

/**
 * Turns an error met while talking to the object store into a client-safe
 * {@linkcode HttpError}; returns null for anything that is not a store
 * error (a bug: 500). An HttpError passes through unchanged.
 *
 * - SlowDown, 503 and other throttling: 503 with the store's `Retry-After` (else 1 s)
 * - no answer (connection refused, unreachable): 502; no answer in time: 504
 * - QuotaExceeded: 507; AccessDenied: 403; EntityTooLarge: 413
 * - NoSuchBucket, rejected credentials, any other store failure: 502
 */
export function s3ErrorToHttp(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  if (!(error instanceof S3Error)) return null;
  const code = error.code;
  if (
    code === "SlowDown" || code === "ServiceUnavailable" || code === "TooManyRequests" ||
    error.status === 503 || error.status === 429
  ) {
    return new HttpError(503, "The object store is busy; try again", {
      "Retry-After": /^\d{1,6}$/.test(error.retryAfter ?? "") ? error.retryAfter! : "1",
    });
  }
  if (code === "Unreachable") return new HttpError(502, "The object store is unreachable");
  if (code === "Timeout") return new HttpError(504, "The object store did not answer in time");
  if (code === "QuotaExceeded") return new HttpError(507, "The object store's quota is exceeded");
  if (code === "AccessDenied") return new HttpError(403, "The object store denied access");
  if (code === "EntityTooLarge") return new HttpError(413, "Too large for the object store");
  if (code === "KeyTooLongError" || code === "InvalidObjectName") {
    return new HttpError(400, "The object store rejects that name");
  }
  if (code === "NoSuchBucket") {
    return new HttpError(502, "The object store has no such bucket (check the s3:// root)");
  }
  if (CREDENTIAL_CODES.has(code)) {
    return new HttpError(502, "The object store rejects this server's credentials");
  }
  const shown = /^[A-Za-z0-9.]{1,64}$/.test(code) ? code : "error";
  return new HttpError(502, `The object store failed (${shown})`);
}
