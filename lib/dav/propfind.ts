/**
 * PROPFIND (RFC 4918 §9.1): the properties of a resource (Depth 0) or of a
 * collection and its members (Depth 1), as a 207 Multi-Status streamed one
 * member at a time. Depth infinity, and a missing Depth (which means
 * infinity), are refused with 403 and `<D:propfind-finite-depth/>`, as
 * §9.1 allows: a walk of a whole tree is a denial of service waiting to happen.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath, isHiddenPath } from "../handlers/url_path.ts";
import type { UrlPath } from "../handlers/url_path.ts";
import type { Storage, StorageUsage } from "../storage/storage.ts";
import { TEMP_PREFIX } from "../storage/temp_files.ts";
import type { Access } from "../policy/access.ts";
import { allpropNames, isLiveProperty, liveProperty } from "./properties.ts";
import type { LiveContext, LockProperties, Resource } from "./properties.ts";
import { childElements, DAV_NS, isElement, readXmlBody } from "./xml_request.ts";
import type { XmlElement } from "./xml_request.ts";
import {
  clarkName,
  emptyProperty,
  multistatusResponse,
  parseClarkName,
  preconditionResponse,
  propstat,
  responseElement,
} from "./xml_writer.ts";

/** What the DAV handlers work with. */
export interface DavConfig {
  /** Where the files are. */
  storage: Storage;
  /** Serve and list names starting with ".". */
  dotfiles: boolean;
  /** Refuse every write. */
  readOnly: boolean;
  /** Directories may be listed (else a Depth 1 PROPFIND of one is 403, like its listing page). */
  listing: boolean;
  /** Locking's part of PROPFIND. */
  locks: LockProperties;
  /** Who may read what (a Depth 1 answer holds only readable members), or null: everyone. */
  access: Access | null;
}

/** A property name. */
interface PropertyName {
  namespace: string;
  name: string;
}

/** What a PROPFIND body asks for. */
type PropfindQuery =
  | { kind: "allprop"; include: PropertyName[] }
  | { kind: "propname" }
  | { kind: "prop"; names: PropertyName[] };

/** The names of the property elements inside `prop`. */
function namesIn(prop: XmlElement): PropertyName[] {
  return childElements(prop).map(({ namespace, name }) => ({ namespace, name }));
}

/** Reads the PROPFIND body: none (or empty) is allprop (RFC 4918 §9.1). */
export function parsePropfind(body: XmlElement | null): PropfindQuery {
  if (body === null) return { kind: "allprop", include: [] };
  if (!isElement(body, DAV_NS, "propfind")) {
    throw new HttpError(400, "A PROPFIND body must be a DAV:propfind element");
  }
  // Unknown elements are ignored (RFC 4918 §17: extensibility).
  const children = childElements(body).filter((child) => child.namespace === DAV_NS);
  const prop = children.find((child) => child.name === "prop");
  if (prop !== undefined) return { kind: "prop", names: namesIn(prop) };
  if (children.some((child) => child.name === "propname")) return { kind: "propname" };
  if (children.some((child) => child.name === "allprop")) {
    const include = children.find((child) => child.name === "include");
    return { kind: "allprop", include: include === undefined ? [] : namesIn(include) };
  }
  throw new HttpError(400, "A DAV:propfind needs DAV:prop, DAV:propname or DAV:allprop");
}

/** The Depth header of a PROPFIND: "0", "1" or "infinity" (also when absent). */
function propfindDepth(request: Request): "0" | "1" | "infinity" {
  const value = request.headers.get("depth")?.trim().toLowerCase();
  if (value === undefined || value === "infinity") return "infinity";
  if (value === "0" || value === "1") return value;
  throw new HttpError(400, 'Depth must be "0", "1" or "infinity"');
}

/** Whether a query needs the dead properties of each resource. */
function needsDeadProperties(query: PropfindQuery): boolean {
  return query.kind !== "prop" ||
    query.names.some(({ namespace, name }) => !isLiveProperty(namespace, name));
}

