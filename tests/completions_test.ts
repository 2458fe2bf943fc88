/**
 * Tests of `filedrop completions bash|zsh|fish` (lib/completions.ts): each
 * script as main.ts prints it is valid for its shell, and the shell itself,
 * with the script loaded, completes option names, option values, the
 * subcommands and ROOT directories. The options offered are checked against
 * `--help` and against what the parser accepts, so neither can drift.
 * zsh and fish are installed by .ci/run; where one is missing, its tests say so
 * in their name and are skipped.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine, SHELLS, UsageError } from "../lib/cli.ts";
import type { Shell } from "../lib/cli.ts";
import { run } from "./_helpers.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MAIN = path.join(PROJECT, "main.ts");
const ZSH_COMPLETE = path.join(PROJECT, "tests", "fixtures", "zsh_complete.zsh");

function installed(shell: string): boolean {
  // Windows' bash is Git Bash, with paths of its own; the scripts are for Unix shells.
  if (Deno.build.os === "windows") return false;
  try {
    return new Deno.Command(shell, { args: ["-c", "exit 0"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const HAVE = Object.fromEntries(SHELLS.map((shell) => [shell, installed(shell)])) as Record<
  Shell,
  boolean
>;

/** The test's name, with why it is skipped when `shell` is not installed. */
function named(shell: Shell, name: string): string {
  if (HAVE[shell]) return name;
  return Deno.build.os === "windows"
    ? `${name} (skipped: the completion scripts are for Unix shells)`
    : `${name} (skipped: ${shell} is not installed; .ci/run installs it)`;
}

/** Runs main.ts with `args` as a user would (`deno run main.ts ...`). */
function runMain(args: string[]) {
  return run(Deno.execPath(), ["run", "--allow-read", MAIN, ...args], {
    env: { NO_COLOR: "1" },
  });
}

/** The script `filedrop completions <shell>` prints, in a temp file. */
async function scriptFile(shell: Shell, dir: string): Promise<string> {
  const { code, stdout, stderr } = await runMain(["completions", shell]);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  const file = path.join(dir, `filedrop.${shell}`);
  await Deno.writeTextFile(file, stdout);
  return file;
}

/**
 * A temp directory holding the scripts and a ROOT-like layout to complete in:
 * two directories and one file.
 */
async function withScripts(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "filedrop-completions-" });
  try {
    await Deno.mkdir(path.join(dir, "photos"));
    await Deno.mkdir(path.join(dir, "public"));
    await Deno.writeTextFile(path.join(dir, "cert.pem"), "");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What bash's completion function offers for `words` (the last one being completed). */
async function bashComplete(script: string, cwd: string, words: string[]): Promise<string[]> {
  const program = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); ` +
    `COMPREPLY=(); _filedrop; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { code, stdout, stderr } = await run("bash", ["-c", program, "bash", script, ...words], {
    cwd,
  });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
  return stdout.split("\n").filter((line) => line !== "").sort();
}

/** What zsh offers when Tab is pressed after `line` (tests/fixtures/zsh_complete.zsh). */
async function zshComplete(script: string, cwd: string, line: string): Promise<string[]> {
  const { code, stdout, stderr } = await run("zsh", ["-f", ZSH_COMPLETE, script, line], { cwd });
  assert.equal(code, 0, stderr);
  return [...new Set(stdout.split("\n").filter((match) => match !== ""))].sort();
}

/** What fish offers for `line` (`complete -C`), without the descriptions. */
async function fishComplete(script: string, cwd: string, line: string): Promise<string[]> {
  const { code, stdout, stderr } = await run(
    "fish",
    ["--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line],
    { cwd },
  );
  assert.equal(code, 0, stderr);
  return stdout.split("\n").filter((match) => match !== "").map((match) => match.split("\t")[0])
    .sort();
}

/** The long options `--help` lists: each option line starts with "  -x, --name" or "  --name". */
async function helpOptions(): Promise<string[]> {
  const { code, stdout } = await runMain(["--help"]);
  assert.equal(code, 0);
  return stdout.split("\n")
    .map((line) => /^ {2}(?:-[A-Za-z], )?(--[a-z0-9-]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

const SYNTAX_CHECKS: Record<Shell, string[]> = {
  bash: ["-n"],
  zsh: ["-n"],
  fish: ["--no-execute"],
};

for (const shell of SHELLS) {
  Deno.test({
    name: named(shell, `the ${shell} script is valid ${shell} (${shell} ${SYNTAX_CHECKS[shell]})`),
    ignore: !HAVE[shell],
    fn: () =>
      withScripts(async (dir) => {
        const script = await scriptFile(shell, dir);
        const check = await run(shell, [...SYNTAX_CHECKS[shell], script]);
        assert.equal(check.code, 0, check.stderr);
        assert.equal(check.stderr, "");
        // The check itself can fail: the script with an unclosed quote is refused.
        const broken = path.join(dir, `broken.${shell}`);
        await Deno.writeTextFile(broken, `${await Deno.readTextFile(script)}\necho 'unclosed\n`);
        assert.notEqual((await run(shell, [...SYNTAX_CHECKS[shell], broken])).code, 0);
      }),
  });
}

Deno.test({
  name: named(
    "bash",
    "bash: the script registers _filedrop, and completes options, values, subcommands and ROOT",
  ),
  ignore: !HAVE.bash,
  fn: () =>
    withScripts(async (dir) => {
      const script = await scriptFile("bash", dir);
      const registered = await run("bash", [
        "-c",
        `source "$1"; complete -p filedrop`,
        "bash",
        script,
      ]);
      assert.equal(registered.stdout.trim(), "complete -o filenames -F _filedrop filedrop");

      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--rea"]), [
        "--read",
        "--read-only",
      ]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--no-"]), [
        "--no-compress",
        "--no-fsync",
        "--no-listing",
      ]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--log", "co"]), [
        "combined",
        "common",
      ]);
      // "--log=j" reaches the function as --log, =, j.
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--log", "=", "j"]), ["json"]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--workers", ""]), ["auto"]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--tls-cert", "ce"]), [
        "cert.pem",
      ]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--port", ""]), []);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "completions", ""]), [
        "bash",
        "fish",
        "zsh",
      ]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", ""]), [
        "completions",
        "hash-password",
        "healthcheck",
        "photos",
        "public",
        "share",
      ]);
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "healthcheck", ""]), []);
      assert.deepEqual(
        await bashComplete(script, dir, ["filedrop", "completions", "bash", ""]),
        [],
      );
      assert.deepEqual(await bashComplete(script, dir, ["filedrop", "--cors", "p"]), [
        "photos",
        "public",
      ]);
    }),
});

