/**
 * The benchmark harness (`deno task bench`): serves a temporary root with our
 * server and the reference servers, loads each with wrk case by case,
 * interleaving the servers and repeats, and writes a markdown and JSON report
 * to bench/results/. See bench/README.md.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CASE_NAMES, createFixtures, selectCases } from "./cases.ts";
import { stopAllChildren } from "./cleanup.ts";
import { type CpuLayout, cpuLayout } from "./cpu_layout.ts";
import { type RunningServer, startServer } from "./launcher.ts";
import { measureRun, type MeasureSettings, type RunRecord } from "./measure.ts";
import { type BenchOptions, parseOptions, USAGE } from "./options.ts";
import { preflight } from "./preflight.ts";
import { clockTicksPerSecond } from "./procfs.ts";
import { renderMarkdown, type ReportCell, summarizeRuns } from "./report.ts";
import { commandOutput, findExecutable, SERVER_NAMES, SERVERS } from "./servers.ts";
import { startWrk, type WrkRequest } from "./wrk.ts";

const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 30_000;
const APT_TIMEOUT_MS = 300_000;
const DEFAULT_OUT_DIR = fileURLToPath(new URL("./results", import.meta.url));

/** Finds wrk, installing the Debian package when possible. */
async function ensureWrk(): Promise<string> {
  const found = findExecutable("wrk");
  if (found !== null) return found;
  if (Deno.uid() === 0 && findExecutable("apt-get") !== null) {
    console.log("wrk not found: trying apt-get install -y wrk");
    const install = () =>
      new Deno.Command("apt-get", {
        args: ["-o", "DPkg::Lock::Timeout=120", "install", "-y", "wrk"],
        stdin: "null",
        signal: AbortSignal.timeout(APT_TIMEOUT_MS),
      }).output().then((output) => output.success, () => false);
    if (!await install()) {
      await new Deno.Command("apt-get", {
        args: ["update"],
        stdin: "null",
        signal: AbortSignal.timeout(APT_TIMEOUT_MS),
      }).output().catch(() => undefined);
      await install();
    }
    const installed = findExecutable("wrk");
    if (installed !== null) return installed;
  }
  throw new Error(
    "wrk is needed but not installed. On Debian/Ubuntu: sudo apt-get install -y wrk. " +
      "Elsewhere build wrk from its source and put it on PATH.",
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function cpuModel(): string {
  try {
    const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
    return cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function formatMetricsLine(record: RunRecord): string {
  const m = record.metrics;
  const numbers = m === null ? "no metrics" : [
    `${Math.round(m.requestsPerSecond).toLocaleString("en-US")} req/s`,
    `${m.megabytesPerSecond.toFixed(1)} MB/s`,
    `p99 ${m.p99Ms.toFixed(2)} ms`,
    `${m.cpuUsPerRequest.toFixed(1)} CPU-µs/req`,
    `server CPU ${m.serverCpuPercent.toFixed(0)}%`,
    `wrk CPU ${m.wrkCpuPercent.toFixed(0)}%`,
    `other CPU ${m.otherCpuPercent.toFixed(0)}%`,
    `peak RSS ${m.peakRssMiB.toFixed(1)} MiB`,
  ].join(", ");
  const verdict = record.problems.length === 0 ? "" : `  FAIL: ${record.problems.join("; ")}`;
  return `  ${record.server.padEnd(6)} #${record.repeat}: ${numbers}${verdict}`;
}

interface SessionServers {
  running: RunningServer[];
  skipped: { name: string; reason: string }[];
}

async function startServers(
  options: BenchOptions,
  tempDir: string,
  root: string,
  layout: CpuLayout,
): Promise<SessionServers> {
  const session: SessionServers = { running: [], skipped: [] };
  const selected = SERVERS.filter((server) => options.only?.includes(server.name) ?? true);
  for (const definition of selected) {
    if (options.only === null && options.cores > 1 && !definition.multiCore) {
      const reason = `single-threaded, left out of --cores ${options.cores} ` +
        "(name it in --only to run it on one thread anyway)";
      console.log(`${definition.name}: ${reason}`);
      session.skipped.push({ name: definition.name, reason });
      continue;
    }
    const port = freePort();
    const workDir = join(tempDir, definition.name);
    await Deno.mkdir(workDir);
    const context = {
      host: HOST,
      port,
      root,
      workDir,
      connections: options.connections,
      fsync: options.fsync,
      cores: options.cores,
      oursV8Flags: options.oursV8Flags,
    };
    const launch = await definition.prepare(context);
    if ("skipped" in launch) {
      console.log(`${definition.name}: skipped, ${launch.skipped}`);
      session.skipped.push({ name: definition.name, reason: launch.skipped });
      continue;
    }
    const origin = `http://${HOST}:${port}`;
    try {
      const server = await startServer(definition.name, launch, {
        origin,
        cpus: layout.serverCpus,
        timeoutMs: START_TIMEOUT_MS,
      });
      console.log(`${definition.name}: ${launch.version}, pid ${server.pid}, ${origin}/`);
      session.running.push(server);
    } catch (error) {
      const reason = `failed to start: ${(error as Error).message}`;
      console.log(`${definition.name}: ${reason}`);
      session.skipped.push({ name: definition.name, reason: reason.split("\n")[0] });
    }
  }
  return session;
}

async function runCases(
  options: BenchOptions,
  servers: readonly RunningServer[],
  settings: MeasureSettings,
  layout: CpuLayout,
  interrupted: AbortSignal,
): Promise<{ records: RunRecord[]; cells: ReportCell[] }> {
  const records: RunRecord[] = [];
  const cells: ReportCell[] = [];
  for (const benchCase of selectCases(options.cases)) {
    console.log(`\n== ${benchCase.name}: ${benchCase.title}`);
    const ready: { server: RunningServer; request: WrkRequest }[] = [];
    for (const server of servers) {
      interrupted.throwIfAborted();
      const skip = (kind: "failed" | "skipped", reason: string) => {
        console.log(`  ${server.name.padEnd(6)}: ${kind}, ${reason}`);
        cells.push({ server: server.name, caseName: benchCase.name, outcome: { kind, reason } });
      };
      if (!server.isRunning()) {
        skip("failed", "server exited");
        console.log(server.logTail());
        continue;
      }
      if (benchCase.method === "PUT" && !server.launch.supportsPut) {
        skip("skipped", "no PUT in this setup");
        continue;
      }
      const check = await preflight(server.origin, benchCase);
      if (!check.ok) {
        skip("failed", `preflight: ${check.reason}`);
        continue;
      }
      const request: WrkRequest = {
        url: server.origin + benchCase.path,
        method: benchCase.method,
        bodyBytes: benchCase.requestBodyBytes,
        headers: check.headers,
        connections: options.connections,
        durationSeconds: options.durationSeconds,
        threads: layout.wrkThreads,
        cpus: layout.wrkCpus,
      };
      if (options.warmupSeconds > 0) {
        await startWrk(settings.wrkPath, { ...request, durationSeconds: options.warmupSeconds })
          .finished;
      }
      ready.push({ server, request });
    }
    // Interleaved (ours, ref, nginx, ..., ours, ref, ...) so drift hits every server alike.
    for (let repeat = 1; repeat <= options.repeats; repeat++) {
      for (const { server, request } of ready) {
        interrupted.throwIfAborted();
        const record: RunRecord = server.isRunning()
          ? {
            server: server.name,
            caseName: benchCase.name,
            repeat,
            ...await measureRun(server, benchCase, request, settings),
          }
          : {
            server: server.name,
            caseName: benchCase.name,
            repeat,
            problems: ["server exited"],
            metrics: null,
            wrk: null,
          };
        interrupted.throwIfAborted();
        console.log(formatMetricsLine(record));
        records.push(record);
      }
    }
    for (const { server } of ready) {
      const runs = records.filter((r) => r.server === server.name && r.caseName === benchCase.name);
      cells.push({ server: server.name, caseName: benchCase.name, outcome: summarizeRuns(runs) });
    }
  }
  return { records, cells };
}

async function writeReports(
  outDir: string,
  startedAt: Date,
  markdown: string,
  json: unknown,
): Promise<string> {
  await Deno.mkdir(outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  const base = join(outDir, stamp);
  await Deno.writeTextFile(`${base}.md`, markdown);
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(json, null, 2) + "\n");
  return base;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(
      Deno.args,
      { servers: SERVER_NAMES, cases: CASE_NAMES },
      DEFAULT_OUT_DIR,
    );
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const wrkPath = await ensureWrk();
  const layout = cpuLayout(
    options.cores,
    navigator.hardwareConcurrency,
    findExecutable("taskset") === null ? "taskset not found (package util-linux)" : null,
  );
  console.log(`--cores ${options.cores}: ${layout.description}`);

  const startedAt = new Date();
  const loadAtStart = loadAverage();
  const tempDir = await Deno.makeTempDir({ prefix: "filedrop-bench-" });
  let cleanedUp: Promise<void> | null = null;
  // Memoized: the signal handler and the normal exit path share one cleanup.
  const cleanup = () =>
    cleanedUp ??= (async () => {
      await stopAllChildren();
      if (options.keepTemp) console.log(`kept ${tempDir}`);
      else await Deno.remove(tempDir, { recursive: true }).catch(() => undefined);
    })();
  const interrupted = new AbortController();
  const onSignal = () => {
    if (interrupted.signal.aborted) return;
    console.error("\ninterrupted: stopping servers and wrk");
    interrupted.abort();
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const root = join(tempDir, "root");
    await Deno.mkdir(root);
    await createFixtures(root);
    const { running, skipped } = await startServers(options, tempDir, root, layout);
    if (running.length === 0) {
      console.error("no server could be started");
      return 1;
    }
    const settings: MeasureSettings = {
      wrkPath,
      connections: options.connections,
      ticksPerSecond: clockTicksPerSecond(),
      benchCpus: layout.serverCpus === null || layout.wrkCpus === null
        ? null
        : [...new Set([...layout.serverCpus, ...layout.wrkCpus])],
    };
    const { records, cells } = await runCases(
      options,
      running,
      settings,
      layout,
      interrupted.signal,
    );

    const wrkVersion = (await commandOutput(wrkPath, ["-v"])).match(/wrk (\S+)/)?.[1] ?? "?";
    const cases = selectCases(options.cases);
    const header = {
      title: `Benchmark ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
        `--cores ${options.cores}`,
      facts: [
        `Machine: ${cpuModel()}, ${navigator.hardwareConcurrency} CPUs, Linux ${Deno.osRelease()}`,
        `Mode: --cores ${options.cores}, ${layout.description}`,
        `Load: wrk ${wrkVersion}, ${layout.wrkThreads} thread${
          layout.wrkThreads === 1 ? "" : "s"
        }, ` +
        `${options.connections} connections, ` +
        `${options.durationSeconds} s per run, ${options.repeats} repeat(s) (median), ` +
        `${options.warmupSeconds} s warm-up per server and case, servers interleaved`,
        `Load average (1, 5, 15 min) at start: ${loadAtStart}; at end: ${loadAverage()}`,
        ...running.map((server) => `${server.name}: ${server.launch.version}`),
      ],
      skippedServers: skipped,
      sharedCpus: layout.shared ? layout.serverCpus?.length ?? navigator.hardwareConcurrency : null,
    };
    const markdown = renderMarkdown(header, cases, running.map((server) => server.name), cells);
    const base = await writeReports(options.outDir, startedAt, markdown, {
      ...header,
      startedAt: startedAt.toISOString(),
      options,
      servers: running.map(({ name, launch }) => ({
        name,
        version: launch.version,
        command: [launch.command, ...launch.args].join(" "),
      })),
      cases,
      cells,
      records,
    });
    console.log(`\n${markdown}\nwritten to ${base}.md and ${base}.json`);
    return cells.some((cell) => cell.outcome.kind === "failed") ? 1 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) {
  let exitCode: number;
  try {
    exitCode = await main();
  } catch (error) {
    // An interrupt aborts the run: its handler has already said so.
    const aborted = error instanceof DOMException && error.name === "AbortError";
    if (!aborted) console.error(error);
    exitCode = aborted ? 130 : 1;
  }
  Deno.exit(exitCode);
}