/** One `<D:response>` for `resource`. */
async function describe(
  resource: Resource,
  query: PropfindQuery,
  dead: Map<string, string>,
  context: LiveContext,
): Promise<string> {
  const href = encodeUrlPath(resource.path, resource.entry.kind === "directory");
  const found: string[] = [];
  const missing: string[] = [];
  const live = allpropNames(resource);
  if (query.kind === "propname") {
    for (const name of live) {
      if (!dead.has(clarkName(DAV_NS, name))) found.push(emptyProperty(DAV_NS, name));
    }
    for (const key of dead.keys()) {
      const { namespace, name } = parseClarkName(key);
      found.push(emptyProperty(namespace, name));
    }
    return responseElement(href, propstat(found, 200));
  }
  const wanted: PropertyName[] = query.kind === "prop"
    ? query.names
    : [...live.map((name) => ({ namespace: DAV_NS, name })), ...query.include];
  const seen = new Set<string>();
  for (const { namespace, name } of wanted) {
    const key = clarkName(namespace, name);
    if (seen.has(key)) continue;
    seen.add(key);
    // A stored value wins (a client-set displayname); then the live value.
    const value = dead.get(key) ??
      (namespace === DAV_NS ? await liveProperty(name, resource, context) : null);
    if (value === null) missing.push(emptyProperty(namespace, name));
    else found.push(value);
  }
  if (query.kind === "allprop") {
    for (const [key, value] of dead) if (!seen.has(key)) found.push(value);
  }
  let inner = "";
  if (found.length > 0 || missing.length === 0) inner += propstat(found, 200);
  if (missing.length > 0) inner += propstat(missing, 404);
  return responseElement(href, inner);
}

/**
 * Answers a PROPFIND of `url`: 207 with the resource (and, at Depth 1, the
 * members of a collection, dotfiles left out unless served); 404 when
 * nothing is there; 400 for a bad body or Depth; 403 for Depth infinity.
 */
export async function propfind(
  config: DavConfig,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const depth = propfindDepth(request);
  if (depth === "infinity") return preconditionResponse(403, "propfind-finite-depth");
  const query = parsePropfind(await readXmlBody(request));
  const entry = await config.storage.stat(url.segments);
  // "/file.txt/" names a directory, as for GET.
  if (entry === null || (url.trailingSlash && entry.kind !== "directory")) {
    throw new HttpError(404, "Not found");
  }
  const self: Resource = { path: url.segments, entry };
  if (depth === "1" && entry.kind === "directory" && !config.listing) {
    throw new HttpError(403, "Directory listing is off (--no-listing)");
  }
  // Listed before the answer starts, so a failure is still a clean error status.
  const readable = depth === "1" && config.access !== null
    ? await config.access.readFilter(request, url.segments)
    : null;
  const members = depth === "1" && entry.kind === "directory"
    ? (await config.storage.list(url.segments)).filter((member) =>
      !member.name.startsWith(TEMP_PREFIX) && (config.dotfiles || !isHiddenPath([member.name])) &&
      (readable === null || readable([...url.segments, member.name]))
    )
    : [];
  let usage: Promise<StorageUsage | null> | undefined;
  const context: LiveContext = {
    locks: config.locks,
    usage: () => usage ??= config.storage.usage(),
  };
  const storage = config.storage;
  const withDead = needsDeadProperties(query);
  const selfDead = withDead ? await storage.readProperties(url.segments) : new Map();
  const membersDead = withDead && members.length > 0
    ? await storage.memberProperties(url.segments)
    : new Map<string, Map<string, string>>();
  const none = new Map<string, string>();
  async function* responses(): AsyncGenerator<string> {
    yield await describe(self, query, selfDead, context);
    for (const member of members) {
      const resource = { path: [...url.segments, member.name], entry: member };
      yield await describe(resource, query, membersDead.get(member.name) ?? none, context);
    }
  }
  return multistatusResponse(responses());
}
