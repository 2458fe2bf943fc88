/**
 * Tests of the release build (scripts/compile_all.ts and the `compile` and
 * `compile:all` tasks): the command lines, the program under the permissions
 * the binary gets, and the binary itself, built with `deno compile` and run
 * as a user runs it. Building needs Deno's `denort` runtime (DENORT_BIN,
 * DENO_DIR's download cache, or a download): only when `deno compile` fails
 * to download it is that test skipped, with Deno's error in its name.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import {
  binaryName,
  crossCompileArgs,
  parseCompileTask,
  RELEASE_TARGETS,
  selectTargets,
} from "../scripts/compile_all.ts";
import type { CompileCommand } from "../scripts/compile_all.ts";
import { run } from "./_helpers.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const COMPILE = parseCompileTask(denoJson.tasks.compile);
const STARTUP_TIMEOUT_MS = 15_000;
const LOG_TIMEOUT_MS = 5_000;

Deno.test("parseCompileTask splits a compile task into flags, output and entry", () => {
  const cases: [task: string, expected: CompileCommand][] = [
    [
      "deno compile --allow-net --output dist/filedrop main.ts",
      { flags: ["--allow-net"], output: "dist/filedrop", entry: "main.ts" },
    ],
    [
      "  deno compile --allow-read  --output out/x --allow-env=PORT app.ts ",
      { flags: ["--allow-read", "--allow-env=PORT"], output: "out/x", entry: "app.ts" },
    ],
  ];
  for (const [task, expected] of cases) assert.deepEqual(parseCompileTask(task), expected, task);
});

Deno.test("parseCompileTask refuses tasks it could not extend safely", () => {
  const cases = [
    "deno run --allow-net main.ts",
    "deno compile --allow-net main.ts",
    "deno compile --allow-net -o dist/filedrop main.ts",
    "deno compile --output=dist/filedrop --allow-net main.ts",
    "deno compile --allow-net main.ts --output dist/filedrop",
    "deno compile --target x86_64-apple-darwin --output dist/filedrop main.ts",
    "deno compile --allow-net --output dist/filedrop main.ts && rm -rf dist",
    "deno compile --allow-env=$HOME --output dist/filedrop main.ts",
  ];
  for (const task of cases) assert.throws(() => parseCompileTask(task), Error, task);
});

Deno.test("the compile task bakes in net, read, write, env, the worker module and a small young generation", () => {
  assert.deepEqual(
    [...COMPILE.flags].sort(),
    [
      "--allow-env",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      // --workers loads it with new Worker(); embedded so the binary can.
      "--include=lib/server/worker.ts",
      "--v8-flags=--max-semi-space-size=4",
    ],
  );
  assert.equal(COMPILE.output, "dist/filedrop");
  assert.equal(COMPILE.entry, "main.ts");
});

Deno.test("compile:all builds the targets named (the Dockerfile names one), all by default", () => {
  assert.deepEqual(selectTargets([]), RELEASE_TARGETS);
  assert.deepEqual(selectTargets(["aarch64-unknown-linux-gnu"]), ["aarch64-unknown-linux-gnu"]);
  assert.throws(() => selectTargets(["x86_64-unknown-linux-gnu", "riscv64"]), /riscv64/);
});

Deno.test("compile:all builds every release target into dist/filedrop-<target>[.exe]", () => {
  assert.equal(
    denoJson.tasks["compile:all"],
    "deno run --allow-read --allow-run scripts/compile_all.ts",
  );
  const built = RELEASE_TARGETS.map((target) => crossCompileArgs(COMPILE, target, "dist"));
  assert.deepEqual(built.map((args) => args.at(-2)), [
    "dist/filedrop-x86_64-unknown-linux-gnu",
    "dist/filedrop-aarch64-unknown-linux-gnu",
    "dist/filedrop-x86_64-apple-darwin",
    "dist/filedrop-aarch64-apple-darwin",
    "dist/filedrop-x86_64-pc-windows-msvc.exe",
  ]);
  for (const [i, args] of built.entries()) {
    assert.deepEqual(args, [
      "compile",
      ...COMPILE.flags,
      "--target",
      RELEASE_TARGETS[i],
      "--output",
      `dist/${binaryName(RELEASE_TARGETS[i])}`,
      "main.ts",
    ]);
  }
});

/** A started server process. */
interface Started {
  /** The URL from the banner. */
  url: string;
  /** Waits until stdout matches `pattern`; fails after `timeoutMs`. */
  waitForStdout(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Everything on stderr so far. */
  stderr(): string;
  /** The process. */
  child: Deno.ChildProcess;
}

/**
 * Only the variables a process needs to start: the tests must not pick up a
 * developer's PORT, HOST or FILEDROP_* settings.
 */
function cleanEnvironment(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["HOME", "USERPROFILE", "LOCALAPPDATA", "SystemRoot", "TEMP", "TMP"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Kills `child` unless it has exited already, and waits for it. */
async function forceStop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // It had exited: the status below is all there is to wait for.
  }
  await child.status;
}

/** Spawns `command args ROOT --port 0` and waits for its banner. */
async function startServer(
  command: string,
  args: string[],
  root: string,
  env: Record<string, string>,
): Promise<Started> {
  const child = new Deno.Command(command, {
    args: [...args, "--host", "127.0.0.1", "--port", "0", root],
    cwd: PROJECT,
    clearEnv: true,
    env: cleanEnvironment(env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdoutText = "";
  let stderrText = "";
  let stdoutClosed = false;
  const waiters = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of waiters) wake();
  };
  const collect = (stream: ReadableStream<Uint8Array>, add: (text: string) => void) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (text) => {
          add(text);
          wakeAll();
        },
      }),
    );
  collect(child.stdout, (text) => (stdoutText += text)).finally(() => {
    stdoutClosed = true;
    wakeAll();
  });
  const stderrDone = collect(child.stderr, (text) => (stderrText += text));
  const waitForStdout = (pattern: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(stdoutText);
        if (match !== null) {
          finish();
          resolve(match[0]);
        } else if (stdoutClosed) {
          finish();
          reject(new Error(`stdout closed without ${pattern}:\n${stdoutText}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${pattern} on stdout within ${timeoutMs} ms:\n${stdoutText}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  try {
    const banner = await waitForStdout(
      /^filedrop serving .* at (http:\/\/\S+)\n/,
      STARTUP_TIMEOUT_MS,
    );
    const url = /at (http:\/\/\S+)\n$/.exec(banner)![1];
    return { url, waitForStdout, stderr: () => stderrText, child };
  } catch (error) {
    await forceStop(child);
    await stderrDone;
    throw new Error(`${error instanceof Error ? error.message : error}\nstderr: ${stderrText}`);
  }
}

/**
 * Runs the program `command args` the way the release binary must behave:
 * `--version` prints the version of deno.json; serving a temp dir answers GET
 * and PUT; FILEDROP_LOG is honoured (so env access is granted); SIGTERM ends
 * it with exit code 0 (not on Windows, which has no SIGTERM).
 */
async function exerciseProgram(
  t: Deno.TestContext,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<void> {
  await t.step("--version reports the version of deno.json", async () => {
    const result = await run(command, [...args, "--version"], { cwd: PROJECT, env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `filedrop ${denoJson.version}`);
  });

  const root = await Deno.makeTempDir({ prefix: "filedrop-compile-" });
  await Deno.writeTextFile(path.join(root, "hello.txt"), "hello, binary\n");
  const server = await startServer(command, args, root, { ...env, FILEDROP_LOG: "json" });
  let stopped = false;
  try {
    await t.step("GET serves a file of the temp dir", async () => {
      const response = await fetch(`${server.url}hello.txt`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "hello, binary\n");
    });
    await t.step("PUT uploads into it", async () => {
      const response = await fetch(`${server.url}sub/up.txt`, { method: "PUT", body: "uploaded" });
      await response.body?.cancel();
      assert.equal(response.status, 201);
      assert.equal(await Deno.readTextFile(path.join(root, "sub", "up.txt")), "uploaded");
    });
    await t.step("the environment is readable: FILEDROP_LOG=json is honoured", async () => {
      const line = await server.waitForStdout(/^\{.*"method":"PUT".*\}$/m, LOG_TIMEOUT_MS);
      const record = JSON.parse(line);
      assert.equal(record.target, "/sub/up.txt");
      assert.equal(record.status, 201);
    });
    await t.step({
      name: "SIGTERM ends it with exit code 0",
      ignore: Deno.build.os === "windows",
      fn: async () => {
        server.child.kill("SIGTERM");
        stopped = true;
        const status = await server.child.status;
        assert.equal(status.code, 0, `stderr: ${server.stderr()}`);
      },
    });
  } finally {
    if (!stopped) await forceStop(server.child);
    await Deno.remove(root, { recursive: true });
  }
}

/** DENO_DIR, as `deno info --json` reports it. */
async function denoCacheDirectory(): Promise<string> {
  const info = await run(Deno.execPath(), ["info", "--json"], { cwd: PROJECT });
  assert.equal(info.code, 0, info.stderr);
  return JSON.parse(info.stdout).denoDir;
}

Deno.test("main.ts under the compile task's permissions behaves as the binary must", async (t) => {
  const permissions = COMPILE.flags.filter((flag) => /^--(allow|deny|unstable)-/.test(flag));
  const denoDir = await denoCacheDirectory();
  await exerciseProgram(
    t,
    Deno.execPath(),
    ["run", ...permissions, path.join(PROJECT, "main.ts")],
    {
      DENO_DIR: denoDir,
      NO_COLOR: "1",
    },
  );
});

/**
 * The one line that says why `deno compile` failed, when it failed because
 * it could not download `denort` from dl.deno.land (no network, a proxy, a
 * missing build); null for any other outcome, which must fail the test.
 * Deno names the download URL in that error, whether as the top line
 * (`error: Failed downloading https://dl.deno.land/...`) or as a cause
 * (`  1: error sending request for url (https://dl.deno.land/...)`).
 */
function denortDownloadFailure(result: { code: number; stderr: string }): string | null {
  if (result.code === 0) return null;
  // Colours are asked off (NO_COLOR); stripped anyway, since they split "error:" from its line.
  // deno-lint-ignore no-control-regex
  const text = result.stderr.replaceAll(/\x1b\[[0-9;]*m/g, "");
  const line = /^(?:error: |\s*\d+: )(.*https:\/\/dl\.deno\.land\/\S*denort-\S*.*)$/m.exec(text);
  return line === null ? null : line[1].trim();
}

Deno.test("denortDownloadFailure tells a failed denort download from other compile failures", () => {
  const offline = [
    "Compile main.ts to dist/filedrop",
    "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
    "error: Writing deno compile executable to temporary file 'dist/filedrop.tmp-a0fa73a07b59367d'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-" +
    "unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address " +
    "information: Name or service not known",
    "    2: client error (Connect)",
    "    3: dns error",
  ].join("\n");
  assert.equal(
    denortDownloadFailure({ code: 1, stderr: offline }),
    "error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-" +
      "linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: " +
      "Name or service not known",
  );
  const missing = "error: Failed downloading https://dl.deno.land/release/v9.9.9/denort-" +
    "x86_64-unknown-linux-gnu.zip. The version you requested may not have been built for the " +
    "current architecture.";
  assert.match(denortDownloadFailure({ code: 1, stderr: missing }) ?? "", /^Failed downloading/);
  // A type error, a bad flag, or success are no reason to skip.
  const typeError = "Check main.ts\nTS2322 [ERROR]: Type 'string' is not assignable to type " +
    "'number'.\nerror: Type checking failed.";
  assert.equal(denortDownloadFailure({ code: 1, stderr: typeError }), null);
  const downloadedFine = "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-" +
    "linux-gnu.zip\nerror: Permission denied (os error 13)";
  assert.equal(denortDownloadFailure({ code: 1, stderr: downloadedFine }), null);
  assert.equal(denortDownloadFailure({ code: 0, stderr: offline }), null);
});

/** The binary's directory: removed when the run ends, even if a filter skipped the test. */
const BINARY_DIR = await Deno.makeTempDir({ prefix: "filedrop-binary-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(BINARY_DIR, { recursive: true });
  } catch {
    // Already removed.
  }
});
const BINARY = path.join(BINARY_DIR, Deno.build.os === "windows" ? "filedrop.exe" : "filedrop");

/**
 * The release binary, built as the compile task builds it, when this file
 * loads: a test can only be ignored by a decision made when it is
 * registered. `deno compile` takes `denort` from DENORT_BIN or DENO_DIR, or
 * downloads it; only a failed download skips the test (with Deno's error
 * as the reason), any other failure fails it. A binary is never faked.
 */
const BUILD = await run(Deno.execPath(), [
  "compile",
  ...COMPILE.flags,
  "--output",
  BINARY,
  path.join(PROJECT, COMPILE.entry),
], { cwd: PROJECT, env: { NO_COLOR: "1" } });
const DOWNLOAD_FAILURE = denortDownloadFailure(BUILD);
if (DOWNLOAD_FAILURE !== null) {
  console.warn(
    `compile_test: binary test skipped: deno compile could not download denort: ${DOWNLOAD_FAILURE}`,
  );
}

const BINARY_TEST = "the compiled binary serves, uploads, reads env, stops on SIGTERM";

Deno.test({
  name: DOWNLOAD_FAILURE === null
    ? BINARY_TEST
    : `${BINARY_TEST} (skipped: deno compile could not download denort: ${DOWNLOAD_FAILURE})`,
  ignore: DOWNLOAD_FAILURE !== null,
  fn: async (t) => {
    assert.equal(BUILD.code, 0, `deno compile failed:\n${BUILD.stderr}`);
    await exerciseProgram(t, BINARY, []);
  },
});
