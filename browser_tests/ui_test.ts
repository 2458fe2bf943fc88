/// <reference lib="dom" />
/**
 * The listing page in a real browser (Debian's headless Chromium through
 * playwright-core), against a real server over a temp ROOT: rendering,
 * sorting, filtering, uploads (file input, drop, folder), conflicts, cancel,
 * new folder, rename, delete, WebDAV locks, hostile names, read-only mode, no-JavaScript
 * mode, phone width and the dark theme. Run with `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { formatSize } from "../lib/ui/portable.ts";
import {
  browserTest,
  eventually,
  listedNames,
  throttleUploads,
  withBrowserPage,
} from "./_browser.ts";

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A 412/409/403 answer to the page's own fetch or XHR is logged by Chromium as a console error. */
const HTTP_ERROR_LOG =
  /Failed to load resource: the server responded with a status of (403|409|412)/;

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

async function setAge(file: string, ageMs: number): Promise<void> {
  const time = new Date(Date.now() - ageMs);
  await Deno.utime(file, time, time);
}

/** Names in `dir` that are upload temp files. */
async function tempFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    // Files only: the store's state directory (lock and owner files) is no upload.
    if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) names.push(entry.name);
  }
  return names;
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.lstat(file);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function row(page: Page, name: string) {
  return page.locator("#listing tbody tr").filter({
    has: page.locator("td.name a", { hasText: new RegExp(`^${RegExp.escape(name)}/?$`) }),
  });
}

/** Answers the page's open dialog: types `value` (when given) and presses its OK button. */
async function confirmDialog(page: Page, value?: string): Promise<void> {
  const dialog = page.locator("dialog[open]");
  await dialog.waitFor();
  if (value !== undefined) await dialog.locator("#dialog-input").fill(value);
  await dialog.locator("#dialog-ok").click();
}

// --- Reading -------------------------------------------------------------------

browserTest(
  "the listing renders, sorts in place, filters and navigates",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      await Deno.mkdir(path.join(root, "docs", "deep"), { recursive: true });
      const files: [string, number, number][] = [
        ["b-medium.txt", 5000, 3 * 3600_000],
        ["a-large.bin", 3 * 1024 * 1024, 40 * 86400_000],
        ["c-small.md", 10, 90_000],
      ];
      for (const [name, size, age] of files) {
        await Deno.writeFile(path.join(root, name), new Uint8Array(size));
        await setAge(path.join(root, name), age);
      }
      await page.goto(server.url);

      assert.deepEqual(await listedNames(page), [
        "docs/",
        "a-large.bin",
        "b-medium.txt",
        "c-small.md",
      ]);
      assert.equal(await page.locator("h1").innerText(), "Index of /");
      const large = row(page, "a-large.bin");
      assert.equal(await large.locator("td.num").innerText(), "3.0 MiB");
      assert.equal(await large.locator("time").innerText(), "1 month ago");
      assert.match(await large.locator("time").getAttribute("title") ?? "", /\d{4}/);
      assert.equal(await row(page, "c-small.md").locator("time").innerText(), "1 minute ago");
      assert.equal(await row(page, "b-medium.txt").locator("time").innerText(), "3 hours ago");
      assert.equal(
        await page.locator("#summary").innerText(),
        "1 folder, 3 files, 3.0 MiB in total",
      );

      // Sorting happens in place, remembers itself in the URL and flips on a second click.
      const sizeHeader = page.locator("thead a[data-sort=size]");
      await sizeHeader.click();
      assert.deepEqual(await listedNames(page), [
        "docs/",
        "c-small.md",
        "b-medium.txt",
        "a-large.bin",
      ]);
      assert.equal(new URL(page.url()).search, "?sort=size&order=asc");
      assert.equal(await page.locator("th[aria-sort]").innerText(), "SIZE ▲");
      await sizeHeader.click();
      assert.deepEqual(await listedNames(page), [
        "docs/",
        "a-large.bin",
        "b-medium.txt",
        "c-small.md",
      ]);
      assert.equal(await page.locator("th[aria-sort]").getAttribute("aria-sort"), "descending");
      await page.locator("thead a[data-sort=mtime]").click();
      assert.deepEqual(await listedNames(page), [
        "docs/",
        "a-large.bin",
        "b-medium.txt",
        "c-small.md",
      ]);
      await page.reload();
      assert.deepEqual(await listedNames(page), [
        "docs/",
        "a-large.bin",
        "b-medium.txt",
        "c-small.md",
      ]);

      // The keyboard: "/" focuses the filter, Escape clears it.
      await page.keyboard.press("/");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "filter");
      await page.keyboard.type("SMALL");
      assert.deepEqual(await listedNames(page), ["c-small.md"]);
      assert.equal(await page.locator("#filter-count").innerText(), "1 of 4");
      await page.keyboard.type("zzz");
      assert.deepEqual(await listedNames(page), []);
      assert.ok(await page.locator("#no-match").isVisible());
      await page.keyboard.press("Escape");
      assert.equal((await listedNames(page)).length, 4);

      // Links: into a folder, the breadcrumb and the parent link.
      await page.locator("a", { hasText: "docs/" }).click();
      await page.locator("a", { hasText: "deep/" }).click();
      assert.equal(new URL(page.url()).pathname, "/docs/deep/");
      assert.equal(await page.locator("h1").innerText(), "Index of /docs/deep/");
      assert.equal(await page.locator("td.empty").innerText(), "This folder is empty.");
      await page.locator("h1 a", { hasText: "docs/" }).click();
      assert.equal(new URL(page.url()).pathname, "/docs/");
      await page.locator("a", { hasText: "Parent folder" }).click();
      assert.equal(new URL(page.url()).pathname, "/");
    }),
);

