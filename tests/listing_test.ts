import assert from "node:assert/strict";
import * as path from "node:path";
import type { Request, Response } from "../lib/http/message.ts";
import { formatSize, type ListingOptions, listingResponse } from "../lib/handlers/listing.ts";
import { decodeUrlPath, encodeUrlPath } from "../lib/handlers/url_path.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";
import { fileETag, FsStorage } from "../lib/storage/fs.ts";
import { KeyedLock } from "../lib/storage/keyed_lock.ts";
import { formatRelativeTime } from "../lib/ui/portable.ts";
import { sendOne, withServer } from "./_helpers.ts";

// --- Helpers -------------------------------------------------------------------

const HIDE_DOTFILES: ListingOptions = { dotfiles: false };

function makeRequest(query = "", accept?: string): Request {
  const headers = new Map<string, string>();
  if (accept !== undefined) headers.set("accept", accept);
  return {
    method: "GET",
    target: `/${query === "" ? "" : `?${query}`}`,
    targetForm: "origin",
    path: "/",
    query,
    minorVersion: 1,
    headers,
    body: { length: 0, read: () => Promise.resolve(null) },
    informational: () => Promise.resolve(),
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "listing_test_" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function header(response: Response, name: string): string | undefined {
  return response.headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

function bodyText(response: Response): string {
  assert.ok(response.body instanceof Uint8Array, "body is a Uint8Array");
  return new TextDecoder("utf-8", { fatal: true }).decode(response.body);
}

/**
 * A store in which `dir` is found at URL path `segments`: `dir` itself as ROOT,
 * or a temp ROOT with the parents of `segments` and a link to `dir` at the end
 * (followed: the store's `followSymlinks` lets a read leave ROOT).
 */
async function storageShowing(dir: string, segments: readonly string[]): Promise<FsStorage> {
  let rootReal = dir;
  if (segments.length > 0) {
    rootReal = await Deno.realPath(await Deno.makeTempDir({ prefix: "listing_root_" }));
    const parent = path.join(rootReal, ...segments.slice(0, -1));
    await Deno.mkdir(parent, { recursive: true });
    await Deno.symlink(dir, path.join(parent, segments[segments.length - 1]));
  }
  return new FsStorage({
    rootReal,
    fsync: false,
    followSymlinks: true,
    cache: null,
    locks: new KeyedLock(),
  });
}

async function list(
  dir: string,
  segments: readonly string[],
  options: ListingOptions = HIDE_DOTFILES,
  query = "",
  accept?: string,
): Promise<Response> {
  return await listingResponse(
    makeRequest(query, accept),
    await storageShowing(dir, segments),
    segments,
    options,
  );
}

interface JsonEntry {
  name: string;
  type: "file" | "directory";
  size: number | null;
  mtime: string | null;
  etag: string | null;
}

interface JsonListing {
  path: string;
  entries: JsonEntry[];
}

async function listJson(
  dir: string,
  segments: readonly string[],
  options: ListingOptions = HIDE_DOTFILES,
  query = "",
): Promise<JsonListing> {
  const response = await list(dir, segments, options, `format=json&${query}`);
  return JSON.parse(bodyText(response));
}

const HTML_ENTITIES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
};

function unescapeHtml(text: string): string {
  return text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => HTML_ENTITIES[entity]);
}

/** The part of the page that shows entries (no embedded style, script or icon sprite). */
function mainPart(html: string): string {
  return html.slice(html.indexOf("<main>"), html.indexOf("</main>"));
}

/** The page with its nonced `<style>` and `<script>` elements cut out. */
function withoutEmbeds(html: string): string {
  return html.replace(/<(style|script) nonce="[^"]+">[\s\S]*?<\/\1>/g, "");
}

/** Every element the page may contain; anything else came from a name. */
const PAGE_TAGS = new Set(
  ("html head meta link title style script body svg symbol path circle use div header h1 h2 " +
    "span a input button p main table thead tbody tr th td time noscript section ul " +
    "dialog form label ol select option code").split(" "),
);

/** Fails unless every tag outside the embeds is one the page itself uses, without event handlers. */
function assertOnlyPageMarkup(html: string): void {
  const markup = withoutEmbeds(html);
  for (const [tag, name] of markup.matchAll(/<\/?([a-z0-9!]+)[^>]*>/gi)) {
    if (name === "!doctype") continue;
    assert.ok(PAGE_TAGS.has(name.toLowerCase()), `unexpected tag ${tag}`);
  }
  // Quoted values hold escaped names ("&lt;img onerror=...&gt;"): only attribute names count.
  const tags = markup.match(/<[^>]*>/g) ?? [];
  for (const tag of tags) {
    assert.doesNotMatch(tag.replace(/"[^"]*"/g, '""'), /\son\w+=/i, `event handler in ${tag}`);
  }
}

function hrefs(html: string): string[] {
  return [...html.matchAll(/href="([^"]*)"/g)].map((match) => unescapeHtml(match[1]));
}

/** The URL path a relative href leads to from the listing at `segments`. */
function resolveHref(href: string, segments: readonly string[]): string {
  return new URL(href, `http://localhost${encodeUrlPath(segments, true)}`).pathname;
}

/** Entry links ("./name"), in page order, decoded back to names ("dir/" for directories). */
function linkedEntries(html: string, segments: readonly string[]): string[] {
  return hrefs(html).filter((href) => href.startsWith("./")).map((href) => {
    const decoded = decodeUrlPath(resolveHref(href, segments));
    assert.deepEqual(decoded.segments.slice(0, -1), segments, `${href} stays in the directory`);
    return decoded.segments[decoded.segments.length - 1] + (decoded.trailingSlash ? "/" : "");
  });
}

async function writeFileOfSize(file: string, size: number, mtimeYear?: number): Promise<void> {
  await Deno.writeFile(file, new Uint8Array(size));
  if (mtimeYear !== undefined) await setYear(file, mtimeYear);
}

async function setYear(file: string, year: number): Promise<void> {
  const time = new Date(Date.UTC(year, 0, 1));
  await Deno.utime(file, time, time);
}

// --- Hostile names -------------------------------------------------------------

const SHOWN_HOSTILE_FILES = [
  "<img src=x onerror=alert(1)>",
  `"'><svg onload=alert(1)>`,
  "a&b",
  "a#b",
  "a?b",
  "100%",
  "sp ace",
  "café",
  "日本語.txt",
  "it's",
  "%2e%2e",
];
const SHOWN_HOSTILE_DIRS = ["<b>bold", "q?d#x"];
const HIDDEN_BAD_NAMES = [
  "new\nline",
  "tab\there",
  "back\\slash",
  "co:lon",
  "trailing.",
  "trailing ",
  "CON",
  "nul.txt",
  `${TEMP_PREFIX}upload`,
  ".FILEDROP-TMP-upload",
];

Deno.test({
  name: "listingResponse escapes hostile names, links them back to themselves, hides bad ones",
  ignore: Deno.build.os === "windows",
  fn: () =>
    withTempDir(async (root) => {
      const segments = ["up loads"];
      const dir = path.join(root, "up loads");
      await Deno.mkdir(dir);
      for (const name of [...SHOWN_HOSTILE_FILES, ...HIDDEN_BAD_NAMES]) {
        await Deno.writeTextFile(path.join(dir, name), "x");
      }
      for (const name of SHOWN_HOSTILE_DIRS) await Deno.mkdir(path.join(dir, name));

      const html = bodyText(await list(dir, segments));
      for (const name of [...SHOWN_HOSTILE_FILES, ...SHOWN_HOSTILE_DIRS]) {
        if (/[<>"'&]/.test(name)) assert.ok(!html.includes(name), `raw ${name} in HTML`);
      }
      assertOnlyPageMarkup(html);

      const expected = [...SHOWN_HOSTILE_DIRS.map((name) => `${name}/`), ...SHOWN_HOSTILE_FILES];
      assert.deepEqual(linkedEntries(html, segments).sort(), expected.sort());

      // The visible link text is the escaped name, with "/" after directories.
      const linkTexts = [...html.matchAll(/<a href="\.\/[^"]*">([^<]*)<\/a>/g)].map((m) => m[1]);
      assert.deepEqual(
        linkTexts.map(unescapeHtml).sort(),
        expected.sort(),
      );

      // The script reads names back from data-name; the same escaping holds there.
      const dataNames = [...html.matchAll(/ data-name="([^"]*)"/g)].map((m) => unescapeHtml(m[1]));
      assert.deepEqual(dataNames.sort(), [...SHOWN_HOSTILE_FILES, ...SHOWN_HOSTILE_DIRS].sort());

      const json = await listJson(dir, segments);
      assert.deepEqual(
        json.entries.map((entry) => entry.name).sort(),
        [...SHOWN_HOSTILE_FILES, ...SHOWN_HOSTILE_DIRS].sort(),
      );
      assert.equal(json.path, "/up loads/");
    }),
});

// --- Sorting -------------------------------------------------------------------

/** [name, size, mtime year]; size null marks a directory. */
const SORT_FIXTURE: [string, number | null, number][] = [
  ["a.txt", 10, 2003],
  ["b.txt", 300, 2001],
  ["c.txt", 2000, 2002],
  ["file2", 50, 2004],
  ["file10", 5000, 2000],
  ["zdir", null, 1999],
  ["adir", null, 2005],
];

const SORT_CASES: [query: string, expected: string[]][] = [
  ["", ["adir", "zdir", "a.txt", "b.txt", "c.txt", "file2", "file10"]],
  ["sort=name&order=asc", ["adir", "zdir", "a.txt", "b.txt", "c.txt", "file2", "file10"]],
  ["sort=name&order=desc", ["zdir", "adir", "file10", "file2", "c.txt", "b.txt", "a.txt"]],
  ["sort=size", ["adir", "zdir", "a.txt", "file2", "b.txt", "c.txt", "file10"]],
  ["sort=size&order=desc", ["zdir", "adir", "file10", "c.txt", "b.txt", "file2", "a.txt"]],
  ["sort=mtime&order=asc", ["zdir", "adir", "file10", "b.txt", "c.txt", "a.txt", "file2"]],
  ["sort=mtime&order=desc", ["adir", "zdir", "file2", "a.txt", "c.txt", "b.txt", "file10"]],
  ["sort=bogus&order=sideways", ["adir", "zdir", "a.txt", "b.txt", "c.txt", "file2", "file10"]],
];

Deno.test("listingResponse sorts by name, size and mtime, directories first", () =>
  withTempDir(async (dir) => {
    for (const [name, size, year] of SORT_FIXTURE) {
      if (size === null) await Deno.mkdir(path.join(dir, name));
      else await writeFileOfSize(path.join(dir, name), size);
      await setYear(path.join(dir, name), year);
    }
    for (const [query, expected] of SORT_CASES) {
      const json = await listJson(dir, [], HIDE_DOTFILES, query);
      assert.deepEqual(json.entries.map((entry) => entry.name), expected, `JSON ${query}`);

      const html = bodyText(await list(dir, [], HIDE_DOTFILES, query));
      const expectedLinks = expected.map((name) => name.endsWith("dir") ? `${name}/` : name);
      assert.deepEqual(linkedEntries(html, []), expectedLinks, `HTML ${query}`);
    }
  }));

const COLUMN_LINK_CASES: [query: string, expected: Record<string, string>, active: string][] = [
  ["", { name: "desc", size: "asc", mtime: "asc" }, "Name ▲"],
  ["sort=name&order=desc", { name: "asc", size: "asc", mtime: "asc" }, "Name ▼"],
  ["sort=size&order=asc", { name: "asc", size: "desc", mtime: "asc" }, "Size ▲"],
  ["sort=mtime&order=desc", { name: "asc", size: "asc", mtime: "asc" }, "Modified ▼"],
];

Deno.test("listingResponse column headers link to their sort, toggling the active one", () =>
  withTempDir(async (dir) => {
    for (const [query, expected, active] of COLUMN_LINK_CASES) {
      const html = bodyText(await list(dir, [], HIDE_DOTFILES, query));
      const sortLinks = Object.fromEntries(
        hrefs(html).filter((href) => href.startsWith("?sort=")).map((href) => {
          const params = new URLSearchParams(href.slice(1));
          return [params.get("sort"), params.get("order")];
        }),
      );
      assert.deepEqual(sortLinks, expected, query);
      const activeHeader = html.match(/<th[^>]* aria-sort="[a-z]+">(.*?)<\/th>/)?.[1] ?? "";
      assert.equal(activeHeader.replace(/<[^>]*>/g, ""), active, query);
      assert.equal(html.match(/aria-sort=/g)?.length, 1, "only the active column has aria-sort");
    }
  }));

// --- JSON ----------------------------------------------------------------------

Deno.test("listingResponse JSON matches the files on disk", () =>
  withTempDir(async (root) => {
    const dir = path.join(root, "nested", "dir");
    await Deno.mkdir(path.join(dir, "child"), { recursive: true });
    await writeFileOfSize(path.join(dir, "empty"), 0);
    await writeFileOfSize(path.join(dir, "data.bin"), 12345, 2020);
    await Deno.symlink("data.bin", path.join(dir, "link.bin"));
    await Deno.symlink("child", path.join(dir, "link-dir"));
    await Deno.symlink("missing", path.join(dir, "dangling"));

    const response = await list(dir, ["nested", "dir"], HIDE_DOTFILES, "", "application/json");
    assert.equal(response.status, 200);
    const json: JsonListing = JSON.parse(bodyText(response));
    assert.equal(json.path, "/nested/dir/");
    assert.deepEqual(json.entries.map((entry) => entry.name), [
      "child",
      "link-dir",
      "data.bin",
      "empty",
      "link.bin",
    ]);
    for (const entry of json.entries) {
      const info = await Deno.stat(path.join(dir, entry.name));
      assert.equal(entry.type, info.isDirectory ? "directory" : "file", entry.name);
      assert.equal(entry.size, info.isDirectory ? null : info.size, entry.name);
      assert.equal(entry.etag, info.isDirectory ? null : fileETag(info), entry.name);
      assert.equal(entry.mtime, info.mtime?.toISOString() ?? null, entry.name);
    }
    assert.equal(json.entries.find((entry) => entry.name === "data.bin")?.size, 12345);
    assert.equal(
      json.entries.find((entry) => entry.name === "data.bin")?.mtime,
      "2020-01-01T00:00:00.000Z",
    );
  }));

// --- Hidden entries ------------------------------------------------------------

Deno.test("listingResponse hides temp files always and dotfiles unless enabled", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(path.join(dir, "visible"), "v");
    await Deno.writeTextFile(path.join(dir, ".hidden"), "h");
    await Deno.mkdir(path.join(dir, ".dotdir"));
    await Deno.writeTextFile(path.join(dir, `${TEMP_PREFIX}abc`), "t");
    await Deno.mkdir(path.join(dir, `${TEMP_PREFIX}dir`));

    const names = async (options: ListingOptions, segments: readonly string[] = []) =>
      (await listJson(dir, segments, options)).entries.map((entry) => entry.name);
    assert.deepEqual(await names({ dotfiles: false }), ["visible"]);
    assert.deepEqual(await names({ dotfiles: true }), [".dotdir", ".hidden", "visible"]);

    const html = bodyText(await list(dir, [], { dotfiles: false }));
    assert.ok(!mainPart(html).includes(".hidden") && !html.includes(TEMP_PREFIX));
    const htmlWithDots = bodyText(await list(dir, [], { dotfiles: true }));
    assert.deepEqual(linkedEntries(htmlWithDots, []), [".dotdir/", ".hidden", "visible"]);
    assert.ok(!htmlWithDots.includes(TEMP_PREFIX));
  }));

Deno.test("listingResponse lists .well-known only at ROOT without dotfiles, like isHiddenPath", () =>
  withTempDir(async (dir) => {
    await Deno.mkdir(path.join(dir, ".well-known"));
    const names = async (segments: readonly string[]) =>
      (await listJson(dir, segments)).entries.map((entry) => entry.name);
    assert.deepEqual(await names([]), [".well-known"]);
    assert.deepEqual(await names(["sub"]), []);
  }));

// --- Negotiation and headers ---------------------------------------------------

const NEGOTIATION_CASES: [accept: string | undefined, query: string, json: boolean][] = [
  [undefined, "", false],
  ["application/json", "", true],
  ["APPLICATION/JSON", "", true],
  ["text/html,application/json;q=0.9", "", false],
  ["text/html;q=0.5, application/json", "", true],
  ["application/json;q=0.8, text/html;q=0.8", "", false],
  ["*/*", "", false],
  ["text/*", "", false],
  ["application/*", "", true],
  ["application/json, text/plain, */*", "", true],
  ["application/json;q=0, */*", "", false],
  ["application/json;q=2", "", false],
  ["image/png", "", false],
  ["", "", false],
  ["text/html", "format=json", true],
  [undefined, "format=json", true],
  ["application/json", "format=html", false],
  ["application/json", "format=xml", true],
];

Deno.test("listingResponse negotiates HTML or JSON from Accept and ?format", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(path.join(dir, "f"), "x");
    for (const [accept, query, json] of NEGOTIATION_CASES) {
      const label = `Accept: ${accept} ?${query}`;
      const response = await list(dir, [], HIDE_DOTFILES, query, accept);
      assert.equal(response.status, 200, label);
      assert.equal(header(response, "x-content-type-options"), "nosniff", label);
      assert.equal(header(response, "cache-control"), "no-cache", label);
      assert.equal(header(response, "vary"), "Accept", label);
      const text = bodyText(response);
      if (json) {
        assert.equal(header(response, "content-type"), "application/json; charset=utf-8", label);
        assert.equal(header(response, "content-security-policy"), undefined, label);
        assert.deepEqual(JSON.parse(text).entries.map((e: JsonEntry) => e.name), ["f"], label);
      } else {
        assert.equal(header(response, "content-type"), "text/html; charset=utf-8", label);
        assert.match(header(response, "content-security-policy") ?? "", CSP_PATTERN, label);
        assert.ok(text.startsWith("<!doctype html>"), label);
      }
    }
  }));

// --- HTML page -----------------------------------------------------------------

/** The listing's CSP: only its own nonced script and style, same-origin requests and forms, no framing. */
const CSP_PATTERN = new RegExp(
  "^default-src 'none'; script-src 'nonce-([A-Za-z0-9+/]{22}==)'; style-src 'nonce-\\1'; " +
    "img-src 'self' data:; media-src 'self'; frame-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'$",
);

Deno.test("listingResponse HTML runs only its own nonced script and style, a fresh nonce each time", () =>
  withTempDir(async (dir) => {
    const nonces = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const response = await list(dir, []);
      const nonce = header(response, "content-security-policy")?.match(CSP_PATTERN)?.[1];
      assert.ok(nonce !== undefined, "CSP with a nonce");
      nonces.add(nonce);
      const html = bodyText(response);
      const embeds = [...html.matchAll(/<(script|style)([^>]*)>/g)];
      assert.deepEqual(embeds.map((m) => m[1]), ["style", "script", "script"]);
      for (const [, , attributes] of embeds) assert.equal(attributes, ` nonce="${nonce}"`);
      // Nothing embedded closes its element early.
      assert.equal(html.match(/<\/style>/g)?.length, 1);
      assert.equal(html.match(/<\/script>/g)?.length, 2);
      assert.equal(header(response, "referrer-policy"), "same-origin");
    }
    assert.equal(nonces.size, 3, "every response has its own nonce");
  }));

