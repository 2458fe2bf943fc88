/// <reference lib="dom" />
/**
 * Runs before the body is painted: marks the page as scripted, so
 * JavaScript-only controls show without a flash.
 *
 * @module
 */

document.documentElement.classList.add("js");
