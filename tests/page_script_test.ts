/**
 * The page's scripts: the committed bundles are what `deno task build:ui`
 * makes of `lib/ui/page/`, the listing embeds them as they are, and they can
 * be inlined safely.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { EARLY_SCRIPT, PAGE_SCRIPT } from "../lib/ui/page_script.ts";
import { BUNDLE_DIR, bundlePage, PAGE_ENTRIES } from "../scripts/build_ui.ts";

const PAGE_SOURCES = path.join(import.meta.dirname ?? ".", "..", "lib", "ui", "page");

Deno.test("the committed page bundles match a fresh build of lib/ui/page/", async () => {
  const fresh = await Deno.makeTempDir({ prefix: "filedrop-bundle-" });
  try {
    await bundlePage(fresh);
    for (const entry of PAGE_ENTRIES) {
      const name = entry.replace(/\.ts$/, ".js");
      const built = await Deno.readTextFile(path.join(fresh, name));
      const committed = await Deno.readTextFile(path.join(BUNDLE_DIR, name));
      assert.equal(committed, built, `lib/ui/bundle/${name} is stale: run deno task build:ui`);
    }
  } finally {
    await Deno.remove(fresh, { recursive: true });
  }
});

Deno.test("the page embeds the bundles byte for byte", async () => {
  assert.equal(PAGE_SCRIPT, await Deno.readTextFile(path.join(BUNDLE_DIR, "main.js")));
  assert.equal(EARLY_SCRIPT, await Deno.readTextFile(path.join(BUNDLE_DIR, "early.js")));
});

Deno.test("the page scripts are valid JavaScript (compiled, not run)", () => {
  for (const script of [PAGE_SCRIPT, EARLY_SCRIPT]) {
    assert.doesNotThrow(() => new Function(script));
  }
});

Deno.test("the page script cannot end its <script> element early", () => {
  for (const script of [PAGE_SCRIPT, EARLY_SCRIPT]) {
    assert.doesNotMatch(script, /<\/script|<!--|<script/i);
  }
});

Deno.test("the page's modules insert names only as text, never as markup", async () => {
  let parses = 0;
  for await (const entry of Deno.readDir(PAGE_SOURCES)) {
    const source = await Deno.readTextFile(path.join(PAGE_SOURCES, entry.name));
    assert.doesNotMatch(
      source,
      /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/,
      entry.name,
    );
    parses += source.match(/parseFromString\(/g)?.length ?? 0;
    if (source.includes("parseFromString(")) {
      // The one parse of server HTML (the refresh) takes only the server's escaped <main>.
      assert.match(source, /parseFromString\(html\.slice\(start, end \+ 7\), "text\/html"\)/);
    }
  }
  assert.equal(parses, 1);
});
