/// <reference lib="dom" />
/**
 * The page's one dialog, for confirmations and name prompts.
 *
 * @module
 */

import { byId } from "./dom.ts";
import type { Listing, RowControl } from "./listing.ts";

/** What to ask. */
export interface Question {
  /** The dialog's heading. */
  title: string;
  /** A line under it, if any. */
  message?: string;
  /** A text field's initial value; no field when absent. */
  value?: string;
  /** How much of the value to select (its length by default). */
  selectEnd?: number;
  /** The OK button's label. */
  ok: string;
  /** Whether OK destroys something (red, and Cancel has the focus). */
  danger?: boolean;
}

/** Shows questions in the page's `<dialog>`, one at a time. */
export class Dialog {
  readonly #dialog = byId("dialog", HTMLDialogElement);
  readonly #title = byId("dialog-title", HTMLElement);
  readonly #message = byId("dialog-message", HTMLElement);
  readonly #field = byId("dialog-field", HTMLElement);
  readonly #input = byId("dialog-input", HTMLInputElement);
  readonly #ok = byId("dialog-ok", HTMLButtonElement);
  readonly #cancel = byId("dialog-cancel", HTMLButtonElement);
  #pendingAnswer: ((answer: string | null) => void) | null = null;
  #opener: RowControl | null = null;

  constructor(private readonly listing: Listing) {
    this.#cancel.addEventListener("click", () => this.#dialog.close("cancel"));
    // The answer is taken when the dialog loses its "open" attribute (a
    // microtask after close), not from the "close" event, a task later: by
    // then another dialog may already be open and would take this answer.
    new MutationObserver(() => this.#closed()).observe(this.#dialog, {
      attributes: true,
      attributeFilter: ["open"],
    });
  }

  /** Resolves to the typed text (or "" without a field) on OK, null on Cancel or Escape. */
  ask(question: Question): Promise<string | null> {
    this.#opener = this.listing.rowControlOf(document.activeElement);
    const withField = typeof question.value === "string";
    this.#title.textContent = question.title;
    this.#message.textContent = question.message ?? "";
    this.#message.hidden = !question.message;
    this.#field.hidden = !withField;
    this.#input.required = withField;
    this.#input.value = question.value ?? "";
    this.#ok.textContent = question.ok;
    this.#ok.className = question.danger ? "danger" : "primary";
    this.#dialog.returnValue = "";
    this.#dialog.showModal();
    if (withField) {
      this.#input.focus();
      this.#input.setSelectionRange(0, question.selectEnd ?? this.#input.value.length);
    } else if (question.danger) {
      this.#cancel.focus();
    } else {
      this.#ok.focus();
    }
    return new Promise((resolve) => this.#pendingAnswer = resolve);
  }

  #closed(): void {
    if (this.#dialog.open || !this.#pendingAnswer) return;
    const resolve = this.#pendingAnswer;
    this.#pendingAnswer = null;
    resolve(this.#dialog.returnValue === "ok" ? this.#input.value : null);
    // The rows may have been rebuilt meanwhile, taking the control that opened the dialog.
    const focused = document.activeElement;
    if (this.#opener && (focused === document.body || !focused)) {
      this.listing.refocus(this.#opener);
    }
  }
}