Deno.test("listingResponse HTML has the document basics and no external resources", () =>
  withTempDir(async (dir) => {
    await writeFileOfSize(path.join(dir, "big"), 1536);
    await Deno.utime(path.join(dir, "big"), 0, new Date("2021-03-04T05:06:07.890Z"));
    await Deno.mkdir(path.join(dir, "sub"));
    const html = bodyText(await list(dir, []));

    assert.ok(html.startsWith("<!doctype html>"));
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<meta name="viewport" content="[^"]+">/);
    assert.match(html, /<title>Index of \/<\/title>/);
    assert.match(html, /prefers-color-scheme: dark/);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i);
    assert.doesNotMatch(withoutEmbeds(html), /\bsrc=/i, "no external scripts or images");
    for (const href of hrefs(html)) {
      assert.match(href, /^(\.\/|\.\.\/|\?|data:|#i-)/, `relative href ${href}`);
    }
    assert.ok(!hrefs(html).includes("../"), "no parent link at ROOT");
    assertOnlyPageMarkup(html);

    const now = Date.now();
    const mtime = Date.parse("2021-03-04T05:06:07.890Z");
    assert.match(
      html,
      /<tr data-name="big" data-type="file" data-kind="file" data-size="1536" data-mtime="1614834367890">/,
    );
    assert.match(
      html,
      /<use href="#i-file"\/><\/svg><a href="\.\/big">big<\/a><\/td><td class="num" title="1536 bytes">1\.5 KiB</,
    );
    assert.ok(
      html.includes(
        '<time datetime="2021-03-04T05:06:07.890Z" title="2021-03-04 05:06:07 UTC">' +
          `${formatRelativeTime(mtime, now)}</time>`,
      ),
      "relative time, exact time in the tooltip",
    );
    assert.match(
      html,
      /<use href="#i-folder"\/><\/svg><a href="\.\/sub\/">sub\/<\/a><\/td><td class="num">—</,
    );
    assert.match(html, /<p id="summary" class="summary">1 folder, 1 file, 1\.5 KiB in total<\/p>/);
  }));

