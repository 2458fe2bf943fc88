/**
 * Turns run records into the report: medians per server and case, failures
 * flagged instead of averaged in, a markdown table with "ours ÷ reference"
 * ratios, and the JSON written next to it.
 *
 * @module
 */

import type { RunMetrics, RunRecord } from "./measure.ts";

/** What the report shows for one server and case. */
export type CellOutcome =
  | { kind: "ok"; runs: number; metrics: RunMetrics }
  | { kind: "failed"; reason: string }
  | { kind: "skipped"; reason: string };

/** One server × case entry of the report. */
export interface ReportCell {
  /** Server name. */
  server: string;
  /** Case name. */
  caseName: string;
  /** Result, failure or skip. */
  outcome: CellOutcome;
}

/** The fixed parts of the report around the tables. */
export interface ReportHeader {
  /** Title line. */
  title: string;
  /** Bullet lines describing machine, versions and settings. */
  facts: string[];
  /** Servers that did not run, with the reason. */
  skippedServers: { name: string; reason: string }[];
  /**
   * How many CPUs servers and wrk shared (`--cores N`); null when wrk had a
   * core of its own. Sharing changes how req/s reads and drops the † marks.
   */
  sharedCpus: number | null;
}

/** The name of our server, the numerator of every ratio. */
export const OURS = "ours";

/** wrk CPU use from which a run may have been limited by the client rather than the server. */
export const CLIENT_BOUND_PERCENT = 90;
const CLIENT_BOUND_MARK = " †";

/**
 * The median of a non-empty list (mean of the middle two for even lengths).
 *
 * @param values numbers
 * @returns their median
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Summarizes the repeats of one server and case: the median of each metric
 * (peak memory: the maximum), or a failure if any repeat failed.
 *
 * @param records the repeats
 * @returns the cell outcome
 */
export function summarizeRuns(records: readonly RunRecord[]): CellOutcome {
  const failed = records.filter((record) => record.problems.length > 0 || record.metrics === null);
  if (failed.length > 0) {
    const reasons = [...new Set(failed.flatMap((record) => record.problems))];
    return {
      kind: "failed",
      reason: `${failed.length}/${records.length} runs: ${reasons.join("; ") || "no metrics"}`,
    };
  }
  if (records.length === 0) return { kind: "failed", reason: "no runs" };
  const all = records.map((record) => record.metrics as RunMetrics);
  const medianOf = (pick: (metrics: RunMetrics) => number) => median(all.map(pick));
  return {
    kind: "ok",
    runs: records.length,
    metrics: {
      requestsPerSecond: medianOf((m) => m.requestsPerSecond),
      megabytesPerSecond: medianOf((m) => m.megabytesPerSecond),
      p99Ms: medianOf((m) => m.p99Ms),
      cpuUsPerRequest: medianOf((m) => m.cpuUsPerRequest),
      serverCpuPercent: medianOf((m) => m.serverCpuPercent),
      wrkCpuPercent: medianOf((m) => m.wrkCpuPercent),
      otherCpuPercent: medianOf((m) => m.otherCpuPercent),
      peakRssMiB: Math.max(...all.map((m) => m.peakRssMiB)),
    },
  };
}

