/**
 * Crash test of uploads: runs the real `filedrop` command (main.ts), sends
 * many concurrent PUTs of known contents to files that already hold a known
 * content, kills the server with SIGKILL at a seeded random moment, restarts
 * it on the same ROOT, and checks that every file holds its previous content
 * or one complete new one, that every acknowledged PUT survived, and that the
 * restarted server removed every temp file the crash left.
 *
 * A SIGKILL loses the process, not the page cache: this proves atomic
 * replacement and clean-up, not durability across a power loss.
 *
 * Usage: `deno task crash-test [--rounds N] [--puts N] [--files N]
 * [--concurrency N] [--min-size SIZE] [--max-size SIZE] [--seed N] [--no-fsync]`
 *
 * @module
 */

import { firstLine } from "../tests/_helpers.ts";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize } from "../lib/cli.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { createPrng } from "./soak/prng.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MAIN = path.join(PROJECT, "main.ts");
/** How long a restarted server may take to remove the temp files of a crash. */
const CLEANUP_TIMEOUT_MS = 5_000;
/** Uploads per round that send half their body and wait, so every kill leaves temp files. */
export const STALLED_PUTS = 3;
/** Uploads per round acknowledged before the others start, so every round checks durability. */
export const SETTLED_PUTS = 3;

/** A number in [0, 1) from `next`. */
function fraction(next: () => number): number {
  return next() / 2 ** 32;
}

/**
 * `length` pseudo-random bytes that start with `label`, so that bodies with
 * different labels always differ.
 */
export function labelledBytes(
  label: string,
  length: number,
  seed: number,
): Uint8Array<ArrayBuffer> {
  const next = createPrng(seed);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  const bytes = new Uint8Array(words.buffer, 0, length);
  bytes.set(new TextEncoder().encode(label).subarray(0, length));
  return bytes;
}

/** The hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// --- The server process ------------------------------------------------------------

/** A running `deno run main.ts` process. */
export interface ServerProcess {
  /** The base URL from its first stdout line. */
  readonly url: string;
  /** Its process id (the Deno process serving requests, so /proc/PID is the server). */
  readonly pid: number;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Everything it wrote to stdout after its first line so far (the access log). */
  stdout(): string;
  /** Sends SIGKILL and waits until it is gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM and resolves with its exit code. */
  stop(): Promise<number>;
}

/**
 * Spawns `deno run --allow-net --allow-read --allow-write ...denoFlags main.ts
 * --port 0 ...args ROOT` and resolves once its first stdout line gives the
 * URL. Its output is read until it exits (kept, for the tests that judge
 * it), so it never blocks on a full pipe.
 */
export async function startServerProcess(
  root: string,
  args: readonly string[] = [],
  denoFlags: readonly string[] = [],
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      ...denoFlags,
      MAIN,
      "--port",
      "0",
      ...args,
      root,
    ],
    cwd: PROJECT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderrText = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (stderrText += text) }),
  );
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner: string;
  try {
    banner = await firstLine(lines, () => stderrText);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();
    await stderrDone;
    throw error;
  }
  let stdoutText = "";
  const stdoutDone = (async () => {
    for (let chunk = await lines.read(); !chunk.done; chunk = await lines.read()) {
      stdoutText += chunk.value;
    }
  })();
  const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(banner);
  if (match === null) {
    child.kill("SIGKILL");
    await Promise.all([child.status, stdoutDone, stderrDone]);
    throw new Error(`no URL in the first line: ${banner}`);
  }
  const exited = async () => {
    const status = await child.status;
    await Promise.all([stdoutDone, stderrDone]);
    return status.code;
  };
  const signal = (name: Deno.Signal) => {
    try {
      child.kill(name);
    } catch { /* already gone */ }
  };
  return {
    url: match[0],
    pid: child.pid,
    stderr: () => stderrText,
    stdout: () => stdoutText,
    kill: async () => {
      signal("SIGKILL");
      await exited();
    },
    stop: () => {
      signal("SIGTERM");
      return exited();
    },
  };
}

// --- Judging the files after a crash --------------------------------------------------

