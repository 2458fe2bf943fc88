/**
 * Bundles the page's TypeScript modules (`lib/ui/page/`) into the minified
 * scripts the listing embeds (`lib/ui/bundle/`), with `deno bundle`.
 *
 * Run after changing a module in `lib/ui/page/`: `deno task build:ui`.
 *
 * @module
 */

import * as path from "node:path";

/** The page's entry points, each bundled into one self-contained script of the same base name. */
export const PAGE_ENTRIES: readonly string[] = ["early.ts", "main.ts", "drop_link.ts"];

const UI_DIR = path.join(import.meta.dirname ?? ".", "..", "lib", "ui");

/** Where the committed bundles live. */
export const BUNDLE_DIR: string = path.join(UI_DIR, "bundle");

/**
 * Bundles every entry of {@linkcode PAGE_ENTRIES} into `outDir` as a minified
 * IIFE for browsers; throws with `deno bundle`'s output when it fails.
 */
export async function bundlePage(outDir: string): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  for (const entry of PAGE_ENTRIES) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--format=iife",
        "--minify",
        "--output",
        path.join(outDir, entry.replace(/\.ts$/, ".js")),
        path.join(UI_DIR, "page", entry),
      ],
      env: { NO_COLOR: "1" },
    }).output();
    if (!output.success) {
      throw new Error(`deno bundle ${entry} failed:\n${new TextDecoder().decode(output.stderr)}`);
    }
  }
}

if (import.meta.main) {
  await bundlePage(BUNDLE_DIR);
  console.log(`Bundled ${PAGE_ENTRIES.join(", ")} into ${BUNDLE_DIR}`);
}
