import assert from "node:assert/strict";
import { EARLY_SCRIPT, PAGE_SCRIPT } from "../lib/ui/page_script.ts";
import {
  encodePathSegment,
  entryComparator,
  formatRelativeTime,
  formatSize,
} from "../lib/ui/portable.ts";

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

Deno.test("the page script embeds the portable functions by their source text", () => {
  for (const fn of [formatSize, formatRelativeTime, entryComparator, encodePathSegment]) {
    assert.ok(PAGE_SCRIPT.includes(`var ${fn.name} = ${fn};`), fn.name);
  }
});

Deno.test("the page script inserts names only as text, never as markup", () => {
  assert.doesNotMatch(
    PAGE_SCRIPT,
    /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/,
  );
  // The one parse of server HTML (the refresh) takes only the server's escaped <main>.
  assert.equal(PAGE_SCRIPT.match(/parseFromString\(/g)?.length, 1);
  assert.match(PAGE_SCRIPT, /parseFromString\(html\.slice\(start, end \+ 7\), "text\/html"\)/);
});