browserTest(
  "without JavaScript, links, sorting and a plain upload form work; script controls stay hidden",
  () =>
    withBrowserPage({ context: { javaScriptEnabled: false } }, async ({ page, server, root }) => {
      await Deno.mkdir(path.join(root, "sub"));
      await Deno.writeTextFile(path.join(root, "sub", "inner.txt"), "inside");
      await Deno.writeFile(path.join(root, "big"), new Uint8Array(2000));
      await Deno.writeFile(path.join(root, "small"), new Uint8Array(20));
      await page.goto(server.url);

      assert.deepEqual(await listedNames(page), ["sub/", "big", "small"]);
      // The field works without the script: it searches below (browser_tests/search_test.ts).
      assert.equal(await page.locator("#filter").isVisible(), true);
      assert.equal(await page.locator("#upload-files").isVisible(), false);
      assert.equal(await page.locator("td.actions button").first().isVisible(), false);

      await page.locator("thead a[data-sort=size]").click();
      assert.equal(new URL(page.url()).search, "?sort=size&order=asc");
      assert.deepEqual(await listedNames(page), ["sub/", "small", "big"]);
      await page.locator("a", { hasText: "sub/" }).click();
      assert.equal(await page.locator("td.name a", { hasText: "inner.txt" }).count(), 1);

      // Uploading falls back to a plain form (POST multipart/form-data to this folder).
      const form = page.locator("form.noscript-upload");
      assert.ok(await form.isVisible());
      await form.locator("input[type=file]").setInputFiles([
        { name: "plain 1.txt", mimeType: "text/plain", buffer: Buffer.from("no script") },
        { name: "plain-2.txt", mimeType: "text/plain", buffer: Buffer.from("needed") },
      ]);
      await form.locator("button[type=submit]").click();
      await page.locator("h1", { hasText: "Uploaded to /sub/" }).waitFor();
      assert.equal(await Deno.readTextFile(path.join(root, "sub", "plain 1.txt")), "no script");
      assert.equal(await Deno.readTextFile(path.join(root, "sub", "plain-2.txt")), "needed");
      await page.locator("a", { hasText: "Back to /sub/" }).click();
      assert.deepEqual(await listedNames(page), ["inner.txt", "plain 1.txt", "plain-2.txt"]);

      await page.locator("a", { hasText: "inner.txt" }).click();
      assert.equal(await page.locator("body").innerText(), "inside");
    }),
);

