/**
 * Regression tests for the parser bugs the differential check found (see
 * `tests/differential_test.ts`), on the sans-IO parser itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import { interpretHead, listMembers } from "../lib/http/framing.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import type { RequestHead } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";

function parse(text: string): RequestHead {
  const data = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const rb = new ReceiveBuffer(data.length, data.length);
  rb.writable(data.length).set(data);
  rb.commit(data.length);
  const head = new HeadParser({
    maxRequestLineBytes: 8192,
    maxHeadBytes: 65536,
    maxHeaderCount: 100,
  })
    .parse(rb);
  assert.ok(head !== null, "incomplete head");
  return head;
}

const post = (field: string) => `POST / HTTP/1.1\r\nHost: a\r\n${field}\r\n\r\n`;

// Found by the differential check against llhttp (which refuses these): `String.prototype.trim`
// also strips NBSP (0xA0, an obs-text byte), VT and FF, so `\xa0chunked` was read as chunked —
// a Transfer-Encoding obfuscation a front end that trims only SP and HTAB reads differently.
// Optional whitespace is SP and HTAB only (RFC 9110 §5.6.3).
for (const value of ["\xa0chunked", "chunked\xa0", "gzip, \xa0chunked", "\xa0chunked\xa0"]) {
  const shown = value.replaceAll("\xa0", "\\xa0");
  Deno.test(`framing: Transfer-Encoding "${shown}" is not chunked (400)`, () => {
    assert.throws(
      () => interpretHead(parse(post(`Transfer-Encoding: ${value}`))),
      (error) => error instanceof HttpError && error.status === 400,
    );
  });
}

Deno.test("framing: OWS around transfer codings is SP and HTAB, and is trimmed", () => {
  const framing = interpretHead(parse(post("Transfer-Encoding:\t chunked \t")));
  assert.deepEqual(framing.body, { kind: "chunked" });
});

Deno.test("framing: Connection members are trimmed of SP and HTAB only", () => {
  assert.deepEqual(listMembers(" close\t,\tkeep-alive "), ["close", "keep-alive"]);
  assert.deepEqual(listMembers("\xa0close"), ["\xa0close"]);
  assert.deepEqual(listMembers("close\xa0"), ["close\xa0"]);
  // `close\xa0` is an unknown option, not close: the connection persists.
  assert.equal(interpretHead(parse(post("Connection: close\xa0"))).keepAlive, true);
  assert.equal(interpretHead(parse(post("Connection: close"))).keepAlive, false);
});
