/**
 * Every core: runs N servers on one port as Web Workers (shared-nothing
 * isolates in one process, each with its own event loop), the kernel
 * spreading connections among them (`SO_REUSEPORT`, Linux). The main thread
 * only starts them, writes what they report (access log lines whole, never
 * interleaved), restarts one that dies, and drains them all on shutdown.
 *
 * Workers share nothing in memory: whatever two of them must agree on lives
 * on disk (conditional writes lock across processes, see
 * `lib/storage/path_locks.ts`); what each keeps in memory is a cache checked
 * against the disk, or per worker on purpose (the login throttle).
 *
 * @module
 */

import type { LogFormat } from "./access_log.ts";
import type { ServeOptions } from "../mod.ts";

/** What a worker needs to start: the options that survive a structured clone (no callbacks). */
export type WorkerOptions = Omit<
  ServeOptions,
  "onExchange" | "onError" | "onNotice" | "reusePort"
>;

/** Messages from the main thread to a worker. */
export type ToWorker =
  | { type: "start"; options: WorkerOptions; logFormat: LogFormat | null }
  | { type: "shutdown" };

/** Messages from a worker to the main thread. */
export type ToMain =
  | { type: "listening"; port: number; url: string; root: string }
  | { type: "failed"; name: string; message: string }
  | { type: "swept"; removed: number }
  | { type: "log"; line: string }
  | { type: "error"; text: string }
  | { type: "notice"; text: string }
  | { type: "stopped" };

/** Where the main thread sends what the workers report. */
export interface WorkerReports {
  /** One access log line, without its newline. */
  log(line: string): void;
  /** An unexpected error inside a worker (the client saw a bare 500). */
  error(text: string): void;
  /** A line for the operator (resets, descriptors, a worker restarted). */
  notice(text: string): void;
  /** How many crash-debris temp files the first worker's start-up removed. */
  swept(removed: number): void;
}

/** A running set of workers. */
export interface WorkerServer {
  /** The base URL, such as `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** ROOT as the first worker resolved it. */
  readonly root: string;
  /** The shared port. */
  readonly port: number;
  /** How many workers run. */
  readonly count: number;
  /** Lets every worker finish its requests in flight (its grace period), then stops them all. */
  shutdown(): Promise<void>;
  /** Settles once every worker has stopped. */
  readonly finished: Promise<void>;
}

/** Deno's errors by name, so that a failed bind reads the same as with one server. */
function rebuildError(name: string, message: string): Error {
  const classes = Deno.errors as unknown as Record<string, new (message: string) => Error>;
  const ErrorClass = classes[name];
  return ErrorClass === undefined ? new Error(message) : new ErrorClass(message);
}

/** A worker that restarts are counted against: past this many in a minute, it stays down. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * Starts `count` workers serving `options` on one port (the first binds it,
 * port 0 included; the others join it) and resolves once all listen. A bind
 * failure rejects with the same error `serve()` throws. `entry` is the
 * worker module (tests give one that fails on purpose).
 */
export async function serveWithWorkers(
  options: WorkerOptions,
  count: number,
  logFormat: LogFormat | null,
  reports: WorkerReports,
  entry: URL = new URL("./worker.ts", import.meta.url),
): Promise<WorkerServer> {
  const workers = new Set<Worker>();
  let stopping = false;
  let finishedResolve!: () => void;
  const finished = new Promise<void>((resolve) => (finishedResolve = resolve));
  const stopped = new Map<Worker, Promise<void>>();

  /** Starts one worker; resolves with what it reported on start-up. */
  const spawn = (workerOptions: WorkerOptions, index: number, restarts: number[]) =>
    new Promise<Extract<ToMain, { type: "listening" }>>((resolve, reject) => {
      const worker = new Worker(entry.href, { type: "module" });
      workers.add(worker);
      let listening: Extract<ToMain, { type: "listening" }> | null = null;
      let stoppedResolve!: () => void;
      stopped.set(worker, new Promise<void>((r) => (stoppedResolve = r)));
      const forget = () => {
        workers.delete(worker);
        stoppedResolve();
      };
      worker.onmessage = (event: MessageEvent<ToMain>) => {
        const message = event.data;
        switch (message.type) {
          case "listening":
            listening = message;
            return resolve(message);
          case "failed":
            forget();
            worker.terminate();
            return reject(rebuildError(message.name, message.message));
          case "swept":
            if (index === 0) reports.swept(message.removed);
            return;
          case "log":
            return reports.log(message.line);
          case "error":
            return reports.error(message.text);
          case "notice":
            return reports.notice(message.text);
          case "stopped":
            worker.terminate();
            return forget();
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        // A worker's uncaught error ends that worker, never the server.
        event.preventDefault();
        worker.terminate();
        forget();
        if (listening === null) {
          return reject(new Error(`worker ${index} failed: ${event.message}`));
        }
        if (stopping) return;
        const now = Date.now();
        const recent = [...restarts.filter((at) => now - at < 60_000), now];
        if (recent.length > MAX_RESTARTS_PER_MINUTE) {
          reports.notice(`worker ${index} died (${event.message}) too often; not restarted`);
          return;
        }
        reports.notice(`worker ${index} died (${event.message}); restarting it`);
        // On the port it had (the first worker may have been given port 0).
        const again = { ...workerOptions, port: listening.port, sweepOnStart: false };
        spawn(again, index, recent).catch((error) =>
          reports.notice(`worker ${index} could not restart: ${error}`)
        );
      };
      worker.postMessage({ type: "start", options: workerOptions, logFormat } satisfies ToWorker);
    });

  const first = await spawn(options, 0, []);
  // The others join the port the first one bound, and leave crash debris to it.
  const joined = { ...options, port: first.port, sweepOnStart: false };
  try {
    for (let index = 1; index < count; index++) await spawn(joined, index, []);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }

  let shutdownPromise: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
      const waiting = [...workers].map((worker) => {
        worker.postMessage({ type: "shutdown" } satisfies ToWorker);
        return stopped.get(worker)!;
      });
      await Promise.all(waiting);
      finishedResolve();
    })();
    return shutdownPromise;
  };
  return { url: first.url, root: first.root, port: first.port, count, shutdown, finished };
}