browserTest(
  "read-only mode shows no upload, folder, rename or delete controls",
  () =>
    withBrowserPage({ serve: { readOnly: true } }, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "keep.txt"), "keep");
      await page.goto(server.url);
      assert.deepEqual(await listedNames(page), ["keep.txt"]);
      for (const selector of ["#upload-files", "#upload-folder", "#new-folder", "#file-input"]) {
        assert.equal(await page.locator(selector).count(), 0, selector);
      }
      assert.equal(await page.locator("td.actions, button[data-action], dialog#dialog").count(), 0);
      assert.equal(await page.locator("body").getAttribute("data-writable"), "false");
      // Reading works as before: filtering, sorting.
      await page.locator("#filter").fill("keep");
      assert.deepEqual(await listedNames(page), ["keep.txt"]);
    }),
);

// --- Uploads -------------------------------------------------------------------

browserTest(
  "uploading through the file input shows progress and speed; the file lands intact",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      await page.goto(server.url);
      await throttleUploads(page, 1024 * 1024);
      const content = randomBytes(2 * 1024 * 1024 + 123);
      await page.locator("#upload-files").waitFor();
      await page.locator("#file-input").setInputFiles({
        name: "photo 1.jpg",
        mimeType: "image/jpeg",
        buffer: Buffer.from(content),
      });

      const upload = page.locator(".upload", { hasText: "photo 1.jpg" });
      const bar = upload.locator("progress");
      await eventually("a partly filled progress bar", async () => {
        const [value, max] = await bar.evaluate((p: HTMLProgressElement) => [p.value, p.max]);
        return value > 0 && value < max;
      });
      assert.match(
        await upload.locator(".upload-status").innerText(),
        /^[\d.]+ \w*B of 2\.0 MiB · [\d.]+ \w*B\/s$/,
      );
      assert.ok(await upload.locator("button", { hasText: "Cancel" }).isVisible());

      await upload.and(page.locator('[data-state="done"]')).waitFor({ timeout: 20_000 });
      assert.match(
        await upload.locator(".upload-status").innerText(),
        /^Uploaded 2\.0 MiB in [\d.]+ s · [\d.]+ \w*B\/s$/,
      );
      assert.equal(await upload.locator("button", { hasText: "Cancel" }).isVisible(), false);
      assert.equal(await page.locator("#uploads-summary").innerText(), "1 of 1 uploaded");

      const listed = row(page, "photo 1.jpg");
      await listed.waitFor();
      assert.equal(await listed.getAttribute("data-size"), String(content.length));
      assert.equal(await listed.locator("td.num").innerText(), formatSize(content.length));
      assert.equal(await listed.locator("a").getAttribute("href"), "./photo%201.jpg");
      assert.deepEqual(await Deno.readFile(path.join(root, "photo 1.jpg")), content);
      assert.deepEqual(await tempFiles(root), []);
    }),
);

browserTest(
  "cancel aborts an upload in flight and leaves nothing behind",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      await page.goto(server.url);
      await throttleUploads(page, 256 * 1024);
      await page.locator("#file-input").setInputFiles({
        name: "huge.iso",
        mimeType: "application/octet-stream",
        buffer: Buffer.alloc(4 * 1024 * 1024),
      });
      const upload = page.locator(".upload", { hasText: "huge.iso" });
      await eventually("the upload to start", async () =>
        await upload.locator("progress").evaluate((p: HTMLProgressElement) =>
          p.value > 0
        ));
      await upload.locator("button", { hasText: "Cancel" }).click();
      await upload.and(page.locator('[data-state="cancelled"]')).waitFor();
      assert.equal(await upload.locator(".upload-status").innerText(), "Cancelled");
      assert.equal(
        await page.locator("#uploads-summary").innerText(),
        "0 of 1 uploaded · 1 cancelled",
      );
      await eventually("the server to drop the temp file", async () =>
        (await tempFiles(root)).length === 0);
      assert.equal(await exists(path.join(root, "huge.iso")), false);

      await page.locator("#uploads-clear").click();
      assert.equal(await page.locator("#uploads").isVisible(), false);
    }),
);

