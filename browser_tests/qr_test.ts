/// <reference lib="dom" />
/**
 * The QR code of the page's URL: drawn in the page, read back with jsQR (an
 * independent decoder) from the pixels the browser renders. Run with
 * `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import jsQRModule from "jsqr";
import { browserTest, withBrowserPage } from "./_browser.ts";

/**
 * jsQR is CommonJS whose types declare an ES default export: under Deno the
 * default import is the function, typed as the module, whose `default` is it too.
 */
const jsQR = (jsQRModule as unknown as { default: typeof jsQRModule.default }).default;

browserTest("the QR code button shows a code that decodes to the page's URL", async () => {
  await withBrowserPage({}, async ({ page, server, root }) => {
    await Deno.mkdir(path.join(root, "dir with space", "ünï"), { recursive: true });
    const url = `${server.url}dir%20with%20space/%C3%BCn%C3%AF/?sort=size&order=desc`;
    await page.goto(url);
    await page.click("#qr-button");
    assert.ok(await page.locator("#qr").isVisible());
    assert.equal(await page.locator("#qr-url").textContent(), url);
    const size = 400;
    const pixels = await page.evaluate(async (size) => {
      const svg = document.querySelector("#qr-code svg");
      if (!svg) throw new Error("no QR code");
      const image = new Image();
      image.src = `data:image/svg+xml;base64,${btoa(new XMLSerializer().serializeToString(svg))}`;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = size;
      const context = canvas.getContext("2d")!;
      context.drawImage(image, 0, 0, size, size);
      return Array.from(context.getImageData(0, 0, size, size).data);
    }, size);
    const decoded = jsQR(Uint8ClampedArray.from(pixels), size, size);
    assert.equal(decoded?.data, url);
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("#qr").isVisible(), false);
  });
});