Deno.test("listingResponse HTML says when a folder is empty", () =>
  withTempDir(async (dir) => {
    const html = bodyText(await list(dir, []));
    assert.match(html, /<td class="empty" colspan="3">This folder is empty\.<\/td>/);
    assert.match(html, /<p id="summary" class="summary">0 folders, 0 files<\/p>/);
  }));

/** The page's controls, and when each is there, given what the requester may do. */
const WRITE_CONTROLS: [string, (may: { write: boolean; delete: boolean }) => boolean][] = [
  ['id="upload-files"', (may) => may.write],
  ['id="upload-folder"', (may) => may.write],
  ['id="new-folder"', (may) => may.write],
  ['id="share-button"', (may) => may.write],
  ['<dialog id="share"', (may) => may.write],
  ['id="file-input"', (may) => may.write],
  ['id="folder-input"', (may) => may.write],
  [
    '<form class="noscript-upload" method="post" enctype="multipart/form-data" action="./">',
    (may) => may.write,
  ],
  ['id="uploads"', (may) => may.write || may.delete],
  ['id="drop-overlay"', (may) => may.write || may.delete],
  ['<dialog id="dialog"', (may) => may.write || may.delete],
  ['<button type="button" data-action="rename"', (may) => may.write && may.delete],
  ['id="selection-move"', (may) => may.write && may.delete],
  ['<button type="button" data-action="delete"', (may) => may.delete],
  ['id="selection-delete"', (may) => may.delete],
];

