/**
 * A deterministic fuzz run against one real server: generated and mutated
 * requests (fixed seed) over many connections, each answered with
 * well-formed responses consistent with how the server must frame the input,
 * or closed cleanly; no internal error; and `GET /` still answered after
 * every batch. `deno task fuzz` runs the same for longer.
 *
 * The model of how the server must frame the input comes from our own parser,
 * so every input is also run through h11 and llhttp (`scripts/fuzz/differential.ts`):
 * any disagreement not excused by `tests/differential_deviations.ts` fails the
 * run. That check needs `/usr/bin/python3` with h11 and `node` (Debian:
 * python3-h11, nodejs).
 *
 * @module
 */

import assert from "node:assert/strict";
import { escapeBinary, toBinary, toBytes } from "../scripts/fuzz/bytes.ts";
import { checkExchange } from "../scripts/fuzz/check.ts";
import { healthCheck, populateRoot, runBatch } from "../scripts/fuzz/client.ts";
import type { CaseOutcome } from "../scripts/fuzz/client.ts";
import { describeFinding, runDifferential } from "../scripts/fuzz/differential.ts";
import { generateCase } from "../scripts/fuzz/generate.ts";
import { FUZZ_LIMITS } from "../scripts/fuzz/limits.ts";
import { modelStream } from "../scripts/fuzz/model.ts";
import type { StreamModel } from "../scripts/fuzz/model.ts";
import { startOracles } from "../scripts/fuzz/oracles.ts";
import { DEVIATIONS } from "./differential_deviations.ts";
import { withServer } from "./_helpers.ts";

/** Fixed, so that a failure here is a failure on every run; change it to explore. */
const SEED = 20_240_501;
const BATCHES = 8;
const BATCH_SIZE = 1000;
const CONCURRENCY = 16;

function describeFailure(seed: number, outcome: CaseOutcome): string {
  const c = outcome.fuzzCase;
  return [
    `case ${c.index} (${c.kind}; pieces ${c.pieces.map((p) => p.length).join("+")}, ` +
    `closeWrite ${c.closeWrite}): ${outcome.verdict.problems.join("; ")}`,
    `  reproduce: deno task fuzz -- --seed ${seed} --case ${c.index}`,
    `  input:  ${escapeBinary(toBinary(c.bytes), 600)}`,
    `  output: ${escapeBinary(toBinary(outcome.output), 600)}`,
  ].join("\n");
}

/** How long the event loop may go without running a timer before the watchdog gives up. */
const STALL_MS = 30_000;

/**
 * The server runs in this process, so a server stuck in a loop stops the
 * test's own timers too and the run would hang silently. A worker has its
 * own event loop: when the heartbeats stop, it names the cases in flight
 * (one of them did it) and kills the process, so that such a bug fails the
 * run instead.
 */
