/**
 * The trace format shared by our parser and the differential oracles (h11,
 * llhttp): what one parser made of one byte stream of requests. Each oracle
 * process writes exactly this shape as JSON, so the comparison is plain data.
 *
 * @module
 */

/** Whether a request's body was read to its end, cut short by the input's end, or refused. */
export type BodyOutcome = "complete" | "partial" | "error";

/**
 * What follows the last request in a trace:
 * - `eof`: the input ended between requests (at most empty lines left);
 * - `partial`: the input ended inside a head;
 * - `error`: a head was refused (syntax, framing, or a limit);
 * - `closed`: the last request ends the connection, the rest is not read;
 * - `upgrade`: the last request switches protocols (llhttp only);
 * - `body`: the last request's body did not complete (see its `body`);
 * - `crash`: the oracle itself failed on this input.
 */
export type Tail = "eof" | "partial" | "error" | "closed" | "upgrade" | "body" | "crash";

/** One request head a parser accepted, and what became of its body. */
export interface TracedRequest {
  /** The method token (bytes as latin1). */
  method: string;
  /** The request-target as sent (bytes as latin1). */
  target: string;
  /** The HTTP version as the parser reports it: "1.0", "1.1", or what it let through. */
  version: string;
  /** Offset just past the head's blank line. */
  headEnd: number;
  /** Offset just past the body, where the next request starts; null unless the body completed. */
  end: number | null;
  /** How the body ended. */
  body: BodyOutcome;
  /** Body bytes decoded (so far, when not complete). */
  bodyLength: number;
  /** SHA-1 (hex) of the decoded body bytes. */
  bodyHash: string;
  /** Whether the connection may carry another request; null unless the body completed. */
  keepAlive: boolean | null;
}

/** What one parser made of one input. */
export interface ParseTrace {
  /** Heads accepted, in order. */
  requests: TracedRequest[];
  /** What follows the last of them. */
  tail: Tail;
  /** The parser's own words for an error or a crash. */
  reason?: string;
}

/**
 * The body framing a trace implies, from where the head and the body end and
 * how many bytes were decoded: no body bytes on the wire is "none"; as many
 * on the wire as decoded is "length"; more (chunk sizes, CRLFs) is "chunked".
 * Behavioural on purpose, so that it needs nothing but offsets from an oracle.
 */
export function framingOf(request: TracedRequest): "none" | "length" | "chunked" | "unknown" {
  if (request.end === null) return "unknown";
  const onWire = request.end - request.headEnd;
  if (onWire === 0) return "none";
  return onWire === request.bodyLength ? "length" : "chunked";
}
