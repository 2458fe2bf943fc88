/**
 * The listing page's style sheet, embedded in the page under the response's
 * CSP nonce. Light and dark themes follow `prefers-color-scheme`; below 40rem
 * the layout narrows for phones. No `style` attributes anywhere: the CSP
 * allows only the nonced sheet.
 *
 * @module
 */

/** The whole style sheet of the listing page. */
export const PAGE_STYLE = `
:root {
  color-scheme: light dark;
  --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --surface: #f6f8fa; --line: #d1d9e0;
  --hover: #f2f5f8; --accent: #0969da; --accent-fg: #ffffff; --danger: #cf222e; --ok: #1a7f37;
  --folder: #c69026; --image: #8250df; --audio: #bf3989; --video: #d1242f; --archive: #9a6700;
  --code: #1a7f37; --text: #59636e; --pdf: #d1242f; --file: #818b98;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --surface: #151b23; --line: #3d444d;
    --hover: #161c24; --accent: #4493f8; --accent-fg: #0d1117; --danger: #f85149; --ok: #3fb950;
    --folder: #e3b341; --image: #ab7df8; --audio: #f778ba; --video: #ff7b72; --archive: #d29922;
    --code: #3fb950; --text: #9198a1; --pdf: #ff7b72; --file: #9198a1;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html:not(.js) .needs-js { display: none !important; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
.page { max-width: 68rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; border-radius: 4px; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
  white-space: nowrap;
}
.sprite { display: none; }
.icon {
  width: 1.25rem; height: 1.25rem; flex: none; vertical-align: -.3rem;
  fill: none; stroke: currentColor; stroke-width: 1.6; stroke-linecap: round; stroke-linejoin: round;
}
.i-folder { color: var(--folder); } .i-image { color: var(--image); } .i-audio { color: var(--audio); }
.i-video { color: var(--video); } .i-archive { color: var(--archive); } .i-code { color: var(--code); }
.i-text { color: var(--text); } .i-pdf { color: var(--pdf); } .i-file { color: var(--file); }
.i-parent { color: var(--muted); }

h1 { font-size: 1.4rem; font-weight: 600; margin: 0 0 1rem; overflow-wrap: anywhere; }
h1 .index-of { color: var(--muted); font-weight: 400; }
h1 a, h1 [aria-current] { padding: 0 .05rem; }
h1 [aria-current] { color: var(--fg); }

.toolbar { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 .75rem; }
.filter { position: relative; flex: 1 1 16rem; min-width: 0; display: flex; align-items: center; }
.filter input { width: 100%; }
.filter-count { position: absolute; right: .75rem; color: var(--muted); font-size: .85rem; pointer-events: none; }
input[type="search"], input[type="text"] {
  font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; padding: .4rem .7rem; min-height: 2.25rem;
}
input[type="search"]:focus, input[type="text"]:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
button {
  font: inherit; font-size: .9rem; font-weight: 500; color: var(--fg); background: var(--surface);
  border: 1px solid var(--line); border-radius: 6px; padding: .35rem .75rem; min-height: 2.25rem;
  display: inline-flex; align-items: center; gap: .4rem; cursor: pointer;
}
button:hover, a.button:hover { border-color: var(--muted); }
a.button {
  font-size: .9rem; font-weight: 500; color: var(--fg); background: var(--surface);
  border: 1px solid var(--line); border-radius: 6px; padding: .35rem .75rem; min-height: 2.25rem;
  display: inline-flex; align-items: center; gap: .4rem; text-decoration: none;
}
.downloads { display: inline-flex; gap: 0; }
.downloads a.button:first-child { border-radius: 6px 0 0 6px; }
.downloads a.button:last-child { border-radius: 0 6px 6px 0; border-left: 0; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.primary:hover, button.danger:hover { filter: brightness(1.08); }

.notice { margin: 0 0 .75rem; min-height: 1.5em; color: var(--muted); }
.notice.error { color: var(--danger); }
.notice:empty { min-height: 0; margin: 0; }

table { width: 100%; border-collapse: collapse; }
th, td { padding: .45rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
th { font-size: .8rem; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
th a { color: inherit; display: inline-block; }
th .arrow { color: var(--accent); }
tbody tr:hover { background: var(--hover); }
/* A hanging indent: a long name wraps under itself, not under its icon. */
td.name { overflow-wrap: anywhere; width: 100%; padding-left: 2.4rem; text-indent: -1.8rem; }
td.name .icon { margin-right: .55rem; }
td.name a { color: var(--fg); }
td.name a:hover { color: var(--accent); }
tr.parent a { color: var(--muted); }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.time { color: var(--muted); white-space: nowrap; }
td.num { color: var(--muted); }
td.empty, .no-match { color: var(--muted); text-align: center; padding: 2rem .5rem; }
.actions { white-space: nowrap; text-align: right; padding-right: 0; }
.actions button {
  background: transparent; border-color: transparent; color: var(--muted); padding: .3rem; min-height: 0;
}
.actions button:hover { color: var(--fg); border-color: var(--line); background: var(--surface); }
.actions button[data-action="delete"]:hover { color: var(--danger); }
th.select, td.select { width: 2rem; padding-right: 0; }
td.select input, th.select input { width: 1.05rem; height: 1.05rem; margin: 0; accent-color: var(--accent); }
tr.selected { background: color-mix(in srgb, var(--bg) 88%, var(--accent)); }
.selection-bar {
  position: sticky; top: 0; z-index: 5; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem;
  padding: .5rem .75rem; margin: 0 0 .75rem; border: 1px solid var(--accent); border-radius: 8px;
  background: color-mix(in srgb, var(--bg) 90%, var(--accent));
}
.selection-count { font-weight: 600; margin-right: auto; }
#selection-delete:hover { color: var(--danger); border-color: var(--danger); }
.thumb { display: none; }
table.grid thead { display: none; }
table.grid tbody {
  display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .75rem;
  align-items: start;
}
table.grid tr:has(.thumb) td.name > .icon { display: none; }
table.grid tr {
  display: flex; flex-direction: column; position: relative; border: 1px solid var(--line);
  border-radius: 8px; overflow: hidden;
}
table.grid td { border: 0; padding: .35rem .55rem; }
table.grid td.num, table.grid td.time { display: none; }
table.grid td.name { padding-left: .55rem; text-indent: 0; flex: 1; }
table.grid td.empty { grid-column: 1 / -1; }
table.grid .thumb {
  display: block; width: calc(100% + 1.1rem); margin: -.35rem -.55rem .4rem; aspect-ratio: 4 / 3;
  object-fit: cover; background: var(--surface);
}
table.grid td.select { position: absolute; top: .35rem; left: .35rem; z-index: 1; padding: 0; }
table.grid td.actions { text-align: left; padding-top: 0; }
button[aria-pressed="true"] { border-color: var(--accent); color: var(--accent); }

dialog.preview {
  width: min(72rem, calc(100vw - 1rem)); height: min(52rem, calc(100vh - 1rem)); max-width: none;
  max-height: none; padding: 0; display: none; flex-direction: column;
}
dialog.preview[open] { display: flex; }
.preview-head {
  display: flex; align-items: center; gap: .5rem; padding: .6rem .9rem; border-bottom: 1px solid var(--line);
}
.preview-head h2 { flex: 1; margin: 0; font-size: 1rem; min-width: 0; }
.preview-body {
  flex: 1; min-height: 0; display: flex; align-items: center; justify-content: center; overflow: auto;
  background: var(--surface);
}
.preview-image, .preview-video { max-width: 100%; max-height: 100%; object-fit: contain; }
.preview-audio { width: min(40rem, 90%); }
.preview-pdf { width: 100%; height: 100%; border: 0; }
.preview-text {
  align-self: stretch; flex: 1; margin: 0; padding: 1rem; overflow: auto; white-space: pre-wrap;
  overflow-wrap: anywhere; font: .85rem/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
}
.preview-nav { display: flex; justify-content: space-between; padding: .5rem .9rem; border-top: 1px solid var(--line); }
.qr-code svg { display: block; width: min(18rem, 70vw); margin: .5rem auto; border-radius: 6px; }
.qr-url { text-align: center; font-size: .85rem; }
.summary { color: var(--muted); font-size: .85rem; margin: .75rem 0 0; }
.summary.cut { color: var(--fg); border-left: 3px solid var(--archive); padding-left: .6rem; }
.search-head { display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; margin: 0 0 .5rem; }
.search-head h2 { flex: 1; font-size: 1rem; margin: 0; overflow-wrap: anywhere; }
.search-results { list-style: none; margin: 0; padding: 0; }
.search-results li {
  display: flex; align-items: baseline; gap: .55rem; padding: .45rem .6rem;
  border-bottom: 1px solid var(--line); overflow-wrap: anywhere;
}
.search-results li:hover { background: var(--hover); }
.search-results a { flex: 1; min-width: 0; color: var(--fg); }
.search-results .icon { align-self: center; }
.result-parent { color: var(--muted); }
.result-size { color: var(--muted); font-size: .85rem; white-space: nowrap; font-variant-numeric: tabular-nums; }
mark { background: color-mix(in srgb, var(--bg) 55%, var(--archive)); color: inherit; border-radius: 2px; }
.searching::before {
  content: ""; display: inline-block; width: .9em; height: .9em; margin-right: .5em; vertical-align: -.1em;
  border: 2px solid var(--line); border-top-color: var(--accent); border-radius: 50%;
  animation: spin .8s linear infinite;
}
@keyframes spin { to { transform: rotate(1turn); } }
@media (prefers-reduced-motion: reduce) { .searching::before { animation: none; } }

.uploads {
  border: 1px solid var(--line); border-radius: 8px; background: var(--surface);
  padding: .5rem .9rem; margin: 0 0 1rem;
}
.uploads-head { display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
.uploads h2 { font-size: 1rem; margin: .25rem 0; }
.uploads-summary { color: var(--muted); font-size: .9rem; flex: 1; }
.uploads ul { list-style: none; margin: 0; padding: 0; max-height: 45vh; overflow: auto; }
.upload {
  display: grid; grid-template-columns: minmax(0, 1fr) minmax(6rem, 14rem) minmax(5rem, auto);
  grid-template-areas: "name bar buttons" "status status buttons";
  gap: .1rem .75rem; align-items: center; padding: .45rem 0; border-top: 1px solid var(--line);
}
.upload-name { grid-area: name; overflow-wrap: anywhere; }
.upload progress { grid-area: bar; width: 100%; height: .5rem; accent-color: var(--accent); }
.upload-status { grid-area: status; color: var(--muted); font-size: .85rem; font-variant-numeric: tabular-nums; }
.upload-buttons { grid-area: buttons; display: flex; gap: .35rem; }
.upload[data-state="done"] .upload-status { color: var(--ok); }
.upload[data-state="error"] .upload-status, .upload[data-state="conflict"] .upload-status { color: var(--danger); }

.drop-overlay {
  position: fixed; inset: .5rem; z-index: 10; pointer-events: none; display: grid; place-items: center;
  border: 3px dashed var(--accent); border-radius: 12px; font-size: 1.25rem; font-weight: 600;
  background: color-mix(in srgb, var(--bg) 80%, var(--accent));
}

dialog {
  color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
  padding: 1.25rem; width: min(30rem, calc(100vw - 2rem)); box-shadow: 0 12px 32px rgb(0 0 0 / .25);
}
dialog::backdrop { background: rgb(0 0 0 / .45); }
dialog h2 { font-size: 1.1rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
dialog p { margin: 0 0 .75rem; color: var(--muted); overflow-wrap: anywhere; }
dialog label { display: block; font-weight: 500; }
dialog input, dialog select { display: block; width: 100%; margin-top: .3rem; }
dialog label + label { margin-top: .75rem; }
#share-error:empty { display: none; }
.dialog-buttons { display: flex; justify-content: flex-end; gap: .5rem; margin-top: 1.25rem; }
.hint { color: var(--muted); font-size: .9rem; }
.noscript-upload { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin: 0 0 .75rem; }

@media (max-width: 40rem) {
  body { font-size: 16px; }
  .page { padding: 1rem .75rem 2rem; }
  h1 { font-size: 1.2rem; }
  th, td { padding: .6rem .35rem; }
  .time { display: none; }
  .toolbar button, .downloads { flex: 1 1 auto; justify-content: center; }
  .downloads a.button:first-child { flex: 1 1 auto; justify-content: center; }
  .filter { flex-basis: 100%; }
  .actions button { padding: .5rem; }
  .upload {
    grid-template-columns: minmax(0, 1fr) auto;
    grid-template-areas: "name buttons" "bar buttons" "status buttons";
  }
}
@media (prefers-reduced-motion: no-preference) {
  tbody tr, button { transition: background-color .12s, border-color .12s, color .12s; }
}
`;
