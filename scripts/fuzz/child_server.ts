/**
 * The server under fuzzing, in its own process over its own fresh ROOT, so
 * that a crash or a hung event loop shows up as such instead of stopping the
 * fuzzer. Run as a program, this module is that child:
 * `deno run --allow-net --allow-read --allow-write child_server.ts ROOT`.
 *
 * @module
 */

import { populateRoot } from "./client.ts";
import { FUZZ_LIMITS } from "./limits.ts";
import { readLines } from "./lines.ts";

const ERROR_MARK = "FUZZ-ONERROR ";

/** Child mode: serve ROOT with the fuzz limits, print the port, report onError on stderr. */
async function serveChild(root: string): Promise<void> {
  const encoder = new TextEncoder();
  // Loaded here only: the runner imports this module for spawnServer and needs no server.
  const { serve } = await import("../../lib/mod.ts");
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    limits: FUZZ_LIMITS,
    onError: (error) => {
      const detail = error instanceof Error ? error.stack ?? String(error) : String(error);
      Deno.stderr.writeSync(encoder.encode(`${ERROR_MARK}${JSON.stringify(detail)}\n`));
    },
  });
  console.log(JSON.stringify({ port: server.addr.port }));
  Deno.addSignalListener("SIGTERM", async () => {
    await server.shutdown();
    Deno.exit(0);
  });
  await server.finished;
}

/**
 * A server in its own process over its own fresh ROOT, so that a crash or a
 * hung event loop shows up as such instead of stopping the fuzzer.
 */
export interface ChildServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Its ROOT, removed by `stop`. */
  readonly root: string;
  /** Its process id. */
  readonly pid: number;
  /** onError reports so far. */
  readonly errors: string[];
  /** Other stderr lines (an uncaught exception, a panic). */
  readonly stderr: string[];
  /** Whether the process has ended. */
  exited(): boolean;
  /** Peak resident memory so far (KiB), where /proc tells. */
  peakRssKb(): number | null;
  /** Ends the process (killing it if it does not stop) and removes its ROOT. */
  stop(): Promise<void>;
}

/** Copies the directory tree `from` into the existing directory `to`, skipping what vanishes. */
export async function copyTree(from: string, to: string): Promise<void> {
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    try {
      if (entry.isDirectory) {
        await Deno.mkdir(target);
        await copyTree(source, target);
      } else if (entry.isFile) await Deno.copyFile(source, target);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/** Every file under `dir` with its size, for a failure report. */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const listing: string[] = [];
  for await (const entry of Deno.readDir(`${dir}${prefix}`)) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory) listing.push(`${path}/`, ...await listTree(dir, path));
    else listing.push(`${path} (${(await Deno.lstat(`${dir}${path}`)).size} bytes)`);
  }
  return listing.sort();
}

/** Starts a server over a fresh ROOT: a copy of `template`, or the standard files. */
export async function spawnServer(template?: string): Promise<ChildServer> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-fuzz-" });
  if (template === undefined) await populateRoot(root);
  else await copyTree(template, root);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      import.meta.filename!,
      root,
    ],
    // The project root, whose deno.json maps the server's npm imports.
    cwd: new URL("../..", import.meta.url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => (exited = true));
  const errors: string[] = [];
  const stderr: string[] = [];
  const stderrDone = (async () => {
    for await (const line of readLines(child.stderr)) {
      if (line.startsWith(ERROR_MARK)) errors.push(JSON.parse(line.slice(ERROR_MARK.length)));
      else stderr.push(line);
    }
  })();
  const stdout = readLines(child.stdout);
  const first = await stdout.next();
  if (first.done) {
    await stderrDone;
    throw new Error(`the server did not start:\n${stderr.join("\n")}`);
  }
  const stdoutDone = (async () => {
    for await (const _ of stdout) {
      // Keep the pipe drained.
    }
  })();
  return {
    port: JSON.parse(first.value).port,
    pid: child.pid,
    root,
    errors,
    stderr,
    exited: () => exited,
    peakRssKb() {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`));
        return match === null ? null : Number(match[1]);
      } catch {
        return null;
      }
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      // A hung event loop never runs the SIGTERM handler.
      const killer = setTimeout(() => exited || child.kill("SIGKILL"), 3000);
      await child.status;
      clearTimeout(killer);
      await Promise.all([stderrDone, stdoutDone]);
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** A copy of `dir` that outlives this batch (until the failures are saved). */
export async function keep(dir: string): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "filedrop-fuzz-culprit-" });
  await copyTree(dir, copy);
  return copy;
}

if (import.meta.main) await serveChild(Deno.args[0]);
