/**
 * LOCK and UNLOCK (RFC 4918 §9.10-9.11), and the lock properties PROPFIND
 * shows (`supportedlock`, `lockdiscovery`), over the {@linkcode DavLocks}
 * lock system. Whether a request may go ahead despite other locks is
 * decided before, once, by `lock_guard.ts`.
 *
 * @module
 */

import { HttpError } from "../http/errors.ts";
import type { Request, Response } from "../http/message.ts";
import { encodeUrlPath } from "../handlers/url_path.ts";
import type { UrlPath } from "../handlers/url_path.ts";
import type { Storage, StoragePath, StoredEntry } from "../storage/storage.ts";
import { covers, LockConflictError, parseTimeout } from "./locks.ts";
import type { ActiveLock, DavLocks } from "./locks.ts";
import { childElements, DAV_NS, isElement, readXmlBody } from "./xml_request.ts";
import type { XmlElement } from "./xml_request.ts";
import { WRITE_LOCK_ENTRIES } from "./properties.ts";
import type { LockProperties } from "./properties.ts";
import {
  escapeXml,
  responseElement,
  serializeElement,
  statusLine,
  XML_CONTENT_TYPE,
  XML_DECLARATION,
  xmlDocument,
} from "./xml_writer.ts";

/** One `<D:activelock>` (RFC 4918 §14.1), its timeout the seconds left at `now`. */
export function activeLockXml(lock: ActiveLock, now: number): string {
  const seconds = Math.max(0, Math.ceil((lock.expiresAt - now) / 1000));
  return "<D:activelock><D:locktype><D:write/></D:locktype>" +
    `<D:lockscope><D:${lock.scope}/></D:lockscope>` +
    `<D:depth>${lock.depth === "0" ? "0" : "infinity"}</D:depth>` +
    lock.owner +
    `<D:timeout>Second-${seconds}</D:timeout>` +
    `<D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>` +
    `<D:lockroot><D:href>${escapeXml(encodeUrlPath(lock.path, false))}</D:href></D:lockroot>` +
    "</D:activelock>";
}

/**
 * What PROPFIND asks of locking: `supportedlock` and `lockdiscovery` of a
 * resource (their inner XML, with `D:` bound to DAV:).
 */
export class DavLockProperties implements LockProperties {
  readonly #locks: DavLocks;

  /** @param locks the lock system */
  constructor(locks: DavLocks) {
    this.#locks = locks;
  }

  /** The lock kinds `path` may take: both write locks, whatever the path. */
  supportedLock(_path: StoragePath): string {
    return WRITE_LOCK_ENTRIES;
  }

