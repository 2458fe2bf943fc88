/**
 * Which responses are worth compressing on the fly.
 *
 * @module
 */

/** Smaller files are sent as they are: compression would save too little. */
export const MIN_COMPRESS_BYTES = 1024;

const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|wasm|x-javascript|ld\+json|manifest\+json|xhtml\+xml|rss\+xml|atom\+xml|x-sh)|image\/svg\+xml|image\/x-icon|font\/(ttf|otf))/;

/** Whether a media type compresses well (text, JSON, JavaScript, XML, SVG, uncompressed fonts). */
export function isCompressible(contentType: string): boolean {
  return COMPRESSIBLE.test(contentType);
}