browserTest(
  "dropping several files uploads each one with its own row",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      await Deno.mkdir(path.join(root, "inbox"));
      await page.goto(`${server.url}inbox/`);
      const files: [string, string][] = [
        ["one.txt", "first file"],
        ["two words.md", "# second"],
        ["drei-ü.csv", "a,b\n1,2\n"],
      ];

      await page.evaluate(() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["x"], "probe"));
        document.body.dispatchEvent(
          new DragEvent("dragenter", { bubbles: true, cancelable: true, dataTransfer: transfer }),
        );
      });
      assert.ok(await page.locator("#drop-overlay").isVisible(), "the drop target shows");
      assert.match(await page.locator("#drop-overlay").innerText(), /upload to \/inbox\/$/);

      await page.evaluate((entries) => {
        const transfer = new DataTransfer();
        for (const [name, text] of entries) transfer.items.add(new File([text], name));
        for (const type of ["dragover", "drop"]) {
          document.body.dispatchEvent(
            new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }),
          );
        }
      }, files);
      assert.equal(await page.locator("#drop-overlay").isVisible(), false);
      assert.equal(await page.locator(".upload").count(), files.length);
      await eventually(
        "every upload to finish",
        async () => (await page.locator('.upload[data-state="done"]').count()) === files.length,
      );
      await eventually(
        "the listing to show them",
        async () => (await listedNames(page)).length === files.length,
      );
      assert.deepEqual(await listedNames(page), ["drei-ü.csv", "one.txt", "two words.md"]);
      for (const [name, text] of files) {
        assert.equal(await Deno.readTextFile(path.join(root, "inbox", name)), text, name);
      }
    }),
);

browserTest(
  "a folder picked with the folder input is uploaded with its tree",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      const source = await Deno.makeTempDir({ prefix: "filedrop-folder-" });
      try {
        const album = path.join(source, "album");
        await Deno.mkdir(path.join(album, "disc 2"), { recursive: true });
        await Deno.writeTextFile(path.join(album, "cover.txt"), "cover");
        await Deno.writeTextFile(path.join(album, "disc 2", "track.txt"), "track");
        await page.goto(server.url);
        await page.locator("#folder-input").setInputFiles(album);
        await eventually(
          "both uploads to finish",
          async () => (await page.locator('.upload[data-state="done"]').count()) === 2,
        );
        assert.equal(await Deno.readTextFile(path.join(root, "album", "cover.txt")), "cover");
        assert.equal(
          await Deno.readTextFile(path.join(root, "album", "disc 2", "track.txt")),
          "track",
        );
        await row(page, "album").waitFor();
      } finally {
        await Deno.remove(source, { recursive: true });
      }
    }),
);

browserTest(
  "an upload never replaces an existing file unless the user chooses Replace",
  () =>
    withBrowserPage({ expectedConsoleErrors: HTTP_ERROR_LOG }, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "report.txt"), "old");
      await page.goto(server.url);
      const pick = () =>
        page.locator("#file-input").setInputFiles({
          name: "report.txt",
          mimeType: "text/plain",
          buffer: Buffer.from("new version"),
        });
      await pick();
      const upload = page.locator(".upload").first();
      await upload.and(page.locator('[data-state="conflict"]')).waitFor();
      assert.equal(
        await upload.locator(".upload-status").innerText(),
        "A file with this name already exists.",
      );
      assert.equal(await Deno.readTextFile(path.join(root, "report.txt")), "old");

      await upload.locator("button", { hasText: "Skip" }).click();
      await upload.and(page.locator('[data-state="cancelled"]')).waitFor();
      assert.equal(await Deno.readTextFile(path.join(root, "report.txt")), "old");

      await pick();
      const second = page.locator(".upload").nth(1);
      await second.and(page.locator('[data-state="conflict"]')).waitFor();
      await second.locator("button", { hasText: "Replace" }).click();
      await second.and(page.locator('[data-state="done"]')).waitFor();
      assert.match(await second.locator(".upload-status").innerText(), /^Replaced/);
      assert.equal(await Deno.readTextFile(path.join(root, "report.txt")), "new version");
      await eventually(
        "the listing to show the new size",
        async () => (await row(page, "report.txt").getAttribute("data-size")) === "11",
      );
    }),
);

// --- Folders, rename, delete -------------------------------------------------------

