/**
 * The response checker: are the bytes a server sent back well-formed HTTP/1.1
 * responses, consistent with the model of what it must have read?
 *
 * @module
 */

import type { Limits } from "../../lib/server/limits.ts";
import { toBinary } from "./bytes.ts";
import { modelStream } from "./model.ts";
import type { StreamModel } from "./model.ts";

/** One response read back. Interim (1xx) responses are included. */
export interface ParsedResponse {
  /** The status code. */
  status: number;
  /** Whether it carries `Connection: close`. */
  close: boolean;
}

/** What the checker found in one exchange. */
export interface Verdict {
  /** Every response, interim ones included. */
  responses: ParsedResponse[];
  /** Everything wrong, one line each; empty when the exchange is fine. */
  problems: string[];
}

const STATUS_LINE = /^HTTP\/1\.1 ([1-5][0-9][0-9]) [\t\x20-\x7e\x80-\xff]*$/;
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+): ?([\t\x20-\x7e\x80-\xff]*)$/;
const CHUNK_SIZE_LINE = /^([0-9A-Fa-f]+)(;[\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Reads one chunked body starting at `at`; returns the offset after it, or
 * a problem description.
 */
function skipChunkedResponse(text: string, at: number): number | string {
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return "chunked body cut short in a size line";
    const match = CHUNK_SIZE_LINE.exec(text.slice(at, lineEnd));
    if (match === null) {
      return `bad chunk-size line ${JSON.stringify(text.slice(at, Math.min(lineEnd, at + 40)))}`;
    }
    const size = parseInt(match[1], 16);
    at = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, then the empty line.
      for (;;) {
        const end = text.indexOf("\r\n", at);
        if (end === -1) return "chunked body cut short in the trailers";
        if (end === at) return at + 2;
        if (!FIELD_LINE.test(text.slice(at, end))) return "bad trailer field in a response";
        at = end + 2;
      }
    }
    if (text.length < at + size + 2) return "chunked body cut short in chunk data";
    if (text.slice(at + size, at + size + 2) !== "\r\n") return "chunk data not followed by CRLF";
    at += size + 2;
  }
}

/**
 * Checks the bytes a server sent back for an input: a sequence of
 * well-formed HTTP/1.1 responses, framed so that each ends where the next
 * begins, no more final responses than the model has requests (plus one
 * error for an invalid or unfinished tail), a framing rejection answered
 * with an error and `Connection: close` and followed by nothing, every
 * request the server must have read answered, and the connection closed by
 * the server (`closed`) before the client gave up.
 */
