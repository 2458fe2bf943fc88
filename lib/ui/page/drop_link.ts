/// <reference lib="dom" />
/**
 * The drop page's script (an upload-only share link), bundled into
 * `lib/ui/bundle/drop_link.js`: files chosen or dropped are sent one at a
 * time as `PUT ./NAME` to the link itself; the page shows only what this
 * visitor sent, never what the folder holds.
 *
 * @module
 */

import { formatSize } from "../portable.ts";
import { encodePathSegment } from "../portable.ts";
import { byId, element } from "./dom.ts";

const input = byId("drop-input", HTMLInputElement);
const zone = byId("drop-zone", HTMLElement);
const list = byId("drop-list", HTMLUListElement);
let queue = Promise.resolve();

byId("drop-choose", HTMLButtonElement).addEventListener("click", () => input.click());
input.addEventListener("change", () => {
  for (const file of Array.from(input.files ?? [])) enqueue(file);
  input.value = "";
});
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  for (const file of Array.from(event.dataTransfer?.files ?? [])) enqueue(file);
});

/** Adds a row for `file` and sends it after those before it. */
function enqueue(file: File): void {
  const status = element("span", "drop-status", "Waiting…");
  const row = element("li", "drop-file");
  row.append(element("span", "drop-name", `${file.name} (${formatSize(file.size)})`), status);
  list.append(row);
  queue = queue.then(() => send(file, row, status));
}

async function send(file: File, row: HTMLLIElement, status: HTMLSpanElement): Promise<void> {
  status.textContent = "Sending…";
  try {
    // The page itself sends no Referer (its URL is the link): a same-origin policy for this
    // request only, so that the browser still sends its Origin, which the server checks.
    const response = await fetch(`./${encodePathSegment(file.name)}`, {
      method: "PUT",
      body: file,
      cache: "no-store",
      referrerPolicy: "same-origin",
    });
    const text = (await response.text()).trim();
    row.dataset.state = response.ok ? "done" : "error";
    status.textContent = response.ok ? "Sent" : `Failed: ${text || response.status}`;
  } catch (error) {
    row.dataset.state = "error";
    status.textContent = `Failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}