browserTest(
  "new folder, rename (with a replace prompt) and delete (with confirmation)",
  () =>
    withBrowserPage({ expectedConsoleErrors: HTTP_ERROR_LOG }, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "draft.txt"), "draft");
      await Deno.writeTextFile(path.join(root, "final.txt"), "final");
      await page.goto(server.url);

      // New folder.
      await page.locator("#new-folder").click();
      await confirmDialog(page, "Reports 2026");
      await row(page, "Reports 2026").waitFor();
      assert.ok((await Deno.stat(path.join(root, "Reports 2026"))).isDirectory);
      assert.equal(await page.locator("#notice").innerText(), "Created folder “Reports 2026”.");

      // Rename: the dialog offers the name with the stem selected.
      await row(page, "draft.txt").locator("button[data-action=rename]").click();
      const input = page.locator("#dialog-input");
      assert.equal(await input.inputValue(), "draft.txt");
      assert.deepEqual(
        await input.evaluate((i: HTMLInputElement) => [i.selectionStart, i.selectionEnd]),
        [0, 5],
      );
      await page.keyboard.type("notes");
      await page.keyboard.press("Enter");
      await row(page, "notes.txt").waitFor();
      assert.equal(await Deno.readTextFile(path.join(root, "notes.txt")), "draft");
      assert.equal(await exists(path.join(root, "draft.txt")), false);

      // Rename onto an existing name asks first; Cancel keeps both.
      await row(page, "notes.txt").locator("button[data-action=rename]").click();
      await confirmDialog(page, "final.txt");
      await page.locator("#dialog-title", { hasText: "Replace" }).waitFor();
      assert.equal(await page.locator("#dialog-title").innerText(), "Replace “/final.txt”?");
      await page.locator("#dialog-cancel").click();
      assert.equal(await Deno.readTextFile(path.join(root, "final.txt")), "final");
      assert.equal(await exists(path.join(root, "notes.txt")), true);

      // Move into the folder with a relative path.
      await row(page, "notes.txt").locator("button[data-action=rename]").click();
      await confirmDialog(page, "Reports 2026/notes.txt");
      await eventually(
        "notes.txt to leave the listing",
        async () => !(await listedNames(page)).includes("notes.txt"),
      );
      assert.equal(await Deno.readTextFile(path.join(root, "Reports 2026", "notes.txt")), "draft");

      // Delete asks; Escape cancels.
      await row(page, "final.txt").locator("button[data-action=delete]").click();
      assert.equal(await page.locator("#dialog-title").innerText(), "Delete “final.txt”?");
      await page.keyboard.press("Escape");
      assert.equal(await exists(path.join(root, "final.txt")), true);
      await row(page, "final.txt").locator("button[data-action=delete]").click();
      await confirmDialog(page);
      await eventually(
        "final.txt to leave the listing",
        async () => !(await listedNames(page)).includes("final.txt"),
      );
      assert.equal(await exists(path.join(root, "final.txt")), false);
      assert.equal(await page.locator("#notice").innerText(), "Deleted “final.txt”.");

      // A folder that is not empty is refused, and says so.
      await row(page, "Reports 2026").locator("button[data-action=delete]").click();
      await confirmDialog(page);
      await eventually(
        "the refusal",
        async () => (await page.locator("#notice").innerText()).includes("is not empty"),
      );
      assert.ok(await page.locator("#notice.error").isVisible());
      assert.equal(await exists(path.join(root, "Reports 2026", "notes.txt")), true);
    }),
);

browserTest(
  "a file a WebDAV client locked: delete and rename say so in words and change nothing",
  () =>
    withBrowserPage({ expectedConsoleErrors: /status of 423/ }, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "locked.txt"), "mine");
      const lock = await fetch(`${server.url}locked.txt`, {
        method: "LOCK",
        body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>' +
          "<D:locktype><D:write/></D:locktype></D:lockinfo>",
      });
      await lock.body?.cancel();
      assert.equal(lock.status, 200);
      await page.goto(server.url);

      await row(page, "locked.txt").locator("button[data-action=delete]").click();
      await confirmDialog(page);
      await eventually(
        "the refusal",
        async () => (await page.locator("#notice").innerText()).includes("locked by a WebDAV"),
      );
      assert.ok(await page.locator("#notice.error").isVisible());
      assert.doesNotMatch(await page.locator("#notice").innerText(), /<\?xml|D:error/);
      await row(page, "locked.txt").locator("button[data-action=rename]").click();
      await confirmDialog(page, "other.txt");
      await eventually(
        "the rename's refusal",
        async () => (await page.locator("#notice").innerText()).startsWith("Could not rename"),
      );
      assert.equal(await Deno.readTextFile(path.join(root, "locked.txt")), "mine");
      assert.equal(await exists(path.join(root, "other.txt")), false);
    }),
);

