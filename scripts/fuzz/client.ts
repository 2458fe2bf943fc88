/**
 * The client side of a fuzz run: sending cases to a server over fresh
 * connections, reading what comes back, and checking it against the model.
 *
 * @module
 */

import type { Limits } from "../../lib/server/limits.ts";
import { concat, toBytes } from "./bytes.ts";
import { checkCutExchange } from "./check.ts";
import type { Verdict } from "./check.ts";
import { generateCase } from "./generate.ts";
import type { FuzzCase } from "./generate.ts";
import { CRLF } from "./grammar.ts";
import { FUZZ_LIMITS } from "./limits.ts";

/** What came back for one case. */
export interface CaseOutcome {
  /** The case. */
  fuzzCase: FuzzCase;
  /** The bytes the server sent. */
  output: Uint8Array;
  /** What the checker found. */
  verdict: Verdict;
  /** Whether the server closed the connection before the client gave up. */
  closed: boolean;
  /**
   * Whether the client sent part of the input so late that the server's
   * timeouts may have run out first; the verdict then also accepts what a
   * server that timed out there sends (see {@linkcode checkCutExchange}).
   * Only a slow client (a loaded machine) is late.
   */
  late: boolean;
  /**
   * Whether the verdict is a failure that a timer firing ahead of its time
   * also explains, which happens on a loaded machine: Deno may run a due
   * timer before the reads that became ready meanwhile. So the server may
   * time out a client that sent in time (it closed, no sooner than its
   * shortest timeout, having answered just what came before some piece), and
   * the client may give up on an answer already waiting unread (it never saw
   * the close). {@linkcode runBatch} runs such a case once more, alone.
   */
  retry: boolean;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The soonest a server with `limits` may time out a connection that sends nothing more. */
function shortestTimeoutMs(limits: Limits): number {
  return Math.min(limits.headerTimeoutMs, limits.idleTimeoutMs, limits.bodyTimeoutMs);
}

/**
 * Where a correct server may have stopped reading, timed out, because the
 * client was slow: the offset of every piece that was not on the wire
 * `limits`' shortest timeout after the client began to connect (no timer of
 * the server's starts earlier), and the input's end when the half-close came
 * that late. Half that timeout, in fact: the server needs time to read what
 * arrived. `sentAt` and `halfClosedAt` are ms since the connect began; a
 * piece never written (the server closed first) has no time.
 */
function lateCuts(
  fuzzCase: FuzzCase,
  sentAt: readonly number[],
  halfClosedAt: number | null,
  limits: Limits,
): number[] {
  const safeMs = shortestTimeoutMs(limits) / 2;
  const cuts: number[] = [];
  let offset = 0;
  for (const [i, piece] of fuzzCase.pieces.entries()) {
    if (sentAt[i] !== undefined && sentAt[i] > safeMs) cuts.push(offset);
    offset += piece.length;
  }
  if (halfClosedAt !== null && halfClosedAt > safeMs) cuts.push(offset);
  return cuts;
}

/** Where every piece of `fuzzCase` begins, and the input's end: everywhere a timeout can cut. */
function pieceBoundaries(fuzzCase: FuzzCase): number[] {
  const boundaries: number[] = [];
  let offset = 0;
  for (const piece of fuzzCase.pieces) {
    boundaries.push(offset);
    offset += piece.length;
  }
  boundaries.push(offset);
  return boundaries;
}

/**
 * Sends one case on a fresh connection, reading concurrently (a server may
 * answer before the input is all written), until the server closes or
 * `timeoutMs` passes; then checks what came back, against what the server
 * may have read when the client was late (see {@linkcode lateCuts}). A
 * failure to connect is reported as a problem, not thrown.
 */
export async function runCase(
  fuzzCase: FuzzCase,
  port: number,
  limits: Limits,
  timeoutMs: number,
): Promise<CaseOutcome> {
  const started = Date.now();
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (error) {
    const problems = [`cannot connect: ${error}`];
    const verdict = { responses: [], problems };
    return {
      fuzzCase,
      output: new Uint8Array(),
      verdict,
      closed: false,
      late: false,
      retry: false,
    };
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
  const sentAt: number[] = [];
  let halfClosedAt: number | null = null;
  const writer = (async () => {
    try {
      for (const [i, piece] of fuzzCase.pieces.entries()) {
        if (i > 0 && fuzzCase.pauseMs > 0) await sleep(fuzzCase.pauseMs);
        await writeAll(conn, piece);
        sentAt.push(Date.now() - started);
      }
      if (fuzzCase.closeWrite) {
        await conn.closeWrite();
        halfClosedAt = Date.now() - started;
      }
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
  const endedAt = Date.now() - started;
  clearTimeout(timer);
  closeConn();
  await writer;
  const output = concat(chunks);
  const cuts = lateCuts(fuzzCase, sentAt, halfClosedAt, limits);
  const { bytes, closeWrite } = fuzzCase;
  const verdict = checkCutExchange(bytes, output, closed, closeWrite, limits, cuts);
  const cutShort = () =>
    endedAt >= shortestTimeoutMs(limits) &&
    checkCutExchange(bytes, output, closed, closeWrite, limits, pieceBoundaries(fuzzCase))
        .problems.length === 0;
  const retry = verdict.problems.length > 0 && (!closed || cutShort());
  return { fuzzCase, output, verdict, closed, late: cuts.length > 0, retry };
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
  /**
   * Start no more cases once this many in a row ended with the client giving
   * up on a server that neither answered in full nor closed: it has stopped
   * answering, and every case left would wait `readTimeoutMs` for nothing.
   */
  stopAfterUnclosed?: number;
  /** Told when a case starts and ends (`done`), to know which are in flight. */
  onCase?: (index: number, done: boolean) => void;
}

/**
 * Runs `indexes` of the run seeded `seed`, `concurrency` at a time, in any
 * order; then once more, one at a time, each case whose failure a starved
 * server also gives ({@linkcode CaseOutcome.retry}): alone, the server runs
 * as soon as the bytes arrive. The second verdict stands. Once a case fails
 * twice, the server is shown to fail that way, and the rest keep their
 * first verdict (a server that drops requests would otherwise cost a rerun,
 * and a timeout, each).
 */
export async function runBatch(
  seed: number,
  indexes: number[],
  port: number,
  options: BatchOptions,
): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  let unclosed = 0;
  const stopped = () =>
    unclosed >= (options.stopAfterUnclosed ?? Infinity) || (options.abort?.() ?? false);
  const worker = async () => {
    while (next < indexes.length && !stopped()) {
      const index = indexes[next++];
      options.onCase?.(index, false);
      const fuzzCase = generateCase(seed, index, port);
      const outcome = await runCase(fuzzCase, port, options.limits, options.readTimeoutMs);
      outcomes.push(outcome);
      unclosed = outcome.closed ? 0 : unclosed + 1;
      options.onCase?.(index, true);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  let failedTwice = false;
  for (const [k, first] of outcomes.entries()) {
    if (!first.retry || failedTwice || stopped()) continue;
    const index = first.fuzzCase.index;
    options.onCase?.(index, false);
    const again = await runCase(first.fuzzCase, port, options.limits, options.readTimeoutMs);
    options.onCase?.(index, true);
    const { problems } = again.verdict;
    if (problems.length > 0) problems.push(`(run twice; the first: ${first.verdict.problems})`);
    failedTwice = problems.length > 0;
    outcomes[k] = again;
  }
  return outcomes;
}

/**
 * The status of `GET /` on a fresh connection, or what went wrong instead.
 * Asked up to three times while it goes unanswered in a way a timeout
 * explains: the client sent it late, or the server was starved (see
 * {@linkcode CaseOutcome}).
 */
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
    for (let attempt = 1;; attempt++) {
      const outcome = await runCase(fuzzCase, port, FUZZ_LIMITS, timeoutMs);
      const final = outcome.verdict.responses.find((response) => response.status >= 200);
      if (final === undefined && (outcome.late || outcome.retry) && attempt < 3) continue;
      if (outcome.verdict.problems.length > 0) return outcome.verdict.problems.join("; ");
      return final?.status ?? "no response";
    }
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
