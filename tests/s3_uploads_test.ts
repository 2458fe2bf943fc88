/**
 * Tests of `deno task s3:uploads` (scripts/s3_uploads.ts) against the test
 * gateway (tests/_s3.ts): it lists a multipart upload an instance left
 * unfinished, and aborts it with --abort.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseAge } from "../scripts/s3_uploads.ts";
import { removePrefix, s3Ignored, testClient, testPrefix, testRoot } from "./_s3.ts";

Deno.test("parseAge reads s, m, h, d and plain milliseconds", () => {
  assert.equal(parseAge("90s"), 90_000);
  assert.equal(parseAge("30m"), 1_800_000);
  assert.equal(parseAge("1h"), 3_600_000);
  assert.equal(parseAge("2d"), 172_800_000);
  assert.equal(parseAge("250"), 250);
  assert.ok(Number.isNaN(parseAge("1w")));
  assert.ok(Number.isNaN(parseAge("-1h")));
});

async function runScript(args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../scripts/s3_uploads.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return { code: output.code, stdout };
}

Deno.test({
  name: "s3:uploads lists an unfinished multipart upload, and --abort aborts it",
  ignore: s3Ignored,
  async fn() {
    const client = testClient();
    const prefix = testPrefix("s3-uploads");
    try {
      // What an instance that died mid-upload leaves: an upload never completed.
      await client.createMultipartUpload(`${prefix}half.bin`);
      const root = testRoot(prefix);
      const listed = await runScript([root, "--older-than", "0s"]);
      assert.match(listed.stdout, /^stale\t[0-9]+ s\t.*half\.bin$/m);
      assert.match(listed.stdout, /1 unfinished upload\(s\)$/m);
      const recent = await runScript([root]);
      assert.match(recent.stdout, /^recent\t/m, "younger than the default day");

      const aborted = await runScript([root, "--abort", "--older-than", "0s"]);
      assert.match(aborted.stdout, /^aborted\t.*half\.bin$/m);
      assert.match(aborted.stdout, /1 unfinished upload\(s\), 1 aborted$/m);
      assert.deepEqual(await client.listMultipartUploads(prefix), []);
    } finally {
      await removePrefix(client, prefix);
      client.close();
    }
  },
});
