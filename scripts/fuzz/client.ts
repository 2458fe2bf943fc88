/**
 * The client side of a fuzz run: sending cases to a server over fresh
 * connections, reading what comes back, and checking it against the model.
 *
 * @module
 */

import type { Limits } from "../../lib/server/limits.ts";
import { concat, toBytes } from "./bytes.ts";
import { checkExchange } from "./check.ts";
import type { Verdict } from "./check.ts";
import { generateCase } from "./generate.ts";
import type { FuzzCase } from "./generate.ts";
import { CRLF } from "./grammar.ts";
import { FUZZ_LIMITS } from "./limits.ts";
import { modelStream } from "./model.ts";

/** What came back for one case. */
export interface CaseOutcome {
  /** The case. */
  fuzzCase: FuzzCase;
  /** The bytes the server sent. */
  output: Uint8Array;
  /** What the checker found. */
  verdict: Verdict;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends one case on a fresh connection, reading concurrently (a server may
 * answer before the input is all written), until the server closes or
 * `timeoutMs` passes; then checks what came back. A failure to connect is
 * reported as a problem, not thrown.
 */
export async function runCase(
  fuzzCase: FuzzCase,
  port: number,
  limits: Limits,
  timeoutMs: number,
): Promise<CaseOutcome> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    const problems = [`cannot connect: ${error}`];
    return { fuzzCase, output: new Uint8Array(), verdict: { responses: [], problems } };
  }
  const chunks: Uint8Array[] = [];
  let closed = false;
  let gaveUp = false;
  const closeConn = () => {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  // Giving up closes the socket, which ends a blocked read or write as well.
  const timer = setTimeout(() => {
    gaveUp = true;
    closeConn();
  }, timeoutMs);
  const writer = (async () => {
    try {
      for (const [i, piece] of fuzzCase.pieces.entries()) {
        if (i > 0 && fuzzCase.pauseMs > 0) await sleep(fuzzCase.pauseMs);
        await writeAll(conn, piece);
      }
      if (fuzzCase.closeWrite) await conn.closeWrite();
    } catch {
      // The server closed early (after an error response): what it sent is still read.
    }
  })();
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      n = null; // A reset is a close; so is our own close on the timeout.
    }
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  closed = !gaveUp;
  clearTimeout(timer);
  closeConn();
  await writer;
  const output = concat(chunks);
  const model = modelStream(fuzzCase.bytes, limits);
  return { fuzzCase, output, verdict: checkExchange(model, output, closed, fuzzCase.closeWrite) };
}

/** Options of {@linkcode runBatch}. */
export interface BatchOptions {
  /** The server's limits, for the model. */
  limits: Limits;
  /** Connections at a time. */
  concurrency: number;
  /** How long one case may take before the client gives up. */
  readTimeoutMs: number;
  /** Asked before each case: true to start no more (the server is hung). */
  abort?: () => boolean;
  /** Told when a case starts and ends (`done`), to know which are in flight. */
  onCase?: (index: number, done: boolean) => void;
}

/** Runs `indexes` of the run seeded `seed`, `concurrency` at a time, in any order. */
export async function runBatch(
  seed: number,
  indexes: number[],
  port: number,
  options: BatchOptions,
): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < indexes.length && !(options.abort?.() ?? false)) {
      const index = indexes[next++];
      options.onCase?.(index, false);
      const fuzzCase = generateCase(seed, index, port);
      outcomes.push(await runCase(fuzzCase, port, options.limits, options.readTimeoutMs));
      options.onCase?.(index, true);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}

/** The status of `GET /` on a fresh connection, or what went wrong instead. */
export async function healthCheck(port: number, timeoutMs = 5000): Promise<number | string> {
  const request = toBytes(
    `GET / HTTP/1.1${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`,
  );
  const fuzzCase: FuzzCase = {
    bytes: request,
    kind: "health",
    index: -1,
    pieces: [request],
    pauseMs: 0,
    closeWrite: false,
  };
  try {
    const outcome = await runCase(fuzzCase, port, FUZZ_LIMITS, timeoutMs);
    const final = outcome.verdict.responses.find((response) => response.status >= 200);
    if (outcome.verdict.problems.length > 0) return outcome.verdict.problems.join("; ");
    return final?.status ?? "no response";
  } catch (error) {
    return String(error);
  }
}

/** Fills a fresh ROOT with the files the generated targets name. */
export async function populateRoot(root: string): Promise<void> {
  await Deno.mkdir(`${root}/dir`);
  await Deno.mkdir(`${root}/site`);
  await Deno.mkdir(`${root}/fuzz/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/a.txt`, "hello\n");
  await Deno.writeTextFile(`${root}/empty.txt`, "");
  await Deno.writeTextFile(`${root}/dir/b.txt`, "b".repeat(2000));
  await Deno.writeTextFile(`${root}/site/index.html`, "<!doctype html><title>x</title>");
  await Deno.writeTextFile(`${root}/.hidden`, "secret");
  await Deno.writeTextFile(`${root}/Déjà.txt`, "déjà");
  // Past the in-memory cache's per-file limit, so reads stream from disk.
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(300 * 1024).map((_, i) => i % 251));
}
