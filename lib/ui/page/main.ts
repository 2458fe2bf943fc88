/// <reference lib="dom" />
/**
 * The listing page's script, bundled into `lib/ui/bundle/main.js` and
 * embedded in the page under the response's CSP nonce. Everything it does is
 * a plain HTTP request a script could make too:
 *
 * - refresh: `GET <dir>/` with `Accept: text/html`, whose `<tbody>` replaces the table's
 * - upload: `PUT <dir>/<path>` (XMLHttpRequest, for progress), first with `If-None-Match: *`
 *   so nothing is replaced unasked; "Replace" retries without it
 * - new folder (and the empty folders of a dropped tree): `PUT <dir>/<name>/` with an empty body
 * - share: `POST /.well-known/filedrop-share/` with the folder, scope, lifetime and byte limit
 *   as JSON; the answer holds the link's URL path
 * - rename or move: `MOVE <path>` with `Destination: <absolute path>` and `Overwrite: F`;
 *   after a 412 and the user's yes, again with `Overwrite: T`
 * - delete: `DELETE <path>` (a folder's path ends in "/"; only empty folders go)
 * - download: the folder, or the selected entries, as `GET <dir>/?archive=zip[&select=name...]`
 * - search below the folder: `GET <dir>/?q=<term>&format=ndjson`, read line by line as it arrives
 * - several selected entries: the one-entry request (`DELETE`, `MOVE`) once for each
 *
 * The page works without it: links, sorting links and the breadcrumb are
 * plain HTML. With it, sorting and filtering happen in place, times become
 * relative ("3 hours ago", the exact local time on hover), files open in a
 * preview, a grid view shows thumbnails, rows can be selected and, when the
 * server allows writes, the upload, new-folder, rename and delete controls
 * work. File names only ever reach the DOM through `textContent`,
 * `setAttribute` and `dataset`, never as markup.
 *
 * @module
 */

import { EntryActions } from "./actions.ts";
import { Dialog } from "./dialog.ts";
import { byId } from "./dom.ts";
import { acceptDrops } from "./drop.ts";
import { bindShortcuts } from "./keyboard.ts";
import { setUpGrid } from "./grid.ts";
import { entryOf, Listing } from "./listing.ts";
import { Preview } from "./preview.ts";
import { Search } from "./search.ts";
import { setUpQrCode } from "./qr.ts";
import { Selection } from "./selection.ts";
import { setUpShareDialog } from "./share.ts";
import { UploadQueue } from "./uploads.ts";

const listing = new Listing();
listing.decorate();
bindShortcuts(listing.filterInput);
new Search(listing);
new Preview(listing);
setUpGrid(listing);
setUpQrCode();
// What the server rendered controls for: what the requester may do here (or could once signed in).
const writable = document.body.dataset.writable === "true";
if (writable || document.body.dataset.deletable === "true") setUpChanges();
else new Selection(listing, null);

/** The delete controls, and the upload, new-folder, rename and move ones when writable. */
function setUpChanges(): void {
  const dialog = new Dialog(listing);
  const actions = new EntryActions(listing, dialog);
  new Selection(listing, actions);

  listing.tbody.addEventListener("click", (event) => {
    const button = event.target instanceof Element
      ? event.target.closest<HTMLElement>("button[data-action]")
      : null;
    const row = button?.closest<HTMLTableRowElement>("tr[data-name]");
    if (!button || !row) return;
    if (button.dataset.action === "delete") actions.delete(entryOf(row));
    else if (button.dataset.action === "rename") actions.rename(entryOf(row));
  });
  if (writable) setUpUploads(actions);
}

/** The upload, new-folder and share controls. */
function setUpUploads(actions: EntryActions): void {
  setUpShareDialog();
  const queue = new UploadQueue(listing, document.body.dataset.dotfiles !== "true");
  byId("new-folder", HTMLButtonElement).addEventListener("click", () => actions.makeFolder());

  const fileInput = byId("file-input", HTMLInputElement);
  const folderInput = byId("folder-input", HTMLInputElement);
  const folderButton = byId("upload-folder", HTMLButtonElement);
  byId("upload-files", HTMLButtonElement).addEventListener("click", () => fileInput.click());
  if ("webkitdirectory" in HTMLInputElement.prototype) {
    folderButton.addEventListener("click", () => folderInput.click());
  } else {
    folderButton.hidden = true;
  }
  fileInput.addEventListener("change", () => {
    queue.upload(Array.from(fileInput.files ?? [], (file) => ({ file, names: [file.name] })));
    fileInput.value = "";
  });
  folderInput.addEventListener("change", () => {
    queue.upload(
      Array.from(folderInput.files ?? [], (file) => ({
        file,
        names: (file.webkitRelativePath || file.name).split("/"),
      })),
    );
    folderInput.value = "";
  });
  acceptDrops(queue);
}
