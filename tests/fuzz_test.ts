/**
 * A deterministic fuzz run against one real server in its own process:
 * generated and mutated requests (fixed seed) over many connections, each
 * answered with well-formed responses consistent with how the server must
 * frame the input, or closed cleanly; no internal error; and `GET /` still
 * answered after every batch. `deno task fuzz` runs the same for longer.
 *
 * The server's timeouts are short (500 ms, `FUZZ_LIMITS`) so that stalled
 * inputs end fast, and a loaded machine delays client and server alike: a
 * case whose client could not send in time is judged against what a server
 * that timed out had read (`checkCutExchange`), and a case failed the way a
 * timer firing ahead of the reads that were due fails (the server's or the
 * client's) is run once more, alone (`runBatch`). Neither a server that
 * never answers nor one that drops requests passes.
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
import { checkCutExchange, checkExchange } from "../scripts/fuzz/check.ts";
import { spawnServer } from "../scripts/fuzz/child_server.ts";
import { healthCheck, runBatch } from "../scripts/fuzz/client.ts";
import type { CaseOutcome } from "../scripts/fuzz/client.ts";
import { describeFinding, runDifferential } from "../scripts/fuzz/differential.ts";
import { generateCase } from "../scripts/fuzz/generate.ts";
import { FUZZ_LIMITS } from "../scripts/fuzz/limits.ts";
import { modelStream } from "../scripts/fuzz/model.ts";
import type { StreamModel } from "../scripts/fuzz/model.ts";
import { startOracles } from "../scripts/fuzz/oracles.ts";
import { DEVIATIONS } from "./differential_deviations.ts";

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
 * Our parser runs in this process too (the model each case is checked
 * against, and the differential's trace of each batch), so a parser stuck in
 * a loop stops the test's own timers and the run would hang silently. A
 * worker has its own event loop: when the heartbeats stop, it names the
 * cases in flight (one of them did it, or one of the batch before, whose
 * differential runs meanwhile) and kills the process, so that such a bug
 * fails the run instead. A hung server does not stop this process: its cases
 * time out, and the batch stops (`stopAfterUnclosed`).
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
        "our parser stuck in a loop, with cases " + cases + " of seed ${SEED} in flight: one of " +
        "them did it, or one of the batch before (try 'deno task fuzz -- --parsers-only " +
        "--seed ${SEED}', or replay one with 'deno task fuzz -- --seed ${SEED} --case N').";
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
  // Most cases end at once; the rest on the server's 500 ms timeouts: about 20 s in all.
  fn: async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    // First, so that a machine without the oracles fails at once, saying what to install.
    const oracles = await startOracles();
    // Each batch's inputs go to the oracles while the next batch runs, one batch at a time.
    let differential = Promise.resolve<string[]>([]);
    // In its own process: its timers are not delayed by this one's work, and a hang or a
    // crash shows as such.
    const server = await spawnServer().catch(async (error) => {
      await Promise.all(oracles.map((oracle) => oracle.close()));
      throw error;
    });
    const watchdog = startWatchdog();
    try {
      const port = server.port;
      for (let batch = 0; batch < BATCHES; batch++) {
        const indexes = Array.from({ length: BATCH_SIZE }, (_, i) => batch * BATCH_SIZE + i);
        const outcomes = await runBatch(SEED, indexes, port, {
          limits: FUZZ_LIMITS,
          concurrency: CONCURRENCY,
          readTimeoutMs: 5000,
          stopAfterUnclosed: 2 * CONCURRENCY,
          onCase: watchdog.onCase,
        });
        assert.ok(
          outcomes.length === indexes.length && !server.exited(),
          `the server ${server.exited() ? "exited" : "stopped answering"} during cases ` +
            `${indexes[0]}-${indexes.at(-1)}: find the case that did it with ` +
            `'deno task fuzz -- --seed ${SEED}' (${server.stderr.slice(-5).join(" | ")})`,
        );
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
    } finally {
      await server.stop();
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
    assert.deepEqual(server.errors, [], "onError was called");
    assert.deepEqual(server.stderr, [], "the server wrote to stderr");
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

const CUT_ROWS: {
  name: string;
  input: string;
  output: string;
  cuts: number[];
  bad: boolean;
}[] = [
  { name: "no answer, no cut", input: get(), output: "", cuts: [], bad: true },
  { name: "no answer, timed out before any byte", input: get(), output: "", cuts: [0], bad: false },
  { name: "no answer, timed out after the head", input: get(), output: "", cuts: [35], bad: true },
  { name: "the answer, whatever the cuts", input: get(), output: OK, cuts: [0, 10], bad: false },
  { name: "silence, timed out inside the head", input: get(), output: "", cuts: [10], bad: true },
  {
    name: "the first answered, timed out before the second",
    input: get() + get(),
    output: OK,
    cuts: [35],
    bad: false,
  },
  {
    name: "garbage, whatever the cuts",
    input: get(),
    output: "HTTP/1.1 2000 OK\r\n\r\n",
    cuts: [0],
    bad: true,
  },
];

for (const row of CUT_ROWS) {
  Deno.test(`fuzz checker, cut short: ${row.name} → ${row.bad ? "problem" : "fine"}`, () => {
    const { problems } = checkCutExchange(
      toBytes(row.input),
      toBytes(row.output),
      true,
      true,
      FUZZ_LIMITS,
      row.cuts,
    );
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