Deno.test("listingResponse HTML offers each control only when its action is allowed", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(path.join(dir, `it's <b>.txt`), "x");
    for (const writable of [undefined, false, true]) {
      for (const deletable of [undefined, false, true]) {
        const html = bodyText(await list(dir, [], { dotfiles: false, writable, deletable }));
        const label = `writable: ${writable}, deletable: ${deletable}`;
        const may = { write: writable === true, delete: deletable === true };
        assert.ok(
          html.includes(`<body data-writable="${may.write}" data-deletable="${may.delete}"`),
          label,
        );
        for (const [control, shown] of WRITE_CONTROLS) {
          assert.equal(html.includes(control), shown(may), `${label}: ${control}`);
        }
        assertOnlyPageMarkup(html);
      }
    }
    const html = bodyText(
      await list(dir, [], { dotfiles: false, writable: true, deletable: true }),
    );
    const labels = [...html.matchAll(/<button [^>]*aria-label="([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(labels, [
      "QR code of this page",
      "Close preview",
      "Previous file",
      "Next file",
      "Rename it&#39;s &lt;b&gt;.txt",
      "Delete it&#39;s &lt;b&gt;.txt",
    ]);
    // Buttons that need the script are hidden until it runs.
    for (
      const button of html.matchAll(
        /<button [^>]*id="(upload-files|upload-folder|new-folder|share-button)"[^>]*>/g,
      )
    ) {
      assert.match(button[0], /class="[^"]*needs-js/, button[1]);
    }
    assert.match(html, /<td class="actions needs-js">/);
  }));