/** One PUT of a round, as the client saw it. */
export interface PutRecord {
  /** The target, relative to ROOT. */
  file: string;
  /** Hex SHA-256 of the body sent. */
  sha256: string;
  /** `performance.now()` just before the request was sent. */
  startedAt: number;
  /** `performance.now()` when a 2xx answer arrived; null when none did. */
  ackedAt: number | null;
}

/** What a file may hold after the crash, and why. */
export type FileVerdict =
  | { ok: true; holds: "previous" | "new" }
  | { ok: false; reason: string };

/**
 * Judges one file after the restart. It must hold its previous content or
 * the body of one PUT sent to it. When some PUT to it was acknowledged, it
 * must hold a new body, and not one that a later-started acknowledged PUT
 * certainly replaced: a PUT acknowledged before another began was renamed
 * into place before that one's rename, so it cannot be the last.
 *
 * @param previousSha256 hex SHA-256 of the content before the round
 * @param puts the PUTs sent to this file in the round
 * @param actualSha256 hex SHA-256 of the content on disk now, or null when the file is missing
 */
export function judgeFile(
  previousSha256: string,
  puts: readonly PutRecord[],
  actualSha256: string | null,
): FileVerdict {
  if (actualSha256 === null) return { ok: false, reason: "the file is missing" };
  const match = puts.find((put) => put.sha256 === actualSha256);
  if (actualSha256 !== previousSha256 && match === undefined) {
    return { ok: false, reason: "holds neither its previous content nor any body sent to it" };
  }
  const acked = puts.filter((put) => put.ackedAt !== null);
  if (acked.length === 0) return { ok: true, holds: match === undefined ? "previous" : "new" };
  if (match === undefined) {
    return {
      ok: false,
      reason: `holds its previous content after ${acked.length} acknowledged PUT(s)`,
    };
  }
  const lastAckedStart = Math.max(...acked.map((put) => put.startedAt));
  if (match.ackedAt !== null && match.ackedAt < lastAckedStart) {
    return {
      ok: false,
      reason: "holds a body that a later acknowledged PUT replaced (a lost acknowledged write)",
    };
  }
  return { ok: true, holds: "new" };
}

// --- One crash round ---------------------------------------------------------------

/** Settings of {@linkcode runCrashTest}. */
export interface CrashTestOptions {
  /** Kill-and-restart rounds. */
  rounds: number;
  /** PUTs planned per round (those not started before the kill are dropped). */
  puts: number;
  /** Files the PUTs go to, some in a subdirectory. */
  files: number;
  /** Most PUTs in flight at once. */
  concurrency: number;
  /** Smallest body, bytes. */
  minBytes: number;
  /** Largest body, bytes. */
  maxBytes: number;
  /** Seed of the plan and the kill points. */
  seed: number;
  /** Run the server with fsync (its default); false passes --no-fsync. */
  fsync: boolean;
  /** Called with each round's result as it ends. */
  onRound?: (result: RoundResult) => void;
}

/** The counts of one round. */
export interface RoundResult {
  /** The round's number, from 1. */
  round: number;
  /** Milliseconds from the round's first PUT to the SIGKILL. */
  killAtMs: number;
  /** PUTs sent before the kill, the settled and stalled ones included. */
  started: number;
  /** PUTs answered 2xx (so renamed into place, and flushed with fsync on). */
  acknowledged: number;
  /** PUTs still unanswered when the server died. */
  inFlightAtKill: number;
  /** Files holding the content they had before the round. */
  filesAtPrevious: number;
  /** Files holding a body of this round. */
  filesAtNew: number;
  /** Temp files on disk after the kill, before the restart. */
  tempsLeftByCrash: number;
  /** Temp files the restarted server said it removed. */
  tempsRemovedAtRestart: number;
  /** Milliseconds from the restart's first stdout line until no temp file was left. */
  cleanupMs: number;
}

/** The outcome of {@linkcode runCrashTest}. */
export interface CrashTestResult {
  /** The counts of each round, in order. */
  rounds: RoundResult[];
  /** Every broken promise found, one sentence each; empty when all held. */
  violations: string[];
}

