/// <reference lib="dom" />
/**
 * Previews and the grid view in a real browser: an image, audio with the
 * browser's player, Markdown and hostile text shown as text, a PDF in a
 * frame, arrow keys between files, lazy thumbnails in the grid, all under the
 * page's CSP (the fixture fails on any violation). Run with
 * `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { browserTest, withBrowserPage } from "./_browser.ts";

/** A 1×1 PNG. */
const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  ),
  (char) => char.charCodeAt(0),
);

/** One second of 8 kHz, 8-bit mono silence as a WAV file. */
function wav(): Uint8Array {
  const samples = 8000;
  const bytes = new Uint8Array(44 + samples).fill(128, 44);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string) =>
    [...text].forEach((char, i) => bytes[offset + i] = char.charCodeAt(0));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples, true);
  ascii(8, "WAVEfmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, 8000, true);
  view.setUint32(28, 8000, true);
  view.setUint16(32, 1, true);
  view.setUint16(34, 8, true);
  ascii(36, "data");
  view.setUint32(40, samples, true);
  return bytes;
}

const MARKDOWN =
  "# Title\n\n<script>document.title = 'owned'</script> **bold** <img src=x onerror=alert(1)>\n";

browserTest(
  "previews: image, audio, text as text, PDF; arrow keys move between files",
  async () => {
    await withBrowserPage({}, async ({ page, server, root }) => {
      await Deno.writeFile(path.join(root, "a-photo.png"), PNG);
      await Deno.writeTextFile(path.join(root, "b-notes.md"), MARKDOWN);
      await Deno.writeFile(path.join(root, "c-song.wav"), wav());
      await Deno.writeTextFile(path.join(root, "d-doc.pdf"), "%PDF-1.4\n%%EOF\n");
      await Deno.writeFile(path.join(root, "e-data.bin"), new Uint8Array(10));
      await Deno.writeTextFile(path.join(root, "f-big.txt"), "x".repeat(300 * 1024));
      await page.goto(server.url);
      const dialog = page.locator("#preview");

      await page.locator("a", { hasText: "a-photo.png" }).click();
      assert.ok(await dialog.isVisible());
      assert.equal(await page.locator("#preview-title").textContent(), "a-photo.png");
      assert.equal(await page.locator("#preview-position").textContent(), "1 of 5");
      await page.waitForFunction(() =>
        (document.querySelector(".preview-image") as HTMLImageElement | null)?.naturalWidth === 1
      );
      assert.equal(
        await page.locator("#preview-download").getAttribute("href"),
        `${server.url}a-photo.png`,
      );

      await page.keyboard.press("ArrowRight");
      assert.equal(await page.locator("#preview-title").textContent(), "b-notes.md");
      const text = page.locator(".preview-text");
      await page.waitForFunction(() =>
        document.querySelector(".preview-text")?.textContent !== "Loading…"
      );
      assert.equal(await text.textContent(), MARKDOWN, "Markdown and markup are shown as text");
      assert.equal(await page.locator("#preview-body script, #preview-body strong").count(), 0);
      assert.notEqual(await page.title(), "owned");

      await page.keyboard.press("ArrowRight");
      assert.equal(await page.locator("#preview-title").textContent(), "c-song.wav");
      // The browser's player reads the file (media-src 'self' and ranges): its length is known.
      await page.waitForFunction(() =>
        ((document.querySelector(".preview-audio") as HTMLAudioElement | null)?.duration ?? 0) > 0.9
      );
      assert.ok(
        await page.locator(".preview-audio").evaluate((audio) =>
          (audio as HTMLAudioElement).controls
        ),
      );

      await page.keyboard.press("ArrowRight");
      assert.equal(await page.locator("#preview-title").textContent(), "d-doc.pdf");
      assert.equal(
        await page.locator("iframe.preview-pdf").getAttribute("src"),
        `${server.url}d-doc.pdf`,
      );

      // e-data.bin has no preview: the next is the text file, cut at 256 KiB; then around to the start.
      await page.keyboard.press("ArrowRight");
      assert.equal(await page.locator("#preview-title").textContent(), "f-big.txt");
      await page.waitForFunction(() =>
        document.querySelector(".preview-text")?.textContent?.includes("[The first") ?? false
      );
      assert.match(await text.textContent() ?? "", /\[The first 256\.0 KiB of 300\.0 KiB\]$/);
      await page.keyboard.press("ArrowRight");
      assert.equal(await page.locator("#preview-title").textContent(), "a-photo.png");
      await page.keyboard.press("ArrowLeft");
      assert.equal(await page.locator("#preview-title").textContent(), "f-big.txt");

      await page.keyboard.press("Escape");
      assert.equal(await dialog.isVisible(), false);
      // The dialog first gives focus back to what opened it (a-photo.png's link); the page's
      // close handler, a task later, moves it to the file shown last.
      await page.waitForFunction(
        () => document.activeElement?.textContent === "f-big.txt",
        undefined,
        { timeout: 5_000 },
      ).catch(() => {});
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent),
        "f-big.txt",
        "focus returns to the file's link",
      );
      // A file without a preview is still a plain link: here, a download.
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.locator("a", { hasText: "e-data.bin" }).click(),
      ]);
      assert.equal(download.suggestedFilename(), "e-data.bin");
      assert.equal(await dialog.isVisible(), false);
    });
  },
);
