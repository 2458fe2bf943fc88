/**
 * Command-line options of the benchmark harness (`deno task bench`).
 *
 * @module
 */

import { parseArgs } from "node:util";

/** The `--ours-v8-flags` choices. */
export const OURS_V8_FLAGS = ["semi4", "none"] as const;

/** V8 flags our server runs with: the release binary's (`semi4`) or none. */
export type OursV8Flags = typeof OURS_V8_FLAGS[number];

/** Settings for one benchmark session, after parsing and validation. */
export interface BenchOptions {
  /** Server names to run, in the order given; null means all of them. */
  only: string[] | null;
  /** Case names to run, in the order given; null means all of them. */
  cases: string[] | null;
  /** Length of each measured wrk run, in whole seconds. */
  durationSeconds: number;
  /** Measured runs per server and case; the report shows their median. */
  repeats: number;
  /** Concurrent wrk connections. */
  connections: number;
  /** Unrecorded wrk run per server and case before the first measured one, in seconds. */
  warmupSeconds: number;
  /** Run our server with fsync on uploads (by default `--no-fsync`, like the references). */
  fsync: boolean;
  /**
   * Cores per server (`--cores`): 1 pins servers and wrk to a core each; more
   * runs every server with that many workers, sharing the same CPUs with wrk.
   */
  cores: number;
  /**
   * V8 flags of our server: `semi4` is the release binary's 4 MiB young
   * generation, `none` the plain start command `deno run --allow-net --allow-read --allow-write`.
   */
  oursV8Flags: OursV8Flags;
  /** Directory the markdown and JSON reports are written to. */
  outDir: string;
  /** Keep the temporary root and server logs instead of deleting them. */
  keepTemp: boolean;
  /** Print the usage text and exit. */
  help: boolean;
}

/** The usage text printed by `--help`. */
export const USAGE = `usage: deno task bench [options]

  --only a,b          servers to run (ours, ref, minimal, nginx, caddy); default all
  --cases a,b         cases to run; default all (see bench/README.md)
  --duration S        seconds per measured run (default 5)
  --repeats N         measured runs per server and case; median reported (default 3)
  --connections N     concurrent wrk connections (default 50)
  --warmup S          unrecorded warm-up seconds per server and case (default 1, 0 = none)
  --fsync             run our server without --no-fsync (the references never fsync)
  --cores N           1 (default): servers on CPU 0, wrk on CPU 1; N > 1: ours --workers N,
                      nginx worker_processes N, Caddy GOMAXPROCS=N, and wrk -tN, all pinned
                      to CPUs 0..N-1 (ref stays single-threaded: left out unless in --only)
  --ours-v8-flags F   semi4 (default): ours with --v8-flags=--max-semi-space-size=4 like the
                      release binary; none: the plain start command, no V8 flags
  --out DIR           report directory (default bench/results)
  --keep-temp         keep the temporary root, configs and server logs
  --help              this text`;

function parseCount(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new Error(`${flag} needs a whole number >= ${minimum}, got "${text}"`);
  }
  return value;
}

function parseNameList(flag: string, text: string, known: readonly string[]): string[] {
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) throw new Error(`${flag} needs at least one name`);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`${flag}: unknown ${unknown.join(", ")} (known: ${known.join(", ")})`);
  }
  return [...new Set(names)];
}

function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  const choice = choices.find((candidate) => candidate === text);
  if (choice === undefined) {
    throw new Error(`${flag} must be ${choices.join(" or ")}, got "${text}"`);
  }
  return choice;
}

/**
 * Parses and validates the harness's command line.
 *
 * @param args the arguments after the script name
 * @param known the server and case names `--only` and `--cases` may use
 * @param defaultOutDir where reports go unless `--out` is given
 * @returns the options
 * @throws Error with a message fit for the user when an option is invalid
 */
export function parseOptions(
  args: string[],
  known: { servers: readonly string[]; cases: readonly string[] },
  defaultOutDir: string,
): BenchOptions {
  const { values, positionals } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      cases: { type: "string" },
      duration: { type: "string", default: "5" },
      repeats: { type: "string", default: "3" },
      connections: { type: "string", default: "50" },
      warmup: { type: "string", default: "1" },
      fsync: { type: "boolean", default: false },
      cores: { type: "string", default: "1" },
      "ours-v8-flags": { type: "string", default: "semi4" },
      out: { type: "string" },
      "keep-temp": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  return {
    only: values.only === undefined ? null : parseNameList("--only", values.only, known.servers),
    cases: values.cases === undefined ? null : parseNameList("--cases", values.cases, known.cases),
    durationSeconds: parseCount("--duration", values.duration, 1),
    repeats: parseCount("--repeats", values.repeats, 1),
    connections: parseCount("--connections", values.connections, 1),
    warmupSeconds: parseCount("--warmup", values.warmup, 0),
    fsync: values.fsync,
    cores: parseCount("--cores", values.cores, 1),
    oursV8Flags: parseChoice("--ours-v8-flags", values["ours-v8-flags"], OURS_V8_FLAGS),
    outDir: values.out ?? defaultOutDir,
    keepTemp: values["keep-temp"],
    help: values.help,
  };
}
