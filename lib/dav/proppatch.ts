/**
 * PROPPATCH (RFC 4918 §9.2): sets and removes dead properties in document
 * order, all or none. Protected live properties are refused (403, the others
 * 424); `DAV:getlastmodified` and Windows' `Win32LastModifiedTime` set the
 * file's modification time (and the Win32 ones are kept as dead properties
 * too, which is what Windows reads back).
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { parseHttpDate } from "../http/date.ts";
import { encodeUrlPath } from "../handlers/url_path.ts";
import type { UrlPath } from "../handlers/url_path.ts";
import { PROTECTED_PROPERTIES } from "./properties.ts";
import type { DavConfig } from "./propfind.ts";
import { childElements, DAV_NS, isElement, readXmlBody, textOf } from "./xml_request.ts";
import type { XmlElement } from "./xml_request.ts";
import {
  clarkName,
  emptyProperty,
  multistatusResponse,
  propstat,
  responseElement,
  serializeElement,
} from "./xml_writer.ts";

/** The namespace of Windows' file-time properties. */
const WIN32_NS = "urn:schemas-microsoft-com:";

/** One property's instruction, in document order. */
interface Instruction {
  remove: boolean;
  property: XmlElement;
}

/** The instructions of a `DAV:propertyupdate` body, in document order. */
function instructionsOf(body: XmlElement | null): Instruction[] {
  if (body === null || !isElement(body, DAV_NS, "propertyupdate")) {
    throw new HttpError(400, "A PROPPATCH body must be a DAV:propertyupdate element");
  }
  const instructions: Instruction[] = [];
  for (const child of childElements(body)) {
    const remove = isElement(child, DAV_NS, "remove");
    if (!remove && !isElement(child, DAV_NS, "set")) continue;
    for (const prop of childElements(child)) {
      if (!isElement(prop, DAV_NS, "prop")) continue;
      for (const property of childElements(prop)) instructions.push({ remove, property });
    }
  }
  if (instructions.length === 0) throw new HttpError(400, "The PROPPATCH changes nothing");
  return instructions;
}

/** The modification time a property sets, in ms; undefined when it sets none; null for a bad value. */
function modificationTime({ remove, property }: Instruction): number | null | undefined {
  const { namespace, name } = property;
  const setsTime = (namespace === DAV_NS && name === "getlastmodified") ||
    (namespace === WIN32_NS && name === "Win32LastModifiedTime");
  if (!setsTime || remove) return undefined;
  return parseHttpDate(textOf(property).trim());
}

/**
 * Applies a PROPPATCH to `url`: 207 with every property's outcome (all 200,
 * or the failures with their status and the rest 424); 404 when nothing is
 * there; 400 for a bad body.
 */
export async function proppatch(
  config: DavConfig,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const instructions = instructionsOf(await readXmlBody(request));
  const entry = await config.storage.stat(url.segments);
  if (entry === null || (url.trailingSlash && entry.kind !== "directory")) {
    throw new HttpError(404, "Not found");
  }
  const changes = new Map<string, string | null>();
  const failures = new Map<string, number>();
  let lastModified: number | undefined;
  for (const instruction of instructions) {
    const { namespace, name } = instruction.property;
    const key = clarkName(namespace, name);
    const time = modificationTime(instruction);
    if (time === null) {
      failures.set(key, 409); // Not an HTTP-date: nothing to set the time to.
      continue;
    }
    if (time !== undefined) {
      lastModified = time;
      if (namespace === DAV_NS) continue; // Live: the file's time is the value.
    } else if (namespace === DAV_NS && PROTECTED_PROPERTIES.has(name)) {
      failures.set(key, 403);
      continue;
    }
    changes.set(key, instruction.remove ? null : serializeElement(instruction.property));
  }
  // Each property once, as an empty element for the answer.
  const requested = new Map<string, string>();
  for (const { property: { namespace, name } } of instructions) {
    requested.set(clarkName(namespace, name), emptyProperty(namespace, name));
  }
  if (failures.size === 0) {
    // The time first: a store that cannot set it (S3) fails a DAV:getlastmodified before anything changed.
    const timeSet = lastModified === undefined ||
      await config.storage.setModified(url.segments, lastModified);
    if (!timeSet && requested.has(clarkName(DAV_NS, "getlastmodified"))) {
      failures.set(clarkName(DAV_NS, "getlastmodified"), 409);
    } else if (changes.size > 0) {
      await config.storage.writeProperties(url.segments, changes);
    }
  }
  let inner: string;
  if (failures.size === 0) {
    inner = propstat([...requested.values()], 200);
  } else {
    // Each failed property with its status; the rest were not applied: 424.
    const byStatus = new Map<number, string[]>();
    for (const [key, element] of requested) {
      const status = failures.get(key) ?? 424;
      byStatus.set(status, [...(byStatus.get(status) ?? []), element]);
    }
    inner = [...byStatus].map(([status, elements]) => propstat(elements, status)).join("");
  }
  const href = encodeUrlPath(url.segments, entry.kind === "directory");
  const body = responseElement(href, inner);
  return multistatusResponse((async function* () {
    yield body;
  })());
}
