/**
 * A minimal `Deno.listen` file server, a benchmark reference for what Deno
 * itself costs a file server on this machine. Per request it reads the head
 * into a pooled buffer, finds its end, takes the method, the path and
 * whether `If-None-Match` or `Connection: close` is present by byte
 * comparison, validates the file with `existsSync` and `statSync` (a server
 * may cache bodies but must see changes), and writes one prepared response:
 * a file up to 1 MiB from memory (read once per size and mtime), a larger one
 * streamed through a pooled 256 KiB buffer, 304, 404, or for PUT the body
 * into a new temp file renamed over the target (201 or 204). No header
 * parsing beyond that, no percent-decoding, no containment, no ranges, no
 * logging: not a server anyone should run. It is not a strict lower bound:
 * ours batches the stats of concurrent requests into one operation
 * (lib/storage/check_batch.ts) and can come in under it.
 *
 * Same command line as our server:
 * `deno run --allow-net --allow-read --allow-write bench/minimal_serve.ts --host 127.0.0.1 --port 8080 ROOT`
 *
 * @module
 */

import { existsSync } from "node:fs";
import { parseArgs } from "node:util";

const CRLF_CRLF = [13, 10, 13, 10];
const encoder = new TextEncoder();
// Lower case: fields are found whatever their case (fetch sends them in lower case).
const CONNECTION_CLOSE = encoder.encode("\r\nconnection: close");
const IF_NONE_MATCH = encoder.encode("\r\nif-none-match:");
const CONTENT_LENGTH = encoder.encode("\r\ncontent-length:");

/** Index just past `needle` (lower case) in `bytes[0, end)`, ASCII case ignored, or -1. */
function find(bytes: Uint8Array, end: number, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= end; i++) {
    for (let k = 0; k < needle.length; k++) {
      const byte = bytes[i + k];
      if ((byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte) !== needle[k]) continue outer;
    }
    return i + needle.length;
  }
  return -1;
}

/** The decimal number at `at` (after optional spaces); 0 when `at` is -1. */
function numberAfter(bytes: Uint8Array, at: number): number {
  if (at < 0) return 0;
  while (bytes[at] === 0x20) at++;
  let value = 0;
  while (bytes[at] >= 0x30 && bytes[at] <= 0x39) value = value * 10 + bytes[at++] - 0x30;
  return value;
}

/** Index just past the head's blank line in `bytes[0, end)`, or -1. */
function headEnd(bytes: Uint8Array, end: number): number {
  for (let i = 3; i < end; i++) {
    if (
      bytes[i] === CRLF_CRLF[3] && bytes[i - 1] === CRLF_CRLF[2] && bytes[i - 2] === CRLF_CRLF[1] &&
      bytes[i - 3] === CRLF_CRLF[0]
    ) return i + 1;
  }
  return -1;
}

/** A file's body in memory, with the size and mtime it was read at. */
interface CachedBody {
  size: number;
  mtime: number;
  head: Uint8Array;
  headOnly: Uint8Array;
  notModified: Uint8Array;
  /** The whole response, or null when the file is streamed after `head`. */
  body: Uint8Array | null;
}

