/// <reference lib="dom" />
/**
 * The listing table: relative times, sorting and filtering in place, and
 * refreshing the rows from the server's own HTML.
 *
 * @module
 */

import { entryComparator, findMatch, foldSearchTerm, formatRelativeTime } from "../portable.ts";
import type { SortableEntry } from "../portable.ts";
import { byId, messageOf, say } from "./dom.ts";

const SORT_KEYS = ["name", "size", "mtime"];

/** A row's control ("" for the name link), so focus can find its way back after a refresh. */
export interface RowControl {
  /** The row's entry name. */
  name: string;
  /** The button's `data-action`, or "" for the link. */
  action: string;
}

/** The listing table and what the page does with it. */
export class Listing {
  /** The table. */
  readonly table = byId("listing", HTMLTableElement);
  /** Its body, whose rows are replaced on refresh. */
  readonly tbody = this.table.tBodies[0];
  readonly #filterInput = byId("filter", HTMLInputElement);
  readonly #filterCount = byId("filter-count", HTMLElement);
  readonly #noMatch = byId("no-match", HTMLElement);
  readonly #summary = byId("summary", HTMLElement);
  readonly #exactTime = new Intl.DateTimeFormat(undefined, {
    dateStyle: "full",
    timeStyle: "long",
  });
  #sortKey: string;
  #sortOrder: string;
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;
  /** Called after the rows were rebuilt or re-sorted (selection, previews). */
  readonly onRowsChanged: (() => void)[] = [];

  constructor() {
    const query = new URLSearchParams(location.search);
    const sort = query.get("sort");
    this.#sortKey = sort !== null && SORT_KEYS.includes(sort) ? sort : "name";
    this.#sortOrder = query.get("order") === "desc" ? "desc" : "asc";
    setInterval(() => this.#showTimes(), 60_000);
    this.table.tHead?.addEventListener("click", (event) => this.#sortClicked(event));
    this.#filterInput.addEventListener("input", () => this.applyFilter());
    this.#filterInput.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#filterInput.value !== "") {
        this.#filterInput.value = "";
        this.applyFilter();
      }
    });
  }

  /** The filter field. */
  get filterInput(): HTMLInputElement {
    return this.#filterInput;
  }

  /** The entry rows, in display order. */
  rows(): HTMLTableRowElement[] {
    return Array.from(this.tbody.querySelectorAll<HTMLTableRowElement>("tr[data-name]"));
  }

  /** The entry rows the filter shows. */
  visibleRows(): HTMLTableRowElement[] {
    return this.rows().filter((row) => !row.hidden);
  }

  /** Times, order and filter applied to the current rows. */
  decorate(): void {
    this.#showTimes();
    this.#sortRows();
    this.applyFilter();
    for (const listener of this.onRowsChanged) listener();
  }

  /** Shows the rows whose names contain the filter text. */
  applyFilter(): void {
    const query = foldSearchTerm(this.#filterInput.value.trim());
    const rows = this.rows();
    let shown = 0;
    for (const row of rows) {
      // Matched as the server's search below the folder matches (case, Unicode forms).
      const match = query === "" || findMatch(entryOf(row).name, query) !== null;
      row.hidden = !match;
      if (match) shown++;
    }
    this.#noMatch.hidden = !(rows.length > 0 && shown === 0);
    this.#filterCount.textContent = query === "" ? "" : `${shown} of ${rows.length}`;
  }

  /** Reloads the rows; calls made while one runs are folded into one more run. */
  async refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return await this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        try {
          await this.#loadRows();
        } catch (error) {
          say(`Could not refresh the listing: ${messageOf(error)}`, true);
        }
      } while (this.#refreshAgain);
    })();
    try {
      await this.#refreshing;
    } finally {
      this.#refreshing = null;
    }
  }

  /** Which row control `element` is; null outside the rows. */
  rowControlOf(target: Element | null): RowControl | null {
    const row = target && this.tbody.contains(target) ? target.closest("tr[data-name]") : null;
    if (!(row instanceof HTMLTableRowElement) || !target) return null;
    const button = target.closest<HTMLElement>("button[data-action]");
    return { name: entryOf(row).name, action: button?.dataset.action ?? "" };
  }

  /** Focuses the same control in the current rows (its link if the control is gone). */
  refocus(control: RowControl): void {
    const row = this.rows().find((candidate) => entryOf(candidate).name === control.name);
    if (!row) return;
    const target = (control.action &&
      row.querySelector<HTMLElement>(`button[data-action="${control.action}"]`)) ||
      row.querySelector("a");
    target?.focus();
  }

  #showTimes(): void {
    const now = Date.now();
    for (const time of this.tbody.querySelectorAll<HTMLTimeElement>("time[datetime]")) {
      const ms = Date.parse(time.dateTime);
      if (Number.isNaN(ms)) continue;
      time.textContent = formatRelativeTime(ms, now);
      time.title = this.#exactTime.format(ms);
    }
  }

  #sortRows(): void {
    const compare = entryComparator(this.#sortKey, this.#sortOrder);
    const pairs = this.rows().map((row) => ({ row, entry: entryOf(row) }));
    pairs.sort((a, b) => compare(a.entry, b.entry));
    this.tbody.append(...pairs.map((pair) => pair.row));
    for (
      const link of this.table.tHead?.querySelectorAll<HTMLAnchorElement>("a[data-sort]") ?? []
    ) {
      const key = link.dataset.sort;
      const active = key === this.#sortKey;
      const cell = link.closest("th");
      if (active) {
        cell?.setAttribute("aria-sort", this.#sortOrder === "asc" ? "ascending" : "descending");
      } else cell?.removeAttribute("aria-sort");
      link.search = `?sort=${key}&order=${active && this.#sortOrder === "asc" ? "desc" : "asc"}`;
      const arrow = link.querySelector(".arrow");
      if (arrow) arrow.textContent = active ? (this.#sortOrder === "asc" ? " ▲" : " ▼") : "";
    }
  }

  #sortClicked(event: MouseEvent): void {
    const link = event.target instanceof Element
      ? event.target.closest<HTMLAnchorElement>("a[data-sort]")
      : null;
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    const next = new URLSearchParams(link.search);
    this.#sortKey = next.get("sort") ?? "name";
    this.#sortOrder = next.get("order") ?? "asc";
    history.replaceState(null, "", `?sort=${this.#sortKey}&order=${this.#sortOrder}`);
    this.#sortRows();
    for (const listener of this.onRowsChanged) listener();
  }

  /**
   * Only the part of the fresh page between <main> and </main> is parsed: the
   * rest holds the new page's nonced style and script, which this page's CSP
   * (with its own nonce) would report as violations. That part holds no raw
   * names: the server escapes them all, so "</main>" cannot occur inside it.
   */
  async #loadRows(): Promise<void> {
    const response = await fetch(location.pathname, {
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
    if (!response.ok) return;
    const html = await response.text();
    const start = html.indexOf("<main>");
    const end = html.indexOf("</main>");
    if (start < 0 || end < start) return;
    const fresh = new DOMParser().parseFromString(html.slice(start, end + 7), "text/html");
    const freshBody = fresh.querySelector("#listing tbody");
    if (!freshBody) return;
    const focused = this.rowControlOf(document.activeElement);
    this.tbody.replaceChildren(
      ...Array.from(freshBody.children, (row) => document.importNode(row, true)),
    );
    const freshSummary = fresh.getElementById("summary");
    if (freshSummary) this.#summary.textContent = freshSummary.textContent;
    this.decorate();
    if (focused) this.refocus(focused);
  }
}

/** What a row lists, from its data attributes (set by the server, escaped). */
export function entryOf(row: HTMLElement): SortableEntry {
  const data = row.dataset;
  return {
    name: data.name ?? "",
    isDirectory: data.type === "directory",
    size: data.size === undefined ? null : Number(data.size),
    mtime: data.mtime === undefined ? null : Number(data.mtime),
  };
}
