/// <reference lib="dom" />
/**
 * The grid view: the same rows laid out as tiles, images with lazily loaded
 * thumbnails (the image itself, `loading="lazy"`). The choice is remembered
 * in this browser.
 *
 * @module
 */

import { byId, element } from "./dom.ts";
import type { Listing } from "./listing.ts";

const STORAGE_KEY = "filedrop-view";

/** Binds the view toggle and keeps thumbnails on the rows while the grid shows. */
export function setUpGrid(listing: Listing): void {
  const toggle = byId("view-toggle", HTMLButtonElement);
  const apply = (grid: boolean) => {
    listing.table.classList.toggle("grid", grid);
    toggle.setAttribute("aria-pressed", String(grid));
    if (grid) addThumbnails(listing);
  };
  toggle.addEventListener("click", () => {
    const grid = toggle.getAttribute("aria-pressed") !== "true";
    try {
      localStorage.setItem(STORAGE_KEY, grid ? "grid" : "list");
    } catch {
      // Storage may be disabled: the view still changes, it is just not remembered.
    }
    apply(grid);
  });
  listing.onRowsChanged.push(() => {
    if (listing.table.classList.contains("grid")) addThumbnails(listing);
  });
  let remembered: string | null = null;
  try {
    remembered = localStorage.getItem(STORAGE_KEY);
  } catch {
    // As above: the list view by default.
  }
  apply(remembered === "grid");
}

/** Puts a lazily loaded thumbnail before the name of each image row that has none. */
function addThumbnails(listing: Listing): void {
  for (const row of listing.rows()) {
    if (row.dataset.kind !== "image" || row.querySelector("img.thumb")) continue;
    const link = row.querySelector("td.name a");
    if (!link) continue;
    const thumb = element("img", "thumb");
    thumb.loading = "lazy";
    thumb.decoding = "async";
    thumb.alt = "";
    thumb.src = link.getAttribute("href") ?? "";
    link.prepend(thumb);
  }
}
