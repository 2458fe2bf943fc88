import assert from "node:assert/strict";
import type { RunMetrics, RunRecord } from "./measure.ts";
import { median, renderMarkdown, type ReportCell, summarizeRuns } from "./report.ts";

function metrics(requestsPerSecond: number, change: Partial<RunMetrics> = {}): RunMetrics {
  return {
    requestsPerSecond,
    megabytesPerSecond: requestsPerSecond / 1000,
    p99Ms: 2,
    cpuUsPerRequest: 1e6 / requestsPerSecond,
    serverCpuPercent: 100,
    wrkCpuPercent: 20,
    otherCpuPercent: 3,
    peakRssMiB: 50,
    ...change,
  };
}

function record(repeat: number, runMetrics: RunMetrics | null, problems: string[] = []): RunRecord {
  return { server: "ours", caseName: "get-1k", repeat, problems, metrics: runMetrics, wrk: null };
}

Deno.test("median: odd, even and unsorted lists", () => {
  const table: [number[], number][] = [[[5], 5], [[3, 1, 2], 2], [[4, 1, 3, 2], 2.5], [[7, 7], 7]];
  for (const [values, expected] of table) assert.equal(median(values), expected);
  assert.throws(() => median([]), /empty/);
});

Deno.test("summarizeRuns: medians per metric, maximum peak memory", () => {
  const outcome = summarizeRuns([
    record(1, metrics(100, { peakRssMiB: 70 })),
    record(2, metrics(300, { peakRssMiB: 60 })),
    record(3, metrics(200, { peakRssMiB: 90 })),
  ]);
  assert.equal(outcome.kind, "ok");
  if (outcome.kind !== "ok") return;
  assert.equal(outcome.runs, 3);
  assert.equal(outcome.metrics.requestsPerSecond, 200);
  assert.equal(outcome.metrics.cpuUsPerRequest, 5000);
  assert.equal(outcome.metrics.peakRssMiB, 90);
});

Deno.test("summarizeRuns: one failed repeat fails the whole cell", () => {
  const outcome = summarizeRuns([
    record(1, metrics(100)),
    record(2, metrics(100), ["3 socket errors"]),
    record(3, null, ["wrk failed"]),
  ]);
  assert.deepEqual(outcome, { kind: "failed", reason: "2/3 runs: 3 socket errors; wrk failed" });
});

Deno.test("renderMarkdown: rows, ratios, failures, skips and client-bound marks", () => {
  const cells: ReportCell[] = [
    {
      server: "ours",
      caseName: "get-1k",
      outcome: { kind: "ok", runs: 3, metrics: metrics(2000) },
    },
    { server: "ref", caseName: "get-1k", outcome: { kind: "ok", runs: 3, metrics: metrics(1000) } },
    {
      server: "nginx",
      caseName: "get-1k",
      outcome: { kind: "ok", runs: 3, metrics: metrics(8000, { wrkCpuPercent: 97 }) },
    },
    { server: "ours", caseName: "put-1k", outcome: { kind: "failed", reason: "a|b" } },
    { server: "ref", caseName: "put-1k", outcome: { kind: "ok", runs: 3, metrics: metrics(500) } },
    { server: "nginx", caseName: "put-1k", outcome: { kind: "skipped", reason: "no PUT" } },
  ];
  const markdown = renderMarkdown(
    {
      title: "T",
      facts: ["fact one"],
      skippedServers: [{ name: "caddy", reason: "absent" }],
      sharedCpus: null,
    },
    [{ name: "get-1k", title: "GET 1 KiB" }, { name: "put-1k", title: "PUT 1 KiB" }],
    ["ours", "ref", "nginx"],
    cells,
  );
  const lines = markdown.split("\n");
  assert.equal(lines[0], "# T");
  assert.ok(lines.includes("- fact one"));
  assert.ok(lines.includes("- caddy: skipped, absent"));
  const row = (prefix: string) => lines.find((line) => line.startsWith(prefix)) ?? "";
  assert.match(
    row("| get-1k | ours |"),
    /\| 2,000 \| 2\.0 \| 2\.00 \| 500\.0 \| 100 \| 20 \| 3 \| 50\.0 \| — \| — \|$/,
  );
  assert.match(row("| get-1k | ref |"), /\| 2\.00× \| 0\.50× \|$/);
  assert.match(row("| get-1k | nginx |"), /\| 8,000 † \|.*\| 0\.25× † \| 4\.00× \|$/);
  assert.match(row("| put-1k | ours |"), /\*\*FAIL\*\*: a\\\|b/);
  assert.match(row("| put-1k | ref |"), /\| — \| — \|$/);
  assert.match(row("| put-1k | nginx |"), /skipped: no PUT/);
  assert.match(markdown, /\| case \| ours÷ref \| ours÷nginx \|/);
  assert.ok(lines.includes("| get-1k | 2.00× | 0.25× † |"));
  assert.ok(lines.includes("| get-1k | 0.50× | 4.00× |"));
  assert.ok(lines.includes("| put-1k | — | — |"));
});

Deno.test("renderMarkdown: no ratio tables without our server", () => {
  const markdown = renderMarkdown(
    { title: "T", facts: [], skippedServers: [], sharedCpus: null },
    [{ name: "get-1k", title: "GET 1 KiB" }],
    ["ref"],
    [{ server: "ref", caseName: "get-1k", outcome: { kind: "ok", runs: 1, metrics: metrics(10) } }],
  );
  assert.doesNotMatch(markdown, /ours÷/);
  assert.match(
    markdown,
    /^\| get-1k \| ref \| 10 \| 0\.0 \| 2\.00 \| 100,000\.0 \| 100 \| 20 \| 3 \| 50\.0 \|$/m,
  );
});

Deno.test("renderMarkdown: shared CPUs say so and never mark a run client-bound", () => {
  const busyWrk = metrics(8000, { wrkCpuPercent: 150, serverCpuPercent: 50 });
  const markdown = renderMarkdown(
    { title: "T, --cores 2", facts: [], skippedServers: [], sharedCpus: 2 },
    [{ name: "get-1k", title: "GET 1 KiB" }],
    ["ours", "nginx"],
    [
      { server: "ours", caseName: "get-1k", outcome: { kind: "ok", runs: 1, metrics: busyWrk } },
      { server: "nginx", caseName: "get-1k", outcome: { kind: "ok", runs: 1, metrics: busyWrk } },
    ],
  );
  assert.match(markdown, /Servers and wrk shared 2 CPUs,/);
  assert.match(markdown, /CPU % columns run up to 200/);
  assert.doesNotMatch(markdown, /†/);
  assert.match(markdown, /^\| get-1k \| nginx \| 8,000 \|.*\| 150 \|.*\| 1\.00× \| 1\.00× \|$/m);
});
