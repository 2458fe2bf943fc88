/**
 * Memory check: a large upload and a large download through the real
 * `filedrop` command (main.ts), while the server's resident memory is
 * sampled from /proc/PID/status about every 50 ms (and its kernel-kept peak,
 * VmHWM, is reset before each phase and read after it). Linux only.
 *
 * The upload streams from a generator (fetch sends it chunked) and the
 * download is hashed and discarded, so this process holds about one 1 MiB
 * chunk at a time.
 *
 * Usage: `deno task memory-check [--size SIZE] [--limit-mb N]`: runs the
 * check with fsync on and with --no-fsync, prints peak RSS and throughput of
 * each phase, and exits 1 if a peak reaches the limit or a digest differs.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { parseSize } from "../lib/cli.ts";
import { labelledBytes, startServerProcess } from "./crash_test.ts";

const CHUNK_BYTES = 1024 * 1024;
const SAMPLE_INTERVAL_MS = 50;
/** The goal: the server stays under 150 MB (10^6 bytes) resident. */
export const RSS_LIMIT_BYTES = 150 * 1000 * 1000;

/**
 * The text of `/proc/PID/NAME`. Read through `cat`: Deno grants /proc/PID
 * files only with --allow-all, and the test suite runs with --allow-run.
 */
async function readProcFile(pid: number, name: string): Promise<string> {
  const output = await new Deno.Command("cat", {
    args: [`/proc/${pid}/${name}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr).trim());
  return new TextDecoder().decode(output.stdout);
}

/** Reads a `kB` field (such as `VmRSS`) of /proc/PID/status, in bytes; null when absent. */
export async function readStatusBytes(pid: number, field: string): Promise<number | null> {
  const text = await readProcFile(pid, "status");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return match === null ? null : Number(match[1]) * 1024;
}

/** Samples a process's VmRSS about every 50 ms and keeps the peak. */
class RssSampler {
  #peak = 0;
  #samples = 0;
  #running = true;
  readonly #loop: Promise<void>;

  constructor(readonly pid: number) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const started = performance.now();
      await this.#sample();
      const wait = SAMPLE_INTERVAL_MS - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async #sample(): Promise<void> {
    const rss = await readStatusBytes(this.pid, "VmRSS").catch(() => null);
    if (rss === null) return;
    this.#samples++;
    this.#peak = Math.max(this.#peak, rss);
  }

  /** Stops, takes a last sample, and returns the peak and the number of samples. */
  async stop(): Promise<{ peakBytes: number; samples: number }> {
    this.#running = false;
    await this.#loop;
    await this.#sample();
    return { peakBytes: this.#peak, samples: this.#samples };
  }
}

/**
 * Resets the process's VmHWM to its current RSS (writing 5 to clear_refs,
 * Linux 4.0 and later); false when that failed.
 */
async function resetHighWater(pid: number): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", 'printf 5 > "/proc/$0/clear_refs"', String(pid)],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/** What one phase (the upload or the download) measured. */
export interface PhaseResult {
  /** The response status. */
  status: number;
  /** Wall time of the transfer, seconds. */
  seconds: number;
  /** Bytes moved per second. */
  bytesPerSecond: number;
  /** Highest VmRSS sampled during the phase, bytes. */
  sampledPeakBytes: number;
  /** VmRSS samples taken. */
  samples: number;
  /** The kernel's VmHWM for the phase, bytes; null when it could not be reset. */
  highWaterBytes: number | null;
}

/** The outcome of {@linkcode runMemoryCheck}. */
export interface MemoryCheckResult {
  /** Server VmRSS before the upload, bytes. */
  idleRssBytes: number;
  /** The upload. */
  put: PhaseResult;
  /** The download. */
  get: PhaseResult;
  /** Base64 SHA-256 of the bytes uploaded. */
  sentSha256: string;
  /** The upload response's `Repr-Digest`. */
  storedDigest: string | null;
  /** Bytes the download returned. */
  receivedBytes: number;
  /** Base64 SHA-256 of the bytes downloaded. */
  receivedSha256: string;
}

/** The peak of a phase: the higher of the sampled peak and the kernel's high-water mark. */
export function phasePeakBytes(phase: PhaseResult): number {
  return Math.max(phase.sampledPeakBytes, phase.highWaterBytes ?? 0);
}

/**
 * A body of `bytes` bytes made of 1 MiB chunks, each a fresh copy of one
 * pseudo-random block stamped with its index, pulled one at a time; `hash`
 * sees every chunk as it goes out.
 */
function generatedBody(
  bytes: number,
  hash: ReturnType<typeof createHash>,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const block = labelledBytes("filedrop memory check\n", CHUNK_BYTES, 1);
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const chunk = block.slice(0, Math.min(CHUNK_BYTES, bytes - sent));
      new DataView(chunk.buffer).setUint32(0, index++);
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** Measures `transfer` while sampling the server's memory. */
async function measurePhase(
  pid: number,
  bytes: number,
  transfer: () => Promise<number>,
): Promise<PhaseResult> {
  const highWaterReset = await resetHighWater(pid);
  const sampler = new RssSampler(pid);
  const started = performance.now();
  let status: number;
  let seconds: number;
  let sampled: { peakBytes: number; samples: number };
  try {
    status = await transfer();
    seconds = (performance.now() - started) / 1000;
  } finally {
    sampled = await sampler.stop();
  }
  const { peakBytes, samples } = sampled;
  return {
    status,
    seconds,
    bytesPerSecond: bytes / seconds,
    sampledPeakBytes: peakBytes,
    samples,
    highWaterBytes: highWaterReset ? await readStatusBytes(pid, "VmHWM") : null,
  };
}

/**
 * Starts main.ts over a fresh temp ROOT, PUTs a generated file of `bytes`
 * bytes, GETs it back, and returns what the server's memory did. The file
 * and ROOT are removed afterwards.
 */
export async function runMemoryCheck(
  options: { bytes: number; fsync: boolean },
): Promise<MemoryCheckResult> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-memory-" });
  const args = options.fsync ? ["--quiet"] : ["--quiet", "--no-fsync"];
  const server = await startServerProcess(root, args);
  using client = Deno.createHttpClient({});
  try {
    const url = `${server.url}big.bin`;
    const idleRssBytes = (await readStatusBytes(server.pid, "VmRSS")) ?? 0;

    const sentHash = createHash("sha256");
    let storedDigest: string | null = null;
    const put = await measurePhase(server.pid, options.bytes, async () => {
      const response = await fetch(url, {
        method: "PUT",
        body: generatedBody(options.bytes, sentHash),
        // The server answers with the stored body's digest when asked for it.
        headers: { "Want-Repr-Digest": "sha-256=1" },
        client,
      });
      storedDigest = response.headers.get("repr-digest");
      await response.body?.cancel();
      return response.status;
    });

    const receivedHash = createHash("sha256");
    let receivedBytes = 0;
    const get = await measurePhase(server.pid, options.bytes, async () => {
      const response = await fetch(url, { headers: { "accept-encoding": "identity" }, client });
      for await (const chunk of response.body ?? []) {
        receivedHash.update(chunk);
        receivedBytes += chunk.length;
      }
      return response.status;
    });

    await server.stop();
    return {
      idleRssBytes,
      put,
      get,
      sentSha256: sentHash.digest("base64"),
      storedDigest,
      receivedBytes,
      receivedSha256: receivedHash.digest("base64"),
    };
  } finally {
    await server.kill();
    await Deno.remove(root, { recursive: true });
  }
}

/** Every way `result` falls short of a correct transfer under `limitBytes`; empty when none. */
export function memoryCheckProblems(
  result: MemoryCheckResult,
  bytes: number,
  limitBytes: number,
): string[] {
  const problems: string[] = [];
  if (result.put.status !== 201) problems.push(`PUT answered ${result.put.status}, not 201`);
  if (result.storedDigest !== `sha-256=:${result.sentSha256}:`) {
    problems.push(`PUT Repr-Digest ${result.storedDigest} differs from the body sent`);
  }
  if (result.get.status !== 200) problems.push(`GET answered ${result.get.status}, not 200`);
  if (result.receivedBytes !== bytes) {
    problems.push(`GET returned ${result.receivedBytes} bytes, not ${bytes}`);
  }
  if (result.receivedSha256 !== result.sentSha256) problems.push("GET returned other bytes");
  for (const [name, phase] of [["PUT", result.put], ["GET", result.get]] as const) {
    if (phasePeakBytes(phase) >= limitBytes) {
      problems.push(`server RSS reached ${megabytes(phasePeakBytes(phase))} during the ${name}`);
    }
  }
  return problems;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function describePhase(name: string, phase: PhaseResult): string {
  const highWater = phase.highWaterBytes === null ? "n/a" : megabytes(phase.highWaterBytes);
  return `${name}: ${phase.status} in ${phase.seconds.toFixed(2)} s ` +
    `(${megabytes(phase.bytesPerSecond)}/s); peak RSS sampled ${
      megabytes(phase.sampledPeakBytes)
    } ` +
    `(${phase.samples} samples), VmHWM ${highWater}`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      size: { type: "string", default: "2G" },
      "limit-mb": { type: "string", default: String(RSS_LIMIT_BYTES / 1e6) },
    },
  });
  const bytes = parseSize(values.size);
  const limitBytes = Number(values["limit-mb"]) * 1e6;
  if (!(bytes > 0) || !(limitBytes > 0)) throw new Error("--size and --limit-mb must be positive");
  console.log(`memory check: ${bytes} bytes up and down, RSS limit ${megabytes(limitBytes)}`);
  let failed = false;
  for (const fsync of [true, false]) {
    const result = await runMemoryCheck({ bytes, fsync });
    console.log(
      `fsync ${fsync ? "on" : "off (--no-fsync)"}: idle RSS ${megabytes(result.idleRssBytes)}`,
    );
    console.log(`  ${describePhase("PUT", result.put)}`);
    console.log(`  ${describePhase("GET", result.get)}`);
    for (const problem of memoryCheckProblems(result, bytes, limitBytes)) {
      console.error(`  FAIL ${problem}`);
      failed = true;
    }
  }
  console.log(failed ? "FAIL" : "PASS");
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