browserTest(
  "everything works from the keyboard alone",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      await Deno.writeTextFile(path.join(root, "a.txt"), "a");
      await page.goto(server.url);
      const focused = () =>
        page.evaluate(() => {
          const element = document.activeElement;
          return element?.id || element?.getAttribute("aria-label") || element?.textContent || "";
        });

      // Tab order: the filter, then the upload button, whose Space opens the file picker.
      // (Enter clicks it too, but headless Chromium opens no picker for a synthetic Enter.)
      // Listen first: Playwright starts catching pickers a few round trips later.
      const chooser = page.waitForEvent("filechooser");
      chooser.catch(() => {}); // Awaited below; if an assertion fails first, it must not go unhandled.
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "filter");
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "upload-files");
      await page.keyboard.press("Space");
      const picker = await chooser;
      assert.ok(picker.isMultiple());
      await picker.setFiles({
        name: "typed.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("kb"),
      });
      let listingReloads = 0;
      page.on("response", (response) => {
        const request = response.request();
        if (request.method() === "GET" && new URL(response.url()).pathname === "/") {
          listingReloads++;
        }
      });
      await page.locator('.upload[data-state="done"]').waitFor();
      assert.equal(await Deno.readTextFile(path.join(root, "typed.txt")), "kb");

      // New folder: Tab, Enter, type, Enter.
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "new-folder");
      await page.keyboard.press("Enter");
      assert.equal(await focused(), "dialog-input");
      await page.keyboard.type("by keyboard");
      await page.keyboard.press("Enter");
      await row(page, "by keyboard").waitFor();
      // The upload's own refresh runs 250 ms after it ends: let both listing reloads (that one
      // and the new folder's) land before focusing a row control, or one rebuilds the rows
      // under the open dialog.
      await waitUntil(() => listingReloads >= 2);

      // A row's link, then its rename and delete buttons; dialogs answer to Escape, Tab and Enter.
      await row(page, "a.txt").locator("a").focus();
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "Rename a.txt");
      await page.keyboard.press("Enter");
      assert.equal(await focused(), "dialog-input");
      await page.keyboard.press("Escape");
      assert.equal(await focused(), "Rename a.txt", "focus returns to the button");
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "Delete a.txt");
      await page.keyboard.press("Enter");
      assert.equal(await focused(), "dialog-cancel", "a destructive dialog starts on Cancel");
      await page.keyboard.press("Tab");
      assert.equal(await focused(), "dialog-ok");
      await page.keyboard.press("Enter");
      await eventually("a.txt to go", async () => !(await exists(path.join(root, "a.txt"))));
    }),
);

// --- Hostile names ---------------------------------------------------------------

const HOSTILE_NAMES = [
  "<img src=x onerror=window.__pwned=1>.txt",
  `"'><svg onload=window.__pwned=2>`,
  "<script>window.__pwned=3<.js",
  "a&amp;b #1 ?x=%41",
];

browserTest(
  "hostile file names render as text, link to themselves and run no script",
  () =>
    withBrowserPage({}, async ({ page, server, root }) => {
      for (const name of HOSTILE_NAMES) await Deno.writeTextFile(path.join(root, name), name);
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message());
        dialog.dismiss();
      });
      await page.goto(server.url);

      assert.deepEqual((await listedNames(page)).sort(), [...HOSTILE_NAMES].sort());
      for (const name of HOSTILE_NAMES) {
        const link = row(page, name).locator("a");
        assert.equal(await link.innerText(), name);
        assert.equal(
          await row(page, name).locator("button[data-action=delete]").getAttribute("aria-label"),
          `Delete ${name}`,
        );
        // Following the link fetches exactly that file.
        const href = await link.getAttribute("href");
        const response = await page.request.get(new URL(href!, server.url).href);
        assert.equal(await response.text(), name);
      }
      // The page script handles the names too: rename dialog, filter, upload rows.
      await row(page, HOSTILE_NAMES[0]).locator("button[data-action=rename]").click();
      assert.equal(await page.locator("#dialog-title").innerText(), `Rename “${HOSTILE_NAMES[0]}”`);
      assert.equal(await page.locator("#dialog-input").inputValue(), HOSTILE_NAMES[0]);
      await page.locator("#dialog-cancel").click();
      await page.locator("#filter").fill("<svg");
      assert.deepEqual(await listedNames(page), [HOSTILE_NAMES[1]]);
      await page.locator("#file-input").setInputFiles({
        name: "<img src=y onerror=window.__pwned=4>.png",
        mimeType: "image/png",
        buffer: Buffer.from("png"),
      });
      await page.locator('.upload[data-state="done"]').waitFor();
      assert.equal(
        await page.locator(".upload-name").innerText(),
        "<img src=y onerror=window.__pwned=4>.png",
      );

      assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator("#listing img, #listing script, #uploads img").count(), 0);
      assert.deepEqual(dialogs, []);
    }),
);

