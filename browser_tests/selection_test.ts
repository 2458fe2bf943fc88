/// <reference lib="dom" />
/**
 * Multi-select in the page: checkboxes and shift-click ranges, then the
 * selection downloaded as one zip (read back by Python's `zipfile`), moved
 * into a folder and deleted, each checked on disk. Run with
 * `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { browserTest, eventually, listedNames, withBrowserPage } from "./_browser.ts";

function rowBox(page: Page, name: string) {
  return page.locator(`#listing tr[data-name="${name}"] td.select input`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function zipMembers(file: string): Promise<string[]> {
  const script = "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): " +
    "print(i.filename, i.file_size)";
  const output = await new Deno.Command("python3", { args: ["-c", script, file] }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim().split("\n").sort();
}

browserTest("shift-click selects a range; the selection downloads, moves and deletes", async () => {
  await withBrowserPage({ context: { acceptDownloads: true } }, async ({ page, server, root }) => {
    for (const name of ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]) {
      await Deno.writeTextFile(path.join(root, name), name.repeat(3));
    }
    await Deno.mkdir(path.join(root, "dest"));
    await page.goto(server.url);
    const bar = page.locator("#selection-bar");
    assert.equal(await bar.isVisible(), false);

    await rowBox(page, "a.txt").click();
    await rowBox(page, "c.txt").click({ modifiers: ["Shift"] });
    assert.equal(await page.locator("#selection-count").textContent(), "3 selected");
    for (const name of ["a.txt", "b.txt", "c.txt"]) assert.ok(await rowBox(page, name).isChecked());
    assert.equal(await rowBox(page, "d.txt").isChecked(), false);
    assert.equal(await page.locator("#listing tr.selected").count(), 3);

    // Download: one zip of exactly the selection.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click("#selection-download"),
    ]);
    assert.equal(download.suggestedFilename(), "files.zip");
    const scratch = await Deno.makeTempDir({ prefix: "filedrop-selected-" });
    try {
      const file = path.join(scratch, "selected.zip");
      await download.saveAs(file);
      assert.deepEqual(await zipMembers(file), ["a.txt 15", "b.txt 15", "c.txt 15"]);
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }

    // Move into dest/: one MOVE each.
    await page.click("#selection-move");
    await page.fill("#dialog-input", "dest");
    await page.click("#dialog-ok");
    await eventually(
      "the moved files to leave the listing",
      async () => !(await listedNames(page)).includes("a.txt"),
    );
    for (const name of ["a.txt", "b.txt", "c.txt"]) {
      assert.equal(await Deno.readTextFile(path.join(root, "dest", name)), name.repeat(3));
      assert.equal(await exists(path.join(root, name)), false);
    }
    assert.equal(await page.locator("#notice").textContent(), "Moved 3 items.");
    assert.equal(await bar.isVisible(), false, "moved entries are no longer selected");

    // Select all, unselect the folder, delete the rest after one confirmation.
    await page.locator("th.select input").check();
    assert.equal(await page.locator("#selection-count").textContent(), "3 selected");
    await rowBox(page, "dest").uncheck();
    await page.click("#selection-delete");
    assert.match(await page.locator("#dialog-title").textContent() ?? "", /Delete 2 items\?/);
    await page.click("#dialog-ok");
    await eventually(
      "the deleted files to leave the listing",
      async () => (await listedNames(page)).join() === "dest/",
    );
    assert.equal(await exists(path.join(root, "d.txt")), false);
    assert.equal(await exists(path.join(root, "e.txt")), false);
    assert.equal(await page.locator("#notice").textContent(), "Deleted 2 items.");
  });
});

browserTest(
  "on a read-only server the selection can be downloaded, not moved or deleted",
  async () => {
    await withBrowserPage({ serve: { readOnly: true } }, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "a.txt"), "a");
      await page.goto(server.url);
      await rowBox(page, "a.txt").check();
      assert.ok(await page.locator("#selection-download").isVisible());
      assert.equal(await page.locator("#selection-move").count(), 0);
      assert.equal(await page.locator("#selection-delete").count(), 0);
      await page.click("#selection-clear");
      assert.equal(await page.locator("#selection-bar").isVisible(), false);
      assert.equal(await rowBox(page, "a.txt").isChecked(), false);
    });
  },
);
