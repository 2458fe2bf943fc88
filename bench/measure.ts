/**
 * One measured wrk run against one server: wraps wrk with readings of the
 * server's CPU time and memory from /proc, and turns them into the report's
 * metrics.
 *
 * @module
 */

import type { BenchCase } from "./cases.ts";
import type { RunningServer } from "./launcher.ts";
import { cpuBusyTicks, cpuTicks, memoryKiB, readProcessStat, resetPeakMemory } from "./procfs.ts";
import { runProblems, startWrk, type WrkRequest, type WrkSummary } from "./wrk.ts";

/** The numbers reported for a run (or the median of several). */
export interface RunMetrics {
  /** Complete responses per second. */
  requestsPerSecond: number;
  /** Megabytes (10^6 bytes) per second: responses read, or PUT bodies sent. */
  megabytesPerSecond: number;
  /** 99th percentile latency in milliseconds. */
  p99Ms: number;
  /** Server CPU time (user + system, all its processes) per response, in µs. */
  cpuUsPerRequest: number;
  /** Server CPU time (all its threads and processes) over wall time; 100 means one core busy. */
  serverCpuPercent: number;
  /**
   * wrk's CPU time (all its threads) over wall time; near 100 per core of its
   * own means the client was the limit.
   */
  wrkCpuPercent: number;
  /**
   * CPU time of everything else (other processes, the harness, the kernel's
   * own threads) on the benchmark CPUs over wall time; high means a disturbed run.
   */
  otherCpuPercent: number;
  /** Peak resident memory of the server's processes during the run, MiB. */
  peakRssMiB: number;
}

/** Everything recorded about one run. */
export interface RunRecord {
  /** Server name. */
  server: string;
  /** Case name. */
  caseName: string;
  /** 1-based repeat number. */
  repeat: number;
  /** Why the run does not count; empty when it does. */
  problems: string[];
  /** Metrics, null when wrk produced no summary. */
  metrics: RunMetrics | null;
  /** wrk's raw summary. */
  wrk: WrkSummary | null;
}

/** Settings shared by every run of a session. */
export interface MeasureSettings {
  /** wrk executable. */
  wrkPath: string;
  /** wrk connections. */
  connections: number;
  /** /proc clock ticks per second. */
  ticksPerSecond: number;
  /** The CPUs servers and wrk are pinned to, or null (unpinned: all CPUs). */
  benchCpus: number[] | null;
}

const SAMPLE_INTERVAL_MS = 100;

/** Polls the server's resident memory and wrk's CPU time while wrk runs. */
function startSampler(serverPids: readonly number[], wrkPid: number) {
  let maxRssKiB = memoryKiB(serverPids, "VmRSS");
  let wrkTicks = 0;
  const wrkStart = performance.now();
  let wrkLastSample = wrkStart;
  const timer = setInterval(() => {
    maxRssKiB = Math.max(maxRssKiB, memoryKiB(serverPids, "VmRSS"));
    const wrkStat = readProcessStat(wrkPid);
    if (wrkStat !== null) {
      wrkTicks = wrkStat.ownTicks;
      wrkLastSample = performance.now();
    }
  }, SAMPLE_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      const sampledMs = wrkLastSample - wrkStart;
      return { maxRssKiB, wrkTicks, wrkSampledSeconds: sampledMs / 1000 };
    },
  };
}

/**
 * Runs wrk once against a server and measures the server meanwhile.
 *
 * @param server the running server
 * @param benchCase the case
 * @param request the wrk request (URL, headers, duration)
 * @param settings session-wide settings
 * @returns the metrics and whether the run counts
 */
export async function measureRun(
  server: RunningServer,
  benchCase: BenchCase,
  request: WrkRequest,
  settings: MeasureSettings,
): Promise<Omit<RunRecord, "server" | "caseName" | "repeat">> {
  const pidsBefore = server.processIds();
  const peakResettable = resetPeakMemory(pidsBefore);
  const ticksBefore = cpuTicks(pidsBefore);
  const busyBefore = cpuBusyTicks(settings.benchCpus);
  const wallStart = performance.now();
  const wrk = startWrk(settings.wrkPath, request);
  const sampler = startSampler(pidsBefore, wrk.pid);
  const outcome = await wrk.finished;
  const sample = sampler.stop();
  const busyTicks = cpuBusyTicks(settings.benchCpus) - busyBefore;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  // Rescan: a process started during the run (a respawned worker) counts in full.
  const pidsAfter = server.processIds();
  const ticksAfter = cpuTicks(pidsAfter);
  const peakKiB = Math.max(
    sample.maxRssKiB,
    peakResettable ? memoryKiB(pidsAfter, "VmHWM") : 0,
  );

  if (outcome.summary === null) {
    const failure = outcome.failure ?? "wrk failed";
    const lastLines = outcome.output.trim().split("\n").slice(-3).join(" / ");
    return { problems: [`${failure}: ${lastLines}`], metrics: null, wrk: null };
  }
  const summary = outcome.summary;
  const seconds = summary.durationUs / 1e6;
  const serverTicks = ticksAfter - ticksBefore;
  const serverCpuSeconds = serverTicks / settings.ticksPerSecond;
  const otherCpuSeconds = Math.max(0, busyTicks - serverTicks - sample.wrkTicks) /
    settings.ticksPerSecond;
  const throughputBytes = benchCase.throughput === "response"
    ? summary.bytes
    : summary.requests * benchCase.requestBodyBytes;
  const metrics: RunMetrics = {
    requestsPerSecond: summary.requests / seconds,
    megabytesPerSecond: throughputBytes / seconds / 1e6,
    p99Ms: summary.latencyP99Us / 1000,
    cpuUsPerRequest: summary.requests > 0 ? serverCpuSeconds * 1e6 / summary.requests : 0,
    serverCpuPercent: 100 * serverCpuSeconds / wallSeconds,
    wrkCpuPercent: sample.wrkSampledSeconds > 0
      ? 100 * (sample.wrkTicks / settings.ticksPerSecond) / sample.wrkSampledSeconds
      : 0,
    otherCpuPercent: 100 * otherCpuSeconds / wallSeconds,
    peakRssMiB: peakKiB / 1024,
  };
  return { problems: runProblems(summary, benchCase, settings.connections), metrics, wrk: summary };
}
