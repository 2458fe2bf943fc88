/**
 * The listing's icons: one inline SVG sprite of `<symbol>`s per page, used by
 * `<svg><use href="#i-…"/></svg>`, so the page needs no image requests and a
 * row costs a few bytes. Strokes use `currentColor`; CSS colours each kind.
 *
 * @module
 */

/** The kinds of entry that get their own icon. */
export type FileKind =
  | "folder"
  | "file"
  | "image"
  | "audio"
  | "video"
  | "archive"
  | "code"
  | "text"
  | "pdf";

/** Icons of the page's own controls. */
export type ControlIcon =
  | "parent"
  | "upload"
  | "upload-folder"
  | "new-folder"
  | "rename"
  | "delete"
  | "download";

/** A page of a file: the outline every file kind starts from. */
const SHEET = '<path d="M6 3h8l5 5v12a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1z"/>' +
  '<path d="M14 3v5h5"/>';

const FOLDER_OUTLINE = '<path fill="currentColor" fill-opacity=".22" ' +
  'd="M3 7a2 2 0 0 1 2-2h4l2 2.5h8a2 2 0 0 1 2 2V18a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>';

const SYMBOLS: Record<FileKind | ControlIcon, string> = {
  folder: FOLDER_OUTLINE,
  file: SHEET,
  image: `${SHEET}<circle cx="9.5" cy="12" r="1.5"/><path d="M7 18l3-3 2 2 2.5-3L17 18z"/>`,
  audio: `${SHEET}<circle cx="9" cy="17.5" r="1.5"/><circle cx="14.5" cy="16" r="1.5"/>` +
    '<path d="M10.5 17.5V12l5.5-1.5V16"/>',
  video: `${SHEET}<path d="M10 11.5v6l5-3z"/>`,
  archive: `${SHEET}<path d="M10 5h2M10 8h2M10 11h2"/><path d="M9.5 14h3v3.5h-3z"/>`,
  code: `${SHEET}<path d="M10 12l-2.5 2.5L10 17M14 12l2.5 2.5L14 17"/>`,
  text: `${SHEET}<path d="M8 12h8M8 15h8M8 18h5"/>`,
  pdf: `${SHEET}<path d="M8 12.5h8M8 15.5h8M8 18.5h4"/>`,
  parent: '<path d="M9 14l-4-4 4-4"/><path d="M5 10h9a5 5 0 0 1 5 5v4"/>',
  upload:
    '<path d="M12 15V4M7.5 8.5 12 4l4.5 4.5"/><path d="M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3"/>',
  "upload-folder": `${FOLDER_OUTLINE}<path d="M12 17v-6M9.5 13.5 12 11l2.5 2.5"/>`,
  "new-folder": `${FOLDER_OUTLINE}<path d="M12 11v6M9 14h6"/>`,
  download:
    '<path d="M12 4v11M7.5 10.5 12 15l4.5-4.5"/><path d="M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3"/>',
  rename: '<path d="M4 20h4L19 9a2.1 2.1 0 0 0-3-3L5 17z"/><path d="M14.5 7.5l3 3"/>',
  delete:
    '<path d="M4 7h16M10 11v6M14 11v6"/><path d="M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12"/>' +
    '<path d="M9 7V4h6v3"/>',
};

/** The sprite: one hidden `<svg>` holding every symbol, placed once at the top of `<body>`. */
export const ICON_SPRITE = '<svg class="sprite" aria-hidden="true" focusable="false">' +
  Object.entries(SYMBOLS).map(([id, shapes]) =>
    `<symbol id="i-${id}" viewBox="0 0 24 24">${shapes}</symbol>`
  ).join("") +
  "</svg>";

/** Lowercase extension (without ".") → kind; anything missing is a plain "file". */
const KIND_BY_EXTENSION: Record<string, FileKind> = Object.fromEntries(
  (Object.entries({
    image: "png jpg jpeg gif webp avif svg bmp ico tif tiff heic heif",
    audio: "mp3 wav flac ogg oga m4a aac opus wma mid midi",
    video: "mp4 m4v mkv webm mov avi wmv ogv mpg mpeg",
    archive: "zip tar gz tgz bz2 tbz2 xz txz zst 7z rar iso dmg deb rpm apk jar",
    code:
      "js mjs cjs ts tsx jsx json html htm css scss sass less py rb go rs c h cc cpp hpp java kt " +
      "swift sh bash zsh fish ps1 bat php pl lua sql yaml yml toml xml wasm vue svelte",
    text: "txt md markdown rst log csv tsv ini conf cfg env",
    pdf: "pdf",
  }) as [FileKind, string][]).flatMap(([kind, list]) =>
    list.split(" ").map((extension) => [extension, kind])
  ),
);

/**
 * The icon kind for an entry: "folder" for directories, otherwise by the
 * name's extension (case-insensitive), "file" when unknown.
 */
export function fileKind(name: string, isDirectory: boolean): FileKind {
  if (isDirectory) return "folder";
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "file";
  return KIND_BY_EXTENSION[name.slice(dot + 1).toLowerCase()] ?? "file";
}

/** An inline icon referencing the sprite; decorative, so hidden from assistive technology. */
export function iconSvg(icon: FileKind | ControlIcon): string {
  return `<svg class="icon i-${icon}" aria-hidden="true" focusable="false">` +
    `<use href="#i-${icon}"/></svg>`;
}
