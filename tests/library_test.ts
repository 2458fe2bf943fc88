/**
 * Tests of lib/mod.ts as a library: separate programs (tests/fixtures/)
 * import it, serve a temp dir, make a request and print what they saw; these
 * tests run them as their own processes, from outside the project, with only
 * the permissions the library needs, and check their output.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./_helpers.ts";

const PROJECT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURES = path.join(PROJECT, "tests", "fixtures");

/**
 * Runs a fixture program over a fresh ROOT holding `hello.txt`, with network
 * access to 127.0.0.1 and file access to ROOT only, and the cwd outside the
 * project (the project's deno.json is given with --config, as a user of the
 * library would give theirs). Returns its output and ROOT.
 */
async function runFixture(
  fixture: string,
  check: (
    result: { code: number; stdout: string; stderr: string },
    root: string,
  ) => void | Promise<void>,
): Promise<void> {
  const work = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-library-" }));
  const root = path.join(work, "root");
  await Deno.mkdir(root);
  await Deno.writeTextFile(path.join(root, "hello.txt"), "hello, library\n");
  try {
    const result = await run(Deno.execPath(), [
      "run",
      "--config",
      path.join(PROJECT, "deno.json"),
      "--allow-net=127.0.0.1",
      `--allow-read=${root}`,
      `--allow-write=${root}`,
      path.join(FIXTURES, fixture),
      root,
    ], { cwd: work, env: { NO_COLOR: "1" } });
    await check(result, root);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("a separate program serves a temp dir with serve(), GETs and PUTs, then shuts down", async () => {
  await runFixture("library_serve.ts", async ({ code, stdout, stderr }, root) => {
    assert.equal(code, 0, `exit code; stderr: ${stderr}`);
    assert.equal(stderr, "");
    const printed = JSON.parse(stdout);
    assert.match(printed.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.notEqual(printed.url, "http://127.0.0.1:8080/", "port 0 lets the OS choose");
    assert.equal(printed.root, root);
    assert.deepEqual(printed.get, { status: 200, body: "hello, library\n" });
    assert.deepEqual(printed.put, { status: 201, location: "/notes/from-library.txt" });
    assert.equal(
      await Deno.readTextFile(path.join(root, "notes", "from-library.txt")),
      "written through the library",
    );
  });
});

Deno.test("a separate program serves a connection it accepted itself", async () => {
  await runFixture("library_connection.ts", ({ code, stdout, stderr }) => {
    assert.equal(code, 0, `exit code; stderr: ${stderr}`);
    const printed = JSON.parse(stdout);
    assert.equal(printed.statusLine, "HTTP/1.1 200 OK");
    assert.equal(printed.body, "hello, library\n");
  });
});
