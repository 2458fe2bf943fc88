/// <reference lib="dom" />
/**
 * Folder downloads from the page: the toolbar's links fetch the folder as a
 * zip or a tar.gz, read back by Python's `zipfile` and `tarfile` and compared
 * with the tree. Run with `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { browserTest, withBrowserPage } from "./_browser.ts";

/** Lists an archive's members with Python's standard library: "name size" lines, sorted. */
async function archiveMembers(file: string, kind: "zip" | "tar.gz"): Promise<string[]> {
  const script = kind === "zip"
    ? "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): " +
      "print(i.filename.rstrip('/'), i.file_size)"
    : "import sys, tarfile\nfor i in tarfile.open(sys.argv[1], 'r:gz'): print(i.name, i.size)";
  const output = await new Deno.Command("python3", { args: ["-c", script, file] }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim().split("\n").sort();
}

browserTest("the toolbar downloads the folder as .zip and .tar.gz", async () => {
  await withBrowserPage({ context: { acceptDownloads: true } }, async ({ page, server, root }) => {
    await Deno.mkdir(path.join(root, "photos", "2026"), { recursive: true });
    await Deno.writeTextFile(path.join(root, "photos", "a.txt"), "aaa");
    await Deno.writeFile(path.join(root, "photos", "2026", "b.bin"), new Uint8Array(5000));
    await Deno.writeTextFile(path.join(root, "photos", ".hidden"), "no");
    await page.goto(`${server.url}photos/`);
    const scratch = await Deno.makeTempDir({ prefix: "filedrop-downloads-" });
    try {
      for (const [id, kind] of [["#download-zip", "zip"], ["#download-tar", "tar.gz"]] as const) {
        const [download] = await Promise.all([page.waitForEvent("download"), page.click(id)]);
        assert.equal(download.suggestedFilename(), `photos.${kind}`);
        const file = path.join(scratch, `photos.${kind}`);
        await download.saveAs(file);
        assert.deepEqual(await archiveMembers(file, kind), [
          "2026 0",
          "2026/b.bin 5000",
          "a.txt 3",
        ]);
      }
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  });
});