export function checkExchange(
  model: StreamModel,
  output: Uint8Array,
  closed: boolean,
  closeWrite: boolean,
): Verdict {
  const text = toBinary(output);
  const problems: string[] = [];
  const responses: ParsedResponse[] = [];
  let finals = 0;
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd === -1) {
      problems.push(`response head cut short or unterminated at byte ${at}`);
      break;
    }
    const lines = text.slice(at, headEnd).split("\r\n");
    const statusMatch = STATUS_LINE.exec(lines[0]);
    if (statusMatch === null) {
      problems.push(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`);
      break;
    }
    const status = Number(statusMatch[1]);
    const fields = new Map<string, string[]>();
    let badField = false;
    for (const line of lines.slice(1)) {
      const match = FIELD_LINE.exec(line);
      if (match === null) {
        problems.push(`bad header line ${JSON.stringify(line.slice(0, 80))} in a ${status}`);
        badField = true;
        break;
      }
      const name = match[1].toLowerCase();
      fields.set(name, [...(fields.get(name) ?? []), match[2].trim()]);
    }
    if (badField) break;
    const interim = status < 200;
    const request = interim ? undefined : model.requests[finals];
    const lengths = fields.get("content-length");
    const codings = fields.get("transfer-encoding");
    const close = (fields.get("connection") ?? []).some((v) => /(^|,)\s*close\s*(,|$)/i.test(v));
    const chunked = codings !== undefined;
    responses.push({ status, close });
    if (interim) {
      if (status === 101) problems.push("101 Switching Protocols sent, but nothing upgrades");
      if (status === 100 && !(model.requests[finals]?.expectContinue ?? false)) {
        problems.push("100 Continue to a request that did not ask for it");
      }
      if (lengths !== undefined || chunked) problems.push(`a ${status} with body framing`);
      at = headEnd + 4;
      continue;
    }
    finals++;
    if (lengths !== undefined && chunked) problems.push(`a ${status} with both framings`);
    if (lengths !== undefined && (lengths.length !== 1 || !/^[0-9]+$/.test(lengths[0]))) {
      problems.push(`a ${status} with Content-Length ${JSON.stringify(lengths)}`);
      break;
    }
    if (chunked && (codings.length !== 1 || codings[0].toLowerCase() !== "chunked")) {
      problems.push(`a ${status} with Transfer-Encoding ${JSON.stringify(codings)}`);
      break;
    }
    if (chunked && request?.minorVersion === 0) problems.push("a chunked response to HTTP/1.0");
    if (status === 204 && (lengths !== undefined || chunked)) problems.push("a 204 with framing");
    at = headEnd + 4;
    if (request?.method === "HEAD" || status === 204 || status === 304) continue;
    if (chunked) {
      const end = skipChunkedResponse(text, at);
      if (typeof end === "string") {
        problems.push(`${end} (a ${status})`);
        break;
      }
      at = end;
    } else if (lengths !== undefined) {
      const length = Number(lengths[0]);
      if (text.length < at + length) {
        problems.push(`a ${status} body cut short: ${text.length - at} of ${length} bytes`);
        break;
      }
      at += length;
    } else {
      // Delimited by the close: only acceptable when announced.
      if (!close) problems.push(`a ${status} with neither framing nor Connection: close`);
      at = text.length;
    }
  }
  problems.push(...checkSequence(model, responses, closeWrite));
  if (!closed) problems.push("the server neither answered in full nor closed the connection");
  return { responses, problems };
}

/**
 * Checks an exchange that a server's timeout (`limits`) may have cut short
 * before it read all of the input: a correct server may then have read only
 * the bytes before one of `cuts` (byte offsets; the input's length for a
 * half-close it did not see), and without the half-close. That happens when
 * the client, delayed itself on a loaded machine, sent those bytes late, or
 * when the server barely ran. The exchange passes when it is right for the
 * whole input or for one of those prefixes; otherwise the whole input's
 * problems stand. Without cuts this is {@linkcode checkExchange}.
 */
export function checkCutExchange(
  input: Uint8Array,
  output: Uint8Array,
  closed: boolean,
  closeWrite: boolean,
  limits: Limits,
  cuts: readonly number[],
): Verdict {
  const whole = checkExchange(modelStream(input, limits), output, closed, closeWrite);
  if (whole.problems.length === 0) return whole;
  for (const cut of cuts) {
    const model = modelStream(input.subarray(0, cut), limits);
    const verdict = checkExchange(model, output, closed, false);
    if (verdict.problems.length === 0) return verdict;
  }
  return whole;
}

/** The order-level rules of {@linkcode checkExchange}. */
function checkSequence(
  model: StreamModel,
  responses: ParsedResponse[],
  closeWrite: boolean,
): string[] {
  const problems: string[] = [];
  const finals = responses.filter((response) => response.status >= 200);
  const { requests, tail } = model;
  const allowed = requests.length + (tail === "none" ? 0 : 1);
  if (finals.length > allowed) {
    problems.push(`${finals.length} responses to ${requests.length} request(s) (tail ${tail})`);
  }
  finals.forEach((response, k) => {
    const last = k === finals.length - 1;
    if (response.close && !last) {
      problems.push(`response ${k} has Connection: close but more follow`);
    }
    const request = requests[k];
    if (request === undefined) {
      if (response.status < 400 || !response.close) {
        problems.push(`a ${response.status} to an unfinished or invalid head, without close`);
      }
      return;
    }
    const mustClose = request.rejected || request.body === "invalid" || !request.keepAlive;
    if (mustClose && !response.close) {
      problems.push(`response ${k} (${response.status}) lacks Connection: close`);
    }
    if (request.rejected && response.status < 400) {
      problems.push(`a rejected head got ${response.status}`);
    }
  });
  // Every request the server must have read is answered: it reached request k
  // when every response before it left the connection open.
  let reached = 0;
  while (reached < finals.length && !finals[reached].close) reached++;
  if (reached === finals.length) {
    const next = requests[reached];
    if (next !== undefined && next.body !== "incomplete") {
      problems.push(`request ${reached} (${next.method}) got no response`);
    } else if (next === undefined && tail === "invalid") {
      problems.push("an invalid head got no error response");
    } else if (next === undefined && tail === "partial" && !closeWrite) {
      problems.push("an unfinished head got no 408");
    }
  }
  return problems;
}
