import assert from "node:assert/strict";
import { BENCH_CASES } from "./cases.ts";
import { parseWrkResult, runProblems, wrkCommand, type WrkSummary } from "./wrk.ts";

const CLEAN: WrkSummary = {
  requests: 1000,
  bytes: 1000 * 1300,
  durationUs: 2_000_000,
  connectErrors: 0,
  readErrors: 0,
  writeErrors: 0,
  timeouts: 0,
  statusErrors: 0,
  latencyMeanUs: 900,
  latencyP50Us: 800,
  latencyP99Us: 3000,
  latencyMaxUs: 9000,
};

function benchCase(name: string) {
  const found = BENCH_CASES.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(name);
  return found;
}

Deno.test("parseWrkResult: reads the done() line among wrk's normal output", () => {
  const output = "Running 2s test @ http://127.0.0.1:1/\n  14580 requests in 2.00s\n" +
    `WRK_RESULT ${JSON.stringify(CLEAN)}\n`;
  assert.deepEqual(parseWrkResult(output), CLEAN);
});

Deno.test("parseWrkResult: rejects missing or partial results", () => {
  assert.throws(() => parseWrkResult("Requests/sec: 5\n"), /no WRK_RESULT/);
  assert.throws(() => parseWrkResult('WRK_RESULT {"requests":1}\n'), /lacks a numeric bytes/);
});

Deno.test("runProblems: table of valid and invalid runs", () => {
  const table: [string, string, Partial<WrkSummary>, RegExp | null][] = [
    ["clean 1 KiB GET", "get-1k", {}, null],
    ["socket errors", "get-1k", { readErrors: 3, timeouts: 1 }, /4 socket errors/],
    ["4xx in a GET case", "get-1k", { statusErrors: 2 }, /2 responses had a status of 400/],
    ["nothing completed", "get-1k", { requests: 0, bytes: 0 }, /no complete responses/],
    ["body too small", "get-1k", { bytes: 1000 * 500 }, /500 bytes per response, expected >= 1024/],
    ["all 404 in the 404 case", "not-found", { statusErrors: 1000, bytes: 200_000 }, null],
    ["a 200 in the 404 case", "not-found", { statusErrors: 999, bytes: 200_000 }, /below 400/],
    ["304 case without bodies", "cond-304", { bytes: 1000 * 200 }, null],
    ["304 case served full bodies", "cond-304", { bytes: 1000 * 1300 }, /expected <= 1023/],
    ["16 MiB with partial responses at the end", "get-16m", {
      requests: 10,
      bytes: 10 * 16 * 1024 * 1024 + 30 * 1024 * 1024,
    }, null],
  ];
  for (const [label, name, change, expected] of table) {
    const problems = runProblems({ ...CLEAN, ...change }, benchCase(name), 50);
    if (expected === null) assert.deepEqual(problems, [], label);
    else assert.match(problems.join("; "), expected, label);
  }
});

Deno.test("wrkCommand: pins with taskset, one thread, and passes method, body and headers", () => {
  const command = wrkCommand("/usr/bin/wrk", {
    url: "http://127.0.0.1:9/x",
    method: "PUT",
    bodyBytes: 1024,
    headers: { "If-None-Match": '"abc"' },
    connections: 50,
    durationSeconds: 3,
    threads: 1,
    cpus: [1],
  });
  assert.equal(command.command, "taskset");
  assert.deepEqual(command.args.slice(0, 5), ["-c", "1", "/usr/bin/wrk", "--threads", "1"]);
  assert.ok(command.args.includes("--latency"));
  assert.deepEqual(command.args.slice(-3), [
    "--header",
    'If-None-Match: "abc"',
    "http://127.0.0.1:9/x",
  ]);
  assert.equal(command.args[command.args.indexOf("--duration") + 1], "3s");
  assert.deepEqual(command.env, { BENCH_METHOD: "PUT", BENCH_BODY_BYTES: "1024" });
  const unpinned = wrkCommand("/usr/bin/wrk", {
    url: "http://127.0.0.1:9/",
    method: "GET",
    bodyBytes: 0,
    headers: {},
    connections: 1,
    durationSeconds: 1,
    threads: 1,
    cpus: null,
  });
  assert.equal(unpinned.command, "/usr/bin/wrk");
  assert.deepEqual(unpinned.args.slice(0, 2), ["--threads", "1"]);
});

Deno.test("wrkCommand: --cores 2 runs two threads pinned to CPUs 0 and 1", () => {
  const command = wrkCommand("/usr/bin/wrk", {
    url: "http://127.0.0.1:9/1k.bin",
    method: "GET",
    bodyBytes: 0,
    headers: {},
    connections: 50,
    durationSeconds: 2,
    threads: 2,
    cpus: [0, 1],
  });
  assert.equal(command.command, "taskset");
  assert.deepEqual(command.args.slice(0, 7), [
    "-c",
    "0,1",
    "/usr/bin/wrk",
    "--threads",
    "2",
    "--connections",
    "50",
  ]);
  assert.equal(command.args.at(-1), "http://127.0.0.1:9/1k.bin");
});