function response(status: string, fields: string[], length: number): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 ${status}\r\n${
      fields.map((f) => `${f}\r\n`).join("")
    }Content-Length: ${length}\r\n\r\n`,
  );
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Files up to this size are answered from memory. */
const CACHED_MAX_BYTES = 1024 * 1024;
const HEAD_BUFFER_BYTES = 64 * 1024;
const STREAM_BUFFER_BYTES = 256 * 1024;
const pools = new Map<number, Uint8Array[]>([[HEAD_BUFFER_BYTES, []], [STREAM_BUFFER_BYTES, []]]);
const acquire = (size: number) => pools.get(size)!.pop() ?? new Uint8Array(size);
const recycle = (buffer: Uint8Array) => pools.get(buffer.length)!.push(buffer);

const NOT_FOUND_BODY = encoder.encode("Not Found\n");
const NOT_FOUND = response("404 Not Found", ["Content-Type: text/plain"], NOT_FOUND_BODY.length);
const NOT_FOUND_RESPONSE = concat(NOT_FOUND, NOT_FOUND_BODY);
const CREATED = response("201 Created", [], 0);
const NO_CONTENT = encoder.encode("HTTP/1.1 204 No Content\r\n\r\n");

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Sends a file's bytes through a pooled buffer. */
async function streamFile(conn: Deno.Conn, path: string): Promise<void> {
  const buffer = acquire(STREAM_BUFFER_BYTES);
  using file = Deno.openSync(path);
  try {
    for (let n = file.readSync(buffer); n !== null; n = file.readSync(buffer)) {
      await writeAll(conn, buffer.subarray(0, n));
    }
  } finally {
    recycle(buffer);
  }
}

function main(): void {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
    },
    allowPositionals: true,
  });
  const root = positionals[0] ?? ".";
  const cache = new Map<string, CachedBody>();
  let tempCounter = 0;

  function bodyOf(path: string, info: Deno.FileInfo): CachedBody {
    const mtime = info.mtime?.getTime() ?? 0;
    const cached = cache.get(path);
    if (cached && cached.size === info.size && cached.mtime === mtime) return cached;
    const body = info.size <= CACHED_MAX_BYTES ? Deno.readFileSync(path) : null;
    const etag = `ETag: "${mtime.toString(16)}-${info.size.toString(16)}"`;
    const head = response("200 OK", ["Content-Type: application/octet-stream", etag], info.size);
    const fresh = {
      size: info.size,
      mtime,
      head,
      headOnly: head,
      notModified: encoder.encode(`HTTP/1.1 304 Not Modified\r\n${etag}\r\n\r\n`),
      body: body === null ? null : concat(head, body),
    };
    cache.set(path, fresh);
    return fresh;
  }

  async function serveConnection(conn: Deno.TcpConn): Promise<void> {
    conn.setNoDelay(true);
    const buffer = acquire(HEAD_BUFFER_BYTES);
    let filled = 0;
    try {
      while (true) {
        let end = headEnd(buffer, filled);
        while (end < 0) {
          // A head that fills the buffer: no spinning on reads of nothing.
          if (filled === buffer.length) return;
          const n = await conn.read(buffer.subarray(filled));
          if (n === null) return;
          filled += n;
          end = headEnd(buffer, filled);
        }
        // Bytes only: decoding the head into a string is an op call of its own.
        const space = buffer.indexOf(0x20);
        const pathEnd = buffer.indexOf(0x20, space + 1);
        const path = root + String.fromCharCode(...buffer.subarray(space + 1, pathEnd));
        const method = buffer[0] === 0x50 ? "PUT" : buffer[0] === 0x48 ? "HEAD" : "GET";
        const close = find(buffer, end, CONNECTION_CLOSE) >= 0;
        let reply: Uint8Array;
        if (method === "PUT") {
          const length = numberAfter(buffer, find(buffer, end, CONTENT_LENGTH));
          const existed = existsSync(path);
          const temp = `${path}.minimal-${Deno.pid}-${tempCounter++}`;
          const file = Deno.openSync(temp, { write: true, createNew: true });
          try {
            // What came with the head, then the rest through the buffer.
            let remaining = length;
            let taken = Math.min(remaining, filled - end);
            file.writeSync(buffer.subarray(end, end + taken));
            remaining -= taken;
            buffer.copyWithin(0, end + taken, filled);
            filled -= end + taken;
            while (remaining > 0) {
              const n = await conn.read(buffer);
              if (n === null) return;
              taken = Math.min(remaining, n);
              let written = 0;
              while (written < taken) written += file.writeSync(buffer.subarray(written, taken));
              remaining -= taken;
              buffer.copyWithin(0, taken, n);
              filled = n - taken;
            }
          } finally {
            file.close();
          }
          Deno.renameSync(temp, path);
          reply = existed ? NO_CONTENT : CREATED;
        } else {
          // existsSync first: a throwing statSync costs more than the whole request.
          const info = existsSync(path) ? Deno.statSync(path) : null;
          if (info === null || !info.isFile) reply = NOT_FOUND_RESPONSE;
          else {
            const cached = bodyOf(path, info);
            if (find(buffer, end, IF_NONE_MATCH) >= 0) reply = cached.notModified;
            else if (method === "HEAD") reply = cached.headOnly;
            else if (cached.body !== null) reply = cached.body;
            else {
              await writeAll(conn, cached.head);
              reply = new Uint8Array(0);
              await streamFile(conn, path);
            }
          }
          buffer.copyWithin(0, end, filled);
          filled -= end;
        }
        await writeAll(conn, reply);
        if (close) {
          // Half-close and read to the client's FIN: closing with its bytes unread would reset.
          await conn.closeWrite();
          while (await conn.read(buffer) !== null);
          return;
        }
      }
    } catch {
      // A reset connection: nothing to answer.
    } finally {
      try {
        conn.close();
      } catch {
        // Already closed by the peer's reset.
      }
      recycle(buffer);
    }
  }

  // Exit through Deno.exit, so that --cpu-prof writes its profile.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => Deno.exit(0));
  }
  const listener = Deno.listen({ hostname: values.host, port: Number(values.port) });
  console.log(`minimal server: serving ${root} on http://${values.host}:${listener.addr.port}/`);
  (async () => {
    for await (const conn of listener) serveConnection(conn);
  })();
}

main();
