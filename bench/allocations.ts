/**
 * `deno task bench:alloc`: how many bytes our server allocates per request,
 * and in which functions, under one benchmark case's load. It starts
 * `main.ts` (pinned to CPU 0, with `--inspect` on a free port) on a fresh
 * fixture root, warms it up with wrk (CPU 1), then samples the V8 heap
 * allocations through the inspector (`HeapProfiler.startSampling`, counting
 * objects the garbage collector has already freed) while wrk runs, and
 * prints the bytes per request and the functions that allocated most.
 *
 * Why: allocation drives the collector's work, and unlike throughput it
 * barely moves with other processes' load, so it can compare two versions on
 * a busy machine. With `--survivors` it counts only what outlived a
 * young-generation collection: V8 grows the young generation (peak RSS) by
 * what survives, so that is where memory under load is won. Function names
 * are exact; the line numbers are those of the transpiled JavaScript, not the
 * TypeScript.
 *
 * ```sh
 * deno task bench:alloc [--case get-1k] [--duration 3] [--top 20] [--survivors]
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BENCH_CASES, createFixtures } from "./cases.ts";
import { findExecutable } from "./servers.ts";
import { startWrk } from "./wrk.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const HOST = "127.0.0.1";

/** A node of V8's sampling heap profile (a call path, with the bytes allocated in its last frame). */
export interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
class Inspector {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.#pending.get(message.id)?.(message.result);
    };
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new Inspector(socket);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    const reply = new Promise<T>((resolve) =>
      this.#pending.set(id, resolve as (r: unknown) => void)
    );
    this.#socket.send(JSON.stringify({ id, method, params }));
    return reply;
  }

  close(): void {
    this.#socket.close();
  }
}

/**
 * Self bytes per function (name, file and transpiled line), summed over the
 * profile: a function reached through several call paths counts once.
 */
export function bytesByFunction(root: ProfileNode): Map<string, number> {
  const totals = new Map<string, number>();
  const visit = (node: ProfileNode) => {
    const frame = node.callFrame;
    const file = frame.url.split("/").slice(-2).join("/");
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    totals.set(key, (totals.get(key) ?? 0) + node.selfSize);
    node.children.forEach(visit);
  };
  visit(root);
  return totals;
}

/**
 * The inspector's WebSocket address, from the line the server prints on
 * stderr. The rest of stderr is read and dropped: a closed pipe would make
 * the server's next notice (wrk's resets at the end of a run) kill it.
 */
async function inspectorUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server printed no inspector address:\n${seen}`);
    seen += value;
    const match = /ws:\/\/\S+/.exec(seen);
    if (match) {
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return match[0];
    }
  }
}

async function waitUntilServing(origin: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await (await fetch(`${origin}/`)).body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no answer from ${origin}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      case: { type: "string", default: "get-1k" },
      duration: { type: "string", default: "3" },
      top: { type: "string", default: "20" },
      survivors: { type: "boolean", default: false },
    },
  });
  const benchCase = BENCH_CASES.find((c) => c.name === values.case);
  if (!benchCase) throw new Error(`unknown case ${values.case}`);
  const wrk = findExecutable("wrk");
  if (wrk === null) throw new Error("wrk is not installed (apt-get install -y wrk)");
  const durationSeconds = Number(values.duration);

  const work = await Deno.makeTempDir({ prefix: "filedrop-alloc-" });
  const root = join(work, "root");
  await Deno.mkdir(root);
  await createFixtures(root);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const inspectPort = port + 1;
  const server = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      Deno.execPath(),
      "run",
      `--inspect=${HOST}:${inspectPort}`,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      MAIN,
      "--host",
      HOST,
      "--port",
      String(port),
      "--no-fsync",
      "--log",
      "off",
      root,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const inspector = await Inspector.connect(await inspectorUrl(server.stderr));
    const origin = `http://${HOST}:${port}`;
    await waitUntilServing(origin);
    const headers = { ...benchCase.headers };
    if (benchCase.conditional) {
      const response = await fetch(`${origin}${benchCase.path}`);
      await response.body?.cancel();
      headers["If-None-Match"] = response.headers.get("etag") ?? "";
    }
    const load = (seconds: number) =>
      startWrk(wrk, {
        url: `${origin}${benchCase.path}`,
        method: benchCase.method,
        bodyBytes: benchCase.requestBodyBytes,
        headers,
        connections: 50,
        durationSeconds: seconds,
        threads: 1,
        cpus: [1],
      }).finished;
    await load(1);
    await inspector.call("HeapProfiler.enable");
    await inspector.call("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: !values.survivors,
    });
    const outcome = await load(durationSeconds);
    const { profile } = await inspector.call<{ profile: { head: ProfileNode } }>(
      "HeapProfiler.stopSampling",
    );
    inspector.close();
    const requests = outcome.summary?.requests ?? 0;
    if (requests === 0) throw new Error(`wrk completed no request: ${outcome.output}`);
    const totals = bytesByFunction(profile.head);
    const total = [...totals.values()].reduce((sum, bytes) => sum + bytes, 0);
    console.log(
      `${benchCase.name}: ${requests} requests in ${durationSeconds} s, ` +
        `${(total / 1e6).toFixed(1)} MB ${
          values.survivors ? "outlived a scavenge" : "allocated"
        }, ${Math.round(total / requests)} bytes per request`,
    );
    const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
    for (const [name, bytes] of top) {
      console.log(`${(100 * bytes / total).toFixed(1).padStart(5)}%  ${name}`);
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) await main();
