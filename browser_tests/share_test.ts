/// <reference lib="dom" />
/**
 * Share links in the browser: a signed-in writer makes a drop link from the
 * page's Share dialog; a visitor with a fresh browser profile opens it, sees
 * nothing of the folder, and uploads a file. Run with `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as path from "node:path";
import { browserTest, eventually, launchBrowser, withBrowserPage } from "./_browser.ts";

browserTest(
  "a writer makes a drop link in the page; a visitor drops a file through it and sees nothing",
  async () => {
    await withBrowserPage({
      serve: { auth: ["ann:secret-pw"] },
      context: { httpCredentials: { username: "ann", password: "secret-pw" } },
    }, async ({ page, server, root }) => {
      await Deno.mkdir(path.join(root, "inbox"));
      await Deno.writeTextFile(path.join(root, "inbox", "private-plans.txt"), "private");
      await page.goto(`${server.url}inbox/`);
      await page.click("#share-button");
      assert.ok(await page.locator("#share").isVisible());
      assert.equal(await page.locator("#share-max-row").isVisible(), false);
      await page.selectOption("#share-scope", "upload");
      assert.ok(await page.locator("#share-max-row").isVisible());
      await page.fill("#share-max", "1M");
      await page.selectOption("#share-expires", "86400");
      await page.click("#share-create");
      await eventually("the link", async () => (await page.inputValue("#share-url")) !== "");
      const link = await page.inputValue("#share-url");
      assert.ok(link.startsWith(`${server.url}.well-known/filedrop-share/`), link);
      assert.match((await page.locator("#share-id").textContent()) ?? "", /^[0-9a-f]{16}$/);
      assert.equal(await page.locator("#share-qr svg").count(), 1);
      await page.click("#share-close");

      // A visitor: a fresh profile, no credentials.
      const visitor = await launchBrowser();
      try {
        const drop = await visitor.context.newPage();
        const problems: string[] = [];
        drop.on("pageerror", (error) => problems.push(error.message));
        drop.on("console", (message) => {
          if (message.type() === "error") problems.push(message.text());
        });
        const response = await drop.goto(link);
        assert.equal(response?.status(), 200);
        assert.equal(response?.headers()["referrer-policy"], "no-referrer");
        const html = await drop.content();
        assert.doesNotMatch(html, /private-plans/);
        assert.equal(await drop.locator("table, #listing").count(), 0);
        /** Chooses one file in the drop page and waits until its row says how it went. */
        const send = async (name: string, text: string, rows: number) => {
          await drop.setInputFiles("#drop-input", {
            name,
            mimeType: "text/plain",
            buffer: Buffer.from(text),
          });
          await eventually(
            `the upload of ${name}`,
            async () => (await drop.locator("li.drop-file[data-state]").count()) === rows,
          );
        };
        await send("from-visitor.txt", "hello from outside", 1);
        assert.equal(await drop.locator("li.drop-file").getAttribute("data-state"), "done");
        assert.equal(
          await Deno.readTextFile(path.join(root, "inbox", "from-visitor.txt")),
          "hello from outside",
        );
        // The same name again gets a new name; the page never shows the folder.
        await send("private-plans.txt", "not a replacement", 2);
        assert.equal(
          await Deno.readTextFile(path.join(root, "inbox", "private-plans.txt")),
          "private",
        );
        assert.equal(
          await Deno.readTextFile(path.join(root, "inbox", "private-plans (2).txt")),
          "not a replacement",
        );
        // The folder's files are out of reach through the link.
        const peek = await drop.goto(new URL("private-plans.txt", link).href);
        assert.equal(peek?.status(), 405);
        assert.deepEqual(problems.filter((p) => !/405/.test(p)), []);
      } finally {
        await visitor.close();
      }
    });
  },
);
