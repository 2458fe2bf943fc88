/// <reference lib="dom" />
/**
 * The "Share" dialog of a writable folder: makes a read link or an
 * upload-only drop link to the listed folder with
 * `POST /.well-known/filedrop-share/` (JSON: path, scope, lifetime, byte
 * limit) and shows the URL it answers with, and its QR code.
 *
 * @module
 */

import { parseByteSize } from "../portable.ts";
import { byId } from "./dom.ts";
import { directoryPath, reason } from "./http.ts";
import { qrSvg } from "./qr.ts";

/** Binds the Share button to its dialog. */
export function setUpShareDialog(): void {
  const dialog = byId("share", HTMLDialogElement);
  const form = byId("share-form", HTMLFormElement);
  const scope = byId("share-scope", HTMLSelectElement);
  const lifetime = byId("share-expires", HTMLSelectElement);
  const limitRow = byId("share-max-row", HTMLElement);
  const limit = byId("share-max", HTMLInputElement);
  const result = byId("share-result", HTMLElement);
  const url = byId("share-url", HTMLInputElement);
  const code = byId("share-qr", HTMLElement);
  const error = byId("share-error", HTMLElement);
  const create = byId("share-create", HTMLButtonElement);

  const showLimit = () => (limitRow.hidden = scope.value !== "upload");
  scope.addEventListener("change", showLimit);
  byId("share-button", HTMLButtonElement).addEventListener("click", () => {
    result.hidden = true;
    error.textContent = "";
    create.disabled = false;
    showLimit();
    dialog.showModal();
  });
  byId("share-close", HTMLButtonElement).addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const limitText = scope.value === "upload" ? limit.value.trim() : "";
    const maxBytes = limitText === "" ? null : parseByteSize(limitText);
    if (maxBytes === 0 || (limitText !== "" && maxBytes === null)) {
      error.textContent = "The limit is a size such as 500M or 2G, or nothing for none.";
      return;
    }
    create.disabled = true;
    const response = await fetch("/.well-known/filedrop-share/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        path: directoryPath(),
        scope: scope.value,
        lifetimeSeconds: Number(lifetime.value),
        maxBytes,
      }),
      cache: "no-store",
      credentials: "same-origin",
    });
    create.disabled = false;
    if (!response.ok) {
      error.textContent = `Could not make the link: ${await reason(response)}`;
      return;
    }
    const made: { urlPath: string; id: string; expiresAt: string } = await response.json();
    url.value = new URL(made.urlPath, location.origin).href;
    code.replaceChildren(qrSvg(url.value));
    byId("share-id", HTMLElement).textContent = made.id;
    byId("share-until", HTMLElement).textContent = new Date(made.expiresAt).toLocaleString();
    result.hidden = false;
    url.select();
  });
}
