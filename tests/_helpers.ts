/**
 * Shared test helpers: a real server on 127.0.0.1 over a temp ROOT, raw
 * socket exchanges, and a small HTTP/1.1 response reader for raw bytes.
 *
 * @module
 */

import { serve } from "../lib/mod.ts";
import { STATE_DIR } from "../lib/storage/temp_files.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";

/** Runs `fn` against a real server on an OS-chosen port over a fresh temp ROOT. */
export async function withServer(
  options: Partial<ServeOptions>,
  fn: (server: FileServer, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-test-" });
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    onError: () => {},
    ...options,
  });
  try {
    await fn(server, root);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");

/** Bytes of a string written with `\r\n` as given (no newline translation). */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Options of {@linkcode exchange}. */
export interface ExchangeOptions {
  /** Give up reading after this long (ms); default 3000. */
  timeoutMs?: number;
  /** Half-close our side after writing. */
  closeWrite?: boolean;
  /** Stop reading once this many complete responses have arrived. */
  responses?: number;
}

/** What {@linkcode readUntil} and {@linkcode exchange} saw. */
export interface ReadResult {
  /** Everything read, as latin1. */
  text: string;
  /** The server closed the connection cleanly: its FIN arrived (end of stream) after all it sent. */
  closed: boolean;
  /**
   * The connection was reset (ECONNRESET) instead: bytes the server sent may
   * have been dropped, so this is not a clean close (`closed` stays false).
   * A caller content with either must say so: `closed || reset`.
   */
  reset: boolean;
}

/**
 * Connects, writes `request` (string or bytes, or several pieces written
 * separately), and reads until the server closes or resets the connection,
 * the timeout passes, or `responses` complete responses arrived. Returns
 * what was read, as latin1, and how the connection ended.
 */
export async function exchange(
  port: number,
  request: string | Uint8Array | (string | Uint8Array)[],
  options: ExchangeOptions = {},
): Promise<ReadResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const pieces = Array.isArray(request) ? request : [request];
  try {
    for (const piece of pieces) {
      await writeAll(conn, typeof piece === "string" ? bytes(piece) : piece);
    }
    if (options.closeWrite) await conn.closeWrite();
    return await readUntil(conn, options);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/**
 * Reads from `conn` until a clean close, a reset, the timeout, or enough
 * complete responses. Other read errors are thrown.
 */
export async function readUntil(
  conn: Deno.Conn,
  options: ExchangeOptions = {},
): Promise<ReadResult> {
  const timeoutMs = options.timeoutMs ?? 3000;
  let text = "";
  let closed = false;
  let reset = false;
  const buffer = new Uint8Array(64 * 1024);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (options.responses !== undefined) {
      const parsed = parseResponses(text);
      if (parsed.responses.length >= options.responses) break;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(1, deadline - Date.now()));
    });
    let result: number | null | "timeout";
    try {
      result = await Promise.race([conn.read(buffer), timeout]);
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
      reset = true;
      break;
    } finally {
      clearTimeout(timer);
    }
    if (result === "timeout") break;
    if (result === null) {
      closed = true;
      break;
    }
    text += decoder.decode(buffer.subarray(0, result));
  }
  return { text, closed, reset };
}

/**
 * Sends one request (request line, extra header lines, body) with
 * `Host: localhost` and `Connection: close` on a fresh connection, and
 * returns its one response (HEAD answers are read without a body).
 */
export async function sendOne(
  port: number,
  requestLine: string,
  headers: string[] = [],
  body = "",
): Promise<RawResponse> {
  const head = [requestLine, "Host: localhost", "Connection: close", ...headers].join("\r\n");
  const { text } = await exchange(port, `${head}\r\n\r\n${body}`, { responses: 1 });
  const { responses } = parseResponses(text, [requestLine.startsWith("HEAD ")]);
  if (responses.length !== 1) {
    throw new Error(`one response to ${requestLine} expected; got ${JSON.stringify(text)}`);
  }
  return responses[0];
}

/** A response read from raw bytes. Header names are lowercase. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * Splits raw text into complete responses (Content-Length, chunked, or
 * bodiless statuses), and returns what is left over. Interim 1xx responses
 * are included. `headRequests` lists, in order, which responses answer HEAD.
 */
export function parseResponses(
  text: string,
  headRequests: boolean[] = [],
): { responses: RawResponse[]; rest: string } {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd === -1) break;
    const lines = rest.slice(0, headEnd).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    let bodyStart = headEnd + 4;
    let body = "";
    const finalCount = responses.filter((r) => r.status >= 200).length;
    const isHead = status >= 200 && (headRequests[finalCount] ?? false);
    if (isHead || status < 200 || status === 204 || status === 304) {
      // No body.
    } else if (headers.get("transfer-encoding") === "chunked") {
      let at = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = rest.indexOf("\r\n", at);
        if (lineEnd === -1) break;
        const size = parseInt(rest.slice(at, lineEnd), 16);
        if (size === 0) {
          const end = rest.indexOf("\r\n", lineEnd + 2);
          if (end === -1) break;
          at = end + 2;
          complete = true;
          break;
        }
        if (rest.length < lineEnd + 2 + size + 2) break;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      bodyStart = at;
    } else if (headers.has("content-length")) {
      const length = Number(headers.get("content-length"));
      if (rest.length < bodyStart + length) break;
      body = rest.slice(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      body = rest.slice(bodyStart);
      bodyStart = rest.length;
    }
    responses.push({ status, headers, body });
    rest = rest.slice(bodyStart);
  }
  return { responses, rest };
}

/** Runs a command and returns its exit code, stdout and stderr as text. */
export async function run(
  command: string,
  args: string[],
  options: { stdin?: Uint8Array; cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** How long a spawned server may take to print its first line. */
const STARTUP_TIMEOUT_MS = 15_000;

/** Reads up to the first newline of a spawned process's stdout, failing on end of stream or timeout. */
export async function firstLine(
  reader: ReadableStreamDefaultReader<string>,
  stderr: () => string,
): Promise<string> {
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no stdout line in time; stderr: ${stderr()}`)),
      STARTUP_TIMEOUT_MS,
    );
  });
  try {
    while (!text.includes("\n")) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`stdout ended before a line; stderr: ${stderr()}`);
      text += value;
    }
  } finally {
    clearTimeout(timer);
  }
  return text.slice(0, text.indexOf("\n"));
}

/**
 * The names in `dir`, sorted, leaving out the store's own state directory
 * (its lock and owner files, made on the first write): what a user stored.
 */
export function storedNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) => name !== STATE_DIR)
    .sort();
}
