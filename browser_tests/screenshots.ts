/// <reference lib="dom" />
/**
 * Writes the README's screenshots of the listing page, from a demo folder
 * served by a real server: docs/screenshot-light.png (desktop, uploads in
 * progress), docs/screenshot-dark.png (desktop, the rename dialog),
 * docs/screenshot-phone.png, docs/screenshot-grid.png (the grid view of a
 * folder of pictures), docs/screenshot-preview.png (a picture's preview) and
 * docs/screenshot-select.png (rows selected, the selection bar) and
 * docs/screenshot-search.png (a search below the folder). The pictures
 * are drawn by the browser itself (a canvas), so nothing is downloaded.
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

/** Files deeper in the demo tree, [path below {@linkcode SHOWN}, size], for the search. */
const NESTED_FILES: [string, number][] = [
  ["Projects/filedrop/docs/status-report.md", 14_220],
  ["Projects/filedrop/bench/report-2026-12-06.json", 88_113],
  ["Projects/Annual Reports/2025-annual-report.pdf", 2_904_331],
  ["Projects/Annual Reports/2024-annual-report.pdf", 2_611_020],
  ["Music/Live/reporter-session.flac", 31_455_118],
];

/** Pictures in the demo's Photos folder: [name, two gradient hues, sun or moon]. */
const PICTURES: [string, number, number, boolean][] = [
  ["beach.png", 195, 45, true],
  ["city-night.png", 235, 280, false],
  ["forest.png", 120, 85, true],
  ["mountains.png", 210, 260, false],
  ["sunset.png", 25, 330, true],
  ["snowfield.png", 200, 190, true],
];

/** Draws each picture as a PNG in a blank page's canvas. */
async function drawPictures(): Promise<Map<string, Uint8Array>> {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const pictures = new Map<string, Uint8Array>();
    for (const [name, top, bottom, sun] of PICTURES) {
      const dataUrl = await page.evaluate(([top, bottom, sun]) => {
        const canvas = document.createElement("canvas");
        canvas.width = 640;
        canvas.height = 480;
        const context = canvas.getContext("2d")!;
        const sky = context.createLinearGradient(0, 0, 0, 480);
        sky.addColorStop(0, `hsl(${top} 70% 55%)`);
        sky.addColorStop(1, `hsl(${bottom} 75% 70%)`);
        context.fillStyle = sky;
        context.fillRect(0, 0, 640, 480);
        context.fillStyle = sun ? "hsl(48 100% 70%)" : "hsl(60 30% 92%)";
        context.beginPath();
        context.arc(470, 150, 60, 0, 2 * Math.PI);
        context.fill();
        context.fillStyle = `hsl(${bottom} 35% 25% / .85)`;
        context.beginPath();
        context.moveTo(0, 480);
        context.lineTo(0, 330);
        context.lineTo(170, 230);
        context.lineTo(330, 340);
        context.lineTo(470, 270);
        context.lineTo(640, 360);
        context.lineTo(640, 480);
        context.fill();
        return canvas.toDataURL("image/png");
      }, [top, bottom, sun] as const);
      const base64 = dataUrl.slice(dataUrl.indexOf(",") + 1);
      pictures.set(name, Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)));
    }
    return pictures;
  } finally {
    await browser.close();
  }
}

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
  for (const [name, size] of NESTED_FILES) {
    await Deno.mkdir(path.dirname(path.join(shown, name)), { recursive: true });
    using file = await Deno.open(path.join(shown, name), { write: true, create: true });
    await file.truncate(size);
  }
  const photos = path.join(shown, "Photos");
  await Deno.mkdir(path.join(photos, "2025"));
  let age = 3 * DAY;
  for (const [name, bytes] of await drawPictures()) {
    await Deno.writeFile(path.join(photos, name), bytes);
    const time = new Date(now - (age += 7 * DAY));
    await Deno.utime(path.join(photos, name), time, time);
  }
  const photosTime = new Date(now - 2 * DAY);
  await Deno.utime(photos, photosTime, photosTime);
}

/** Switches to the grid view (the choice is kept in the profile, which is thrown away). */
async function showGrid(page: Page): Promise<void> {
  await page.click("#view-toggle");
  // Decoded, not only loaded: thumbnails decode asynchronously and would be painted blank.
  await page.evaluate(() =>
    Promise.all(
      [...document.querySelectorAll<HTMLImageElement>("img.thumb")].map((image) => image.decode()),
    )
  );
  await page.waitForTimeout(300);
}

/** Opens one picture's preview. */
async function showPreview(page: Page): Promise<void> {
  await page.locator("a", { hasText: "mountains.png" }).click();
  await page.waitForFunction(() =>
    (document.querySelector(".preview-image") as HTMLImageElement | null)?.naturalWidth === 640
  );
}

/** Selects three rows, the last two with a shift-click. */
async function showSelection(page: Page): Promise<void> {
  await page.locator('tr[data-name="README.md"] td.select input').click();
  await page.locator('tr[data-name="quarterly-report.pdf"] td.select input').click();
  await page.locator('tr[data-name="server.ts"] td.select input').click({ modifiers: ["Shift"] });
  await page.locator("#selection-bar").waitFor();
}

/** Searches below the folder for "report" and waits for the last line. */
async function showSearch(page: Page): Promise<void> {
  await page.keyboard.press("/");
  await page.keyboard.type("report");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() =>
    document.querySelector("#search-panel")?.getAttribute("aria-busy") === "false"
  );
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
  ], { timeout: 60_000 }); // 24 MiB through Playwright's pipe is slow on a busy machine.
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
    const photos = new URL("Photos/", url).href;
    await shoot(
      photos,
      "screenshot-grid.png",
      { ...desktop, colorScheme: "light" },
      showGrid,
      false,
    );
    await shoot(
      photos,
      "screenshot-preview.png",
      { ...desktop, colorScheme: "dark" },
      showPreview,
      false,
    );
    await shoot(
      url,
      "screenshot-select.png",
      { ...desktop, colorScheme: "light" },
      showSelection,
      false,
    );
    await shoot(
      url,
      "screenshot-search.png",
      { ...desktop, colorScheme: "light" },
      showSearch,
      false,
    );
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await main();
