/**
 * The differential oracles as long-lived child processes: Python's h11
 * (`oracle_h11.py`) and Node's llhttp (`oracle_llhttp.mjs`). Each reads many
 * inputs as JSON lines (base64 bytes) and answers each with a
 * {@linkcode ParseTrace}, so one process start serves a whole run.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { readLines } from "./lines.ts";
import type { ParseTrace } from "./trace.ts";

/** The independent parsers our parser is compared with. */
export type OracleName = "h11" | "llhttp";

/** Every oracle, in report order. */
export const ORACLE_NAMES: readonly OracleName[] = ["h11", "llhttp"];

interface OracleSpec {
  command: string;
  args: string[];
  /** What to install when it cannot start. */
  install: string;
}

/**
 * The interpreters. `/usr/bin/python3` by default, not `python3`: a pyenv
 * shim first on PATH has its own packages, without Debian's h11. Both can be
 * overridden by environment variables for other machines.
 */
function specOf(name: OracleName): OracleSpec {
  const script = (file: string) => fileURLToPath(new URL(file, import.meta.url));
  if (name === "h11") {
    return {
      command: Deno.env.get("FUZZ_ORACLE_PYTHON") ?? "/usr/bin/python3",
      args: ["-u", script("oracle_h11.py")],
      install: "apt-get install python3-h11 (h11 for /usr/bin/python3; or set " +
        "FUZZ_ORACLE_PYTHON to a python3 that has h11)",
    };
  }
  return {
    command: Deno.env.get("FUZZ_ORACLE_NODE") ?? "node",
    args: [script("oracle_llhttp.mjs")],
    install: "apt-get install nodejs (Node.js 18 or later on PATH as `node`; or set " +
      "FUZZ_ORACLE_NODE to one)",
  };
}

/** An oracle that cannot run here; the message says what to install. */
export class OracleUnavailableError extends Error {
  /** @param message what is missing and how to get it */
  constructor(message: string) {
    super(message);
    this.name = "OracleUnavailableError";
  }
}

/** One oracle process, answering inputs in the order they are sent. */
export class Oracle {
  /** Which parser this is. */
  readonly name: OracleName;
  /** The parser's version, as the process reported it. */
  readonly version: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncGenerator<string>;
  readonly #stderr: Promise<string>;
  #nextId = 0;

  private constructor(
    name: OracleName,
    version: string,
    child: Deno.ChildProcess,
    lines: AsyncGenerator<string>,
    stderr: Promise<string>,
  ) {
    this.name = name;
    this.version = version;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
    this.#stderr = stderr;
  }

  /**
   * Starts the oracle `name` and waits for its ready line. Throws
   * {@linkcode OracleUnavailableError} when its interpreter or library is missing.
   */
  static async start(name: OracleName): Promise<Oracle> {
    const spec = specOf(name);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(spec.command, {
        args: spec.args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new OracleUnavailableError(
        `the ${name} oracle cannot start ${spec.command}: ${error}. Install: ${spec.install}`,
      );
    }
    const stderr = new Response(child.stderr).text();
    const lines = readLines(child.stdout);
    const first = await lines.next();
    const ready = first.done ? null : JSON.parse(first.value) as { ready?: string; error?: string };
    if (ready === null || ready.ready === undefined) {
      await child.stdin.close().catch(() => {});
      await child.status;
      const detail = ready?.error ?? (await stderr).trim().split("\n").slice(-5).join(" | ");
      throw new OracleUnavailableError(
        `the ${name} oracle did not start (${detail}). Install: ${spec.install}`,
      );
    }
    return new Oracle(name, ready.ready, child, lines, stderr);
  }

  /**
   * The traces of `inputs`, in order. Writes and reads at once: a batch larger
   * than the pipes would otherwise deadlock both processes.
   */
  async traceAll(inputs: readonly Uint8Array[]): Promise<ParseTrace[]> {
    const firstId = this.#nextId;
    this.#nextId += inputs.length;
    const encoder = new TextEncoder();
    const writing = (async () => {
      for (const [i, input] of inputs.entries()) {
        const data = Buffer.from(input.buffer, input.byteOffset, input.length).toString("base64");
        await this.#writer.write(encoder.encode(`${JSON.stringify({ id: firstId + i, data })}\n`));
      }
    })();
    const traces: ParseTrace[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const line = await this.#lines.next();
      if (line.done) {
        await writing.catch(() => {});
        throw new Error(`the ${this.name} oracle exited: ${(await this.#stderr).slice(-2000)}`);
      }
      const trace = JSON.parse(line.value) as ParseTrace & { id: number };
      if (trace.id !== firstId + i) {
        throw new Error(`the ${this.name} oracle answered ${trace.id}, expected ${firstId + i}`);
      }
      delete (trace as { id?: number }).id;
      traces.push(trace);
    }
    await writing;
    return traces;
  }

  /** Ends the process (closing its input ends its loop). */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#stderr.catch(() => "");
    // Drain what is left so the stream's resources are released.
    for await (const _ of this.#lines) {
      // Nothing more is expected.
    }
  }
}

/** Starts every oracle; throws one error naming everything missing. */
export async function startOracles(): Promise<Oracle[]> {
  const results = await Promise.allSettled(ORACLE_NAMES.map((name) => Oracle.start(name)));
  const missing = results.flatMap((r) =>
    r.status === "fulfilled"
      ? []
      : [r.reason instanceof Error ? r.reason.message : String(r.reason)]
  );
  if (missing.length > 0) {
    await Promise.all(results.map((r) => r.status === "fulfilled" ? r.value.close() : null));
    throw new OracleUnavailableError(missing.join("\n"));
  }
  return results.map((r) => (r as PromiseFulfilledResult<Oracle>).value);
}
