/**
 * Which responses are worth compressing, and the streamed on-the-fly
 * compressed body.
 *
 * @module
 */

import type { BodySink, BodyStream } from "./http/message.ts";
import type { Coding } from "./negotiate.ts";

/** Smaller files are sent as they are: compression would save too little. */
export const MIN_COMPRESS_BYTES = 1024;

const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|wasm|x-javascript|ld\+json|manifest\+json|xhtml\+xml|rss\+xml|atom\+xml|x-sh)|image\/svg\+xml|image\/x-icon|font\/(ttf|otf))/;

/** Whether a media type compresses well (text, JSON, JavaScript, XML, SVG, uncompressed fonts). */
export function isCompressible(contentType: string): boolean {
  return COMPRESSIBLE.test(contentType);
}

const STREAM_NAMES: Record<Coding, CompressionFormat> = {
  gzip: "gzip",
  br: "brotli" as CompressionFormat,
};

/**
 * A file compressed while it is sent; its length is unknown, so it goes out
 * chunked. Takes ownership of the file.
 */
export class CompressedFileBody implements BodyStream {
  readonly length = null;
  readonly #file: Deno.FsFile;
  readonly #coding: Coding;
  #closed = false;

  /**
   * @param file the open file, positioned at its start
   * @param coding the content coding to apply
   */
  constructor(file: Deno.FsFile, coding: Coding) {
    this.#file = file;
    this.#coding = coding;
  }

  async writeTo(sink: BodySink): Promise<void> {
    // file.readable closes the file when it ends; mark it so close() does not close twice.
    const stream = this.#file.readable.pipeThrough(
      new CompressionStream(STREAM_NAMES[this.#coding]),
    );
    this.#closed = true;
    for await (const chunk of stream) await sink.write(chunk);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