Deno.test({
  name: named("zsh", "zsh: Tab completes options, values, subcommands and ROOT"),
  ignore: !HAVE.zsh,
  fn: () =>
    withScripts(async (dir) => {
      const script = await scriptFile("zsh", dir);
      assert.deepEqual(await zshComplete(script, dir, "filedrop --rea"), ["--read", "--read-only"]);
      assert.deepEqual(await zshComplete(script, dir, "filedrop --log="), [
        "combined",
        "common",
        "json",
        "off",
      ]);
      assert.deepEqual(await zshComplete(script, dir, "filedrop --tls-key c"), ["cert.pem"]);
      assert.deepEqual(await zshComplete(script, dir, "filedrop completions "), [
        "bash",
        "fish",
        "zsh",
      ]);
      assert.deepEqual(await zshComplete(script, dir, "filedrop "), [
        "completions",
        "hash-password",
        "healthcheck",
        "photos",
        "public",
        "share",
      ]);
      // A subcommand only comes first: after an option, the first argument is ROOT.
      assert.deepEqual(await zshComplete(script, dir, "filedrop --cors "), ["photos", "public"]);
      assert.deepEqual(await zshComplete(script, dir, "filedrop healthcheck "), []);
      // Saved as _filedrop in a directory of $fpath, compinit finds it by its #compdef line.
      const functions = path.join(dir, "functions");
      await Deno.mkdir(functions);
      await Deno.copyFile(script, path.join(functions, "_filedrop"));
      const fromFpath = path.join(dir, "fpath.zsh");
      await Deno.writeTextFile(fromFpath, `fpath=(${functions} $fpath); compinit -u -D\n`);
      assert.deepEqual(await zshComplete(fromFpath, dir, "filedrop --log "), [
        "combined",
        "common",
        "json",
        "off",
      ]);
      // Without the script, zsh knows none of it: the harness is not answering by itself.
      const empty = path.join(dir, "empty.zsh");
      await Deno.writeTextFile(empty, "");
      assert.deepEqual(await zshComplete(empty, dir, "filedrop --rea"), []);
    }),
});

Deno.test({
  name: named("fish", "fish: complete -C completes options, values, subcommands and ROOT"),
  ignore: !HAVE.fish,
  fn: () =>
    withScripts(async (dir) => {
      const script = await scriptFile("fish", dir);
      assert.deepEqual(await fishComplete(script, dir, "filedrop --rea"), [
        "--read",
        "--read-only",
      ]);
      assert.deepEqual(await fishComplete(script, dir, "filedrop --log "), [
        "combined",
        "common",
        "json",
        "off",
      ]);
      assert.deepEqual(await fishComplete(script, dir, "filedrop --tls-cert c"), ["cert.pem"]);
      assert.deepEqual(await fishComplete(script, dir, "filedrop healthcheck --"), []);
      assert.deepEqual(await fishComplete(script, dir, "filedrop completions "), [
        "bash",
        "fish",
        "zsh",
      ]);
      assert.deepEqual(await fishComplete(script, dir, "filedrop "), [
        "completions",
        "hash-password",
        "healthcheck",
        "photos/",
        "public/",
        "share",
      ]);
    }),
});

Deno.test({
  name: named(
    "bash",
    "every shell offers exactly the options --help lists, and the parser knows each",
  ),
  ignore: !HAVE.bash,
  fn: () =>
    withScripts(async (dir) => {
      const documented = await helpOptions();
      assert.ok(documented.length > 20, documented.join(" "));
      const bash = await bashComplete(await scriptFile("bash", dir), dir, ["filedrop", "--"]);
      assert.deepEqual(bash, documented);
      if (HAVE.zsh) {
        assert.deepEqual(
          await zshComplete(await scriptFile("zsh", dir), dir, "filedrop --"),
          documented,
        );
      }
      if (HAVE.fish) {
        assert.deepEqual(
          await fishComplete(await scriptFile("fish", dir), dir, "filedrop --"),
          documented,
        );
      }
      for (const option of documented) {
        try {
          parseCommandLine([option, "x", "s3://bucket"]);
        } catch (error) {
          assert.ok(error instanceof UsageError);
          assert.doesNotMatch(error.message, /unknown option/i, option);
        }
      }
      assert.throws(() => parseCommandLine(["--not-an-option"]), /unknown option/i);
    }),
});

Deno.test("filedrop completions needs exactly one known shell", async () => {
  for (const args of [["completions"], ["completions", "tcsh"], ["completions", "bash", "zsh"]]) {
    const { code, stdout, stderr } = await runMain(args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.match(stderr, /^filedrop: completions takes one shell: bash, zsh, fish/);
  }
});
