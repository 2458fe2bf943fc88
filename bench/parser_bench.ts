/**
 * Micro-benchmarks of the sans-IO parser: a typical browser request head, and
 * a chunked body, parsed from bytes already in memory.
 *
 * Header values are decoded when asked for, so a head parsed but never read
 * costs less than one the server uses: the "fields a GET reads" case asks for
 * what the server asks for while answering a GET of a static file (framing,
 * preconditions, range, compression), which is the figure that counts.
 *
 * Run with `deno task bench:parser`.
 *
 * @module
 */

import { ChunkedDecoder, END, NEED_MORE } from "../lib/http/body_decoders.ts";
import { interpretHead } from "../lib/http/framing.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";
import { DEFAULT_LIMITS } from "../lib/server/limits.ts";

const browserHead = new TextEncoder().encode(
  "GET /assets/app.js?v=3 HTTP/1.1\r\n" +
    "Host: localhost:8080\r\n" +
    "Connection: keep-alive\r\n" +
    'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"\r\n' +
    "sec-ch-ua-mobile: ?0\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n" +
    'sec-ch-ua-platform: "Linux"\r\n' +
    "Accept: */*\r\n" +
    "Sec-Fetch-Site: same-origin\r\n" +
    "Sec-Fetch-Mode: no-cors\r\n" +
    "Sec-Fetch-Dest: script\r\n" +
    "Referer: http://localhost:8080/\r\n" +
    "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
    "Accept-Language: en-US,en;q=0.9\r\n" +
    'If-None-Match: "1a2b-400-18c2f"\r\n\r\n',
);

const wrkHead = new TextEncoder().encode("GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");

const parser = new HeadParser(DEFAULT_LIMITS);
const rb = new ReceiveBuffer(64 * 1024, 128 * 1024);

/**
 * The fields the server reads, after interpretHead's, answering a GET of a
 * compressible static file (logged by instrumenting HeaderFields.get on
 * 2026-12-06, access log in its default format, which reads none).
 */
const GET_READS = [
  "host",
  "if",
  "want-repr-digest",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "range",
  "accept-encoding",
];

/** Where the read values go, so that no read is optimized away. */
let readLength = 0;

/** One exchange's parsing, as the connection does it: parse, interpret, read, release. */
function parseOne(bytes: Uint8Array, reads: readonly string[]): void {
  rb.writable(bytes.length).set(bytes);
  rb.commit(bytes.length);
  const head = parser.parse(rb);
  if (head === null) throw new Error("incomplete");
  interpretHead(head);
  for (const name of reads) readLength += head.headers.get(name)?.length ?? 0;
  // The exchange is over: the next bytes may overwrite this head's.
  rb.release();
}

Deno.bench(
  "typical browser request head (15 fields), the fields a GET reads",
  () => parseOne(browserHead, GET_READS),
);
Deno.bench("typical browser request head, framing fields only", () => parseOne(browserHead, []));
Deno.bench("minimal wrk request head, the fields a GET reads", () => parseOne(wrkHead, GET_READS));

const chunkedBody = (() => {
  let text = "";
  for (let i = 0; i < 16; i++) text += `400;ext=v\r\n${"x".repeat(1024)}\r\n`;
  return new TextEncoder().encode(text + "0\r\nTrailer: x\r\n\r\n");
})();

Deno.bench("chunked body, 16 chunks of 1 KiB", () => {
  rb.writable(chunkedBody.length).set(chunkedBody);
  rb.commit(chunkedBody.length);
  const decoder = new ChunkedDecoder({
    maxLineBytes: 4096,
    maxTrailerBytes: 16384,
    maxTrailerCount: 100,
  });
  for (;;) {
    const step = decoder.next(rb);
    if (step === END) break;
    if (step === NEED_MORE) throw new Error("incomplete");
  }
});
