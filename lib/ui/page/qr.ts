/// <reference lib="dom" />
/**
 * A QR code of the page's own URL, to open the same folder on a phone: the
 * code is computed in the page (`uqr`) and drawn as one SVG path, so nothing
 * leaves the browser.
 *
 * @module
 */

import { encode } from "uqr";
import { byId } from "./dom.ts";

const SVG = "http://www.w3.org/2000/svg";

/** Binds the QR button to a dialog showing the code of the current URL. */
export function setUpQrCode(): void {
  const dialog = byId("qr", HTMLDialogElement);
  const target = byId("qr-code", HTMLElement);
  const shown = byId("qr-url", HTMLElement);
  byId("qr-button", HTMLButtonElement).addEventListener("click", () => {
    const url = location.href;
    target.replaceChildren(qrSvg(url));
    shown.textContent = url;
    dialog.showModal();
  });
}

/** The QR code of `text` as an SVG image: dark modules as one path, on a light square. */
export function qrSvg(text: string): SVGSVGElement {
  const code = encode(text, { ecc: "M", border: 2 });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${code.size} ${code.size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `QR code of ${text}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", "100%");
  background.setAttribute("height", "100%");
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(SVG, "path");
  let d = "";
  code.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    })
  );
  modules.setAttribute("d", d);
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}