function fixed(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function ratio(numerator: number, denominator: number): string {
  return denominator > 0 ? `${fixed(numerator / denominator, 2)}×` : "—";
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function tableHead(cells: readonly string[]): string[] {
  return [tableRow(cells), tableRow(cells.map(() => "---"))];
}

/**
 * Renders the report as markdown: a facts list, the main table (one row per
 * case and server) and two "ours ÷ reference" matrices.
 *
 * @param header title, facts and skipped servers
 * @param cases case names and titles, in order
 * @param servers server names that ran, in order
 * @param cells every server × case outcome
 * @returns the markdown text
 */
export function renderMarkdown(
  header: ReportHeader,
  cases: readonly { name: string; title: string }[],
  servers: readonly string[],
  cells: readonly ReportCell[],
): string {
  const cellFor = (server: string, caseName: string) =>
    cells.find((cell) => cell.server === server && cell.caseName === caseName)?.outcome;
  const metricsFor = (server: string, caseName: string) => {
    const outcome = cellFor(server, caseName);
    return outcome?.kind === "ok" ? outcome.metrics : null;
  };
  // With shared CPUs wrk always competes with the server: "client-bound" has no meaning there.
  const clientMark = (...runs: RunMetrics[]) =>
    header.sharedCpus === null && runs.some((m) => m.wrkCpuPercent >= CLIENT_BOUND_PERCENT)
      ? CLIENT_BOUND_MARK
      : "";
  const references = servers.filter((server) => server !== OURS);
  const lines = [`# ${header.title}`, "", ...header.facts.map((fact) => `- ${fact}`)];
  for (const skipped of header.skippedServers) {
    lines.push(`- ${skipped.name}: skipped, ${escapeCell(skipped.reason)}`);
  }

  const withRatios = servers.includes(OURS) && references.length > 0;
  const metricColumns = [
    "req/s",
    "MB/s",
    "p99 ms",
    "CPU µs/req",
    "server CPU %",
    "wrk CPU %",
    "other CPU %",
    "peak RSS MiB",
  ];
  const ratioColumns = withRatios ? ["req/s ours÷this", "CPU/req ours÷this"] : [];
  lines.push(
    "",
    "## Results",
    "",
    "Medians over the repeats (peak RSS: the maximum). CPU µs/req is the server's user + system",
    ...(header.sharedCpus === null
      ? [
        "CPU time per response. † marks req/s where wrk used at least " +
        `${CLIENT_BOUND_PERCENT}% of its core:`,
        "the client may have been the limit there, so compare CPU µs/req instead. Other CPU % is",
      ]
      : [
        "CPU time per response, summed over its threads and processes. Servers and wrk shared " +
        `${header.sharedCpus} CPUs,`,
        `so the CPU % columns run up to ${header.sharedCpus * 100} and req/s includes wrk's cost:`,
        "a server that needs less CPU per request leaves more to wrk. Other CPU % is",
      ]),
    "CPU time on the benchmark CPUs used by anything else (other processes, the harness, kernel",
    "threads): when it is high, the run was disturbed.",
    ...(withRatios
      ? [
        "The ratio columns divide ours by the row's server: above 1× for req/s and below 1×",
        "for CPU µs/req favour ours.",
      ]
      : []),
    "",
    ...tableHead(["case", "server", ...metricColumns, ...ratioColumns]),
  );
  for (const benchCase of cases) {
    const ours = metricsFor(OURS, benchCase.name);
    for (const server of servers) {
      const outcome = cellFor(server, benchCase.name);
      const label = [benchCase.name, server];
      if (outcome === undefined) continue;
      if (outcome.kind !== "ok") {
        const text = outcome.kind === "failed"
          ? `**FAIL**: ${escapeCell(outcome.reason)}`
          : `skipped: ${escapeCell(outcome.reason)}`;
        const blanks = Array(metricColumns.length + ratioColumns.length - 1).fill("—");
        lines.push(tableRow([...label, text, ...blanks]));
        continue;
      }
      const m = outcome.metrics;
      const ratios = ours !== null && server !== OURS
        ? [
          ratio(ours.requestsPerSecond, m.requestsPerSecond) + clientMark(ours, m),
          ratio(ours.cpuUsPerRequest, m.cpuUsPerRequest),
        ]
        : ["—", "—"];
      lines.push(tableRow([
        ...label,
        fixed(m.requestsPerSecond, 0) + clientMark(m),
        fixed(m.megabytesPerSecond, 1),
        fixed(m.p99Ms, 2),
        fixed(m.cpuUsPerRequest, 1),
        fixed(m.serverCpuPercent, 0),
        fixed(m.wrkCpuPercent, 0),
        fixed(m.otherCpuPercent, 0),
        fixed(m.peakRssMiB, 1),
        ...(withRatios ? ratios : []),
      ]));
    }
  }

  if (withRatios) {
    const matrix = (title: string, pick: (m: RunMetrics) => number, markClientBound: boolean) => {
      lines.push(
        "",
        `## ${title}`,
        "",
        ...tableHead(["case", ...references.map((r) => `ours÷${r}`)]),
      );
      for (const benchCase of cases) {
        const ours = metricsFor(OURS, benchCase.name);
        lines.push(tableRow([
          benchCase.name,
          ...references.map((reference) => {
            const other = metricsFor(reference, benchCase.name);
            if (ours === null || other === null) return "—";
            return ratio(pick(ours), pick(other)) +
              (markClientBound ? clientMark(ours, other) : "");
          }),
        ]));
      }
    };
    matrix(
      "Ours ÷ each reference: requests/s (above 1× is better)",
      (m) => m.requestsPerSecond,
      true,
    );
    matrix(
      "Ours ÷ each reference: CPU µs/request (below 1× is better)",
      (m) => m.cpuUsPerRequest,
      false,
    );
  }

  lines.push("", "## Cases", "", ...tableHead(["case", "what it measures"]));
  for (const benchCase of cases) lines.push(tableRow([benchCase.name, benchCase.title]));
  return lines.join("\n") + "\n";
}
