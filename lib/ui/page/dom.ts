/// <reference lib="dom" />
/**
 * Small DOM helpers the page's modules share: typed element look-up, element
 * creation with text, and the notice line.
 *
 * @module
 */

/**
 * The element with `id`, checked to be a `type`. Throws when the page lacks
 * it: the server rendered a page this script does not match.
 */
export function byId<T extends Element>(id: string, type: { new (): T; prototype: T }): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`The page has no #${id} (${type.name})`);
  return found;
}

/** A new element with a class and text (text only ever through `textContent`). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Shows `text` in the notice line, as an error when `isError`. */
export function say(text: string, isError = false): void {
  const notice = byId("notice", HTMLElement);
  notice.textContent = text;
  notice.classList.toggle("error", isError);
}

/** A name in typographic quotes, for messages. */
export function quoted(name: string): string {
  return `“${name}”`;
}

/** Whether keys typed now go into a text field (so page shortcuts must not take them). */
export function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
    (target instanceof HTMLElement && target.isContentEditable);
}

/** The message of something thrown, whatever it is. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
