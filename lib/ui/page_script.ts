/**
 * The listing page's scripts as the page embeds them: the TypeScript modules
 * of `lib/ui/page/`, bundled by `deno task build:ui` into `lib/ui/bundle/`
 * and read from the module graph as text, so `deno compile` carries them and
 * each goes into the page inline, under the response's CSP nonce.
 *
 * `tests/page_script_test.ts` fails when a bundle is older than its sources.
 *
 * @module
 */

import early from "./bundle/early.js" with { type: "text" };
import main from "./bundle/main.js" with { type: "text" };
import dropLink from "./bundle/drop_link.js" with { type: "text" };

/** The script text, refused if it could end its own `<script>` element early. */
function inlineable(name: string, text: string): string {
  if (/<\/script|<!--|<script/i.test(text)) {
    throw new Error(
      `The bundled ${name} cannot be inlined: it contains "<script", "</script" or "<!--"`,
    );
  }
  return text;
}

/** The page's behaviour (`lib/ui/page/main.ts`), run at the end of the body. */
export const PAGE_SCRIPT: string = inlineable("main.js", main);

/** Runs before the body is painted (`lib/ui/page/early.ts`): marks the page as scripted, so JavaScript-only controls show without a flash. */
export const EARLY_SCRIPT: string = inlineable("early.js", early);

/** The drop page's behaviour (`lib/ui/page/drop_link.ts`): the page of an upload-only share link. */
export const DROP_SCRIPT: string = inlineable("drop_link.js", dropLink);
