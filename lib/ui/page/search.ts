/// <reference lib="dom" />
/**
 * Search below the folder: Enter in the filter field asks the server for
 * `?q=<term>&format=ndjson` and shows each match as its line arrives, in
 * place of the table, until "Back to the folder" (or Escape, or an empty
 * field). Without the script the same field submits `?q=` and the server
 * answers with a page of results.
 *
 * @module
 */

import { fileKind } from "../icons.ts";
import { formatSize, searchSummary } from "../portable.ts";
import type { SearchCut, SearchLimits } from "../portable.ts";
import { byId, element, messageOf, quoted } from "./dom.ts";
import { pathFor } from "./http.ts";
import type { Listing } from "./listing.ts";

/** A line of the server's NDJSON: a match. */
interface MatchLine {
  type: "match";
  path: string[];
  kind: "file" | "directory";
  size: number | null;
  match: [number, number];
}

/** The last line: how the search ended. */
interface EndLine {
  type: "end";
  matches: number;
  cut: SearchCut | null;
  limits: SearchLimits;
}

const SVG = "http://www.w3.org/2000/svg";

/** The search panel and the requests behind it. */
export class Search {
  readonly #form = byId("search-form", HTMLFormElement);
  readonly #input = byId("filter", HTMLInputElement);
  readonly #panel = byId("search-panel", HTMLElement);
  readonly #title = byId("search-title", HTMLElement);
  readonly #list = byId("search-list", HTMLOListElement);
  readonly #status = byId("search-status", HTMLElement);
  /** Hidden while results show: the folder's own table, lines and filter count. */
  readonly #folderParts: HTMLElement[];
  readonly #listing: Listing;
  #running: AbortController | null = null;

  constructor(listing: Listing) {
    this.#listing = listing;
    this.#folderParts = [
      listing.table,
      byId("summary", HTMLElement),
      byId("no-match", HTMLElement),
      byId("filter-count", HTMLElement),
    ];
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      const term = this.#input.value.trim();
      if (term === "") this.close();
      else void this.#search(term);
    });
    byId("search-close", HTMLButtonElement).addEventListener("click", () => {
      this.#input.value = "";
      this.close();
      this.#input.focus();
    });
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.#panel.hidden) this.close();
    });
    this.#input.addEventListener("input", () => {
      if (this.#input.value.trim() === "") this.close();
    });
  }

  /** Stops a search in flight and shows the folder again, filtered by the field. */
  close(): void {
    this.#running?.abort();
    this.#running = null;
    if (this.#panel.hidden) return;
    this.#panel.hidden = true;
    for (const part of this.#folderParts) part.hidden = false;
    this.#listing.applyFilter();
  }

  async #search(term: string): Promise<void> {
    this.#running?.abort();
    const running = new AbortController();
    this.#running = running;
    this.#title.textContent = `Names containing ${quoted(term)} below this folder`;
    this.#list.replaceChildren();
    this.#setStatus("Searching…", true);
    this.#panel.hidden = false;
    for (const part of this.#folderParts) part.hidden = true;
    let found = 0;
    try {
      const query = new URLSearchParams({ q: term, format: "ndjson" });
      const response = await fetch(`?${query}`, {
        signal: running.signal,
        cache: "no-store",
        credentials: "same-origin",
      });
      if (!response.ok || response.body === null) {
        throw new Error((await response.text()).trim() || `${response.status}`);
      }
      let ended: EndLine | null = null;
      for await (const line of lines(response.body)) {
        const parsed = JSON.parse(line) as MatchLine | EndLine;
        if (parsed.type === "end") {
          ended = parsed;
          continue;
        }
        this.#list.append(resultItem(parsed));
        found++;
        this.#setStatus(`Searching… ${found} ${found === 1 ? "match" : "matches"} so far`, true);
      }
      if (ended === null) throw new Error("the answer ended early");
      this.#setStatus(searchSummary(ended.matches, ended.cut, ended.limits), false, ended.cut);
    } catch (error) {
      if (running.signal.aborted) return;
      this.#setStatus(`The search failed: ${messageOf(error)}`, false);
      this.#status.classList.add("error");
    } finally {
      if (this.#running === running) this.#running = null;
    }
  }

  #setStatus(text: string, busy: boolean, cut: SearchCut | null = null): void {
    this.#status.textContent = text;
    this.#status.classList.toggle("searching", busy);
    this.#status.classList.toggle("cut", cut !== null);
    this.#status.classList.remove("error");
    this.#panel.setAttribute("aria-busy", String(busy));
  }
}

/** The lines of a streamed body, each as soon as its newline arrives. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line !== "") yield line;
      }
    }
  } finally {
    reader.releaseLock();
  }
  pending += decoder.decode();
  if (pending.trim() !== "") yield pending;
}

/** One match: icon, the path below the folder with the term marked (as text nodes), size. */
function resultItem(found: MatchLine): HTMLLIElement {
  const isDirectory = found.kind === "directory";
  const name = found.path[found.path.length - 1];
  const item = element("li");
  const link = element("a");
  link.href = pathFor(found.path, isDirectory);
  const parents = found.path.slice(0, -1).map((segment) => `${segment}/`).join("");
  if (parents !== "") link.append(element("span", "result-parent", parents));
  const [start, end] = found.match;
  link.append(
    name.slice(0, start),
    element("mark", "", name.slice(start, end)),
    name.slice(end) + (isDirectory ? "/" : ""),
  );
  item.append(icon(fileKind(name, isDirectory)), link);
  if (found.size !== null) item.append(element("span", "result-size", formatSize(found.size)));
  return item;
}

/** The sprite's icon for `kind`, as the server draws it. */
function icon(kind: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `icon i-${kind}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${kind}`);
  svg.append(use);
  return svg;
}
