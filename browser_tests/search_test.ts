/// <reference lib="dom" />
/**
 * Search below the folder in the page: Enter in the filter field streams the
 * server's matches into a list (loading state, the term marked, paths from
 * the folder, links that open the file, the notice when a bound cut the
 * search short), "/" and Escape, and hostile names shown as text. Run with
 * `deno task test:browser`.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { browserTest, listedNames, withBrowserPage } from "./_browser.ts";

/** Writes each file (creating its folders) with its own path as content. */
async function makeFiles(root: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await Deno.mkdir(path.join(root, path.dirname(name)), { recursive: true });
    await Deno.writeTextFile(path.join(root, name), name);
  }
}

browserTest("Enter searches below the folder and shows the matches as they arrive", async () => {
  await withBrowserPage({}, async ({ page, server, root }) => {
    await makeFiles(root, [
      "top/plan-Report.txt",
      "top/a/b/c/old-report.md",
      "top/report-folder/inside.txt",
      "top/unrelated.txt",
      'top/x/<img src=x onerror="window.hacked=1">report.txt',
    ]);
    // The answer is held back until the test lets it go: the loading state shows meanwhile.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => release = resolve);
    await page.route((url) => url.searchParams.has("q"), async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${server.url}top/`);
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "filter");
    await page.keyboard.type("REPORT");
    // Typing filters this folder as before.
    assert.deepEqual(await listedNames(page), ["report-folder/", "plan-Report.txt"]);
    await page.keyboard.press("Enter");
    const status = page.locator("#search-status");
    await page.waitForFunction(() =>
      document.querySelector("#search-status")?.classList.contains("searching")
    );
    assert.match(await status.innerText(), /Searching/);
    assert.equal(await page.locator("#search-panel").getAttribute("aria-busy"), "true");
    assert.equal(await page.locator("#listing").isVisible(), false);
    release();
    await page.waitForFunction(() =>
      document.querySelector("#search-panel")?.getAttribute("aria-busy") === "false"
    );
    assert.equal(await status.innerText(), "4 matches");
    const items = await page.locator("#search-list li a").allInnerTexts();
    // Breadth first: shallow names first; paths from the folder; a folder ends in "/".
    assert.deepEqual(items, [
      "plan-Report.txt",
      "report-folder/",
      'x/<img src=x onerror="window.hacked=1">report.txt',
      "a/b/c/old-report.md",
    ]);
    assert.deepEqual(await page.locator("#search-list mark").allInnerTexts(), [
      "Report",
      "report",
      "report",
      "report",
    ]);
    // The hostile name is text: no element came from it.
    assert.equal(await page.locator("#search-list img").count(), 0);
    assert.equal(await page.evaluate(() => "hacked" in window), false);
    // A result opens its file.
    await page.locator("#search-list a", { hasText: "old-report.md" }).click();
    await page.waitForURL(`${server.url}top/a/b/c/old-report.md`);
    assert.equal(await page.locator("body").innerText(), "top/a/b/c/old-report.md");
    await page.goBack();
    // Escape gives the folder back; so does the button after another search.
    await page.locator("#filter").fill("unrelated");
    await page.locator("#filter").press("Enter");
    await page.waitForFunction(() => document.querySelectorAll("#search-list li").length === 1);
    await page.locator("#filter").press("Escape");
    assert.equal(await page.locator("#search-panel").isVisible(), false);
    assert.equal(await page.locator("#listing").isVisible(), true);
    await page.locator("#filter").fill("nothing-matches-this");
    await page.locator("#filter").press("Enter");
    await page.waitForFunction(() =>
      document.querySelector("#search-status")?.textContent === "0 matches"
    );
    await page.click("#search-close");
    assert.equal(await page.locator("#filter").inputValue(), "");
    assert.deepEqual((await listedNames(page)).length, 5);
  });
});

browserTest("a search cut short by a bound says so", async () => {
  await withBrowserPage({ serve: { search: { results: 2 } } }, async ({ page, server, root }) => {
    await makeFiles(root, ["d/hit-1", "d/hit-2", "d/hit-3", "d/e/hit-4"]);
    await page.goto(server.url);
    await page.locator("#filter").fill("hit");
    await page.locator("#filter").press("Enter");
    await page.waitForFunction(() =>
      document.querySelector("#search-status")?.classList.contains("cut")
    );
    assert.equal(await page.locator("#search-list li").count(), 2);
    assert.match(
      await page.locator("#search-status").innerText(),
      /^2 matches\. The search was cut short: it found 2 matches\./,
    );
  });
});

browserTest(
  "without JavaScript the field submits ?q= and the server's page lists the matches",
  () =>
    withBrowserPage(
      { context: { javaScriptEnabled: false } },
      async ({ page, server, root }) => {
        await makeFiles(root, ["sub/deeper/inner-match.txt", "match-top.txt"]);
        await page.goto(server.url);
        await page.locator("#filter").fill("MATCH");
        await page.locator("#filter").press("Enter");
        await page.waitForURL(`${server.url}?q=MATCH`);
        assert.deepEqual(await page.locator("#search-results li a").allInnerTexts(), [
          "match-top.txt",
          "sub/deeper/inner-match.txt",
        ]);
        assert.equal(await page.locator("#search-summary").innerText(), "2 matches");
        await page.locator("#search-results a", { hasText: "inner-match" }).click();
        assert.equal(await page.locator("body").innerText(), "sub/deeper/inner-match.txt");
      },
    ),
);