  /** The active locks that cover `path`. */
  async lockDiscovery(path: StoragePath): Promise<string> {
    const now = Date.now();
    return (await this.#locks.live())
      .filter((lock) => covers(lock, path))
      .map((lock) => activeLockXml(lock, now))
      .join("");
  }
}

/** A LOCK's `Depth`: infinity when absent (RFC 4918 §9.10.3), 400 for 1 or anything else. */
export function lockDepth(request: Request): "0" | "infinity" {
  const depth = (request.headers.get("depth") ?? "infinity").trim().toLowerCase();
  if (depth === "0" || depth === "infinity") return depth;
  throw new HttpError(400, "A LOCK's Depth must be 0 or infinity");
}

/** The scope and owner a `lockinfo` body asks for; 400 when it is not one. */
function parseLockInfo(root: XmlElement): { scope: "exclusive" | "shared"; owner: string } {
  if (!isElement(root, DAV_NS, "lockinfo")) throw new HttpError(400, "Expected DAV:lockinfo");
  let scope: "exclusive" | "shared" | null = null;
  let write = false;
  let owner = "";
  for (const child of childElements(root)) {
    if (isElement(child, DAV_NS, "lockscope")) {
      const [kind] = childElements(child);
      if (kind?.namespace === DAV_NS && (kind.name === "exclusive" || kind.name === "shared")) {
        scope = kind.name;
      }
    } else if (isElement(child, DAV_NS, "locktype")) {
      write = childElements(child).some((kind) => isElement(kind, DAV_NS, "write"));
    } else if (isElement(child, DAV_NS, "owner")) {
      owner = serializeElement(child);
    }
  }
  if (scope === null) throw new HttpError(400, "lockinfo needs a lockscope of exclusive or shared");
  if (!write) throw new HttpError(400, "Only write locks exist");
  return { scope, owner };
}

/** The `prop` body of a LOCK's answer: the lock's discovery (RFC 4918 §9.10.1). */
function lockAnswer(status: number, lock: ActiveLock, headers: [string, string][]): Response {
  const body = xmlDocument(
    "prop",
    `<D:lockdiscovery>${activeLockXml(lock, Date.now())}</D:lockdiscovery>`,
  );
  return { status, headers: [["Content-Type", XML_CONTENT_TYPE], ...headers], body };
}

/**
 * LOCK: a new lock from a `lockinfo` body (200, or 201 when the URL was
 * unmapped and an empty file was made for it; `Lock-Token` names it), or,
 * with no body, a refresh of the lock whose token the `If` header submitted
 * (400 without an `If`, 412 when no submitted token is a lock on the path).
 * A lock in the way is 423 with `no-conflicting-lock`, or, for a member of
 * a depth-infinity request's tree, a 207 naming it (423) and the request URI
 * (424), as RFC 4918 §9.10.6 asks. An unmapped URL needs an existing parent
 * collection (409).
 */
export async function lockResource(
  locks: DavLocks,
  storage: Storage,
  request: Request,
  url: UrlPath,
  submitted: ReadonlySet<string>,
): Promise<Response> {
  const depth = lockDepth(request);
  const timeoutSeconds = parseTimeout(request.headers.get("timeout"));
  const body = await readXmlBody(request);
  if (body === null) {
    if (!request.headers.has("if")) {
      throw new HttpError(400, "A lock refresh needs the lock's token in an If header");
    }
    const lock = await locks.refresh(submitted, url.segments, timeoutSeconds, request.user);
    if (lock === null) throw new HttpError(412, "No lock of this resource was submitted");
    return lockAnswer(200, lock, []);
  }
  const { scope, owner } = parseLockInfo(body);
  const entry = await storage.stat(url.segments);
  if (entry === null) await checkCreatable(storage, url);
  else if (url.trailingSlash && entry.kind !== "directory") throw new HttpError(404, "Not found");
  let lock: ActiveLock;
  try {
    lock = await locks.lock({
      path: url.segments,
      depth,
      scope,
      owner,
      timeoutSeconds,
      principal: request.user,
    });
  } catch (error) {
    if (!(error instanceof LockConflictError)) throw error;
    return conflictAnswer(url.segments, error.conflicts);
  }
  const headers: [string, string][] = [["Lock-Token", `<${lock.token}>`]];
  if (entry !== null) return lockAnswer(200, lock, headers);
  let created: boolean;
  try {
    created = await createEmptyFile(storage, url.segments);
  } catch (error) {
    await locks.unlock(lock.token, url.segments, request.user);
    throw error;
  }
  if (created) headers.push(["Location", encodeUrlPath(url.segments, false)]);
  return lockAnswer(created ? 201 : 200, lock, headers);
}

/** An unmapped URL may be locked (and made an empty file) only inside an existing collection. */
async function checkCreatable(storage: Storage, url: UrlPath): Promise<void> {
  if (url.segments.length === 0) return;
  if (url.trailingSlash) {
    throw new HttpError(
      409,
      "LOCK of an unmapped URL makes a file, and this URL names a collection",
    );
  }
  const parent = await storage.stat(url.segments.slice(0, -1));
  if (parent?.kind !== "directory") {
    throw new HttpError(409, "The parent collection does not exist");
  }
}

/** Writes an empty file at `path` unless something got there first; true when it made one. */
async function createEmptyFile(storage: Storage, path: StoragePath): Promise<boolean> {
  const nothingThere = {
    createOnly: true,
    check(current: StoredEntry | null): void {
      if (current !== null) throw new HttpError(412, "Created meanwhile");
    },
  };
  const staged = await storage.stage(path);
  try {
    await storage.commit([{ staged, condition: nothingThere }]);
    return true;
  } catch (error) {
    // A PUT or MKCOL that came first is what the lock now covers.
    if (error instanceof HttpError && error.status === 412) return false;
    throw error;
  }
}

/** The answer to a LOCK that other locks stand in the way of. */
function conflictAnswer(path: StoragePath, conflicts: ActiveLock[]): Response {
  const below = conflicts.filter((lock) => lock.path.length > path.length);
  const href = (p: StoragePath) => encodeUrlPath(p, false);
  if (below.length === conflicts.length) {
    const responses = below.map((lock) =>
      responseElement(href(lock.path), `<D:status>${statusLine(423)}</D:status>`)
    );
    responses.push(responseElement(href(path), `<D:status>${statusLine(424)}</D:status>`));
    const text = `${XML_DECLARATION}<D:multistatus xmlns:D="DAV:">${responses.join("")}` +
      "</D:multistatus>";
    return {
      status: 207,
      headers: [["Content-Type", XML_CONTENT_TYPE]],
      body: new TextEncoder().encode(text),
    };
  }
  const hrefs = conflicts.map((lock) => `<D:href>${escapeXml(href(lock.path))}</D:href>`);
  return {
    status: 423,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: xmlDocument("error", `<D:no-conflicting-lock>${hrefs.join("")}</D:no-conflicting-lock>`),
  };
}

/**
 * UNLOCK: releases the lock named by `Lock-Token` (204); 400 without a
 * valid `Lock-Token`, 409 `lock-token-matches-request-uri` when no such
 * lock covers the request URI, 403 when another user took it.
 */
export async function unlockResource(
  locks: DavLocks,
  request: Request,
  url: UrlPath,
): Promise<Response> {
  const token = /^\s*<([^<>\s]+)>\s*$/.exec(request.headers.get("lock-token") ?? "")?.[1];
  if (token === undefined) throw new HttpError(400, "UNLOCK needs a Lock-Token: <token> header");
  const outcome = await locks.unlock(token, url.segments, request.user);
  if (outcome === "unlocked") return { status: 204, headers: [] };
  if (outcome === "forbidden") throw new HttpError(403, "Only the lock's creator may release it");
  return {
    status: 409,
    headers: [["Content-Type", XML_CONTENT_TYPE]],
    body: xmlDocument("error", "<D:lock-token-matches-request-uri/>"),
  };
}