function startWatchdog(): { onCase(index: number, done: boolean): void; stop(): void } {
  const source = `
    let last = Date.now();
    const inFlight = new Set();
    self.onmessage = ({ data }) => {
      last = Date.now();
      if (data === null) return;
      if (data.done) inFlight.delete(data.index);
      else inFlight.add(data.index);
    };
    setInterval(() => {
      if (Date.now() - last < ${STALL_MS}) return;
      const cases = [...inFlight].sort((a, b) => a - b).join(" ");
      const message = "fuzz_test watchdog: the event loop has been blocked for ${STALL_MS} ms, " +
        "a server hang, with cases " + cases + " of seed ${SEED} in flight: one of them did it " +
        "(replay one with 'deno task fuzz -- --seed ${SEED} --case N'; it may need files " +
        "that earlier cases made).";
      Deno.stderr.writeSync(new TextEncoder().encode(message + "\\n"));
      Deno.kill(Deno.pid, "SIGKILL");
    }, 500);
  `;
  const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const heartbeat = setInterval(() => worker.postMessage(null), 250);
  return {
    onCase: (index, done) => worker.postMessage({ index, done }),
    stop: () => {
      clearInterval(heartbeat);
      worker.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

Deno.test({
  name: `fuzz: ${BATCHES * BATCH_SIZE} generated and mutated inputs are answered well or closed`,
  // Most cases end at once; the rest on the server's 500 ms timeouts: about 15 s in all.
  fn: async () => {
    const internalErrors: unknown[] = [];
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    // First, so that a machine without the oracles fails at once, saying what to install.
    const oracles = await startOracles();
    // Each batch's inputs go to the oracles while the next batch runs, one batch at a time.
    let differential = Promise.resolve<string[]>([]);
    const watchdog = startWatchdog();
    try {
      await withServer(
        { limits: FUZZ_LIMITS, onError: (error) => internalErrors.push(error) },
        async (server, root) => {
          await populateRoot(root);
          const port = server.addr.port;
          for (let batch = 0; batch < BATCHES; batch++) {
            const indexes = Array.from({ length: BATCH_SIZE }, (_, i) => batch * BATCH_SIZE + i);
            const outcomes = await runBatch(SEED, indexes, port, {
              limits: FUZZ_LIMITS,
              concurrency: CONCURRENCY,
              readTimeoutMs: 5000,
              onCase: watchdog.onCase,
            });
            for (const outcome of outcomes) {
              for (const { status } of outcome.verdict.responses) {
                statuses.set(status, (statuses.get(status) ?? 0) + 1);
              }
              if (outcome.verdict.problems.length > 0) {
                failures.push(describeFailure(SEED, outcome));
              }
            }
            differential = differential.then(async (found) => {
              const report = await runDifferential(
                outcomes.map((outcome) => outcome.fuzzCase.bytes),
                oracles,
                DEVIATIONS,
                FUZZ_LIMITS,
              );
              return found.concat(report.findings.map((finding) => {
                const index = outcomes[finding.index].fuzzCase.index;
                return `case ${index}: ${describeFinding(finding)}\n` +
                  `  replay: deno task fuzz -- --seed ${SEED} --case ${index}`;
              }));
            });
            assert.equal(await healthCheck(port), 200, `GET / after batch ${batch}`);
          }
        },
      );
    } finally {
      watchdog.stop();
      await differential.catch(() => {});
      await Promise.all(oracles.map((oracle) => oracle.close()));
    }
    const unexcused = await differential;
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failing case(s)`);
    assert.deepEqual(
      unexcused.slice(0, 5),
      [],
      `${unexcused.length} parser disagreement(s) with h11/llhttp that no row of ` +
        "tests/differential_deviations.ts excuses: fix lib/http/ or add a row",
    );
    assert.deepEqual(internalErrors.map(String), [], "onError was called");
    // The run must reach past the parser: handlers answered, and errors were exercised.
    for (const status of [200, 201, 204, 400, 404]) {
      assert.ok(statuses.has(status), `no ${status} in ${[...statuses.keys()]}`);
    }
  },
});

// The checker itself must be able to fail, or the run above proves nothing.

const get = (extra = "") => `GET / HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

function check(input: string, output: string, closed = true, closeWrite = true): string[] {
  const model: StreamModel = modelStream(toBytes(input), FUZZ_LIMITS);
  return checkExchange(model, toBytes(output), closed, closeWrite).problems;
}

const CHECKER_ROWS: {
  name: string;
  input: string;
  output: string;
  closed?: boolean;
  bad: boolean;
}[] = [
  { name: "one request, one response", input: get(), output: OK, bad: false },
  { name: "two pipelined, two responses", input: get() + get(), output: OK + OK, bad: false },
  { name: "a response too many", input: get(), output: OK + OK, bad: true },
  { name: "a request unanswered", input: get() + get(), output: OK, bad: true },
  { name: "garbage status line", input: get(), output: "HTTP/1.1 2000 OK\r\n\r\n", bad: true },
  {
    name: "bad header line",
    input: get(),
    output: "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
    bad: true,
  },
  {
    name: "body shorter than Content-Length",
    input: get(),
    output: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi",
    bad: true,
  },
  {
    name: "valid chunked response",
    input: get(),
    output: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    bad: false,
  },
  {
    name: "broken chunked response",
    input: get(),
    output: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX\r\n0\r\n\r\n",
    bad: true,
  },
  {
    name: "framing rejection with close",
    input: get("Content-Length: x\r\n"),
    output: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    bad: false,
  },
  {
    name: "framing rejection without close",
    input: get("Content-Length: x\r\n"),
    output: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    bad: true,
  },
  {
    name: "smuggled request answered after a rejection",
    input: get("Content-Length: 1\r\nTransfer-Encoding: chunked\r\n") + get(),
    output: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" + OK,
    bad: true,
  },
  {
    name: "HEAD response with no body",
    input: "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n" + get(),
    output: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + OK,
    bad: false,
  },
  {
    name: "the connection left open",
    input: get(),
    output: OK,
    closed: false,
    bad: true,
  },
  {
    name: "Connection: close asked and not given",
    input: get("Connection: close\r\n"),
    output: OK,
    bad: true,
  },
  {
    name: "an invalid head answered 400 with close",
    input: "GET / HTTP/1.1\nHost: localhost\r\n\r\n",
    output: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    bad: false,
  },
  {
    name: "an invalid head not answered",
    input: "GET / HTTP/1.1\nHost: localhost\r\n\r\n",
    output: "",
    bad: true,
  },
  {
    name: "100 Continue unasked for",
    input: "PUT /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx",
    output: "HTTP/1.1 100 Continue\r\n\r\n" + OK,
    bad: true,
  },
  {
    name: "100 Continue, then the final response",
    input:
      "PUT /x HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    output: "HTTP/1.1 100 Continue\r\n\r\n" + OK,
    bad: false,
  },
];

for (const row of CHECKER_ROWS) {
  Deno.test(`fuzz checker: ${row.name} → ${row.bad ? "problem" : "fine"}`, () => {
    const problems = check(row.input, row.output, row.closed ?? true);
    assert.equal(problems.length > 0, row.bad, problems.join("; "));
  });
}

Deno.test("fuzz generator: a case depends on its seed and index only", () => {
  const a = generateCase(7, 123, 8080);
  const b = generateCase(7, 123, 8080);
  const c = generateCase(7, 124, 8080);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.bytes, c.bytes);
  const joined = new Uint8Array(a.pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of a.pieces) {
    joined.set(piece, at);
    at += piece.length;
  }
  assert.deepEqual(joined, a.bytes);
});
