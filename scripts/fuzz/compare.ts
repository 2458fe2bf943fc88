/**
 * Comparing two traces of one input: where our parser and an oracle first
 * part ways, if they do. Only the first divergence is reported: past it the
 * two read different bytes as requests, and every later difference follows
 * from it.
 *
 * @module
 */

import type { OracleName } from "./oracles.ts";
import type { OurTrace } from "./ours.ts";
import { framingOf } from "./trace.ts";
import type { ParseTrace, TracedRequest } from "./trace.ts";

/** Which decision two parsers made differently. */
export type Aspect =
  | "accept"
  | "method"
  | "target"
  | "version"
  | "headEnd"
  | "framing"
  | "body"
  | "end"
  | "keepAlive"
  | "tail";

/** The first point where our parser and an oracle disagree on one input. */
export interface Disagreement {
  /** The oracle. */
  oracle: OracleName;
  /** The request (0-based) where they part; past the last request for a tail difference. */
  index: number;
  /** What differs. */
  aspect: Aspect;
  /** Our side, briefly. */
  ours: string;
  /** The oracle's side, briefly. */
  theirs: string;
}

/** HTTP/1.x for x ≥ 1 is read as 1.1 (RFC 9110 §2.5), whatever the parser calls it. */
function normalVersion(version: string): string {
  return /^1\.[1-9]$/.test(version) ? "1.1" : version;
}

/** The ending of a trace after its requests, in words. */
export function describeTail(trace: ParseTrace): string {
  const status = (trace as OurTrace).status;
  const because = trace.reason === undefined
    ? ""
    : ` (${status ?? ""}${status ? " " : ""}${trace.reason})`;
  return `${trace.tail}${because}`;
}

function describeBody(request: TracedRequest): string {
  return `${request.body} ${framingOf(request)} body of ${request.bodyLength} bytes` +
    (request.end === null ? "" : ` ending at ${request.end}`);
}

/**
 * The first disagreement between our trace and an oracle's, or null when they
 * agree on every request (head, framing, body bytes, end, persistence) and on
 * how the input ends.
 */
export function firstDisagreement(
  oracle: OracleName,
  ours: OurTrace,
  theirs: ParseTrace,
): Disagreement | null {
  const at = (index: number, aspect: Aspect, our: string, their: string): Disagreement => ({
    oracle,
    index,
    aspect,
    ours: our,
    theirs: their,
  });
  const count = Math.max(ours.requests.length, theirs.requests.length);
  for (let i = 0; i < count; i++) {
    const a = ours.requests[i];
    const b = theirs.requests[i];
    if (a === undefined) {
      return at(i, "accept", `refused: ${describeTail(ours)}`, `accepted ${b.method} ${b.target}`);
    }
    if (b === undefined) {
      return at(
        i,
        "accept",
        `accepted ${a.method} ${a.target}`,
        `refused: ${describeTail(theirs)}`,
      );
    }
    if (a.method !== b.method) return at(i, "method", a.method, b.method);
    if (a.target !== b.target) return at(i, "target", a.target, b.target);
    if (normalVersion(a.version) !== normalVersion(b.version)) {
      return at(i, "version", a.version, b.version);
    }
    if (a.headEnd !== b.headEnd) return at(i, "headEnd", String(a.headEnd), String(b.headEnd));
    // Both refuse this body: the connection ends here, and what either passed on before
    // refusing is discarded with the request, so how much that was is no decision.
    if (a.body === "error" && b.body === "error") return null;
    if (a.body !== b.body) {
      const our = a.body === "error"
        ? `${describeBody(a)}: ${describeTail(ours)}`
        : describeBody(a);
      const their = b.body === "error"
        ? `${describeBody(b)}: ${describeTail(theirs)}`
        : describeBody(b);
      return at(i, "body", our, their);
    }
    if (a.body === "complete" && framingOf(a) !== framingOf(b)) {
      return at(i, "framing", describeBody(a), describeBody(b));
    }
    if (a.bodyLength !== b.bodyLength || a.bodyHash !== b.bodyHash) {
      return at(i, "body", describeBody(a), describeBody(b));
    }
    if (a.end !== b.end) return at(i, "end", describeBody(a), describeBody(b));
    if (a.body !== "complete") return null;
    if (a.keepAlive !== b.keepAlive) {
      return at(i, "keepAlive", String(a.keepAlive), String(b.keepAlive));
    }
    if (!a.keepAlive) return null;
  }
  if (ours.tail !== theirs.tail) {
    return at(count, "tail", describeTail(ours), describeTail(theirs));
  }
  return null;
}
