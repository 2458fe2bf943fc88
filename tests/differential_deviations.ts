/**
 * THE deviation table: every class of input on which our request parser
 * knowingly decides differently from h11 or llhttp, with the RFC clause that
 * settles it and whose choice the difference is. `tests/differential_test.ts`
 * (and `deno task fuzz`) fail on any disagreement that no row here excuses.
 *
 * Each row's predicate checks two things: that we (or the oracle) decided for
 * the stated reason, and, from the bytes themselves (`scripts/fuzz/evidence.ts`,
 * not our parser), that the input really has the feature that justifies it. A
 * row's `examples` are run in the tests: each must disagree with one of the
 * row's oracles and be excused by that row.
 *
 * Verdicts: "deliberate strictness/leniency" is our choice (the README lists
 * the strict ones); "oracle strictness/leniency/limitation" is the oracle's.
 *
 * @module
 */

import type { DeviationContext } from "../scripts/fuzz/differential.ts";
import type { Deviation } from "../scripts/fuzz/differential.ts";
import {
  chunkLines,
  chunkLinesAt,
  fieldValues,
  hasBareCr,
  hasBareLf,
  hasControl,
  viewRequest,
} from "../scripts/fuzz/evidence.ts";
import { FUZZ_LIMITS } from "../scripts/fuzz/limits.ts";

// ---------------------------------------------------------------------------
// What each side decided at the disputed request

/** Our reason when we refused the disputed request's head or body, else undefined. */
function ourRefusal(c: DeviationContext): string | undefined {
  const i = c.disagreement.index;
  const headRefused = c.ours.tail === "error" && c.ours.requests.length === i;
  const bodyRefused = c.ours.requests[i]?.body === "error";
  return headRefused || bodyRefused ? c.ours.reason : undefined;
}

/** Whether we refused the disputed request for one of `reasons`. */
function weRefused(c: DeviationContext, ...reasons: string[]): boolean {
  const reason = ourRefusal(c);
  return reason !== undefined && reasons.includes(reason);
}

/** The oracle's reason when it refused the disputed request's head or body, else undefined. */
function theirRefusal(c: DeviationContext): string | undefined {
  const i = c.disagreement.index;
  const headRefused = c.theirs.tail === "error" && c.theirs.requests.length === i;
  const bodyRefused = c.theirs.requests[i]?.body === "error";
  return headRefused || bodyRefused ? c.theirs.reason ?? "" : undefined;
}

/** Whether we accepted the disputed request's head. */
function weAccepted(c: DeviationContext): boolean {
  return c.ours.requests[c.disagreement.index] !== undefined;
}

/** The oracle's error code and words (llhttp: "HPE_X: words at N"; h11: its message). */
function theySaid(c: DeviationContext, pattern: RegExp): boolean {
  const reason = theirRefusal(c);
  return reason !== undefined && pattern.test(reason);
}

/** The members of a comma-separated list field, OWS-trimmed and lowercased, empty ones kept. */
function rawMembers(values: string[]): string[] {
  return values.join(",").split(",").map((m) => m.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase());
}

/** The chunk lines the oracle may have stopped on, in the disputed request's body. */
function theirChunkLines(c: DeviationContext) {
  const request = c.ours.requests[c.disagreement.index];
  const decoded = c.theirs.requests[c.disagreement.index]?.bodyLength ?? 0;
  return request === undefined ? [] : chunkLinesAt(c.text, request.headEnd, decoded);
}

