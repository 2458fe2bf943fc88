/// <reference lib="dom" />
/**
 * The listing page under access rules in a real browser (Debian's headless
 * Chromium through playwright-core): the page offers only what the signed-in
 * user may do, lists only what they may read, and what it offers works.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { browserTest, listedNames, withBrowserPage } from "./_browser.ts";

const ACCESS = {
  auth: ["admin:a-pass", "bob:b-pass", "carol:c-pass"],
  rules: ["admin@/:rwd", "@/public", "@/public/staff:-", "bob@/team:rw"],
};

/**
 * Sends the user's credentials with every request, as a browser does once
 * signed in (Playwright's httpCredentials would wait for a 401 that an open
 * read never gets).
 */
function signedIn(username: string, password: string) {
  return { extraHTTPHeaders: { Authorization: `Basic ${btoa(`${username}:${password}`)}` } };
}

/** Fills the tree: /public (with a staff-only folder) and /team. */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(path.join(root, "public", "staff"), { recursive: true });
  await Deno.writeTextFile(path.join(root, "public", "notes.txt"), "for everyone");
  await Deno.writeTextFile(path.join(root, "public", "staff", "pay.txt"), "staff only");
  await Deno.mkdir(path.join(root, "team"));
  await Deno.writeTextFile(path.join(root, "team", "plan.txt"), "the plan");
}

/** How many of each control the page shows. */
async function controls(page: Page): Promise<Record<string, number>> {
  const count = (selector: string) => page.locator(selector).count();
  return {
    upload: await count("#upload-files"),
    folderUpload: await count("#upload-folder"),
    newFolder: await count("#new-folder"),
    rename: await count('button[data-action="rename"]'),
    delete: await count('button[data-action="delete"]'),
    move: await count("#selection-move"),
    deleteSelected: await count("#selection-delete"),
  };
}

browserTest(
  "a read-only user sees no upload, folder, rename, move or delete controls, and no staff folder",
  () =>
    withBrowserPage(
      { serve: ACCESS, context: signedIn("carol", "c-pass") },
      async ({ page, server, root }) => {
        await makeTree(root);
        await page.goto(`${server.url}public/`);
        assert.deepEqual(await listedNames(page), ["notes.txt"], "the staff folder is not listed");
        assert.deepEqual(await controls(page), {
          upload: 0,
          folderUpload: 0,
          newFolder: 0,
          rename: 0,
          delete: 0,
          move: 0,
          deleteSelected: 0,
        });
        assert.equal(await page.locator("body").getAttribute("data-writable"), "false");
        assert.equal(await page.locator("body").getAttribute("data-deletable"), "false");
        assert.equal(await page.locator("td.actions, dialog#dialog, noscript").count(), 0);
        // Reading works: selecting offers the download only.
        await page.locator('tr[data-name="notes.txt"] input[type="checkbox"]').check();
        assert.ok(await page.locator("#selection-download").isVisible());
      },
    ),
);

browserTest(
  "a user who may write but not delete gets uploads and a new folder, and no rename or delete",
  () =>
    withBrowserPage(
      { serve: ACCESS, context: signedIn("bob", "b-pass") },
      async ({ page, server, root }) => {
        await makeTree(root);
        await page.goto(`${server.url}team/`);
        assert.deepEqual(await listedNames(page), ["plan.txt"]);
        assert.deepEqual(await controls(page), {
          upload: 1,
          folderUpload: 1,
          newFolder: 1,
          rename: 0,
          delete: 0,
          move: 0,
          deleteSelected: 0,
        });
        await page.locator("#file-input").setInputFiles({
          name: "minutes.txt",
          mimeType: "text/plain",
          buffer: Buffer.from("minutes of the meeting"),
        });
        await page.locator('tr[data-name="minutes.txt"]').waitFor();
        assert.equal(
          await Deno.readTextFile(path.join(root, "team", "minutes.txt")),
          "minutes of the meeting",
        );
      },
    ),
);

browserTest(
  "the admin gets every control, and sees the staff folder",
  () =>
    withBrowserPage(
      { serve: ACCESS, context: signedIn("admin", "a-pass") },
      async ({ page, server, root }) => {
        await makeTree(root);
        await page.goto(`${server.url}public/`);
        assert.deepEqual(await listedNames(page), ["staff/", "notes.txt"]);
        assert.deepEqual(await controls(page), {
          upload: 1,
          folderUpload: 1,
          newFolder: 1,
          rename: 2,
          delete: 2,
          move: 1,
          deleteSelected: 1,
        });
      },
    ),
);
