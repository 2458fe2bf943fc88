/**
 * Writes WebDAV XML responses: escaping, elements of the DAV: namespace with
 * the `D:` prefix (Windows' client mis-reads some other declarations), stored
 * property elements re-serialized self-contained, and a 207 Multi-Status
 * body streamed one `<D:response>` at a time.
 *
 * @module
 */

import type { BodySink, BodyStream, Response } from "../http/message.ts";
import { reasonPhrase } from "../http/status.ts";
import type { XmlElement } from "./xml_request.ts";

/** The media type of every XML response. */
export const XML_CONTENT_TYPE = "application/xml; charset=utf-8";

/** The start of every DAV XML document: the `D:` prefix is declared on its root. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n';

const XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace";

/** Characters XML 1.0 cannot carry at all (controls other than tab, LF, CR; U+FFFE/F; lone surrogates). */
const NOT_XML_CHARS =
  // deno-lint-ignore no-control-regex -- matching control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/**
 * Escapes text for element content; a character XML cannot hold (a control
 * character in a file name) becomes U+FFFD, so the document stays
 * well-formed whatever the name.
 */
export function escapeXml(text: string): string {
  return text.replace(NOT_XML_CHARS, "\uFFFD").replace(/[&<>]/g, (char) => ESCAPES[char]);
}

/** Escapes text for a double-quoted attribute value (as {@linkcode escapeXml}, and `"`). */
function escapeAttribute(text: string): string {
  return text.replace(NOT_XML_CHARS, "\uFFFD").replace(/[&<>"]/g, (char) => ESCAPES[char]);
}

/** The Clark-notation key of a property name: `{namespace}name`. */
export function clarkName(namespace: string, name: string): string {
  return `{${namespace}}${name}`;
}

/** Splits a Clark-notation key back into its namespace and local name. */
export function parseClarkName(key: string): { namespace: string; name: string } {
  const close = key.indexOf("}");
  return { namespace: key.slice(1, close), name: key.slice(close + 1) };
}

/**
 * Serializes an element (a property as a client sent it) as a self-contained
 * fragment: its namespace is declared as the default on it (`xmlns=""` for
 * none) and again on any descendant whose namespace differs, so it reads the
 * same wherever it is placed.
 */
export function serializeElement(element: XmlElement, inheritedNamespace?: string): string {
  let head = `<${element.name}`;
  if (element.namespace !== inheritedNamespace) {
    head += ` xmlns="${escapeAttribute(element.namespace)}"`;
  }
  let prefixes = 0;
  for (const attribute of element.attributes) {
    let name = attribute.name;
    if (attribute.namespace === XML_NAMESPACE) {
      name = `xml:${name}`;
    } else if (attribute.namespace !== "") {
      const prefix = `a${prefixes++}`;
      head += ` xmlns:${prefix}="${escapeAttribute(attribute.namespace)}"`;
      name = `${prefix}:${name}`;
    }
    head += ` ${name}="${escapeAttribute(attribute.value)}"`;
  }
  if (element.children.length === 0) return `${head}/>`;
  const body = element.children.map((child) =>
    typeof child === "string" ? escapeXml(child) : serializeElement(child, element.namespace)
  ).join("");
  return `${head}>${body}</${element.name}>`;
}

/**
 * An empty property element for a name (a 404 propstat, a propname answer):
 * `D:`-prefixed in the DAV: namespace, else with its namespace as the default.
 */
export function emptyProperty(namespace: string, name: string): string {
  if (namespace === "DAV:") return `<D:${name}/>`;
  return `<${name} xmlns="${escapeAttribute(namespace)}"/>`;
}

/** A status line for a propstat or response (`HTTP/1.1 200 OK`). */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}`;
}

/** One `<D:propstat>`: the properties (already serialized) that share a status. */
export function propstat(properties: string[], status: number): string {
  return `<D:propstat><D:prop>${properties.join("")}</D:prop>` +
    `<D:status>${statusLine(status)}</D:status></D:propstat>`;
}

/** One `<D:response>` of a multistatus: an href (already encoded) and its propstats or status. */
export function responseElement(href: string, inner: string): string {
  return `<D:response><D:href>${escapeXml(href)}</D:href>${inner}</D:response>`;
}

/** A small XML response body (an error's precondition element, a lock answer). */
export function xmlDocument(rootName: string, inner: string): Uint8Array {
  return new TextEncoder().encode(
    `${XML_DECLARATION}<D:${rootName} xmlns:D="DAV:">${inner}</D:${rootName}>`,
  );
}

/** An error response whose body names the precondition that failed (RFC 4918 §16). */
export function preconditionResponse(status: number, condition: string): Response {
  return {
    status,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: xmlDocument("error", `<D:${condition}/>`),
  };
}

/** Flush the encoded text to the sink once this much has gathered. */
const FLUSH_CHARS = 16 * 1024;

/**
 * A 207 Multi-Status body written as it is produced: `responses` yields one
 * serialized `<D:response>` at a time (a directory of 100,000 entries is
 * never one string), gathered into writes of about 16 KiB.
 */
export function multistatusBody(responses: AsyncIterable<string>, onClose = () => {}): BodyStream {
  const encoder = new TextEncoder();
  return {
    length: null,
    async writeTo(sink: BodySink): Promise<void> {
      let pending = `${XML_DECLARATION}<D:multistatus xmlns:D="DAV:">`;
      for await (const response of responses) {
        pending += response;
        if (pending.length >= FLUSH_CHARS) {
          await sink.write(encoder.encode(pending));
          pending = "";
        }
      }
      await sink.write(encoder.encode(`${pending}</D:multistatus>`));
    },
    close: onClose,
  };
}

/** A complete 207 response streaming `responses`. */
export function multistatusResponse(responses: AsyncIterable<string>): Response {
  return {
    status: 207,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: multistatusBody(responses),
  };
}