/** All chunk lines of the disputed request's body, as plain text reads them. */
function ourChunkLines(c: DeviationContext) {
  const request = c.ours.requests[c.disagreement.index];
  return request === undefined ? [] : chunkLines(c.text, request.headEnd);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 3986 `uri-host [ ":" port ]`, written out separately from the parser's own table. */
const HOST_VALUE = new RegExp(
  String.raw`^(?:\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\]|` +
    String.raw`(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$`,
);

// ---------------------------------------------------------------------------
// The table

/** Every deviation we accept, first match wins (rows are keyed on distinct reasons). */
export const DEVIATIONS: readonly Deviation[] = [
  // --- Line endings ------------------------------------------------------------
  {
    id: "bare-lf",
    inputClass: "a bare LF (no CR) ending a line of a head or a chunked body",
    ours: "400, connection closed",
    h11: "accepts LF as a line end",
    llhttp: "400 in a head; skips stray CR/LF between requests",
    rfc: "RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      weRefused(c, "Bare LF in request head", "Bare LF in chunked body") &&
      hasBareLf(c.text, c.start),
    examples: [
      "GET / HTTP/1.1\nHost: a\n\n",
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n",
    ],
  },
  {
    id: "bare-cr",
    inputClass: "a bare CR (no LF after it) in a head, or before a request line",
    ours: "400, connection closed (after the head ends)",
    h11: "refuses it inside a head",
    llhttp: "skips CRs before a request line; refuses one inside a head",
    rfc: "RFC 9112 §2.2: a recipient MUST consider a bare CR invalid or replace it with SP",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => ourRefusal(c) !== undefined && hasBareCr(c.text, c.start, c.view.end),
    examples: ["\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "stray-cr-lf",
    inputClass: "lone CRs or LFs (not CRLF pairs) between requests or after the last one",
    ours: "400 (a lone CR: once its line ends, or at the end of the stream)",
    h11: "refuses",
    llhttp: "skips any CR and LF before a request line",
    rfc: "RFC 9112 §2.2: only an empty line (CRLF) may be ignored before a request-line; a " +
      "bare CR is invalid",
    verdict: "deliberate strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      /^[\r\n]+$/.test(c.text.slice(c.start)) &&
      (hasBareCr(c.text, c.start) || hasBareLf(c.text, c.start)) &&
      (c.ours.tail === "partial" || c.ours.tail === "error") && c.theirs.tail === "eof",
    examples: [
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r",
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\r\n",
    ],
  },
  // --- Field lines ---------------------------------------------------------------
  {
    id: "obs-fold",
    inputClass: "a field or trailer line starting with SP or HTAB (obs-fold)",
    ours: "400 (a trailer line as soon as it ends)",
    h11: "unfolds it into the previous field",
    llhttp: "400",
    rfc: "RFC 9112 §5.2: a server MUST reject obs-fold with 400 or replace it with SP",
    verdict: "deliberate strictness",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Obsolete line folding") &&
      (c.view.lines.slice(1).some((line) => /^[ \t]/.test(line.content)) ||
        ourChunkLines(c).some((line) => line.trailer && /^[ \t]/.test(line.content))),
    examples: [
      "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n",
    ],
  },
  {
    id: "field-value-control",
    inputClass: "a control character (not HTAB) in a field or trailer value, such as DEL or ESC",
    ours: "400 (a trailer line as soon as it ends)",
    h11: "accepts every control but NUL, CR and LF (h11 issue 57)",
    llhttp: "400",
    rfc: "RFC 9110 §5.5: field-vchar = VCHAR / obs-text; CTLs are not field content",
    verdict: "deliberate strictness",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Invalid header field value") &&
      (c.view.fields.some((field) => hasControl(field.value)) ||
        ourChunkLines(c).some((line) => line.trailer && hasControl(line.content))),
    examples: [
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \x1b\r\n\r\n",
    ],
  },
  // --- Content-Length --------------------------------------------------------------
  {
    id: "content-length-repeated",
    inputClass: "two or more Content-Length fields, identical or not",
    ours: "400",
    h11: "accepts identical values",
    llhttp: "400",
    rfc: "RFC 9110 §8.6: a recipient MAY reject duplicated values or merge them",
    verdict: "deliberate strictness",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Repeated Content-Length") && fieldValues(c.view, "content-length").length > 1,
    examples: ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"],
  },
  {
    id: "content-length-list",
    inputClass: "a Content-Length value that is a list (`1, 1`)",
    ours: "400",
    h11: "accepts a list of identical values",
    llhttp: "400",
    rfc: "RFC 9110 §8.6: Content-Length = 1*DIGIT; a recipient MAY merge a list of equal values",
    verdict: "deliberate strictness",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Invalid Content-Length") &&
      fieldValues(c.view, "content-length").some((value) => value.includes(",")),
    examples: ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx"],
  },
  {
    id: "content-length-ows",
    inputClass: "an HTAB in the OWS after the digits of Content-Length (`1\\t`)",
    ours: "accepts: OWS around a field value is not part of it",
    h11: "accepts",
    llhttp: "400 (HPE_INVALID_CONTENT_LENGTH); a trailing SP is accepted",
    rfc: 'RFC 9112 §5: field-line = field-name ":" OWS field-value OWS; OWS = *( SP / HTAB )',
    verdict: "oracle strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      weAccepted(c) && theySaid(c, /^HPE_INVALID_CONTENT_LENGTH/) &&
      c.view.fields.some((field) =>
        field.name.toLowerCase() === "content-length" &&
        /[0-9][ \t]*\t[ \t]*$/.test(field.line.content)
      ),
    examples: ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\t\r\n\r\nx"],
  },
  {
    id: "list-field-trailing-ows",
    inputClass: "an HTAB in the OWS after a Transfer-Encoding or Connection value " +
      "(`chunked\\t`, `close \\t`)",
    ours: "trims it: `chunked` is chunked, `close` closes",
    h11: "trims it",
    llhttp: "takes a trailing HTAB into the token: 400 for chunked, close and keep-alive " +
      "ignored (a trailing SP is trimmed)",
    rfc: "RFC 9112 §5: OWS around a field value is not part of it; RFC 9110 §5.6.1",
    verdict: "oracle strictness",
    oracles: ["llhttp"],
    matches: (c) => {
      const request = c.view.fields.filter((field) =>
        ["transfer-encoding", "connection"].includes(field.name.toLowerCase())
      );
      const odd = request.some((field) => /\t[ \t]*$/.test(field.line.content));
      const aspect = c.disagreement.aspect;
      return odd && (aspect === "keepAlive" ||
        aspect === "body" && theySaid(c, /^HPE_INVALID_TRANSFER_ENCODING/) ||
        aspect === "accept" && weAccepted(c) && theySaid(c, /^HPE_INVALID_TRANSFER_ENCODING/));
    },
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n1\r\nx\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nConnection:\t close \t\r\n\r\n",
    ],
  },
  {
    id: "content-length-and-transfer-encoding",
    inputClass: "both Content-Length and Transfer-Encoding",
    ours: "400, connection closed",
    h11: "accepts; Transfer-Encoding wins",
    llhttp: "400",
    rfc: "RFC 9112 §6.1: a server MAY reject such a request or use Transfer-Encoding alone",
    verdict: "deliberate strictness",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Both Content-Length and Transfer-Encoding") &&
      fieldValues(c.view, "content-length").length > 0 &&
      fieldValues(c.view, "transfer-encoding").length > 0,
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
  },
  // --- Transfer-Encoding ------------------------------------------------------------
  {
    id: "transfer-encoding-http10",
    inputClass: "Transfer-Encoding in an HTTP/1.0 request",
    ours: "400, connection closed",
    h11: "reads the body as chunked",
    llhttp: "reads the body as chunked",
    rfc: "RFC 9112 §6.1: a server MUST treat such framing as faulty and close the connection",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      weRefused(c, "Transfer-Encoding in HTTP/1.0") && c.view.version === "HTTP/1.0" &&
      fieldValues(c.view, "transfer-encoding").length > 0,
    examples: ["POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
  },
  {
    id: "chunked-not-final",
    inputClass:
      "Transfer-Encoding whose list does not end in exactly one `chunked` (a coding after it, " +
      "`chunked` twice, a trailing empty member, an unknown coding alone)",
    ours: "400, connection closed",
    h11: "refuses anything but exactly `chunked` (501)",
    llhttp: "accepts some (an empty second field); refuses the body of others",
    rfc: "RFC 9112 §6.3 ¶4: chunked not final in a request → 400 and close; §7: chunked at most " +
      "once. A trailing empty member is refused although RFC 9110 §5.6.1.2 says to ignore it",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => {
      if (!weRefused(c, "Chunked must be the final transfer coding, once")) return false;
      const members = rawMembers(fieldValues(c.view, "transfer-encoding"));
      return members.at(-1) !== "chunked" || members.filter((m) => m === "chunked").length > 1;
    },
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n",
      // Not chunked since NBSP is not whitespace (it was: see tests/differential_regressions_test.ts).
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\xa0\r\n\r\n0\r\n\r\n",
    ],
  },
  {
    id: "coding-before-chunked",
    inputClass: "codings (or empty members) before a final `chunked`: `gzip, chunked`, `, chunked`",
    ours: "501, connection closed",
    h11: "501",
    llhttp: "accepts and reads chunked (decoding the rest is the application's job)",
    rfc: "RFC 9112 §6.1: a server SHOULD answer 501 to a transfer coding it does not understand",
    verdict: "deliberate strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      weRefused(c, "Unsupported transfer coding") &&
      rawMembers(fieldValues(c.view, "transfer-encoding")).length > 1,
    examples: ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
  },
  // --- Host ------------------------------------------------------------------------
  {
    id: "host-missing",
    inputClass: "an HTTP/1.1 (or 1.2-1.9) request without Host",
    ours: "400",
    h11: "400 for HTTP/1.1 exactly; accepts HTTP/1.2-1.9",
    llhttp: "accepts",
    rfc: "RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks Host",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => weRefused(c, "Missing Host header") && fieldValues(c.view, "host").length === 0,
    examples: ["GET / HTTP/1.1\r\n\r\n"],
  },
  {
    id: "host-repeated",
    inputClass: "two or more Host fields",
    ours: "400",
    h11: "400",
    llhttp: "accepts",
    rfc: "RFC 9112 §3.2: a server MUST answer 400 to more than one Host field line",
    verdict: "deliberate strictness",
    oracles: ["llhttp"],
    matches: (c) => weRefused(c, "Repeated Host header") && fieldValues(c.view, "host").length > 1,
    examples: ["GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"],
  },
  {
    id: "host-invalid",
    inputClass: 'a Host value that is not `uri-host [":" port]` (space, `@`, `;`, obs-text…)',
    ours: "400",
    h11: "accepts any field value",
    llhttp: "accepts any field value",
    rfc: "RFC 9112 §3.2: a server MUST answer 400 to a Host field with an invalid value " +
      "(RFC 9110 §7.2, RFC 3986 §3.2.2)",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => {
      const hosts = fieldValues(c.view, "host");
      return weRefused(c, "Invalid Host header") && hosts.length === 1 &&
        !HOST_VALUE.test(hosts[0]);
    },
    examples: ["GET / HTTP/1.1\r\nHost: user@localhost\r\n\r\n"],
  },
  // --- Request line ------------------------------------------------------------------
  {
    id: "asterisk-not-options",
    inputClass: "the asterisk-form target `*` with a method other than OPTIONS",
    ours: "400",
    h11: "accepts any visible target",
    llhttp: "accepts",
    rfc: "RFC 9112 §3.2.4: asterisk-form is only used for a server-wide OPTIONS request",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      weRefused(c, "Asterisk-form is only for OPTIONS") && c.view.target === "*" &&
      c.view.method !== "OPTIONS",
    examples: ["GET * HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "target-form",
    inputClass:
      "a target that is not origin-form, an http(s) absolute-form with a valid authority " +
      "and no userinfo, authority-form for CONNECT, or `*`: `a.txt`, `ftp://x/`, `http://`, " +
      "`host:port` with another method",
    ours: "400",
    h11: "accepts any visible target",
    llhttp: "accepts some (any scheme, an empty authority, authority-form with any method)",
    rfc: "RFC 9112 §3.2: a server MUST answer 400 to an invalid request-target; §3.2.2-3.2.3; " +
      "RFC 9110 §4.2.4: userinfo is an error",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => weRefused(c, "Invalid request target") && !c.view.target.startsWith("/"),
    examples: ["GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "PUT a:1 HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "target-fragment",
    inputClass: "a `#` (fragment) in the target",
    ours: "400",
    h11: "accepts",
    llhttp: "accepts",
    rfc: 'RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]; RFC 9110 §4.2.5: ' +
      "fragments are not sent",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => weRefused(c, "Invalid request line") && c.view.target.includes("#"),
    examples: ["GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "request-line-whitespace",
    inputClass: "request-line parts separated by more than one SP, or by HTAB, VT or FF",
    ours: "400",
    h11: "400",
    llhttp: "accepts runs of SP",
    rfc: "RFC 9112 §3: single SP separators; recipients MAY split on whitespace runs, at the " +
      "risk of request smuggling",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      weRefused(c, "Invalid request line", "Invalid HTTP version") &&
      /[ \t\v\f]{2}|[\t\v\f]/.test(c.view.lines[0]?.content ?? ""),
    examples: ["GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "http09-request-line",
    inputClass: "a request line without a version (HTTP/0.9's `GET /`)",
    ours: "400",
    h11: "400",
    llhttp: "accepts as HTTP/0.9 and closes after it",
    rfc: "RFC 9112 §3: request-line = method SP request-target SP HTTP-version",
    verdict: "deliberate strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      weRefused(c, "Invalid request line", "Invalid HTTP version") &&
      c.view.requestWords.length === 2 &&
      c.theirs.requests[c.disagreement.index]?.version === "0.9",
    examples: ["GET /\r\n\r\n"],
  },
  {
    id: "http-major-version",
    inputClass: "an HTTP major version other than 1 (`HTTP/0.9`, `HTTP/2.0`, `HTTP/3.7`)",
    ours: "505",
    h11: "accepts any DIGIT.DIGIT",
    llhttp: "accepts 0.9 and 2.0",
    rfc: "RFC 9110 §15.6.6: 505 for a major version the server refuses; RFC 9112 §2.3",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      weRefused(c, "Only HTTP/1.x is supported") && /^HTTP\/[02-9]\.[0-9]$/.test(c.view.version),
    examples: ["GET / HTTP/2.0\r\nHost: a\r\n\r\n"],
  },
  {
    id: "http-minor-version",
    inputClass: "HTTP/1.2 to HTTP/1.9",
    ours: "reads it as HTTP/1.1 (so Host is required: see host-missing)",
    h11: "accepts",
    llhttp: "400 (HPE_INVALID_VERSION)",
    rfc: "RFC 9110 §2.5: a higher minor version SHOULD be processed as the highest one implemented",
    verdict: "oracle strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      /^HTTP\/1\.[2-9]$/.test(c.view.version) && weAccepted(c) &&
      theySaid(c, /^HPE_INVALID_VERSION/),
    examples: ["GET / HTTP/1.2\r\nHost: a\r\n\r\n"],
  },
  {
    id: "method-not-in-llhttp",
    inputClass: "a method token llhttp does not know (`get`, `M-SEARCHX`, `!#$%&'*+-.^_`|~`)",
    ours: "accepts any token (the handler answers 405 or 501)",
    h11: "accepts any token",
    llhttp: "400 (HPE_INVALID_METHOD): it parses a fixed list of methods",
    rfc: "RFC 9110 §9.1: method = token, case-sensitive; the set is extensible (§16.1)",
    verdict: "oracle strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      weAccepted(c) && TOKEN.test(c.view.method) && theySaid(c, /^HPE_INVALID_METHOD/),
    examples: ["get / HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "empty-line-before-request",
    inputClass: "empty lines (CRLF) before a request line, or after the last request",
    ours: "skips them",
    h11: 'refuses ("no request line received")',
    llhttp: "skips them",
    rfc: "RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line",
    verdict: "oracle strictness",
    oracles: ["h11"],
    matches: (c) =>
      c.view.leadingEmptyLines > 0 && c.text.startsWith("\r\n", c.start) &&
      // "illegal request line": h11 refuses a partial line that starts below 0x21 (a CR) early.
      theySaid(c, /^(no request line received|illegal request line)$/) &&
      (weAccepted(c) || c.ours.tail === "eof"),
    examples: ["\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r"],
  },
  // --- Semantics checked with the framing ------------------------------------------
  {
    id: "expectation",
    inputClass: "an Expect value other than one `100-continue` (`200-ok`, empty, repeated)",
    ours: "417, connection closed",
    h11: "accepts (only notes 100-continue)",
    llhttp: "accepts (Expect is the application's)",
    rfc: "RFC 9110 §10.1.1: a server MAY answer 417 to an expectation it does not support",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => {
      const values = fieldValues(c.view, "expect");
      return weRefused(c, "Unsupported expectation") && values.length > 0 &&
        values.join(", ").toLowerCase() !== "100-continue";
    },
    examples: ["GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"],
  },
  {
    id: "size-limits",
    inputClass: "a request past one of the server's limits (8 KiB request line, 64 KiB head, " +
      "100 fields, 1 MiB body, 4 KiB chunk line, 16 KiB or 100 trailer fields, 2^53-1 for a " +
      "length)",
    ours: "414, 431, 413 or 400; the oracles run with far higher limits",
    h11: "accepts (limit raised to 16 MiB)",
    llhttp: "accepts (limit raised to 16 MiB)",
    rfc: "RFC 9110 §15.5.14 (413), §15.5.15 (414), RFC 6585 §5 (431); RFC 9110 §8.6 and " +
      "RFC 9112 §7.1: guard against overflow in lengths",
    verdict: "deliberate strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) => {
      const reason = ourRefusal(c);
      const limits = FUZZ_LIMITS;
      const rest = c.text.length - c.start;
      const lengths = fieldValues(c.view, "content-length");
      const chunkLines = ourChunkLines(c);
      switch (reason) {
        case "Request line too long":
          return (c.view.lines[0]?.content.length ?? rest) > limits.maxRequestLineBytes;
        case "Request header fields too large":
          return c.view.end - c.start > limits.maxHeadBytes;
        case "Too many header fields":
          return c.view.fields.length > limits.maxHeaderCount;
        case "Request body too large":
          return lengths.some((v) => Number(v) > limits.maxBodyBytes) ||
            (c.ours.requests[c.disagreement.index]?.bodyLength ?? 0) > limits.maxBodyBytes;
        case "Content-Length too large":
          return lengths.some((v) => /^[0-9]+$/.test(v) && !Number.isSafeInteger(Number(v)));
        case "Chunk line too long": {
          // A size line past its limit, or trailer lines past theirs (2 bytes of CRLF each).
          const trailers = chunkLines.filter((line) => line.trailer);
          const trailerBytes = trailers.reduce((n, line) => n + line.content.length + 2, 0);
          return chunkLines.some((line) =>
            !line.trailer && line.content.length > limits.maxChunkLineBytes
          ) || trailerBytes > limits.maxTrailerBytes;
        }
        case "Too many trailer fields":
          return chunkLines.filter((line) => line.trailer && line.content !== "").length >
            limits.maxTrailerCount;
        case "Chunk size too large":
          return chunkLines.some((line) => {
            const digits = /^[0-9a-fA-F]+/.exec(line.content)?.[0];
            return digits !== undefined &&
              BigInt(`0x${digits}`) > BigInt(Number.MAX_SAFE_INTEGER);
          });
        default:
          return false;
      }
    },
    examples: [
      `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
      "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ],
  },
  // --- Chunked bodies ------------------------------------------------------------
  {
    id: "chunk-ext-bws",
    inputClass: "whitespace between a chunk size and its `;` extension (`5 ;a=b`)",
    ours: "accepts: BWS is parsed and removed",
    h11: "refuses the chunk line",
    llhttp: "refuses (HPE_INVALID_CHUNK_SIZE)",
    rfc: 'RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ); RFC 9110 §5.6.3: ' +
      "a recipient MUST parse and remove BWS",
    verdict: "oracle strictness",
    oracles: ["h11", "llhttp"],
    matches: (c) =>
      theirRefusal(c) !== undefined && ourRefusal(c) !== "Invalid chunk size" &&
      theirChunkLines(c).some((line) => /^[0-9a-fA-F]+[ \t]+;/.test(line.content)),
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a=b\r\nx\r\n0\r\n\r\n",
    ],
  },
  {
    id: "chunk-size-trailing-space",
    inputClass: "whitespace after a chunk size with no extension (`5 `)",
    ours: "400",
    h11: "accepts trailing whitespace",
    llhttp: "400",
    rfc: "RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF (no trailing whitespace)",
    verdict: "oracle leniency",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Invalid chunk size") &&
      ourChunkLines(c).some((line) => /^[0-9a-fA-F]+[ \t]+$/.test(line.content)),
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
    ],
  },
  {
    id: "chunk-size-digits",
    inputClass: "a chunk size written with more than 20 hex digits (leading zeros)",
    ours: "accepts (only the value is limited)",
    h11: "refuses more than 20 digits",
    llhttp: "accepts",
    rfc: "RFC 9112 §7.1: chunk-size = 1*HEXDIG",
    verdict: "oracle strictness",
    oracles: ["h11"],
    matches: (c) =>
      theirRefusal(c) !== undefined &&
      theirChunkLines(c).some((line) => /^[0-9a-fA-F]{21,}/.test(line.content)),
    examples: [
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${
        "0".repeat(21)
      }1\r\nx\r\n` +
      "0\r\n\r\n",
    ],
  },
  {
    id: "chunk-ext-content",
    inputClass: "a chunk extension that is not `token [= token / quoted-string]` but has no " +
      'control characters (`;a b`, `;=`, `;a="x`)',
    ours: "accepts: extensions are ignored, only their bytes are checked",
    h11: "accepts anything after `;` but a line end",
    llhttp: "400 (HPE_STRICT, invalid character in chunk extensions)",
    rfc: "RFC 9112 §7.1.1: a recipient MUST ignore unrecognized chunk extensions",
    verdict: "deliberate leniency",
    oracles: ["llhttp"],
    matches: (c) =>
      ourRefusal(c) === undefined && theySaid(c, /chunk ext/i) &&
      theirChunkLines(c).some((line) => line.content.includes(";") && !hasControl(line.content)),
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a b\r\nx\r\n0\r\n\r\n",
    ],
  },
  {
    id: "chunk-ext-control",
    inputClass: "a control character (NUL, DEL…) in a chunk extension",
    ours: "400",
    h11: "accepts anything after `;` but a line end",
    llhttp: "400",
    rfc: "RFC 9112 §7.1.1: chunk-ext-val = token / quoted-string (no CTLs)",
    verdict: "oracle leniency",
    oracles: ["h11"],
    matches: (c) =>
      weRefused(c, "Invalid chunk extension") &&
      ourChunkLines(c).some((line) => line.content.includes(";") && hasControl(line.content)),
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;\x00\r\nx\r\n0\r\n\r\n",
    ],
  },
  {
    id: "framing-field-in-trailers",
    inputClass: "a Content-Length field in the trailer section of a chunked body",
    ours: "accepts: trailer fields are checked for syntax and discarded",
    h11: "accepts",
    llhttp: "400 (HPE_INVALID_CONTENT_LENGTH: it reads trailers with the header rules)",
    rfc: "RFC 9110 §6.5.1: framing fields are not allowed in trailers, and a recipient MUST NOT " +
      "merge them into the header section; discarding them is safe",
    verdict: "oracle strictness",
    oracles: ["llhttp"],
    matches: (c) =>
      ourRefusal(c) === undefined && theySaid(c, /^HPE_INVALID_CONTENT_LENGTH/) &&
      ourChunkLines(c).some((line) => line.trailer && /^content-length:/i.test(line.content)),
    examples: [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 1\r\n\r\n",
    ],
  },
  // --- Persistence and protocol switches ----------------------------------------------
  {
    id: "http10-keep-alive",
    inputClass: "HTTP/1.0 with `Connection: keep-alive`",
    ours: "keeps the connection open",
    h11: "closes: h11 has no HTTP/1.0 persistent connections",
    llhttp: "keeps it open",
    rfc: "RFC 9112 §9.3 and Appendix C.2.2: keep-alive makes an HTTP/1.0 connection persistent",
    verdict: "oracle limitation",
    oracles: ["h11"],
    matches: (c) =>
      c.disagreement.aspect === "keepAlive" && c.disagreement.ours === "true" &&
      c.view.version === "HTTP/1.0" &&
      rawMembers(fieldValues(c.view, "connection")).includes("keep-alive"),
    examples: ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"],
  },
  {
    id: "http10-close-and-keep-alive",
    inputClass: "HTTP/1.0 with both `close` and `keep-alive` in Connection",
    ours: "closes",
    h11: "closes",
    llhttp: "keeps the connection open",
    rfc: "RFC 9112 §9.3: the close option ends persistence, whatever else is present",
    verdict: "oracle leniency",
    oracles: ["llhttp"],
    matches: (c) => {
      const members = rawMembers(fieldValues(c.view, "connection"));
      return c.disagreement.aspect === "keepAlive" && c.disagreement.ours === "false" &&
        members.includes("close") && members.includes("keep-alive");
    },
    examples: ["GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n"],
  },
  {
    id: "upgrade-or-connect",
    inputClass: "a CONNECT request, or Upgrade with `Connection: upgrade`, then more bytes (or " +
      "a body llhttp cannot parse)",
    ours:
      "goes on reading HTTP: the server implements neither (RFC 9110 §7.8 lets it ignore Upgrade)",
    h11: "goes on reading HTTP once answered without 101 or a 2xx to CONNECT",
    llhttp: "stops: the rest belongs to the new protocol (node's 'upgrade'/'connect' events)",
    rfc: "RFC 9110 §7.8: a server MAY ignore Upgrade; §9.3.6: CONNECT",
    verdict: "oracle limitation",
    oracles: ["llhttp"],
    matches: (c) => {
      if (c.theirs.tail !== "upgrade") return false;
      const index = c.theirs.requests.length - 1;
      const last = c.theirs.requests[index];
      if (last === undefined || c.disagreement.index < index) return false;
      const upgrading = last.method === "CONNECT" ||
        fieldValuesBefore(c, index, "upgrade").length > 0;
      // llhttp hands over a CONNECT right after its head, skipping any body we read, and any
      // upgrade whose body it cannot parse, instead of refusing it.
      if (c.disagreement.index === index) {
        return upgrading && ["body", "framing", "end", "keepAlive"].includes(c.disagreement.aspect);
      }
      return upgrading;
    },
    examples: [
      "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
      "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
      "PUT / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n" +
      "Transfer-Encoding: chunked\r\n\r\nZ\r\n",
    ],
  },
];

/** The values of a field in request `index` of our trace, as plain text reads its head. */
function fieldValuesBefore(c: DeviationContext, index: number, name: string): string[] {
  const start = index === 0 ? 0 : c.ours.requests[index - 1]?.end ?? 0;
  return fieldValues(viewRequest(c.text, start), name);
}
