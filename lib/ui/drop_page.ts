/**
 * The page of an upload-only share link: a place to drop files, what the
 * link still accepts, and nothing about what the folder holds.
 *
 * @module
 */

import type { Response } from "../http/message.ts";
import type { ShareGrant } from "../policy/share_token.ts";
import { documentHead, escapeHtml } from "./html.ts";
import { DROP_SCRIPT } from "./page_script.ts";
import { formatSize } from "./portable.ts";

const STYLE =
  `body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
#drop-zone{border:2px dashed #888;border-radius:8px;padding:2rem;text-align:center}
#drop-zone.over{background:#8882}ul{padding:0;list-style:none}li{display:flex;gap:1rem;
justify-content:space-between}li[data-state=error]{color:#c00}.hint{color:#777;font-size:.9em}`;

/**
 * The drop page for `grant`: `left` is what its byte limit still allows (null
 * for no limit), `readOnly` says the server takes no uploads at all.
 */
export function dropPage(grant: ShareGrant, left: number | null, readOnly: boolean): Response {
  const nonce = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  const folder = grant.path.length === 0 ? "/" : grant.path[grant.path.length - 1];
  const limit = left === null
    ? ""
    : `<p class="hint">This link accepts ${escapeHtml(formatSize(Math.max(0, left)))} more.</p>`;
  const expires = new Date(grant.expiresAt).toISOString().slice(0, 16).replace("T", " ");
  const body = `${documentHead(`Send files to ${escapeHtml(folder)}`, nonce, STYLE)}
<body>
<h1>Send files to ${escapeHtml(folder)}</h1>
${
    readOnly
      ? "<p>This server takes no uploads at the moment.</p>"
      : `<div id="drop-zone"><p>Drop files here, or</p>
<button type="button" id="drop-choose">Choose files…</button>
<input type="file" id="drop-input" multiple hidden></div>
<noscript><p>This page needs JavaScript to send files.</p></noscript>
${limit}<ul id="drop-list" aria-live="polite"></ul>
<script nonce="${nonce}">${DROP_SCRIPT}</script>`
  }
<p class="hint">Files you send here are stored; nobody sees through this link what the folder
holds. A name already taken gets a number added. The link works until ${expires} UTC.</p>
</body>
</html>
`;
  return {
    status: 200,
    headers: [
      ["Content-Type", "text/html; charset=utf-8"],
      ["Cache-Control", "no-store"],
      [
        "Content-Security-Policy",
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
        "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
      ],
    ],
    body: new TextEncoder().encode(body),
  };
}
