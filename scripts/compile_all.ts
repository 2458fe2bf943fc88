/**
 * `deno task compile:all [TARGET...]`: runs the `compile` task of deno.json once per
 * release target (or per target named), writing `dist/filedrop-<target>[.exe]`. The `compile` task
 * stays the one place where the baked-in permissions are written down.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The targets a release ships a binary for. */
export const RELEASE_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The parts of a `deno compile` command line that the targets share. */
export interface CompileCommand {
  /** Every flag but `--output` and its value (permissions, `--target`, ...). */
  flags: string[];
  /** The value of `--output`. */
  output: string;
  /** The entry module. */
  entry: string;
}

/**
 * Splits a `compile` task of the form `deno compile FLAGS --output PATH ENTRY`.
 * Throws when the task has another shape, so that a change to the task cannot
 * silently drop flags from the cross-compiled binaries.
 */
export function parseCompileTask(task: string): CompileCommand {
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile" || words.length < 5) {
    throw new Error(
      `expected "deno compile FLAGS --output PATH ENTRY", got ${JSON.stringify(task)}`,
    );
  }
  const rest = words.slice(2);
  const entry = rest.pop()!;
  const outputAt = rest.indexOf("--output");
  if (outputAt === -1 || outputAt === rest.length - 1 || entry.startsWith("-")) {
    throw new Error(`expected "--output PATH" before the entry module in ${JSON.stringify(task)}`);
  }
  if (rest.some((word) => /^(--target|-o|--output=)/.test(word) || /["'$;&|<>]/.test(word))) {
    throw new Error(`the compile task must not set a target, use -o or shell syntax: ${task}`);
  }
  const output = rest[outputAt + 1];
  const flags = rest.filter((_, i) => i !== outputAt && i !== outputAt + 1);
  return { flags, output, entry };
}

/** The release file name for `target`, such as `filedrop-x86_64-pc-windows-msvc.exe`. */
export function binaryName(target: string): string {
  return `filedrop-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The `deno` arguments that build `command` for `target` into `directory`
 * (joined with "/", which Deno accepts on every OS).
 */
export function crossCompileArgs(
  command: CompileCommand,
  target: string,
  directory: string,
): string[] {
  return [
    "compile",
    ...command.flags,
    "--target",
    target,
    "--output",
    `${directory}/${binaryName(target)}`,
    command.entry,
  ];
}

/**
 * The targets named on the command line (all of them when none is), checked
 * against {@linkcode RELEASE_TARGETS}: the Dockerfile builds one at a time.
 */
export function selectTargets(args: readonly string[]): readonly string[] {
  const unknown = args.filter((arg) => !(RELEASE_TARGETS as readonly string[]).includes(arg));
  if (unknown.length > 0) {
    throw new Error(
      `unknown target(s) ${unknown.join(", ")}; known: ${RELEASE_TARGETS.join(", ")}`,
    );
  }
  return args.length === 0 ? RELEASE_TARGETS : args;
}

async function main(): Promise<void> {
  const command = parseCompileTask(denoJson.tasks.compile);
  const directory = command.output.slice(0, command.output.lastIndexOf("/")) || ".";
  let targets: readonly string[];
  try {
    targets = selectTargets(Deno.args);
  } catch (error) {
    console.error(`compile:all: ${(error as Error).message}`);
    Deno.exit(2);
  }
  for (const target of targets) {
    const args = crossCompileArgs(command, target, directory);
    console.log(`deno ${args.join(" ")}`);
    const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
    if (code !== 0) {
      console.error(`compile:all: building for ${target} failed (exit code ${code})`);
      Deno.exit(1);
    }
  }
}

if (import.meta.main) await main();
