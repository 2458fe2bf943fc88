/**
 * Writes the README's screenshots of the listing page, from a demo folder
 * served by a real server: docs/screenshot-light.png (desktop, uploads in
 * progress), docs/screenshot-dark.png (desktop, the rename dialog) and
 * docs/screenshot-phone.png.
 *
 * Run with `deno task screenshots` (needs /usr/bin/chromium).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as path from "node:path";
import type { BrowserContextOptions, Page } from "playwright-core";
import { serve } from "../lib/mod.ts";
import { eventually, launchBrowser, throttleUploads } from "./_browser.ts";

const DOCS = path.join(import.meta.dirname ?? ".", "..", "docs");
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** The folder the screenshots show, so the breadcrumb and the parent link appear. */
const SHOWN = ["Shared", "Team 2026"];

/** [name, size in bytes (null: a folder), age in ms], inside {@linkcode SHOWN}. */
const DEMO_TREE: [string, number | null, number][] = [
  ["Photos", null, 2 * DAY],
  ["Projects", null, 40 * MINUTE],
  ["Music", null, 95 * DAY],
  ["README.md", 2_310, 3 * MINUTE],
  ["quarterly-report.pdf", 1_284_000, 5 * DAY],
  ["holiday-2026.jpg", 3_480_112, 26 * DAY],
  ["backup-2026-11.tar.gz", 251_658_240, 9 * 60 * MINUTE],
  ["server.ts", 8_406, 20 * MINUTE],
  ["meeting-notes.txt", 912, 400 * DAY],
  ["theme-song.mp3", 6_203_392, 210 * DAY],
  ["demo-recording.mp4", 48_234_496, 14 * DAY],
];

async function makeDemoTree(root: string): Promise<void> {
  const now = Date.now();
  const shown = path.join(root, ...SHOWN);
  await Deno.mkdir(shown, { recursive: true });
  for (const [name, size, age] of DEMO_TREE) {
    const target = path.join(shown, name);
    if (size === null) {
      await Deno.mkdir(target);
    } else {
      // Sparse: the sizes are for show, not for the disk.
      using file = await Deno.open(target, { write: true, create: true });
      await file.truncate(size);
    }
    const time = new Date(now - age);
    await Deno.utime(target, time, time);
  }
}

/** Opens the rename dialog of one file. */
async function showRename(page: Page): Promise<void> {
  await page.locator('tr[data-name="quarterly-report.pdf"] button[data-action="rename"]').click();
  await page.locator("dialog[open]").waitFor();
}

/** Starts two uploads, one small (finishes) and one big (still going when the shot is taken). */
async function showUploads(page: Page): Promise<void> {
  await throttleUploads(page, 3 * 1024 * 1024);
  await page.locator("#file-input").setInputFiles([
    { name: "slides.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(180_000) },
    { name: "raw-footage.mov", mimeType: "video/quicktime", buffer: Buffer.alloc(24 << 20) },
  ]);
  await eventually(
    "the small upload to finish",
    async () =>
      (await page.locator('.upload[data-state="done"]').count()) === 1 &&
      (await page.locator('#listing tr[data-name="slides.pdf"]').count()) === 1,
    30_000,
  );
  await page.waitForTimeout(1500);
}

async function shoot(
  url: string,
  file: string,
  options: BrowserContextOptions,
  prepare: (page: Page) => Promise<void>,
  fullPage: boolean,
): Promise<void> {
  const browser = await launchBrowser(options);
  try {
    const page = await browser.context.newPage();
    await page.goto(url);
    await prepare(page);
    await page.screenshot({ path: path.join(DOCS, file), fullPage });
    console.log(`wrote docs/${file}`);
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-demo-" });
  await makeDemoTree(root);
  const server = await serve({ root, port: 0, fsync: false, onError: () => {} });
  const url = new URL(SHOWN.map(encodeURIComponent).join("/") + "/", server.url).href;
  try {
    await Deno.mkdir(DOCS, { recursive: true });
    const desktop = { viewport: { width: 1100, height: 720 } };
    await shoot(
      url,
      "screenshot-light.png",
      { ...desktop, colorScheme: "light" },
      showUploads,
      true,
    );
    await Deno.remove(path.join(root, ...SHOWN, "slides.pdf"));
    // One screenful: the dialog's backdrop covers the viewport only.
    await shoot(url, "screenshot-dark.png", { ...desktop, colorScheme: "dark" }, showRename, false);
    const phone = {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: "light" as const,
    };
    await shoot(url, "screenshot-phone.png", phone, () => Promise.resolve(), false);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await main();
