/// <reference lib="dom" />
/**
 * Multi-select: a checkbox on every row (shift-click selects a range), and a
 * bar that acts on the selection: download as one zip
 * (`?archive=zip&select=...`), move to a folder, delete. Each action is the
 * request the page already makes for one entry, once per entry.
 *
 * @module
 */

import type { SortableEntry } from "../portable.ts";
import { byId, element } from "./dom.ts";
import { entryOf } from "./listing.ts";
import type { Listing } from "./listing.ts";

/** What the bar's move and delete buttons do with the selected entries. */
export interface SelectionActions {
  /** Deletes the entries (after one confirmation). */
  deleteMany(entries: SortableEntry[]): Promise<void>;
  /** Moves the entries into a folder the user names. */
  moveMany(entries: SortableEntry[]): Promise<void>;
}

/** The row checkboxes and the selection bar. */
export class Selection {
  readonly #bar = byId("selection-bar", HTMLElement);
  readonly #count = byId("selection-count", HTMLElement);
  readonly #selectAll: HTMLInputElement;
  readonly #selected = new Set<string>();
  /** The row last clicked without shift: one end of a shift-click range. */
  #anchor: string | null = null;

  constructor(private readonly listing: Listing, actions: SelectionActions | null) {
    const headRow = listing.table.tHead?.rows[0];
    const headCell = element("th", "select");
    this.#selectAll = checkbox("Select all");
    headCell.append(this.#selectAll);
    headRow?.prepend(headCell);
    this.#selectAll.addEventListener("change", () => {
      for (const row of listing.visibleRows()) {
        this.#set(entryOf(row).name, this.#selectAll.checked);
      }
      this.#show();
    });
    listing.tbody.addEventListener("click", (event) => this.#clicked(event));
    byId("selection-download", HTMLButtonElement).addEventListener("click", () => {
      const query = new URLSearchParams({ archive: "zip" });
      for (const entry of this.entries()) query.append("select", entry.name);
      const link = element("a");
      link.href = `?${query}`;
      link.download = "";
      link.click();
    });
    byId("selection-clear", HTMLButtonElement).addEventListener("click", () => this.clear());
    if (actions !== null) {
      // Each is there when the requester may take its action (the server renders the bar).
      document.getElementById("selection-delete")?.addEventListener(
        "click",
        () => actions.deleteMany(this.entries()),
      );
      document.getElementById("selection-move")?.addEventListener(
        "click",
        () => actions.moveMany(this.entries()),
      );
    }
    listing.onRowsChanged.push(() => this.#decorateRows());
    this.#decorateRows();
  }

  /** The selected entries still listed, in display order. */
  entries(): SortableEntry[] {
    return this.listing.rows().map(entryOf).filter((entry) => this.#selected.has(entry.name));
  }

  /** Unselects everything. */
  clear(): void {
    this.#selected.clear();
    this.#anchor = null;
    this.#show();
  }

  /** Gives every row its checkbox (rows are rebuilt on refresh) and drops names no longer listed. */
  #decorateRows(): void {
    const listed = new Set<string>();
    for (const row of this.listing.tbody.rows) {
      if (row.cells[0]?.classList.contains("select")) continue;
      const cell = element("td", "select");
      if (row.dataset.name !== undefined) cell.append(checkbox(`Select ${entryOf(row).name}`));
      row.prepend(cell);
    }
    for (const row of this.listing.rows()) listed.add(entryOf(row).name);
    for (const name of this.#selected) if (!listed.has(name)) this.#selected.delete(name);
    for (const cell of this.listing.tbody.querySelectorAll<HTMLTableCellElement>("td.empty")) {
      cell.colSpan = this.listing.table.tHead?.rows[0].cells.length ?? cell.colSpan;
    }
    this.#show();
  }

  #clicked(event: MouseEvent): void {
    const box = event.target instanceof HTMLInputElement && event.target.type === "checkbox"
      ? event.target
      : null;
    const row = box?.closest<HTMLTableRowElement>("tr[data-name]");
    if (!box || !row) return;
    const name = entryOf(row).name;
    if (event.shiftKey && this.#anchor !== null) {
      const rows = this.listing.visibleRows().map((visible) => entryOf(visible).name);
      const from = rows.indexOf(this.#anchor);
      const to = rows.indexOf(name);
      if (from >= 0 && to >= 0) {
        const [start, end] = from < to ? [from, to] : [to, from];
        for (const inRange of rows.slice(start, end + 1)) this.#set(inRange, box.checked);
      }
    } else {
      this.#set(name, box.checked);
    }
    this.#anchor = name;
    this.#show();
  }

  #set(name: string, selected: boolean): void {
    if (selected) this.#selected.add(name);
    else this.#selected.delete(name);
  }

  /** Checkboxes, row highlights, the bar and its count as the selection is. */
  #show(): void {
    let visibleSelected = 0;
    const visible = this.listing.visibleRows();
    for (const row of this.listing.rows()) {
      const selected = this.#selected.has(entryOf(row).name);
      row.classList.toggle("selected", selected);
      const box = row.querySelector<HTMLInputElement>("td.select input");
      if (box) box.checked = selected;
      if (selected && !row.hidden) visibleSelected++;
    }
    this.#selectAll.checked = visible.length > 0 && visibleSelected === visible.length;
    this.#selectAll.indeterminate = visibleSelected > 0 && visibleSelected < visible.length;
    const count = this.#selected.size;
    this.#bar.hidden = count === 0;
    this.#count.textContent = `${count} selected`;
  }
}

function checkbox(label: string): HTMLInputElement {
  const box = element("input");
  box.type = "checkbox";
  box.setAttribute("aria-label", label);
  return box;
}