/** Paths under `root` (relative) of files named like upload temp files. */
async function findTempFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    for await (const entry of Deno.readDir(path.join(root, relative))) {
      const child = path.join(relative, entry.name);
      if (entry.isDirectory) pending.push(child);
      else if (entry.name.startsWith(TEMP_PREFIX)) found.push(child);
    }
  }
  return found;
}

async function fileSha256(file: string): Promise<string | null> {
  try {
    return sha256Hex(await Deno.readFile(file));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface PlannedPut {
  file: string;
  label: string;
  length: number;
  seed: number;
}

/** What a batch of PUTs saw. */
interface Batch {
  records: PutRecord[];
  /** Statuses of answers that were not 2xx. */
  failures: number[];
  /** Milliseconds from the first request to the last settled one. */
  durationMs: number;
}

/**
 * Sends `plan`, at most `concurrency` at once. With `killAtMs`, SIGKILLs the
 * server that long after the first request and starts no more PUTs. Resolves
 * when every request has settled.
 */
async function sendPuts(
  server: ServerProcess,
  plan: readonly PlannedPut[],
  concurrency: number,
  killAtMs: number | null,
): Promise<Batch> {
  const records: PutRecord[] = [];
  const failures: number[] = [];
  using client = Deno.createHttpClient({});
  let killed = false;
  const killing = killAtMs === null ? null : delay(killAtMs).then(() => {
    killed = true;
    return server.kill();
  });
  const started = performance.now();
  let nextIndex = 0;
  const worker = async () => {
    while (!killed && nextIndex < plan.length) {
      const planned = plan[nextIndex++];
      const body = labelledBytes(planned.label, planned.length, planned.seed);
      const record: PutRecord = {
        file: planned.file,
        sha256: sha256Hex(body),
        startedAt: performance.now(),
        ackedAt: null,
      };
      records.push(record);
      try {
        const response = await fetch(`${server.url}${planned.file}`, {
          method: "PUT",
          body,
          client,
        });
        if (response.ok) record.ackedAt = performance.now();
        else failures.push(response.status);
        await response.body?.cancel();
      } catch {
        // The connection died with the server: this PUT was not acknowledged.
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = performance.now() - started;
  await killing;
  return { records, failures, durationMs };
}

/**
 * Starts a PUT that sends half of `body` and then waits, so that the server
 * holds a half-written temp file when it is killed. Close the connection
 * once the server is gone.
 */
async function startStalledPut(url: string, file: string, body: Uint8Array): Promise<Deno.Conn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const head = `PUT /${file} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  const half = body.subarray(0, body.length >> 1);
  for (const piece of [new TextEncoder().encode(head), half]) {
    let offset = 0;
    while (offset < piece.length) offset += await conn.write(piece.subarray(offset));
  }
  return conn;
}

/** Polls ROOT until at least `count` temp files exist; false if the time is up. */
async function waitForTemps(root: string, count: number): Promise<boolean> {
  const started = performance.now();
  while (performance.now() - started < CLEANUP_TIMEOUT_MS) {
    if ((await findTempFiles(root)).length >= count) return true;
    await delay(5);
  }
  return false;
}

/** Polls ROOT until no temp file is left or the time is up; returns the ms it took, or null. */
async function waitForNoTemps(root: string): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < CLEANUP_TIMEOUT_MS) {
    if ((await findTempFiles(root)).length === 0) return Math.round(performance.now() - started);
    await delay(20);
  }
  return null;
}

/** The count in the server's "removed N temp file(s)" stderr line, waiting for it briefly. */
async function reportedRemovals(server: ServerProcess, expected: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const match = /removed (\d+) temp file\(s\)/.exec(server.stderr());
    if (match !== null) return Number(match[1]);
    if (expected === 0 || performance.now() - started > CLEANUP_TIMEOUT_MS) return 0;
    await delay(20);
  }
}

/**
 * Runs the crash test in a fresh temp ROOT (removed afterwards) and returns
 * the counts and every violation found.
 *
 * Before the rounds, two batches of PUTs run without a kill, the second to
 * measure how long a batch takes; each round then kills at a seeded random moment
 * between 2% and 92% of that. Each round first completes
 * {@linkcode SETTLED_PUTS} uploads one by one (acknowledged writes that must
 * survive) and holds {@linkcode STALLED_PUTS} half-sent uploads open (temp
 * files that the restart must remove).
 */
export async function runCrashTest(options: CrashTestOptions): Promise<CrashTestResult> {
  const next = createPrng(options.seed);
  const root = await Deno.makeTempDir({ prefix: "filedrop-crash-" });
  const serverArgs = options.fsync ? ["--quiet"] : ["--quiet", "--no-fsync"];
  const files = Array.from(
    { length: options.files },
    (_, i) => (i % 3 === 2 ? `sub/file-${i}.bin` : `file-${i}.bin`),
  );
  const planBatch = (name: string): PlannedPut[] =>
    Array.from({ length: options.puts }, (_, i) => ({
      file: files[next() % files.length],
      label: `${name} put ${i}\n`,
      length: options.minBytes + (next() % (options.maxBytes - options.minBytes + 1)),
      seed: next(),
    }));
  const current = new Map<string, string>();
  const violations: string[] = [];
  const results: RoundResult[] = [];
  let server: ServerProcess | null = null;
  const stalled: Deno.Conn[] = [];
  try {
    await Deno.mkdir(path.join(root, "sub"));
    for (const [i, file] of files.entries()) {
      const content = labelledBytes(`initial ${file}\n`, 1024 + i, next());
      await Deno.writeFile(path.join(root, file), content);
    }
    server = await startServerProcess(root, serverArgs);
    // The first batch also warms up both processes; the second one is timed.
    let calibration: Batch | null = null;
    for (const name of ["warm-up", "calibration"]) {
      calibration = await sendPuts(server, planBatch(name), options.concurrency, null);
      const unacknowledged = calibration.records.filter((put) => put.ackedAt === null).length;
      if (unacknowledged > 0) violations.push(`${name}: ${unacknowledged} PUT(s) failed`);
    }
    const batchMs = calibration!.durationMs;
    for (const file of files) current.set(file, (await fileSha256(path.join(root, file)))!);

    for (let round = 1; round <= options.rounds; round++) {
      const settled = await sendPuts(
        server,
        planBatch(`round ${round} settled`).slice(0, SETTLED_PUTS),
        1,
        null,
      );
      const stalledRecords: PutRecord[] = [];
      for (let i = 0; i < STALLED_PUTS; i++) {
        const file = files[next() % files.length];
        const body = labelledBytes(`round ${round} stalled ${i}\n`, options.maxBytes, next());
        stalled.push(await startStalledPut(server.url, file, body));
        stalledRecords.push({ file, sha256: sha256Hex(body), startedAt: 0, ackedAt: null });
      }
      if (!(await waitForTemps(root, STALLED_PUTS))) {
        violations.push(`round ${round}: the stalled uploads made no temp files`);
      }
      const killAtMs = Math.round(batchMs * (0.02 + 0.9 * fraction(next)));
      const batch = await sendPuts(
        server,
        planBatch(`round ${round}`),
        options.concurrency,
        killAtMs,
      );
      for (const conn of stalled.splice(0)) conn.close();
      for (const status of [...settled.failures, ...batch.failures]) {
        violations.push(`round ${round}: a PUT was answered ${status} before the kill`);
      }
      const records = [...settled.records, ...stalledRecords, ...batch.records];
      const internalError = /^filedrop: internal error.*$/m.exec(server.stderr());
      if (internalError !== null) violations.push(`round ${round}: ${internalError[0]}`);

      const tempsLeft = (await findTempFiles(root)).length;
      server = await startServerProcess(root, serverArgs);
      const cleanupMs = await waitForNoTemps(root);
      if (cleanupMs === null) {
        const left = await findTempFiles(root);
        violations.push(
          `round ${round}: ${left.length} temp file(s) left after the restart, such as ${left[0]}`,
        );
      }
      const tempsRemoved = await reportedRemovals(server, tempsLeft);
      if (tempsRemoved !== tempsLeft) {
        violations.push(
          `round ${round}: ${tempsLeft} temp file(s) left by the crash, ` +
            `the restarted server reported removing ${tempsRemoved}`,
        );
      }

      let filesAtPrevious = 0;
      let filesAtNew = 0;
      for (const file of files) {
        const actual = await fileSha256(path.join(root, file));
        const verdict = judgeFile(
          current.get(file)!,
          records.filter((record) => record.file === file),
          actual,
        );
        if (!verdict.ok) violations.push(`round ${round}: ${file} ${verdict.reason}`);
        else if (verdict.holds === "previous") filesAtPrevious++;
        else filesAtNew++;
        if (actual !== null) current.set(file, actual);
      }
      const acknowledged = records.filter((record) => record.ackedAt !== null).length;
      const result: RoundResult = {
        round,
        killAtMs,
        started: records.length,
        acknowledged,
        inFlightAtKill: records.length - acknowledged - settled.failures.length -
          batch.failures.length,
        filesAtPrevious,
        filesAtNew,
        tempsLeftByCrash: tempsLeft,
        tempsRemovedAtRestart: tempsRemoved,
        cleanupMs: cleanupMs ?? CLEANUP_TIMEOUT_MS,
      };
      results.push(result);
      options.onRound?.(result);
    }
    const code = await server.stop();
    server = null;
    if (code !== 0) violations.push(`the last server exited ${code} on SIGTERM`);
  } finally {
    for (const conn of stalled) conn.close();
    await server?.kill();
    await Deno.remove(root, { recursive: true });
  }
  return { rounds: results, violations };
}

// --- The command ---------------------------------------------------------------------

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`--${flag} needs a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Parses the command line of `deno task crash-test`. */
export function parseCrashTestArgs(args: string[]): CrashTestOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      rounds: { type: "string", default: "10" },
      puts: { type: "string", default: "500" },
      files: { type: "string", default: "40" },
      concurrency: { type: "string", default: "200" },
      "min-size": { type: "string", default: "16K" },
      "max-size": { type: "string", default: "1M" },
      seed: { type: "string", default: "1" },
      "no-fsync": { type: "boolean", default: false },
    },
  });
  const minBytes = parseSize(values["min-size"]);
  const maxBytes = parseSize(values["max-size"]);
  if (minBytes < 1 || maxBytes < minBytes) throw new Error("need 1 <= --min-size <= --max-size");
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error("--seed needs an integer");
  return {
    rounds: positiveInteger(values.rounds, "rounds"),
    puts: positiveInteger(values.puts, "puts"),
    files: positiveInteger(values.files, "files"),
    concurrency: positiveInteger(values.concurrency, "concurrency"),
    minBytes,
    maxBytes,
    seed,
    fsync: !values["no-fsync"],
  };
}

async function main(args: string[]): Promise<number> {
  const options = parseCrashTestArgs(args);
  console.log(
    `crash test: ${options.rounds} rounds x ${options.puts} PUTs to ${options.files} files, ` +
      `${options.minBytes}-${options.maxBytes} bytes each, ${options.concurrency} at once, ` +
      `seed ${options.seed}, fsync ${options.fsync ? "on" : "off"}`,
  );
  const { rounds, violations } = await runCrashTest({
    ...options,
    onRound: (r) =>
      console.log(
        `round ${r.round}: killed at ${r.killAtMs} ms; started ${r.started}, acknowledged ${r.acknowledged}, ` +
          `in flight at kill ${r.inFlightAtKill}; files old ${r.filesAtPrevious} / new ` +
          `${r.filesAtNew}; temp files left ${r.tempsLeftByCrash}, removed at restart ` +
          `${r.tempsRemovedAtRestart} (in ${r.cleanupMs} ms)`,
      ),
  });
  const sum = (pick: (r: RoundResult) => number) => rounds.reduce((n, r) => n + pick(r), 0);
  console.log(
    `total: started ${sum((r) => r.started)}, acknowledged ${sum((r) => r.acknowledged)}, ` +
      `in flight at kill ${sum((r) => r.inFlightAtKill)}; files old ` +
      `${sum((r) => r.filesAtPrevious)} / new ${sum((r) => r.filesAtNew)}; temp files removed ` +
      `at restart ${sum((r) => r.tempsRemovedAtRestart)}`,
  );
  for (const violation of violations) console.error(`VIOLATION ${violation}`);
  console.log(violations.length === 0 ? "PASS" : `FAIL: ${violations.length} violation(s)`);
  return violations.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
