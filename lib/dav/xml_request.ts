/**
 * Reads a WebDAV request body (PROPFIND, PROPPATCH, LOCK) into a small
 * namespace-resolved element tree, with `saxes` (a strict, streaming,
 * namespace-aware parser that never expands DTD entities or fetches external
 * ones) and a byte bound checked as the body arrives.
 *
 * Hostile bodies: a DOCTYPE is refused outright (400), so neither a
 * "billion laughs" nor an external entity gets anywhere (saxes would refuse
 * their references as undefined anyway); a body over the bound is 413 as
 * soon as its length says so or its bytes pass it, so memory never grows with
 * the body; nesting deeper than {@linkcode MAX_XML_DEPTH} is 400.
 *
 * @module
 */

import { SaxesParser } from "saxes";
import { HttpError } from "../http/errors.ts";
import type { Request } from "../http/message.ts";

/** The DAV: namespace. */
export const DAV_NS = "DAV:";

/** The most bytes a DAV request body may have (a PROPPATCH of many properties fits easily). */
export const MAX_XML_BODY_BYTES = 1024 * 1024;

/** The deepest element nesting accepted: property values are shallow in practice. */
export const MAX_XML_DEPTH = 64;

/** An attribute, namespace-resolved. Namespace declarations are not kept. */
export interface XmlAttribute {
  /** Its namespace URI ("" for none). */
  namespace: string;
  /** Its local name. */
  name: string;
  /** Its value. */
  value: string;
}

/** An element, namespace-resolved: its name is `{namespace}name`. */
export interface XmlElement {
  /** Its namespace URI ("" for none). */
  namespace: string;
  /** Its local name. */
  name: string;
  /** Its attributes other than namespace declarations. */
  attributes: XmlAttribute[];
  /** Child elements and text, in document order. */
  children: (XmlElement | string)[];
}

const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** Whether `node` is the element `{namespace}name`. */
export function isElement(
  node: XmlElement | string,
  namespace: string,
  name: string,
): node is XmlElement {
  return typeof node !== "string" && node.namespace === namespace && node.name === name;
}

/** The child elements of `element` (text between them dropped). */
export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((child) => typeof child !== "string");
}

/** The text content of `element` and its descendants. */
export function textOf(element: XmlElement): string {
  return element.children.map((child) => typeof child === "string" ? child : textOf(child))
    .join("");
}

/** Builds the tree from a stream of text pieces (saxes events). */
class TreeBuilder {
  readonly parser = new SaxesParser({ xmlns: true, position: false });
  root: XmlElement | null = null;
  readonly #stack: XmlElement[] = [];

  constructor() {
    this.parser.on("doctype", () => {
      throw new HttpError(400, "A DOCTYPE is not accepted in a WebDAV request body");
    });
    this.parser.on("opentag", (tag) => {
      if (this.#stack.length >= MAX_XML_DEPTH) {
        throw new HttpError(400, "The XML body is nested too deeply");
      }
      const attributes: XmlAttribute[] = [];
      for (const attribute of Object.values(tag.attributes)) {
        // xmlns: true makes every attribute a resolved object.
        if (typeof attribute === "string" || attribute.uri === XMLNS_NS) continue;
        attributes.push({
          namespace: attribute.uri,
          name: attribute.local,
          value: attribute.value,
        });
      }
      const element: XmlElement = {
        namespace: tag.uri ?? "",
        name: tag.local ?? tag.name,
        attributes,
        children: [],
      };
      const parent = this.#stack.at(-1);
      if (parent === undefined) this.root = element;
      else parent.children.push(element);
      this.#stack.push(element);
    });
    this.parser.on("closetag", () => void this.#stack.pop());
    const onText = (text: string) => {
      const parent = this.#stack.at(-1);
      if (parent !== undefined && text !== "") parent.children.push(text);
    };
    this.parser.on("text", onText);
    this.parser.on("cdata", onText);
  }
}

/** Whether every byte is XML white space. */
function isWhitespace(bytes: Uint8Array): boolean {
  return bytes.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d);
}

/** Whether the request has a body (a length above 0, or chunked). */
export function hasBody(request: Request): boolean {
  return request.body.length !== 0;
}

/**
 * Reads the request's XML body into its root element; null when there is no
 * body (or only whitespace). 400 for anything not well-formed or
 * namespace-valid (an undeclared prefix, `xmlns:p=""`), a DOCTYPE, bad
 * UTF-8 or too deep a nesting; 413 past `maxBytes`.
 */
export async function readXmlBody(
  request: Request,
  maxBytes: number = MAX_XML_BODY_BYTES,
): Promise<XmlElement | null> {
  const declared = request.body.length;
  if (declared === 0) return null;
  if (declared !== null && declared > maxBytes) {
    throw new HttpError(413, `An XML request body may have at most ${maxBytes} bytes`);
  }
  const builder = new TreeBuilder();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  // Parser and decoder errors are the client's fault (400); a read's own errors pass through.
  const feed = (chunk: Uint8Array | null): void => {
    try {
      if (chunk === null) {
        builder.parser.write(decoder.decode());
        builder.parser.close();
      } else {
        builder.parser.write(decoder.decode(chunk, { stream: true }));
      }
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, "The request body is not well-formed XML");
    }
  };
  let total = 0;
  let blank = true;
  for (let chunk = await request.body.read(); chunk !== null; chunk = await request.body.read()) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new HttpError(413, `An XML request body may have at most ${maxBytes} bytes`);
    }
    // An all-whitespace body counts as none (some clients send a newline).
    if (blank && isWhitespace(chunk)) continue;
    blank = false;
    feed(chunk);
  }
  if (blank) return null;
  feed(null);
  if (builder.root === null) throw new HttpError(400, "The request body has no XML element");
  return builder.root;
}
