/**
 * What a request head means for the connection: body framing, persistence and
 * expectations (RFC 9112 §6, §9.3; RFC 9110 §7.2, §10.1.1).
 *
 * @module
 */

import { HOST_FIELD_VALUE } from "./abnf.ts";
import { HttpError } from "./errors.ts";
import type { RequestHead } from "./head_parser.ts";

/** How the request body is delimited. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/** The connection-level meaning of a request head. */
export interface RequestFraming {
  /** How to read the body. */
  body: BodyFraming;
  /** Whether the client wants the connection kept open after the response. */
  keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before sending the body. */
  expectContinue: boolean;
}

const DIGITS = /^[0-9]+$/;

/** The last Host value found valid (the empty one is: RFC 9110 §7.2). */
let lastValidHost = "";
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
/** The last Connection value (undefined: absent) and its members, never changed once made. */
let lastConnectionValue: string | undefined = undefined;
let lastConnectionMembers: readonly string[] = [];

/**
 * `text` without leading and trailing OWS: SP and HTAB only (RFC 9110
 * §5.6.3). Not `String.prototype.trim`, which also strips NBSP (0xA0, an
 * obs-text byte) and VT/FF: `Transfer-Encoding: \xa0chunked` is not chunked.
 */
function trimOws(text: string): string {
  return text.replace(OWS_EDGES, "");
}

/** Splits a comma-separated list field into lowercase, OWS-trimmed, non-empty members. */
export function listMembers(value: string | undefined): string[] {
  if (value === undefined) return [];
  const members: string[] = [];
  for (const part of value.split(",")) {
    const member = trimOws(part).toLowerCase();
    if (member !== "") members.push(member);
  }
  return members;
}

/**
 * Decides framing, persistence and expectations for a parsed head. Throws 400
 * for ambiguous or invalid framing (Content-Length with Transfer-Encoding,
 * bad or differing lengths, chunked not last, a missing, repeated or invalid Host),
 * 501 for transfer codings other than chunked, and 417 for an unknown
 * expectation.
 *
 * Where the RFC lets a recipient choose between leniency and rejection (a
 * repeated Content-Length, Transfer-Encoding in HTTP/1.0), it rejects.
 */
export function interpretHead(head: RequestHead): RequestFraming {
  const headers = head.headers;
  if (head.minorVersion === 1 && head.hostCount !== 1) {
    throw new HttpError(400, head.hostCount === 0 ? "Missing Host header" : "Repeated Host header");
  }
  if (head.hostCount > 1) throw new HttpError(400, "Repeated Host header");
  const host = headers.get("host");
  // A client sends the same Host on every request: one test per new value.
  if (host !== undefined && host !== lastValidHost) {
    if (!HOST_FIELD_VALUE.test(host)) throw new HttpError(400, "Invalid Host header");
    lastValidHost = host;
  }

  const transferEncoding = headers.get("transfer-encoding");
  const contentLength = headers.get("content-length");
  let body: BodyFraming = { kind: "none" };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) {
      throw new HttpError(400, "Both Content-Length and Transfer-Encoding");
    }
    if (head.minorVersion === 0) throw new HttpError(400, "Transfer-Encoding in HTTP/1.0");
    const codings = transferEncoding.split(",").map((c) => trimOws(c).toLowerCase());
    // The first "chunked" being the last coding also rules out a repeated one.
    if (codings.indexOf("chunked") !== codings.length - 1) {
      throw new HttpError(400, "Chunked must be the final transfer coding, once");
    }
    if (codings.length > 1) throw new HttpError(501, "Unsupported transfer coding");
    body = { kind: "chunked" };
  } else if (contentLength !== undefined) {
    if (head.contentLengthCount !== 1) throw new HttpError(400, "Repeated Content-Length");
    if (!DIGITS.test(contentLength)) throw new HttpError(400, "Invalid Content-Length");
    const length = Number(contentLength);
    if (!Number.isSafeInteger(length)) throw new HttpError(400, "Content-Length too large");
    if (length > 0) body = { kind: "length", length };
  }

  const connectionValue = headers.get("connection");
  // A client sends the same Connection on every request: split once per new value.
  if (connectionValue !== lastConnectionValue) {
    lastConnectionMembers = listMembers(connectionValue);
    lastConnectionValue = connectionValue;
  }
  const connection = lastConnectionMembers;
  const keepAlive = head.minorVersion === 1
    ? !connection.includes("close")
    : connection.includes("keep-alive") && !connection.includes("close");

  let expectContinue = false;
  const expect = headers.get("expect");
  if (expect !== undefined) {
    if (expect.toLowerCase() !== "100-continue") {
      throw new HttpError(417, "Unsupported expectation");
    }
    // A 100-continue from an HTTP/1.0 client is ignored (RFC 9110 §10.1.1).
    expectContinue = head.minorVersion === 1;
  }
  return { body, keepAlive, expectContinue };
}
