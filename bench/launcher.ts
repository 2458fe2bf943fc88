/**
 * Starts server processes (optionally pinned to CPUs), waits until they
 * answer HTTP, and stops them by PID, including on errors and Ctrl-C.
 *
 * @module
 */

import { pinnedCommand } from "./cpu_layout.ts";
import type { ServerLaunch } from "./servers.ts";
import { processTree, readProcessStat } from "./procfs.ts";
import { trackChild } from "./cleanup.ts";

const LOG_TAIL_LINES = 40;
const STOP_GRACE_MS = 5_000;

/** A server process that answered HTTP. */
export interface RunningServer {
  /** Server name. */
  name: string;
  /** PID of the server itself (taskset execs it, so this is not a wrapper). */
  pid: number;
  /** `http://host:port` without a trailing slash. */
  origin: string;
  /** The launch it was started from. */
  launch: ServerLaunch;
  /** Scans /proc for the server and its live descendants (nginx workers); remembers them. */
  processIds(): number[];
  /** Whether the server process is still running. */
  isRunning(): boolean;
  /** The last lines the server printed, for error messages. */
  logTail(): string;
  /** SIGTERM, then SIGKILL after a grace period; also kills descendants left behind. */
  stop(): Promise<void>;
}

/** Collects a stream's lines: keeps the last few and reports each to a listener. */
async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  tail: string[],
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    onLine(line);
  };
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (pending + text).split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(keep);
    }
  } catch {
    // The process died mid-write; what was read is kept.
  }
  if (pending !== "") keep(pending);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function answersHttp(origin: string): Promise<boolean> {
  try {
    const response = await fetch(`${origin}/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number, startTime: number): boolean {
  return readProcessStat(pid)?.startTime === startTime;
}

/**
 * Starts a server and waits until it prints its ready line (if it has one)
 * and answers an HTTP request.
 *
 * @param name server name
 * @param launch how to start it
 * @param options listen address, CPUs to pin to (null: no pinning) and start timeout
 * @returns the running server
 * @throws Error with the server's last output when it exits or times out first
 */
export async function startServer(
  name: string,
  launch: ServerLaunch,
  options: { origin: string; cpus: readonly number[] | null; timeoutMs: number },
): Promise<RunningServer> {
  const { command, args } = pinnedCommand(launch.command, launch.args, options.cpus);
  const child = new Deno.Command(command, {
    args,
    cwd: launch.cwd,
    env: launch.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  let sawReadyLine = launch.readyPattern === null;
  const onLine = (line: string) => {
    if (launch.readyPattern?.test(line)) sawReadyLine = true;
  };
  const pumps = Promise.all([
    pumpLines(child.stdout, tail, onLine),
    pumpLines(child.stderr, tail, onLine),
  ]);
  let exited = false;
  const status = child.status.then((result) => {
    exited = true;
    return result;
  });
  // Descendants seen so far, identified by pid and start time, killed if they outlive the root.
  const knownDescendants = new Map<number, number>();

  const stop = async () => {
    untrack();
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited just now.
      }
      const stopped = await Promise.race([status.then(() => true), delay(STOP_GRACE_MS)]);
      if (!stopped) {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited just now.
        }
        await status;
      }
    }
    for (const [pid, startTime] of knownDescendants) {
      try {
        if (isAlive(pid, startTime)) Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone between the check and the kill.
      }
    }
    await pumps;
  };
  const untrack = trackChild(stop);

  const server: RunningServer = {
    name,
    pid: child.pid,
    origin: options.origin,
    launch,
    processIds() {
      const tree = processTree(child.pid);
      for (const stat of tree.slice(1)) knownDescendants.set(stat.pid, stat.startTime);
      return tree.map((stat) => stat.pid);
    },
    isRunning: () => !exited,
    logTail: () => tail.join("\n"),
    stop,
  };

  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (exited) {
      await stop();
      const lastLine = tail.findLast((line) => line.trim() !== "") ?? "no output";
      throw new Error(
        `${name} exited during startup (${await describeExit(status)}): ${lastLine}\n` +
          server.logTail(),
      );
    }
    if (sawReadyLine && await answersHttp(options.origin)) {
      server.processIds();
      return server;
    }
    await delay(50);
  }
  await stop();
  throw new Error(`${name} did not answer within ${options.timeoutMs} ms:\n${server.logTail()}`);
}

async function describeExit(status: Promise<Deno.CommandStatus>): Promise<string> {
  const { code, signal } = await status;
  return signal === null ? `exit code ${code}` : `signal ${signal}`;
}
