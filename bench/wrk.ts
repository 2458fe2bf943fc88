/**
 * Runs wrk with bench/wrk/bench.lua, parses the line its `done` hook prints,
 * and decides whether a run counts (no socket errors, right statuses,
 * plausible response sizes).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { BenchCase } from "./cases.ts";
import { trackChild } from "./cleanup.ts";
import { pinnedCommand } from "./cpu_layout.ts";

/** What wrk's `done` hook reports about one run. */
export interface WrkSummary {
  /** Complete responses. */
  requests: number;
  /** Bytes read from the server, heads included. */
  bytes: number;
  /** Measured duration in microseconds. */
  durationUs: number;
  /** Failed connects. */
  connectErrors: number;
  /** Failed reads (includes connections closed mid-response). */
  readErrors: number;
  /** Failed writes. */
  writeErrors: number;
  /** Requests slower than wrk's `--timeout`. */
  timeouts: number;
  /** Responses with a status above 399. */
  statusErrors: number;
  /** Mean latency, µs. */
  latencyMeanUs: number;
  /** Median latency, µs. */
  latencyP50Us: number;
  /** 99th percentile latency, µs. */
  latencyP99Us: number;
  /** Maximum latency, µs. */
  latencyMaxUs: number;
}

/** One wrk invocation. */
export interface WrkRequest {
  /** Full URL. */
  url: string;
  /** Request method. */
  method: string;
  /** Request body size (PUT), 0 for none. */
  bodyBytes: number;
  /** Extra request headers. */
  headers: Record<string, string>;
  /** Concurrent connections. */
  connections: number;
  /** Run length in whole seconds. */
  durationSeconds: number;
  /** wrk threads, one per core it may use. */
  threads: number;
  /** CPUs to pin wrk to, or null. */
  cpus: readonly number[] | null;
}

/** The result of a finished wrk process. */
export interface WrkOutcome {
  /** The parsed summary, or null when wrk printed none. */
  summary: WrkSummary | null;
  /** Why the run failed outright (wrk exit status, no summary), or null. */
  failure: string | null;
  /** wrk's full stdout and stderr. */
  output: string;
}

const RESULT_MARKER = "WRK_RESULT ";
const SUMMARY_FIELDS: readonly (keyof WrkSummary)[] = [
  "requests",
  "bytes",
  "durationUs",
  "connectErrors",
  "readErrors",
  "writeErrors",
  "timeouts",
  "statusErrors",
  "latencyMeanUs",
  "latencyP50Us",
  "latencyP99Us",
  "latencyMaxUs",
];
const LUA_SCRIPT = fileURLToPath(new URL("./wrk/bench.lua", import.meta.url));
/** How long past its duration a wrk process may run before it is killed. */
const OVERRUN_GRACE_MS = 30_000;

/**
 * Finds and parses the `WRK_RESULT {...}` line in wrk's output.
 *
 * @param output wrk's stdout
 * @returns the summary
 * @throws Error when the line is missing or incomplete
 */
export function parseWrkResult(output: string): WrkSummary {
  const line = output.split("\n").find((candidate) => candidate.startsWith(RESULT_MARKER));
  if (line === undefined) throw new Error("wrk printed no WRK_RESULT line");
  const parsed: Record<string, unknown> = JSON.parse(line.slice(RESULT_MARKER.length));
  const summary = {} as Record<keyof WrkSummary, number>;
  for (const field of SUMMARY_FIELDS) {
    const value = parsed[field];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`WRK_RESULT lacks a numeric ${field}`);
    }
    summary[field] = value;
  }
  return summary;
}

/**
 * Builds the wrk command line: one thread per core wrk may use, latency
 * distribution on, a fixed duration, and the Lua script; pinned with taskset
 * when CPUs are given.
 *
 * @param wrkPath the wrk executable
 * @param request what to run
 * @returns executable, arguments and environment for the script
 */
export function wrkCommand(
  wrkPath: string,
  request: WrkRequest,
): { command: string; args: string[]; env: Record<string, string> } {
  const wrkArgs = [
    "--threads",
    String(request.threads),
    "--connections",
    String(request.connections),
    "--duration",
    `${request.durationSeconds}s`,
    "--timeout",
    "10s",
    "--latency",
    "--script",
    LUA_SCRIPT,
    ...Object.entries(request.headers).flatMap((
      [name, value],
    ) => ["--header", `${name}: ${value}`]),
    request.url,
  ];
  const env = { BENCH_METHOD: request.method, BENCH_BODY_BYTES: String(request.bodyBytes) };
  return { ...pinnedCommand(wrkPath, wrkArgs, request.cpus), env };
}

/**
 * Starts wrk. It is killed if it overruns its duration by 30 s, or when the
 * harness stops early.
 *
 * @param wrkPath the wrk executable
 * @param request what to run
 * @returns wrk's PID (to sample its CPU) and its eventual outcome
 */
export function startWrk(
  wrkPath: string,
  request: WrkRequest,
): { pid: number; finished: Promise<WrkOutcome> } {
  const { command, args, env } = wrkCommand(wrkPath, request);
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  };
  const untrack = trackChild(async () => {
    kill();
    await child.status;
  });
  const watchdog = setTimeout(kill, request.durationSeconds * 1000 + OVERRUN_GRACE_MS);
  const finished = child.output().then((result) => {
    clearTimeout(watchdog);
    untrack();
    const decoder = new TextDecoder();
    const output = decoder.decode(result.stdout) + decoder.decode(result.stderr);
    if (!result.success) {
      return { summary: null, failure: `wrk failed (exit ${result.code})`, output };
    }
    try {
      return { summary: parseWrkResult(output), failure: null, output };
    } catch (error) {
      return { summary: null, failure: (error as Error).message, output };
    }
  });
  return { pid: child.pid, finished };
}

/**
 * Checks a run's summary against what a correct server must produce.
 *
 * @param summary wrk's counts
 * @param benchCase the case that ran
 * @param connections wrk connections (responses cut off at the end are partly counted in bytes)
 * @returns reasons the run is invalid; empty when it counts
 */
export function runProblems(
  summary: WrkSummary,
  benchCase: BenchCase,
  connections: number,
): string[] {
  const problems: string[] = [];
  if (summary.requests === 0) problems.push("no complete responses");
  const socketErrors = summary.connectErrors + summary.readErrors + summary.writeErrors +
    summary.timeouts;
  if (socketErrors > 0) {
    problems.push(
      `${socketErrors} socket errors (connect ${summary.connectErrors}, read ${summary.readErrors}, ` +
        `write ${summary.writeErrors}, timeout ${summary.timeouts})`,
    );
  }
  const expectsErrorStatus = benchCase.expectedStatuses.every((status) => status >= 400);
  if (expectsErrorStatus && summary.statusErrors !== summary.requests) {
    problems.push(`${summary.requests - summary.statusErrors} responses had a status below 400`);
  }
  if (!expectsErrorStatus && summary.statusErrors > 0) {
    problems.push(`${summary.statusErrors} responses had a status of 400 or more`);
  }
  if (summary.requests > 0) {
    const { min, max } = benchCase.responseBytes;
    if (summary.bytes < summary.requests * min) {
      problems.push(
        `${Math.round(summary.bytes / summary.requests)} bytes per response, expected >= ${min}`,
      );
    }
    if (summary.bytes > (summary.requests + connections) * max) {
      problems.push(
        `${Math.round(summary.bytes / summary.requests)} bytes per response, expected <= ${max}`,
      );
    }
  }
  return problems;
}
