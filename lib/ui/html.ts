/**
 * What the server's HTML pages share: escaping for text placed in HTML, and
 * the document head.
 *
 * @module
 */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes `&`, `<`, `>`, `"` and `'`, so the result is safe as element text
 * and inside quoted attribute values.
 *
 * @example
 * ```ts
 * escapeHtml(`<img src=x onerror="alert(1)">`); // "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

/**
 * A page's document head up to `</head>`: `title` (already escaped), the
 * page's own `style` and, when given, its early `script`, both under `nonce`
 * (the Content-Security-Policy allows nothing else), and a blank icon, so
 * that the browser asks for none.
 */
export function documentHead(title: string, nonce: string, style: string, script?: string): string {
  const early = script === undefined ? "" : `\n<script nonce="${nonce}">${script}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>${title}</title>
<style nonce="${nonce}">${style}</style>${early}
</head>`;
}
