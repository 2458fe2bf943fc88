/**
 * WebDAV live properties (RFC 4918 §15, RFC 4331 quota) of a stored entry,
 * and the small interface through which locking fills in `supportedlock`
 * and `lockdiscovery`.
 *
 * @module
 */

import { contentTypeFor } from "../content/serve_content.ts";
import { formatHttpDate } from "../http/date.ts";
import type { StoragePath, StorageUsage, StoredEntry } from "../storage/storage.ts";
import { DAV_NS } from "./xml_request.ts";
import { escapeXml } from "./xml_writer.ts";

/**
 * What locking tells PROPFIND: the content of `DAV:supportedlock` and of
 * `DAV:lockdiscovery` for a resource; `lock.ts` implements it.
 */
export interface LockProperties {
  /** The inner XML of `<D:supportedlock>` for `path` (`D:` is bound to DAV:). */
  supportedLock(path: StoragePath): string;
  /** The inner XML of `<D:lockdiscovery>` for `path`: its active locks. */
  lockDiscovery(path: StoragePath): Promise<string>;
}

/** The write-lock kinds WebDAV clients look for: exclusive and shared. */
export const WRITE_LOCK_ENTRIES = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>" +
  "<D:locktype><D:write/></D:locktype></D:lockentry>" +
  "<D:lockentry><D:lockscope><D:shared/></D:lockscope>" +
  "<D:locktype><D:write/></D:locktype></D:lockentry>";

/** A resource PROPFIND describes: where it is and what the store says of it. */
export interface Resource {
  /** Its path. */
  path: StoragePath;
  /** Its entry. */
  entry: StoredEntry;
}

/** What live properties may need beyond the resource: asked once per request. */
export interface LiveContext {
  /** Locking's answers. */
  locks: LockProperties;
  /** The store's space, or null when unknown (then the quota properties are 404). */
  usage: () => Promise<StorageUsage | null>;
}

/** The live properties in the DAV: namespace, in the order allprop lists them. */
export const LIVE_PROPERTIES = [
  "resourcetype",
  "getcontentlength",
  "getlastmodified",
  "getetag",
  "getcontenttype",
  "displayname",
  "creationdate",
  "supportedlock",
  "lockdiscovery",
  "quota-available-bytes",
  "quota-used-bytes",
] as const;

/** Live properties left out of allprop (RFC 4331 §3: quota is costly, so only on request). */
const NOT_IN_ALLPROP = new Set(["quota-available-bytes", "quota-used-bytes"]);

/**
 * Live properties a client may not set (403 `cannot-modify-protected-property`).
 * `getlastmodified` is settable (it sets the file's time); `displayname` is
 * kept as a dead property when set.
 */
export const PROTECTED_PROPERTIES = new Set<string>(
  LIVE_PROPERTIES.filter((name) => name !== "displayname"),
);

/** Whether `{namespace}name` is a live property of this server. */
export function isLiveProperty(namespace: string, name: string): boolean {
  return namespace === DAV_NS && (LIVE_PROPERTIES as readonly string[]).includes(name);
}

/** The live properties allprop and propname list for `resource`. */
export function allpropNames(resource: Resource): string[] {
  return LIVE_PROPERTIES.filter((name) =>
    !NOT_IN_ALLPROP.has(name) && definedFor(name, resource.entry)
  );
}

/** Whether the live property applies to this kind of entry (a directory has no length or type). */
function definedFor(name: string, entry: StoredEntry): boolean {
  if (entry.kind === "directory") {
    return name !== "getcontentlength" && name !== "getcontenttype" &&
      (name !== "getetag" || entry.etag !== "");
  }
  return !name.startsWith("quota-");
}

/** RFC 3339 time (creationdate), in UTC. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The live property `name` of `resource`, serialized with the `D:` prefix,
 * or null when it has none (then it is a 404 in a propstat). `creationdate`
 * is the modification time: the stores do not keep a creation time.
 */
export async function liveProperty(
  name: string,
  resource: Resource,
  context: LiveContext,
): Promise<string | null> {
  const { entry, path } = resource;
  if (!definedFor(name, entry)) return null;
  switch (name) {
    case "resourcetype":
      return entry.kind === "directory"
        ? "<D:resourcetype><D:collection/></D:resourcetype>"
        : "<D:resourcetype/>";
    case "getcontentlength":
      return `<D:getcontentlength>${entry.size}</D:getcontentlength>`;
    case "getlastmodified":
      return `<D:getlastmodified>${formatHttpDate(entry.lastModified)}</D:getlastmodified>`;
    case "getetag":
      return `<D:getetag>${escapeXml(entry.etag)}</D:getetag>`;
    case "getcontenttype":
      return `<D:getcontenttype>${escapeXml(contentTypeFor(path.at(-1) ?? ""))}</D:getcontenttype>`;
    case "displayname":
      return `<D:displayname>${escapeXml(path.at(-1) ?? "")}</D:displayname>`;
    case "creationdate":
      return `<D:creationdate>${rfc3339(entry.lastModified)}</D:creationdate>`;
    case "supportedlock":
      return `<D:supportedlock>${context.locks.supportedLock(path)}</D:supportedlock>`;
    case "lockdiscovery":
      return `<D:lockdiscovery>${await context.locks.lockDiscovery(path)}</D:lockdiscovery>`;
    case "quota-available-bytes":
    case "quota-used-bytes": {
      const usage = await context.usage();
      if (usage === null) return null;
      const bytes = name === "quota-used-bytes" ? usage.usedBytes : usage.availableBytes;
      return `<D:${name}>${bytes}</D:${name}>`;
    }
    default:
      return null;
  }
}
