/**
 * litmus (Debian's WebDAV server test suite) against a real `main.ts` over
 * the file-system store, and against a server over the S3 store when the
 * environment names one (tests/_s3.ts). litmus exits 0 even when tests
 * fail, so each suite's summary line is read and must say that every test
 * it ran passed, that it ran as many as the suite has, and that none was skipped.
 */

import assert from "node:assert/strict";
import { serve } from "../lib/mod.ts";
import { startServerProcess } from "../scripts/crash_test.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testServeOptions } from "./_s3.ts";

const LITMUS = "/usr/bin/litmus";

/** Whether litmus is installed (CI installs it; see .ci/run). */
const hasLitmus = await Deno.stat(LITMUS).then(() => true, () => false);
if (!hasLitmus) console.log(`litmus cases ignored: ${LITMUS} is missing (apt-get install litmus)`);

/**
 * The suites run, with the number of tests litmus 0.13 has in each: a suite
 * that stops early (its first MKCOL failed) or skips tests runs fewer.
 */
const SUITES: Record<string, number> = {
  basic: 16,
  copymove: 13,
  props: 30,
  locks: 41,
  http: 4,
};

/** One suite's summary line. */
interface Summary {
  suite: string;
  run: number;
  passed: number;
  failed: number;
}

/** Reads every `<- summary for `SUITE': of N tests run: P passed, F failed.` line. */
function parseLitmusSummaries(output: string): Summary[] {
  const pattern = /<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g;
  return [...output.matchAll(pattern)].map((match) => ({
    suite: match[1],
    run: Number(match[2]),
    passed: Number(match[3]),
    failed: Number(match[4]),
  }));
}

/** Runs the litmus suites against `url`; returns its output (and the summary lines, logged). */
async function runLitmus(url: string): Promise<string> {
  const cwd = await Deno.makeTempDir({ prefix: "filedrop-litmus-" }); // For its debug.log.
  try {
    const output = await new Deno.Command(LITMUS, {
      args: [url],
      cwd,
      env: { TESTS: Object.keys(SUITES).join(" ") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    for (const line of text.split("\n")) if (line.startsWith("<- summary")) console.log(line);
    return text;
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
}

/** Every suite ran whole and passed whole, with nothing skipped. */
function assertAllPassed(output: string): void {
  const summaries = parseLitmusSummaries(output);
  assert.deepEqual(summaries.map((summary) => summary.suite), Object.keys(SUITES), output);
  for (const summary of summaries) {
    assert.equal(summary.failed, 0, `${summary.suite}: ${output}`);
    assert.equal(summary.run, SUITES[summary.suite], `${summary.suite} ran whole: ${output}`);
    assert.equal(summary.passed, summary.run, summary.suite);
  }
  assert.doesNotMatch(output, /skipped/i);
}

Deno.test("parseLitmusSummaries reads litmus's summary lines", () => {
  const output = "<- summary for `basic': of 16 tests run: 15 passed, 1 failed. 93.8%\n" +
    "-> 1 warning was issued.\n" +
    "<- summary for `props': of 30 tests run: 30 passed, 0 failed. 100.0%\n";
  assert.deepEqual(parseLitmusSummaries(output), [
    { suite: "basic", run: 16, passed: 15, failed: 1 },
    { suite: "props", run: 30, passed: 30, failed: 0 },
  ]);
  assert.throws(() => assertAllPassed(output));
});

Deno.test({
  name: "litmus basic, copymove, props, locks and http: 100% against main.ts over a directory",
  ignore: !hasLitmus,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "filedrop-litmus-root-" });
    const server = await startServerProcess(root, ["--no-fsync"]);
    try {
      assertAllPassed(await runLitmus(server.url));
    } finally {
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "litmus basic, copymove, props, locks and http: 100% over an S3 store",
  ignore: !hasLitmus || s3Ignored,
  fn: async () => {
    const prefix = testPrefix("litmus");
    const server = await serve(testServeOptions(prefix));
    try {
      assertAllPassed(await runLitmus(server.url));
    } finally {
      await server.shutdown();
      await removePrefix(testClient(), prefix);
    }
  },
});