// --- Auth ------------------------------------------------------------------------

const AUTH = { username: "alice", password: "correct horse" };

browserTest(
  "with --auth, a write with a wrong password fails visibly and stores nothing",
  () =>
    withBrowserPage({
      serve: { auth: [`${AUTH.username}:${AUTH.password}`] },
      // What the user typed into the prompt. (Headless Chromium has no prompt to
      // cancel: without any credentials the request would wait for it forever.)
      context: { httpCredentials: { username: AUTH.username, password: "wrong" } },
      expectedConsoleErrors: /status of 401/,
    }, async ({ page, server, root }) => {
      await page.goto(server.url);
      await page.locator("#file-input").setInputFiles({
        name: "sneaky.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("no"),
      });
      const upload = page.locator(".upload", { hasText: "sneaky.txt" });
      await upload.and(page.locator('[data-state="error"]')).waitFor();
      assert.equal(
        await upload.locator(".upload-status").innerText(),
        "Failed: 401 Authentication required",
      );
      assert.equal(await exists(path.join(root, "sneaky.txt")), false);
    }),
);

browserTest(
  "with --auth, the browser is challenged, answers with the credentials and writes",
  () => {
    const statuses: string[] = [];
    return withBrowserPage({
      serve: {
        auth: [`${AUTH.username}:${AUTH.password}`],
        onExchange: (record) => statuses.push(`${record.request?.method} ${record.status}`),
      },
      // The credentials the user would type into the browser's prompt.
      context: { httpCredentials: AUTH },
      expectedConsoleErrors: /status of 401/,
    }, async ({ page, server, root }) => {
      await page.goto(server.url);
      await page.locator("#file-input").setInputFiles({
        name: "allowed.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("yes"),
      });
      await page.locator('.upload[data-state="done"]').waitFor();
      assert.equal(await Deno.readTextFile(path.join(root, "allowed.txt")), "yes");
      const puts = statuses.filter((status) => status.startsWith("PUT"));
      assert.deepEqual(puts, ["PUT 401", "PUT 201"], "challenged first, then allowed");

      await row(page, "allowed.txt").locator("button[data-action=delete]").click();
      await confirmDialog(page);
      await eventually("the delete", async () => !(await exists(path.join(root, "allowed.txt"))));
    });
  },
);

// --- Layout ------------------------------------------------------------------------

browserTest(
  "at phone width nothing overflows sideways and the controls are reachable",
  () =>
    withBrowserPage({
      context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
    }, async ({ page, server, root }) => {
      await Deno.writeTextFile(
        path.join(root, "a-very-long-file-name-that-would-push-the-table-wider-than-a-phone.txt"),
        "x",
      );
      await page.goto(server.url);
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth - document.documentElement.clientWidth
      );
      assert.equal(overflow, 0);
      for (
        const selector of ["#filter", "#upload-files", "#new-folder", "button[data-action=delete]"]
      ) {
        const box = await page.locator(selector).first().boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 360, selector);
        assert.ok(box.height >= 32, `${selector} is big enough to tap`);
      }
      assert.equal(await page.locator("th.time").isVisible(), false, "the time column gives way");
    }),
);

browserTest(
  "the dark theme follows the system setting",
  () =>
    withBrowserPage({ context: { colorScheme: "dark" } }, async ({ page, server }) => {
      await page.goto(server.url);
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(background, "rgb(13, 17, 23)");
      await page.emulateMedia({ colorScheme: "light" });
      assert.equal(
        await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
        "rgb(255, 255, 255)",
      );
    }),
);