Deno.test("listingResponse links every ancestor in the breadcrumb of a nested path", () =>
  withTempDir(async (root) => {
    const segments = ["a b", "c<d", "e"];
    const dir = path.join(root, ...segments);
    await Deno.mkdir(dir, { recursive: true });
    const html = bodyText(await list(dir, segments));

    assert.match(html, /<title>Index of \/a b\/c&lt;d\/e\/<\/title>/);
    const heading = html.match(/<h1>(.*)<\/h1>/)?.[1] ?? "";
    const crumbs = [...heading.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((match) => [
      resolveHref(unescapeHtml(match[1]), segments),
      unescapeHtml(match[2]),
    ]);
    assert.deepEqual(crumbs, [["/", "/"], ["/a%20b/", "a b/"], ["/a%20b/c%3Cd/", "c<d/"]]);
    assert.match(heading, /<span aria-current="page">e\/<\/span>$/);
    assert.ok(hrefs(html).includes("../"), "parent link below ROOT");
    assert.equal(resolveHref("../", segments), "/a%20b/c%3Cd/");
  }));

// --- formatSize ----------------------------------------------------------------

const SIZE_CASES: [bytes: number, expected: string][] = [
  [0, "0 B"],
  [1, "1 B"],
  [1023, "1023 B"],
  [1024, "1.0 KiB"],
  [1536, "1.5 KiB"],
  [1024 * 1024 - 1, "1.0 MiB"],
  [10 * 1024 * 1024, "10.0 MiB"],
  [1.25 * 1024 ** 3, "1.3 GiB"],
  [2 * 1024 ** 4, "2.0 TiB"],
  [5000 * 1024 ** 4, "5000.0 TiB"],
];

Deno.test("formatSize uses binary units with one decimal", () => {
  for (const [bytes, expected] of SIZE_CASES) assert.equal(formatSize(bytes), expected, `${bytes}`);
});

// --- Validators and conditional GET, over a real socket ----------------------------

Deno.test("a listing has a weak ETag and Last-Modified, answers 304, and changes with its entries", async () => {
  await withServer({}, async (server, root) => {
    const port = server.addr.port;
    await Deno.writeTextFile(path.join(root, "a.txt"), "a");
    const listing = (headers: string[] = [], target = "/") =>
      sendOne(port, `GET ${target} HTTP/1.1`, headers);

    const first = await listing();
    assert.equal(first.status, 200);
    const etag = first.headers.get("etag")!;
    assert.match(etag, /^W\/"[A-Za-z0-9_-]+"$/, "weak: each page carries a fresh nonce");
    assert.ok(first.headers.get("last-modified"));
    assert.equal(first.headers.get("vary"), "Accept");

    const unchanged = await listing([`If-None-Match: ${etag}`]);
    assert.equal(unchanged.status, 304);
    assert.equal(unchanged.body, "");
    assert.equal(unchanged.headers.get("etag"), etag);
    assert.equal(unchanged.headers.get("vary"), "Accept");
    // The kept page's CSP nonce must stay: a new one in a 304 would block its scripts.
    assert.ok(first.headers.get("content-security-policy"));
    assert.equal(unchanged.headers.get("content-security-policy"), undefined);
    const byDate = await listing([`If-Modified-Since: ${first.headers.get("last-modified")}`]);
    assert.equal(byDate.status, 304);

    // JSON, another sort order and another page are other representations.
    const json = await listing(["Accept: application/json"]);
    assert.equal(json.status, 200);
    assert.notEqual(json.headers.get("etag"), etag);
    assert.equal((await listing([`If-None-Match: ${etag}`], "/?sort=size")).status, 200);

    // Each kind of change makes a new ETag: a new file, a rewrite in place (same
    // size, later mtime: the directory's own mtime does not move), a removal.
    const changes = [
      () => Deno.writeTextFile(path.join(root, "b.txt"), "b"),
      async () => {
        await Deno.writeTextFile(path.join(root, "a.txt"), "A");
        await Deno.utime(path.join(root, "a.txt"), new Date(), new Date(Date.now() + 5000));
      },
      () => Deno.remove(path.join(root, "b.txt")),
    ];
    let current = etag;
    for (const change of changes) {
      await change();
      const after = await listing([`If-None-Match: ${current}`]);
      assert.equal(after.status, 200, "a changed listing is sent in full");
      assert.notEqual(after.headers.get("etag"), current);
      current = after.headers.get("etag")!;
    }
  });
});

Deno.test("the listing links to the folder as .zip and .tar.gz", () =>
  withTempDir(async (dir) => {
    const html = bodyText(await list(dir, [], HIDE_DOTFILES, ""));
    assert.ok(hrefs(html).includes("?archive=zip"));
    assert.ok(hrefs(html).includes("?archive=tar.gz"));
  }));
