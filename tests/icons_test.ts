import assert from "node:assert/strict";
import { type FileKind, fileKind, ICON_SPRITE, iconSvg } from "../lib/ui/icons.ts";

const KIND_CASES: [name: string, isDirectory: boolean, expected: FileKind][] = [
  ["photos", true, "folder"],
  ["archive.zip", true, "folder"],
  ["IMG_0001.JPG", false, "image"],
  ["song.flac", false, "audio"],
  ["clip.webm", false, "video"],
  ["backup.tar.gz", false, "archive"],
  ["main.ts", false, "code"],
  ["notes.md", false, "text"],
  ["paper.PDF", false, "pdf"],
  ["Makefile", false, "file"],
  [".bashrc", false, "file"],
  ["trailing.", false, "file"],
  ["weird.unknownext", false, "file"],
];

Deno.test("fileKind picks the icon from the extension, case-insensitively", () => {
  for (const [name, isDirectory, expected] of KIND_CASES) {
    assert.equal(fileKind(name, isDirectory), expected, name);
  }
});

Deno.test("every icon a page uses has a symbol in the sprite", () => {
  const symbols = new Set([...ICON_SPRITE.matchAll(/<symbol id="([^"]+)"/g)].map((m) => m[1]));
  const used = [
    ...new Set(KIND_CASES.map(([, , kind]) => kind)),
    "parent",
    "upload",
    "upload-folder",
    "new-folder",
    "rename",
    "delete",
  ] as const;
  for (const icon of used) {
    const reference = iconSvg(icon).match(/<use href="#([^"]+)"\/>/)?.[1];
    assert.ok(reference !== undefined && symbols.has(reference), icon);
    assert.match(iconSvg(icon), /^<svg class="icon [^"]+" aria-hidden="true" focusable="false">/);
  }
  assert.doesNotMatch(ICON_SPRITE, /\son\w+=|<script|style=/i, "the sprite is inert");
});
