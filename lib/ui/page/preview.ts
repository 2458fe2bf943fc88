/// <reference lib="dom" />
/**
 * Previews in a dialog, without leaving the folder: images, video and audio
 * in the browser's own players (ranges make seeking work), text and source
 * as text (never as markup; Markdown too, unrendered), PDF in the browser's
 * viewer. Left and right arrow keys move between the folder's previewable
 * files. Everything is loaded from this origin, as the page's CSP allows.
 *
 * @module
 */

import { formatSize } from "../portable.ts";
import { byId, element, messageOf } from "./dom.ts";
import { entryOf } from "./listing.ts";
import type { Listing } from "./listing.ts";

/** The kinds (a row's `data-kind`, from its icon) shown in the preview. */
const PREVIEWABLE = new Set(["image", "video", "audio", "text", "code", "pdf"]);

/** How much of a text file is shown. */
const TEXT_PREVIEW_BYTES = 256 * 1024;

/** The preview dialog. */
export class Preview {
  readonly #dialog = byId("preview", HTMLDialogElement);
  readonly #title = byId("preview-title", HTMLElement);
  readonly #position = byId("preview-position", HTMLElement);
  readonly #body = byId("preview-body", HTMLElement);
  readonly #open = byId("preview-open", HTMLAnchorElement);
  readonly #download = byId("preview-download", HTMLAnchorElement);
  #current: string | null = null;
  /** Counts shows, so a slow text fetch never fills a later preview. */
  #generation = 0;

  constructor(private readonly listing: Listing) {
    listing.tbody.addEventListener("click", (event) => {
      const link = event.target instanceof Element
        ? event.target.closest<HTMLAnchorElement>("td.name a")
        : null;
      const row = link?.closest<HTMLTableRowElement>("tr[data-name]");
      if (!link || !row || !isPreviewable(row)) return;
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
        return;
      }
      event.preventDefault();
      this.show(row);
    });
    byId("preview-close", HTMLButtonElement).addEventListener("click", () => this.#dialog.close());
    byId("preview-prev", HTMLButtonElement).addEventListener("click", () => this.step(-1));
    byId("preview-next", HTMLButtonElement).addEventListener("click", () => this.step(1));
    this.#dialog.addEventListener("keydown", (event) => {
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        event.preventDefault();
        this.step(event.key === "ArrowLeft" ? -1 : 1);
      }
    });
    // Stops a playing video or audio when the dialog closes, and returns focus to the row.
    this.#dialog.addEventListener("close", () => {
      this.#body.replaceChildren();
      const row = this.#rows().find((candidate) => entryOf(candidate).name === this.#current);
      row?.querySelector("a")?.focus();
      this.#current = null;
    });
  }

  /** Shows the file of `row`. */
  show(row: HTMLTableRowElement): void {
    const entry = entryOf(row);
    const link = row.querySelector("a");
    if (!link) return;
    const url = new URL(link.getAttribute("href") ?? "", location.href).href;
    const rows = this.#rows();
    this.#current = entry.name;
    this.#title.textContent = entry.name;
    this.#position.textContent = `${rows.indexOf(row) + 1} of ${rows.length}`;
    this.#open.href = url;
    this.#download.href = url;
    this.#download.download = entry.name;
    const generation = ++this.#generation;
    this.#body.replaceChildren(this.#content(row.dataset.kind ?? "", url, entry.name, generation));
    if (!this.#dialog.open) this.#dialog.showModal();
  }

  /** Moves to the previous (-1) or next (1) previewable file, wrapping around. */
  step(direction: -1 | 1): void {
    const rows = this.#rows();
    if (rows.length === 0) return;
    const index = rows.findIndex((row) => entryOf(row).name === this.#current);
    this.show(rows[(index + direction + rows.length) % rows.length]);
  }

  /** The rows the filter shows whose files can be previewed, in display order. */
  #rows(): HTMLTableRowElement[] {
    return this.listing.visibleRows().filter(isPreviewable);
  }

  #content(kind: string, url: string, name: string, generation: number): HTMLElement {
    switch (kind) {
      case "image": {
        const image = element("img", "preview-image");
        image.src = url;
        image.alt = name;
        return image;
      }
      case "video":
      case "audio": {
        const player = element(kind, `preview-${kind}`);
        player.controls = true;
        player.preload = "metadata";
        player.src = url;
        return player;
      }
      case "pdf": {
        const frame = element("iframe", "preview-pdf");
        frame.title = name;
        frame.src = url;
        return frame;
      }
      default: {
        const text = element("pre", "preview-text", "Loading…");
        this.#loadText(url, text, generation);
        return text;
      }
    }
  }

  /** Fills `target` with the start of the text file at `url`, as text. */
  async #loadText(url: string, target: HTMLElement, generation: number): Promise<void> {
    let shown: string;
    try {
      const response = await fetch(url, {
        headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` },
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      shown = new TextDecoder().decode(await response.arrayBuffer());
      const total = Number(response.headers.get("content-range")?.split("/")[1]);
      if (response.status === 206 && total > TEXT_PREVIEW_BYTES) {
        shown += `\n\n[The first ${formatSize(TEXT_PREVIEW_BYTES)} of ${formatSize(total)}]`;
      }
    } catch (error) {
      shown = `Could not load the file: ${messageOf(error)}`;
    }
    if (generation === this.#generation) target.textContent = shown;
  }
}

/** Whether a row is a file of a kind the preview shows. */
export function isPreviewable(row: HTMLTableRowElement): boolean {
  return row.dataset.type === "file" && PREVIEWABLE.has(row.dataset.kind ?? "");
}
