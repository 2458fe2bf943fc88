/**
 * The server under soak: the real `filedrop` command (main.ts) in a child
 * process, started on a free port and stopped by its process id.
 *
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT = path.dirname(path.dirname(path.dirname(fileURLToPath(import.meta.url))));
const MAIN = path.join(PROJECT, "main.ts");
const STARTUP_TIMEOUT_MS = 15_000;
/** Longer than the server's own shutdown grace (10 s), so a graceful stop is never cut short. */
const STOP_TIMEOUT_MS = 15_000;
const INSPECTOR_LINE = /^Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)$/m;
const DENO_INSPECTOR_NOISE =
  /^(Debugger listening on |Visit chrome:\/\/inspect|Debugger session (started|ended))/;

/** A running server process. */
export class ServerProcess {
  /** Its process id (the Deno process that serves, so /proc/PID is the server). */
  readonly pid: number;
  /** The port it listens on. */
  readonly port: number;
  /** The WebSocket address of its V8 inspector; null when Deno did not print one. */
  readonly inspectorUrl: string | null;
  readonly #child: Deno.ChildProcess;
  readonly #drained: Promise<void>;
  readonly #stderr: { text: string };

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    inspectorUrl: string | null,
    drained: Promise<void>,
    stderr: { text: string },
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.port = port;
    this.inspectorUrl = inspectorUrl;
    this.#drained = drained;
    this.#stderr = stderr;
  }

  /**
   * Spawns `deno run --inspect=127.0.0.1:0 --allow-net --allow-read
   * --allow-write main.ts --port 0 ...args ROOT` and resolves once its first
   * stdout line gives the URL. The inspector (on loopback, a free port) lets
   * the soak force a garbage collection before it reads the server's memory.
   * Both output streams are drained until it exits, so it never blocks on a
   * pipe. `env` is added to the environment it inherits.
   */
  static async start(
    root: string,
    args: readonly string[],
    env: Record<string, string> = {},
  ): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--inspect=127.0.0.1:0",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        MAIN,
        "--port",
        "0",
        ...args,
        root,
      ],
      cwd: PROJECT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = { text: "" };
    const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (text) => void (stderr.text += text) }),
    );
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let stdout = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STARTUP_TIMEOUT_MS);
    });
    try {
      while (!stdout.includes("\n")) {
        const read = await Promise.race([lines.read(), timeout]);
        if (read === "timeout" || read.done) break;
        stdout += read.value;
      }
    } finally {
      clearTimeout(timer);
    }
    const drained = (async () => {
      while (!(await lines.read()).done);
      await stderrDone;
    })();
    const match = /^filedrop serving .* at http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
    if (match === null) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await drained;
      throw new Error(`the server did not start: ${JSON.stringify(stdout)} ${stderr.text}`);
    }
    // Deno prints the inspector's address on stderr before it runs main.ts.
    for (let waited = 0; !INSPECTOR_LINE.test(stderr.text) && waited < 2_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const inspector = INSPECTOR_LINE.exec(stderr.text);
    return new ServerProcess(child, Number(match[1]), inspector?.[1] ?? null, drained, stderr);
  }

  /** What it wrote to stderr so far, without the inspector's own lines. */
  get stderr(): string {
    return this.#stderr.text.split("\n").filter((line) => !DENO_INSPECTOR_NOISE.test(line)).join(
      "\n",
    );
  }

  /**
   * Sends SIGTERM to its pid and resolves with its exit code; SIGKILL (and
   * code null) when it has not exited within 15 s.
   */
  async stop(): Promise<number | null> {
    try {
      Deno.kill(this.pid, "SIGTERM");
    } catch { /* already gone: its status says how it ended */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.#child.status, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      await this.kill();
      return null;
    }
    await this.#drained;
    return outcome.code;
  }

  /** Sends SIGKILL and waits until it is gone. */
  async kill(): Promise<void> {
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
    await this.#drained;
  }
}
