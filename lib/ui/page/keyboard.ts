/// <reference lib="dom" />
/**
 * The page's keyboard shortcuts: "/" focuses the filter.
 *
 * @module
 */

import { isTyping } from "./dom.ts";

/** Binds "/" (outside text fields and dialogs) to focusing `filter`. */
export function bindShortcuts(filter: HTMLInputElement): void {
  document.addEventListener("keydown", (event) => {
    if (isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "/") {
      event.preventDefault();
      filter.focus();
    }
  });
}
